"""ResNet (003): residual blocks with identity shortcuts, and the pre-activation order.

``resnet18()`` and ``resnet34()`` are torchvision's layouts (BasicBlock, keys such as
``layer2.0.downsample.0.weight``). ``PreActResNet`` puts BN-ReLU before each conv, the
notes' improved order (He et al. 2016, "Identity Mappings in Deep Residual Networks").
The keyword-only arguments shrink both for 1x28x28 digits (``models.digits``).
"""
from tinygrad_cnn import nn
from tinygrad_cnn.nn.fusion import bn_relu, conv_bn_relu


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut (``downsample`` when the shape changes),
    then ReLU."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn_relu(x, self.conv1, self.bn1, self.relu)
        out = conv_bn_relu(out, self.conv2, self.bn2)
        return self.relu(out + identity)


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut, with no ReLU after the sum: the
    identity path stays clean. A projection shortcut reads the pre-activated input."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        pre = bn_relu(x, self.bn1)                       # one pass in inference
        identity = x if self.downsample is None else self.downsample(pre)
        out = self.conv2(conv_bn_relu(pre, self.conv1, self.bn2, relu=True))
        return out + identity


def make_layer(block, inplanes, planes, blocks, stride=1, shortcut_norm=True):
    """A stage of ``blocks`` blocks; the first one strides and projects the shortcut (1x1 conv,
    plus BN when ``shortcut_norm``) if the shape changes. Returns (Sequential, out channels)."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        proj = conv1x1(inplanes, planes * block.expansion, stride)
        downsample = nn.Sequential(proj, nn.BatchNorm2d(planes * block.expansion)) \
            if shortcut_norm else nn.Sequential(proj)
    layers = [block(inplanes, planes, stride, downsample)]
    inplanes = planes * block.expansion
    layers += [block(inplanes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers), inplanes


def init_resnet_(model):
    """torchvision's ResNet init: He-normal (fan_out, relu) convs, BatchNorm weight 1 bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


class ResNet(nn.Module):
    """Stem (conv, BN, ReLU, 3x3/2 max pool), four stages, global average pool, linear."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, *,
                 in_channels=3, widths=(64, 128, 256, 512), stem_kernel=7, stem_stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=stem_kernel,
                               stride=stem_stride, padding=stem_kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        ch = widths[0]
        self.layer1, ch = make_layer(block, ch, widths[0], layers[0])
        self.layer2, ch = make_layer(block, ch, widths[1], layers[1], stride=2)
        self.layer3, ch = make_layer(block, ch, widths[2], layers[2], stride=2)
        self.layer4, ch = make_layer(block, ch, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(ch, num_classes)
        init_resnet_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def forward(self, x):
        x = self.maxpool(conv_bn_relu(x, self.conv1, self.bn1, self.relu))  # (N, 64, 56, 56)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))   # (N, 512, 7, 7)
        return self.fc(self.avgpool(x).flatten(1))


class PreActResNet(nn.Module):
    """ResNet with pre-activation blocks: the stem keeps its BN-ReLU, the blocks start with
    BN-ReLU, and a final BN-ReLU (``bn_final``) precedes the pooling."""

    def __init__(self, layers, num_classes=1000, *, in_channels=3, widths=(64, 128, 256, 512),
                 stem_kernel=7, stem_stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=stem_kernel,
                               stride=stem_stride, padding=stem_kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        ch, block = widths[0], PreActBasicBlock
        self.layer1, ch = make_layer(block, ch, widths[0], layers[0], shortcut_norm=False)
        self.layer2, ch = make_layer(block, ch, widths[1], layers[1], 2, shortcut_norm=False)
        self.layer3, ch = make_layer(block, ch, widths[2], layers[2], 2, shortcut_norm=False)
        self.layer4, ch = make_layer(block, ch, widths[3], layers[3], 2, shortcut_norm=False)
        self.bn_final = nn.BatchNorm2d(ch)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(ch, num_classes)
        init_resnet_(self)

    def forward(self, x):
        x = self.maxpool(conv_bn_relu(x, self.conv1, self.bn1, relu=True))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = bn_relu(x, self.bn_final)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, zero_init_residual=False):
    """torchvision.models.resnet18(weights=None): 11,689,512 parameters at 1000 classes."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual)


def resnet34(num_classes=1000, zero_init_residual=False):
    """torchvision.models.resnet34(weights=None): 21,797,672 parameters at 1000 classes."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, zero_init_residual)
