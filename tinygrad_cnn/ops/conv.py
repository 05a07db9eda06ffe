"""2-D convolution: the backend picks how (im2col + GEMM on the CPU)."""
from tinygrad_cnn.function import Function


class Conv2d(Function):
    """y = x (*) w + b over NCHW; stride/dilation pairs, pad = (top, bottom, left, right)."""

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        be = ctx.backend
        out, cols = be.conv2d_forward(x, w, b, stride, pad, dilation, groups)
        ctx.save_for_backward(cols, w)
        ctx.x_shape = x.shape
        ctx.conf = stride, pad, dilation, groups
        return out

    @staticmethod
    def backward(ctx, grad):
        cols, w = ctx.saved
        stride, pad, dilation, groups = ctx.conf
        dx, dw, db = ctx.backend.conv2d_backward(
            grad, cols, ctx.x_shape, w, stride, pad, dilation, groups, ctx.needs_input_grad)
        return (dx, dw, db)[:len(ctx.needs_input_grad)]
