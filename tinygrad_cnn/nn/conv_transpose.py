"""ConvTranspose2d: the transposed (fractionally strided) 2-D convolution layer, as torch's."""
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn import init
from tinygrad_cnn.nn._args import pair, positive_pair
from tinygrad_cnn.nn.conv import conv_extra_repr
from tinygrad_cnn.nn.linear import layer_parameters
from tinygrad_cnn.nn.module import Module


class ConvTranspose2d(Module):
    """Transposed conv over NCHW input; weight (in, out/groups, kh, kw), bias (out,), as torch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"ConvTranspose2d needs positive channel counts, got in_channels="
                             f"{in_channels}, out_channels={out_channels}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d groups={groups} must divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode != "zeros":
            raise ValueError(f"Only 'zeros' padding mode is supported for ConvTranspose2d, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = positive_pair(kernel_size, "kernel_size")
        self.stride = positive_pair(stride, "stride")
        self.dilation = positive_pair(dilation, "dilation")
        self.padding = pair(padding, "padding")
        self.output_padding = pair(output_padding, "output_padding")
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) + self.kernel_size
        layer_parameters(self, shape, out_channels, bias, dtype)

    def reset_parameters(self):
        """torch's default: kaiming_uniform_(a=sqrt(5)), fan_in from weight dim 1 (out/groups)."""
        init.default_layer_init_(self.weight, self.bias)

    def _output_padding(self, x, output_size):
        """output_padding, or the one that gives ``output_size`` (the last two entries)."""
        if output_size is None:
            return self.output_padding
        size = tuple(int(n) for n in output_size)[-2:]
        pads = []
        for axis in range(2):
            k, s, p, d = (self.kernel_size[axis], self.stride[axis], self.padding[axis],
                          self.dilation[axis])
            smallest = (x.shape[-2 + axis] - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= size[axis] < smallest + s:
                raise ValueError(f"requested output size {size} is not reachable: each dim must "
                                 f"lie in [{smallest}, {smallest + s - 1}] (axis {axis})")
            pads.append(size[axis] - smallest)
        return tuple(pads)

    def forward(self, x, output_size=None):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(x, output_size), self.groups,
                                  self.dilation)

    def extra_repr(self):
        return conv_extra_repr(self, ("padding", (0, 0)), ("output_padding", (0, 0)),
                               ("dilation", (1, 1)), ("groups", 1))
