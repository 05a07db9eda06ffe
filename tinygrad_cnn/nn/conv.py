"""Conv2d: a 2-D convolution layer with PyTorch's arguments, parameter shapes and default init."""
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn import init
from tinygrad_cnn.nn._args import pair, positive_pair
from tinygrad_cnn.nn.linear import layer_parameters
from tinygrad_cnn.nn.module import Module


class Conv2d(Module):
    """2-D convolution over NCHW input; weight (out, in/groups, kh, kw), bias (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d needs positive channel counts, got in_channels="
                             f"{in_channels}, out_channels={out_channels}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d groups={groups} must divide in_channels ({in_channels}) "
                             f"and out_channels ({out_channels})")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d supports padding_mode='zeros' only, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = positive_pair(kernel_size, "kernel_size")
        self.stride = positive_pair(stride, "stride")
        self.dilation = positive_pair(dilation, "dilation")
        F.conv_padding(padding, self.kernel_size, self.stride, self.dilation)   # checks it
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        layer_parameters(self, shape, out_channels, bias, dtype)

    def reset_parameters(self):
        """PyTorch's default initialisation (init.default_layer_init_)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        if x.ndim == 4 and x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expected {self.in_channels} input channels, got "
                             f"{x.shape[1]} (input shape {x.shape})")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return conv_extra_repr(self, ("padding", (0, 0)), ("dilation", (1, 1)), ("groups", 1))


def conv_extra_repr(module, *optional):
    """torch's conv repr: channels, kernel and stride, then each (attribute, default) whose
    value differs from its default, then bias=False when there is no bias."""
    s = (f"{module.in_channels}, {module.out_channels}, kernel_size={module.kernel_size}, "
         f"stride={module.stride}")
    for name, default in optional:
        if getattr(module, name) != default:
            s += f", {name}={getattr(module, name)}"
    return s + (", bias=False" if module.bias is None else "")
