"""VGG (003): stacks of 3x3 convs (optionally with batch norm) between 2x2 max pools.

``vgg11()``, ``vgg16()`` and ``vgg11_bn()`` are torchvision's layouts; ``make_layers`` with a
smaller configuration and the keyword-only arguments of ``VGG`` give the digit variant.
"""
from tinygrad_cnn import nn

# Output channels of each 3x3 conv; "M" is a 2x2 max pool. torchvision's configurations A and D.
CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


def make_layers(config, batch_norm=False, in_channels=3):
    """The feature extractor: conv 3x3 p1 [+ BatchNorm2d] + ReLU per number, max pool per "M"."""
    layers = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features -> adaptive average pool -> Linear-ReLU-Dropout x 2 -> Linear.

    The classifier's linears sit at indices 0, 3 and 6, as torchvision's.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5, *,
                 pool_size=7, hidden=4096):
        super().__init__()
        channels = [m.out_channels for m in features if isinstance(m, nn.Conv2d)][-1]
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_size * pool_size, hidden), nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            _init_vgg(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))                         # (N, 512, 7, 7) at 224x224
        return self.classifier(x.flatten(1))


def _init_vgg(model):
    """torchvision's VGG init: He-normal (fan_out) convs, N(0, 0.01) linears, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def vgg11(num_classes=1000, dropout=0.5):
    """torchvision.models.vgg11(weights=None): 132,863,336 parameters at 1000 classes."""
    return VGG(make_layers(CONFIGS["vgg11"]), num_classes=num_classes, dropout=dropout)


def vgg16(num_classes=1000, dropout=0.5):
    """torchvision.models.vgg16(weights=None): 138,357,544 parameters at 1000 classes."""
    return VGG(make_layers(CONFIGS["vgg16"]), num_classes=num_classes, dropout=dropout)


def vgg11_bn(num_classes=1000, dropout=0.5):
    """torchvision.models.vgg11_bn(weights=None): 132,868,840 parameters at 1000 classes."""
    return VGG(make_layers(CONFIGS["vgg11"], batch_norm=True), num_classes=num_classes,
               dropout=dropout)
