"""Every differentiable op, as a Function with forward/backward over a backend."""
from tinygrad_cnn.ops.elementwise import (  # noqa: F401
    Abs, Add, Clip, Div, ELU, Exp, LeakyReLU, Log, Mul, Neg, Pow, ReLU, ReLUInPlace, Sigmoid,
    Sqrt, Sub, Tanh, Where,
)
from tinygrad_cnn.ops.movement import Cat, Expand, GetItem, Permute, Reshape  # noqa: F401
from tinygrad_cnn.ops.reduce import Max, Sum  # noqa: F401
from tinygrad_cnn.ops.linalg import MatMul  # noqa: F401
from tinygrad_cnn.ops.conv import Conv2d  # noqa: F401
from tinygrad_cnn.ops.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: F401
from tinygrad_cnn.ops.softmax import CrossEntropy, LogSoftmax, NLLLoss, Softmax  # noqa: F401
from tinygrad_cnn.ops.inplace_support import (  # noqa: F401
    Cast, Clone, CopyFrom, Fill, TakeAlongDim, ToDevice,
)
from tinygrad_cnn.ops.conv_transpose import ConvTranspose2d  # noqa: F401,E402
from tinygrad_cnn.ops.gelu import GELU  # noqa: F401,E402
from tinygrad_cnn.ops.log_sigmoid import LogSigmoid  # noqa: F401,E402
