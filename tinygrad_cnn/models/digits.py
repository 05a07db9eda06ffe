"""The gallery at digit size: each architecture of 003 shrunk for 1x28x28 input and 10 classes,
keeping its defining idea, sized to train an epoch of MNIST in minutes on two cores.

They are built from the same classes as the torchvision-exact constructors, with smaller
widths and a 3x3 stride-1 stem in place of the ImageNet stem (which would shrink 28x28 to 7x7
at once). ``get_model("alexnet")`` etc. return these; ``models.alexnet()`` is torchvision's.
"""
from tinygrad_cnn import nn
from tinygrad_cnn.models.alexnet import AlexNet
from tinygrad_cnn.models.densenet import DenseNet
from tinygrad_cnn.models.googlenet import BasicConv2d, Inception, InceptionAux, init_googlenet_
from tinygrad_cnn.models.googlenet import outputs as googlenet_outputs
from tinygrad_cnn.models.resnet import BasicBlock, PreActResNet, ResNet
from tinygrad_cnn.models.vgg import VGG, make_layers

# VGG-11's pattern of 1, 1, 2, 2, 2 convs per stage; 28 -> 14 -> 7 -> 3, then two stages at
# 3x3 and a last pool to 1x1.
VGG11_DIGITS = [16, "M", 32, "M", 64, 64, "M", 128, 128, 128, 128, "M"]


def alexnet_digits(num_classes=10):
    """AlexNet's five convs, three overlapping 3x3/2 max pools and dropout classifier:
    28 -> 13 -> 6 -> 2, widths 16-48-64-64-48, classifier 192 -> 256 -> 256 -> 10."""
    return AlexNet(num_classes, in_channels=1, widths=(16, 48, 64, 64, 48), stem=(5, 1, 2),
                   pool_size=2, hidden=256)


def vgg11_digits(num_classes=10):
    """VGG-11's eight 3x3 convs in five stages (16-32-64-128-128 channels, batch norm off as
    vgg11), classifier 128 -> 256 -> 256 -> 10."""
    return VGG(make_layers(VGG11_DIGITS, in_channels=1), num_classes=num_classes, pool_size=1,
               hidden=256)


def resnet18_digits(num_classes=10):
    """ResNet-18's [2, 2, 2, 2] BasicBlocks, widths 16-32-64-128, 3x3 stem:
    28 -> 14 (max pool) -> 7 -> 4 -> 2."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels=1, widths=(16, 32, 64, 128),
                  stem_kernel=3, stem_stride=1)


def preact_resnet18_digits(num_classes=10):
    """resnet18_digits with pre-activation blocks (BN-ReLU-conv) and a final BN-ReLU."""
    return PreActResNet([2, 2, 2, 2], num_classes, in_channels=1, widths=(16, 32, 64, 128),
                        stem_kernel=3, stem_stride=1)


def densenet_digits(num_classes=10):
    """DenseNet-BC with three dense blocks of 4 layers, growth rate k=12, 1x1 bottlenecks to
    4k=48 channels and halving transitions: 24 -> 72 -> 36 -> 84 -> 42 -> 90 channels."""
    return DenseNet(growth_rate=12, block_config=(4, 4, 4), num_init_features=24, bn_size=4,
                    num_classes=num_classes, in_channels=1, stem_kernel=3, stem_stride=1)


class GoogLeNetDigits(nn.Module):
    """GoogLeNet for 1x28x28: a 3x3 stem, five Inception modules with 1x1 reductions
    (3a, 3b at 14x14; 4a, 4b at 7x7; 5a at 4x4) and two auxiliary heads (after 4a and 4b)
    that run only in training, returning ``GoogLeNetOutputs`` as ``GoogLeNet`` does."""

    def __init__(self, num_classes=10, aux_logits=True, init_weights=True, dropout=0.2,
                 dropout_aux=0.7):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(1, 32, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)       # 28 -> 14
        self.inception3a = Inception(32, 16, 16, 24, 4, 8, 8)            # -> 56 channels
        self.inception3b = Inception(56, 24, 24, 32, 8, 16, 16)          # -> 88
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)       # 14 -> 7
        self.inception4a = Inception(88, 32, 32, 48, 8, 16, 16)          # -> 112
        self.inception4b = Inception(112, 40, 32, 48, 8, 16, 16)         # -> 120
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)       # 7 -> 4
        self.inception5a = Inception(120, 48, 32, 64, 8, 16, 16)         # -> 144
        aux = dict(dropout=dropout_aux, pool_size=2, channels=32, hidden=128)
        if aux_logits:
            self.aux1 = InceptionAux(112, num_classes, **aux)
            self.aux2 = InceptionAux(120, num_classes, **aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(144, num_classes)
        if init_weights:
            init_googlenet_(self)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))                            # (N, 32, 14, 14)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))    # (N, 88, 7, 7)
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.avgpool(self.inception5a(self.maxpool4(x)))        # (N, 144, 1, 1)
        logits = self.fc(self.dropout(x.flatten(1)))
        return googlenet_outputs(self, logits, aux2, aux1)


def googlenet_digits(num_classes=10):
    """GoogLeNetDigits with its auxiliary heads."""
    return GoogLeNetDigits(num_classes)


DIGIT_MODELS = {
    "alexnet": alexnet_digits,
    "vgg11": vgg11_digits,
    "googlenet": googlenet_digits,
    "resnet18": resnet18_digits,
    "preact-resnet18": preact_resnet18_digits,
    "densenet": densenet_digits,
}
