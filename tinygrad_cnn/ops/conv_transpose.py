"""Transposed 2-D convolution, built from the convolution's own backend functions.

A transposed conv is the input gradient of a conv that has the same weight, stride,
padding, dilation and groups (weight (in, out/groups, kh, kw) read as the conv's
(O, C/groups, kh, kw)), so: forward = backend.conv2d_input_grad; its input gradient =
backend.conv2d_forward of the output gradient; its weight gradient =
backend.conv2d_weight_grad with the roles of input (the output gradient here) and output
gradient (x) swapped. When output_padding reaches the stride (torch allows it below the
dilation), that conv would give a larger map than x: x is then zero-extended at the
bottom/right (zeros add nothing to the output) and the input gradient cropped back.
"""
from tinygrad_cnn.function import Function


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) over NCHW; ``geometry`` (kernels/geometry.ConvGeometry) is
    the equivalent conv's, from y (output_padding included) to x zero-extended."""

    @staticmethod
    def forward(ctx, x, w, geometry=None):
        be, g = ctx.backend, geometry
        ctx.x_hw = x.shape[2:]
        for axis, extra in ((2, g.OH - x.shape[2]), (3, g.OW - x.shape[3])):
            if extra:
                shape = list(x.shape)
                shape[axis] = extra
                x = be.concatenate([x, be.zeros(tuple(shape), x.dtype)], axis)
        ctx.save_for_backward(x, w)
        ctx.geometry = g
        return be.conv2d_input_grad(x, w, g, None)

    @staticmethod
    def backward(ctx, grad):
        be, (x, w), g = ctx.backend, ctx.saved, ctx.geometry
        dx, workspace = be.conv2d_forward(grad, w, None, g, ctx.needs_input_grad[1])
        H, W = ctx.x_hw
        if tuple(dx.shape[2:]) != (H, W):                             # drop the zero extension
            dx = be.getitem(dx, (slice(None), slice(None), slice(0, H), slice(0, W)))
        dw = None
        if ctx.needs_input_grad[1]:
            dw = be.conv2d_weight_grad(x, grad, g, workspace, True, False)[0]
        return (dx if ctx.needs_input_grad[0] else None), dw
