"""DenseNet (003): dense blocks that concatenate every earlier feature map, growth rate k,
BN-ReLU-Conv order, 1x1 bottlenecks and transition layers with pooling (DenseNet-BC).

``densenet121()`` is torchvision's layout: keys such as
``features.denseblock1.denselayer1.norm1.weight`` and the last ReLU in ``forward`` after
``features.norm5``. The keyword-only arguments of ``DenseNet`` shrink it for 1x28x28 digits.
"""
from collections import OrderedDict

from tinygrad_cnn import nn
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn.fusion import bn_relu, conv_bn_relu
from tinygrad_cnn.tensor import cat


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 (the bottleneck, to bn_size*k channels), BN-ReLU-conv3x3 (to k
    channels) over the concatenation of all earlier feature maps; returns the k new maps."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, width, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = cat(features, 1) if isinstance(features, (list, tuple)) else features
        # in inference norm1 -> relu1 is one pass, conv1 -> norm2 -> relu2 one conv
        # (nn/fusion.py)
        bottleneck = conv_bn_relu(bn_relu(x, self.norm1, self.relu1), self.conv1, self.norm2,
                                  self.relu2)                      # (N, bn_size*k, H, W)
        new = self.conv2(bottleneck)                               # (N, k, H, W)
        if self.drop_rate > 0:
            new = F.dropout(new, p=self.drop_rate, training=self.training)
        return new


class DenseBlock(nn.Module):
    """``num_layers`` DenseLayers named denselayer1, denselayer2, ...; layer i reads the block's
    input and the maps of layers 1..i-1, and the block returns all of them concatenated
    (in + num_layers*k channels).

    torchvision's _DenseBlock is a ModuleDict; this is a plain Module whose children are the
    layers, in order, which gives the same state-dict keys.
    """

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                               drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.children():
            features.append(layer(features))
        return cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-conv1x1 (halving the channels in DenseNet-BC) then 2x2 average pooling."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC: stem, dense blocks separated by transitions, norm5, ReLU, global pool,
    linear."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0, num_classes=1000, *, in_channels=3, stem_kernel=7,
                 stem_stride=2):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=stem_kernel,
                                stride=stem_stride, padding=stem_kernel // 2, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = Transition(num_features, num_features // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        _init_densenet(self)

    def forward(self, x):
        out = F.relu(self.features(x))                             # (N, 1024, 7, 7) at 224
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(out.flatten(1))


def _init_densenet(model):
    """torchvision's DenseNet init: He-normal (fan_in) convs, BatchNorm 1/0, zero linear bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0)


def densenet121(num_classes=1000, drop_rate=0):
    """torchvision.models.densenet121(weights=None): 7,978,856 parameters at 1000 classes."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, drop_rate=drop_rate)
