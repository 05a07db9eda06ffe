"""PyTorch twins of tinygrad_cnn's digit models (tinygrad_cnn.models.notes and .digits), layer
for layer with the same state-dict keys, so weights load across and both frameworks run the
same architecture. Plain torch (no torchvision), for bench_models.py and bench_accuracy.py.
"""
from collections import OrderedDict, namedtuple

import torch
from torch import nn
from torch.nn import functional as F

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class AlexNet(nn.Module):
    def __init__(self, num_classes=10, widths=(16, 48, 64, 64, 48), pool_size=2, hidden=256):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(c5 * pool_size * pool_size, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGG(nn.Module):
    def __init__(self, config=(16, "M", 32, "M", 64, 64, "M", 128, 128, 128, 128, "M"),
                 num_classes=10, hidden=256):
        super().__init__()
        layers, c = [], 1
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(c, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + identity)


class PreActBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = downsample

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(pre)
        return self.conv2(F.relu(self.bn2(self.conv1(pre)))) + identity


def _stage(block, inplanes, planes, blocks, stride, shortcut_norm):
    downsample = None
    if stride != 1 or inplanes != planes:
        layers = [nn.Conv2d(inplanes, planes, 1, stride, bias=False)]
        downsample = nn.Sequential(*layers, *([nn.BatchNorm2d(planes)] if shortcut_norm else []))
    return nn.Sequential(block(inplanes, planes, stride, downsample),
                         *[block(planes, planes) for _ in range(1, blocks)])


class ResNet(nn.Module):
    """ResNet-18 digits; ``pre_activation`` gives PreActResNet's layout (bn_final, no BN on
    the projection shortcut)."""

    def __init__(self, num_classes=10, widths=(16, 32, 64, 128), pre_activation=False):
        super().__init__()
        self.pre_activation = pre_activation
        block = PreActBasicBlock if pre_activation else BasicBlock
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        if not pre_activation:
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = widths[0]
        for i, w in enumerate(widths):
            setattr(self, f"layer{i + 1}", _stage(block, c, w, 2, 1 if i == 0 else 2,
                                                  not pre_activation))
            c = w
        if pre_activation:
            self.bn_final = nn.BatchNorm2d(c)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.pre_activation:
            x = F.relu(self.bn_final(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    def __init__(self, c_in, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers, c_in, growth, bn_size):
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(c_in + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth=12, blocks=(4, 4, 4), c0=24, bn_size=4, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(1, c0, 3, 1, 1, bias=False)), ("norm0", nn.BatchNorm2d(c0)),
            ("relu0", nn.ReLU(inplace=True)), ("pool0", nn.MaxPool2d(3, 2, 1))]))
        c = c0
        for i, n in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, growth, bn_size))
            c += n * growth
            if i != len(blocks) - 1:
                self.features.add_module(f"transition{i + 1}", nn.Sequential(OrderedDict([
                    ("norm", nn.BatchNorm2d(c)), ("relu", nn.ReLU(inplace=True)),
                    ("conv", nn.Conv2d(c, c // 2, 1, bias=False)),
                    ("pool", nn.AvgPool2d(2, 2))])))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(torch.flatten(out, 1))


class BasicConv2d(nn.Module):
    def __init__(self, c_in, c_out, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, c_in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(c_in, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(c_in, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(c_in, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     BasicConv2d(c_in, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, c_in, num_classes, pool_size=2, channels=32, hidden=128):
        super().__init__()
        self.pool_size = pool_size
        self.conv = BasicConv2d(c_in, channels, kernel_size=1)
        self.fc1 = nn.Linear(channels * pool_size * pool_size, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x):
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, self.pool_size)), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = BasicConv2d(1, 32, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(32, 16, 16, 24, 4, 8, 8)
        self.inception3b = Inception(56, 24, 24, 32, 8, 16, 16)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(88, 32, 32, 48, 8, 16, 16)
        self.inception4b = Inception(112, 40, 32, 48, 8, 16, 16)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(120, 48, 32, 64, 8, 16, 16)
        self.aux1 = InceptionAux(112, num_classes)
        self.aux2 = InceptionAux(120, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(144, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)

    def forward(self, x):
        x = self.maxpool3(self.inception3b(self.inception3a(self.maxpool1(self.conv1(x)))))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        x = self.inception4b(x)
        aux2 = self.aux2(x) if self.training else None
        x = self.avgpool(self.inception5a(self.maxpool4(x)))
        logits = self.fc(self.dropout(torch.flatten(x, 1)))
        return GoogLeNetOutputs(logits, aux2, aux1) if self.training else logits


# ---- the notes' networks (tinygrad_cnn.models.notes) ----------------------------------
class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2, 2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def _conv_relu_pool(c_in, c_out, pool_padding=0):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(),
                         nn.MaxPool2d(2, 2, padding=pool_padding))


class SimpleCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.layer1, self.layer2 = _conv_relu_pool(1, 32), _conv_relu_pool(32, 64)
        self.fc = nn.Linear(7 * 7 * 64, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.layer2(self.layer1(x)), 1))


class DeepCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.layer1, self.layer2 = _conv_relu_pool(1, 32), _conv_relu_pool(32, 64)
        self.layer3 = _conv_relu_pool(64, 128, pool_padding=1)
        self.fc1 = nn.Linear(4 * 4 * 128, 625)
        self.layer4 = nn.Sequential(self.fc1, nn.ReLU(), nn.Dropout(0.5))
        self.fc2 = nn.Linear(625, num_classes)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(x)))
        return self.fc2(self.layer4(torch.flatten(out, 1)))


class ResidualBlock(nn.Module):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class NotesResNet(nn.Module):
    def __init__(self, num_classes=10, widths=(16, 32, 64)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, c = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(ResidualBlock(c, w, 2 if i > 0 else 1))
            c = w
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


TWINS = {
    "lenet5": LeNet5,
    "simple-cnn": SimpleCNN,
    "deep-cnn": DeepCNN,
    "resnet": NotesResNet,
    "alexnet": AlexNet,
    "vgg11": VGG,
    "googlenet": GoogLeNet,
    "resnet18": ResNet,
    "preact-resnet18": lambda: ResNet(pre_activation=True),
    "densenet": DenseNet,
}


def training_loss(output, labels):
    """(logits, loss), with GoogLeNet's aux heads weighted 0.3 as tinygrad_cnn.train does."""
    if isinstance(output, GoogLeNetOutputs):
        aux = F.cross_entropy(output.aux_logits1, labels) + F.cross_entropy(output.aux_logits2,
                                                                            labels)
        return output.logits, F.cross_entropy(output.logits, labels) + 0.3 * aux
    return output, F.cross_entropy(output, labels)
