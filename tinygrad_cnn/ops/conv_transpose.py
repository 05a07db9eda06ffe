"""Transposed 2-D convolution, built from the convolution's own backend functions.

A transposed conv is the input gradient of a conv that has the same weight, stride,
padding, dilation and groups (weight (in, out/groups, kh, kw) read as the conv's
(O, C/groups, kh, kw)), so: forward = backend.conv2d_input_grad; its input gradient =
backend.conv2d_forward of the output gradient; its weight gradient = the conv's weight
gradient with the roles of input (the output gradient here) and output gradient (x) swapped.
When output_padding reaches the stride (torch allows it below the dilation), that conv would
give a larger map than x: x is then zero-extended at the bottom/right (zeros add nothing to
the output) and the input gradient cropped back.
"""
from tinygrad_cnn.function import Function


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) over NCHW; pad = (top, bottom, left, right) of the
    equivalent conv; out_hw is the output height and width (output_padding included)."""

    @staticmethod
    def forward(ctx, x, w, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1,
                out_hw=(1, 1), extend=(0, 0)):
        be = ctx.backend
        y_shape = (x.shape[0], w.shape[1] * groups) + tuple(out_hw)
        ctx.x_hw = x.shape[2:]
        for axis, extra in ((2, extend[0]), (3, extend[1])):
            if extra:
                shape = list(x.shape)
                shape[axis] = extra
                x = be.concatenate([x, be.zeros(tuple(shape), x.dtype)], axis)
        ctx.save_for_backward(x, w)
        ctx.conf = stride, pad, dilation, groups
        return be.conv2d_input_grad(x, y_shape, w, stride, pad, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        be, (x, w) = ctx.backend, ctx.saved
        stride, pad, dilation, groups = ctx.conf
        dx, saved = be.conv2d_forward(grad, w, None, stride, pad, dilation, groups)
        H, W = ctx.x_hw
        if tuple(dx.shape[2:]) != (H, W):                             # drop the zero extension
            dx = be.getitem(dx, (slice(None), slice(None), slice(0, H), slice(0, W)))
        dw = None
        if ctx.needs_input_grad[1]:
            dw = be.conv2d_backward(x, saved, grad.shape, w, stride, pad, dilation, groups,
                                    (False, True))[1]
        return (dx if ctx.needs_input_grad[0] else None), dw
