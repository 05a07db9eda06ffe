"""Transposed 2-D convolution, built from the convolution's own backend functions.

A transposed conv is the input gradient of a conv that has the same weight, stride,
padding, dilation and groups (weight (in, out/groups, kh, kw) read as the conv's
(O, C/groups, kh, kw)), so: forward = backend.conv2d_input_grad; its input gradient =
backend.conv2d_forward of the output gradient; its weight gradient = the conv's weight
gradient with the roles of input (the output gradient here) and output gradient (x) swapped.
"""
from tinygrad_cnn.function import Function


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) over NCHW; pad = (top, bottom, left, right) of the
    equivalent conv; out_hw is the output height and width (output_padding included)."""

    @staticmethod
    def forward(ctx, x, w, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1,
                out_hw=(1, 1)):
        y_shape = (x.shape[0], w.shape[1] * groups) + tuple(out_hw)
        ctx.save_for_backward(x, w)
        ctx.conf = stride, pad, dilation, groups
        return ctx.backend.conv2d_input_grad(x, y_shape, w, stride, pad, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        be, (x, w) = ctx.backend, ctx.saved
        stride, pad, dilation, groups = ctx.conf
        dx, saved = be.conv2d_forward(grad, w, None, stride, pad, dilation, groups)
        dw = None
        if ctx.needs_input_grad[1]:
            dw = be.conv2d_backward(x, saved, grad.shape, w, stride, pad, dilation, groups,
                                    (False, True))[1]
        return (dx if ctx.needs_input_grad[0] else None), dw
