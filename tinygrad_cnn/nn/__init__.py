"""Neural-network building blocks: Module, Parameter, layers, losses, init and functional."""
from tinygrad_cnn.nn import functional  # noqa: F401
from tinygrad_cnn.nn import init  # noqa: F401
from tinygrad_cnn.nn.module import Module  # noqa: F401
from tinygrad_cnn.nn.parameter import Parameter  # noqa: F401
from tinygrad_cnn.nn.activation import (  # noqa: F401
    ELU, LeakyReLU, LogSoftmax, Maxout, ReLU, Sigmoid, Softmax, Tanh,
)
from tinygrad_cnn.nn.container import ModuleList, Sequential  # noqa: F401
from tinygrad_cnn.nn.conv import Conv2d  # noqa: F401
from tinygrad_cnn.nn.dropout import Dropout  # noqa: F401
from tinygrad_cnn.nn.linear import Flatten, Identity, Linear  # noqa: F401
from tinygrad_cnn.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss  # noqa: F401
from tinygrad_cnn.nn.normalization import BatchNorm1d, BatchNorm2d  # noqa: F401
from tinygrad_cnn.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: F401
from tinygrad_cnn.nn.sync_batchnorm import SyncBatchNorm  # noqa: F401
