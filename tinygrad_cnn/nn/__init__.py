"""Neural-network building blocks: Module, Parameter, layers, losses, init and functional."""
from tinygrad_cnn.nn import functional  # noqa: F401
from tinygrad_cnn.nn import init  # noqa: F401
from tinygrad_cnn.nn.module import Module  # noqa: F401
from tinygrad_cnn.nn.parameter import Parameter  # noqa: F401
from tinygrad_cnn.nn.activation import (  # noqa: F401
    ELU, GELU, LeakyReLU, LogSoftmax, Maxout, ReLU, Sigmoid, SiLU, Softmax, Tanh,
)
from tinygrad_cnn.nn.container import ModuleDict, ModuleList, Sequential  # noqa: F401
from tinygrad_cnn.nn.conv import Conv2d  # noqa: F401
from tinygrad_cnn.nn.conv_transpose import ConvTranspose2d  # noqa: F401
from tinygrad_cnn.nn.dropout import Dropout, Dropout2d  # noqa: F401
from tinygrad_cnn.nn.linear import Flatten, Identity, Linear  # noqa: F401
from tinygrad_cnn.nn.loss import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
)
from tinygrad_cnn.nn.normalization import BatchNorm1d, BatchNorm2d  # noqa: F401
from tinygrad_cnn.nn.normalization_extra import GroupNorm, LayerNorm, LocalResponseNorm  # noqa: F401
from tinygrad_cnn.nn.pooling import (  # noqa: F401
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d, Upsample,
)
from tinygrad_cnn.nn.sync_batchnorm import SyncBatchNorm  # noqa: F401
