"""AlexNet (003): five convs with ReLU, three overlapping max pools, dropout in the classifier.

``alexnet()`` is torchvision's layout (state-dict keys, shapes and forward identical); the
keyword-only arguments shrink it for 1x28x28 digits (``models.digits``).
"""
from tinygrad_cnn import nn


class AlexNet(nn.Module):
    """features (5 convs, 3 max pools) -> adaptive average pool -> 3-layer classifier.

    torchvision's indices: features.0/3/6/8/10 are the convs, classifier.1/4/6 the linears
    (0 and 3 are the dropout slots).
    """

    def __init__(self, num_classes=1000, dropout=0.5, *, in_channels=3,
                 widths=(64, 192, 384, 256, 256), stem=(11, 4, 2), pool_size=6, hidden=4096):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        kernel, stride, padding = stem
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=kernel, stride=stride, padding=padding),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * pool_size * pool_size, hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))                         # (N, C, 6, 6) at 224x224
        return self.classifier(x.flatten(1))


def alexnet(num_classes=1000, dropout=0.5):
    """torchvision.models.alexnet(weights=None): 61,100,840 parameters at 1000 classes."""
    return AlexNet(num_classes=num_classes, dropout=dropout)
