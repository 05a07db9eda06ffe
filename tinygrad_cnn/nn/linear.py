"""Linear, Flatten and Identity: the dense end of a CNN."""

import numpy as np

from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.nn.parameter import Parameter
from tinygrad_cnn.tensor import Tensor


def layer_parameters(module, weight_shape, out_features, bias, dtype):
    """A weight of ``weight_shape`` and a bias of ``out_features`` (or None), with PyTorch's
    default initialisation; shared by Linear, Conv2d and ConvTranspose2d."""
    dtype = np.dtype(dtype or np.float32)
    module.weight = Parameter(Tensor(np.zeros(weight_shape), dtype=dtype))
    if bias:
        module.bias = Parameter(Tensor(np.zeros((out_features,)), dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


class Linear(Module):
    """y = x @ weight.T + bias with weight (out_features, in_features), PyTorch's default init."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear needs non-negative sizes, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        layer_parameters(self, (out_features, in_features), out_features, bias, dtype)

    def reset_parameters(self):
        """PyTorch's default initialisation (init.default_layer_init_)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (default: everything but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input; any constructor arguments are ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
