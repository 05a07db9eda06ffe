"""The course's networks: LeNet-5, the two MNIST CNNs of the notes (004), and a small ResNet.

Layer names follow the notes' PyTorch code, so state dicts load in both directions.
"""
from tinygrad_cnn import nn
from tinygrad_cnn.nn.fusion import conv_bn_relu


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 MNIST (001): 28x28 padded by 2 to 32x32, 6@5x5, avg pool,
    16@5x5, avg pool, then 400 -> 120 -> 84 -> 10. ``activation="tanh"`` gives the
    1998 original; ReLU (the notes' Keras version) is the default."""

    def __init__(self, num_classes=10, activation="relu"):
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), act(),      # (N, 6, 28, 28)
            nn.AvgPool2d(2, 2),                                    # (N, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5), act(),                # (N, 16, 10, 10)
            nn.AvgPool2d(2, 2),                                    # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                          # (N, 400)
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def conv_relu_pool(in_channels, out_channels, pool_padding=0):
    """The notes' block: Conv 3x3 (stride 1, padding 1), ReLU, MaxPool 2x2 (stride 2)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2, padding=pool_padding))


class SimpleCNN(nn.Module):
    """The notes' 2-conv CNN (004): [Conv 3x3 p1, ReLU, MaxPool 2] x 2 (1->32->64), then
    Linear 3136 -> 10 with Xavier-uniform weights. 50,186 parameters."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.layer1 = conv_relu_pool(1, 32)                        # (N, 32, 14, 14)
        self.layer2 = conv_relu_pool(32, 64)                       # (N, 64, 7, 7)
        self.fc = nn.Linear(7 * 7 * 64, num_classes, bias=True)
        nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x):
        out = self.layer2(self.layer1(x))
        return self.fc(out.flatten(1))                             # (N, 3136) -> (N, 10)


class DeepCNN(nn.Module):
    """The notes' 3-conv CNN (004): adds Conv 64->128 with MaxPool(2, 2, padding=1)
    giving 4x4, then Linear 2048 -> 625, ReLU, Dropout(0.5), Linear 625 -> 10."""

    def __init__(self, num_classes=10, keep_prob=0.5):
        super().__init__()
        self.layer1 = conv_relu_pool(1, 32)                        # (N, 32, 14, 14)
        self.layer2 = conv_relu_pool(32, 64)                       # (N, 64, 7, 7)
        self.layer3 = conv_relu_pool(64, 128, pool_padding=1)      # (N, 128, 4, 4)
        fc1 = nn.Linear(4 * 4 * 128, 625, bias=True)
        nn.init.xavier_uniform_(fc1.weight)
        self.fc1 = fc1                 # registered twice, as in the notes: both keys in state_dict
        self.layer4 = nn.Sequential(self.fc1, nn.ReLU(), nn.Dropout(p=1 - keep_prob))
        self.fc2 = nn.Linear(625, num_classes, bias=True)
        nn.init.xavier_uniform_(self.fc2.weight)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(x)))
        return self.fc2(self.layer4(out.flatten(1)))               # (N, 2048) -> (N, 10)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with batch norm and a skip connection (003); a 1x1 conv + BN
    projects the shortcut when the stride or channel count changes.

    ``pre_activation=True`` gives the improved order of the notes (BN-ReLU-Conv).
    """

    def __init__(self, in_channels, out_channels, stride=1, pre_activation=False):
        super().__init__()
        self.pre_activation = pre_activation
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels if pre_activation else out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        if self.pre_activation:
            out = self.conv1(self.relu(self.bn1(x)))
            out = self.conv2(self.relu(self.bn2(out)))
            return out + self.shortcut(x)
        out = conv_bn_relu(x, self.conv1, self.bn1, self.relu)
        out = conv_bn_relu(out, self.conv2, self.bn2)
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A small ResNet for 28x28 digits: stem conv, three residual stages (16, 32, 64
    channels; the last two halve the map and project the shortcut with a 1x1 conv),
    global average pooling and a linear classifier."""

    def __init__(self, num_classes=10, in_channels=1, widths=(16, 32, 64), blocks_per_stage=1,
                 pre_activation=False):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, channels = [], widths[0]
        for i, width in enumerate(widths):
            for b in range(blocks_per_stage):
                stride = 2 if i > 0 and b == 0 else 1
                stages.append(ResidualBlock(channels, width, stride, pre_activation))
                channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        out = self.pool(self.stages(self.stem(x)))                 # (N, C, 1, 1)
        return self.fc(out.flatten(1))
