"""GoogLeNet (003): Inception modules with 1x1 reductions, and two auxiliary classifiers.

``googlenet()`` is torchvision's layout: bias-free convs with BatchNorm (eps 0.001), the
"5x5" branch really a 3x3 conv (as torchvision's port of the original weights), max pools
with ``ceil_mode=True``. In training it returns ``GoogLeNetOutputs(logits, aux_logits2,
aux_logits1)``; in evaluation only the logits.
"""
from collections import namedtuple

from tinygrad_cnn import nn
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn.fusion import conv_bn_relu
from tinygrad_cnn.tensor import cat

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU."""

    def __init__(self, in_channels, out_channels, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return conv_bn_relu(x, self.conv, self.bn, relu=True)


class Inception(nn.Module):
    """Four branches concatenated on channels: 1x1 | 1x1 -> 3x3 | 1x1 -> "5x5" | pool -> 1x1.

    The 1x1 convs before the 3x3s (ch3x3red, ch5x5red) are the notes' bottleneck: they cut
    the channels the expensive convs read.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return cat(branches, 1)                   # (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)


class InceptionAux(nn.Module):
    """Auxiliary classifier: adaptive avg pool -> 1x1 conv -> Linear-ReLU-Dropout -> Linear."""

    def __init__(self, in_channels, num_classes, dropout=0.7, *, pool_size=4, channels=128,
                 hidden=1024):
        super().__init__()
        self.pool_size = pool_size
        self.conv = BasicConv2d(in_channels, channels, kernel_size=1)
        self.fc1 = nn.Linear(channels * pool_size * pool_size, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, (self.pool_size, self.pool_size))  # (N, C, 4, 4)
        x = self.conv(x).flatten(1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def init_googlenet_(model):
    """torchvision's init_weights=True: N(0, 0.01) truncated to [-2, 2] on every conv and
    linear weight (linear biases keep their default), BatchNorm weight 1 and bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def outputs(model, logits, aux2, aux1):
    """torchvision's convention: the named tuple in training with aux heads, else the logits."""
    if model.training and model.aux_logits:
        return GoogLeNetOutputs(logits, aux2, aux1)
    return logits


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet (Inception v1) for 3x224x224 input."""

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 init_weights=True, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            init_googlenet_(self)

    def _transform_input(self, x):
        """ImageNet-normalised input re-normalised to [-1, 1] per channel, as the original."""
        if not self.transform_input:
            return x
        scale_shift = ((0.229, 0.485), (0.224, 0.456), (0.225, 0.406))
        chans = [x[:, c:c + 1] * (std / 0.5) + (mean - 0.5) / 0.5
                 for c, (std, mean) in enumerate(scale_shift)]
        return cat(chans, 1)

    def forward(self, x):
        x = self.maxpool1(self.conv1(self._transform_input(x)))   # (N, 64, 56, 56)
        x = self.maxpool2(self.conv3(self.conv2(x)))               # (N, 192, 28, 28)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))   # (N, 480, 14, 14)
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))                     # (N, 832, 7, 7)
        x = self.avgpool(self.inception5b(self.inception5a(x)))    # (N, 1024, 1, 1)
        logits = self.fc(self.dropout(x.flatten(1)))
        return outputs(self, logits, aux2, aux1)


def googlenet(num_classes=1000, aux_logits=True, transform_input=False, init_weights=True,
              dropout=0.2, dropout_aux=0.7):
    """torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True):
    13,004,888 parameters (6,624,904 without the aux heads) at 1000 classes."""
    return GoogLeNet(num_classes, aux_logits, transform_input, init_weights, dropout,
                     dropout_aux)
