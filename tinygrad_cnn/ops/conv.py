"""2-D convolution: forward and backward through the backend's three conv functions."""
from tinygrad_cnn.function import Function


class Conv2d(Function):
    """y = x (*) w + b over NCHW, of a kernels/geometry.ConvGeometry; with ``relu`` its ReLU,
    and with ``pool`` (a 2x2 stride-2 kernels/geometry.PoolGeometry) the max pool of that
    (inference only: nn/fusion.py's fused conv, which nothing differentiates)."""

    @staticmethod
    def forward(ctx, x, w, b=None, geometry=None, relu=False, pool=None):
        if (relu or pool is not None) and any(ctx.needs_input_grad):
            raise RuntimeError("a conv with its ReLU or max pool fused has no backward: call "
                               "the conv, relu and pool separately where a gradient is needed")
        if pool is not None:
            out, ctx.route = ctx.backend.conv2d_forward_max_pool(x, w, b, geometry, pool, relu)
            return out
        out, workspace = ctx.backend.conv2d_forward(x, w, b, geometry,
                                                    ctx.needs_input_grad[1], relu)
        ctx.save_for_backward(x, w)
        ctx.workspace, ctx.geometry = workspace, geometry
        ctx.route = workspace.route
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (x, w), needs = ctx.backend, ctx.saved, ctx.needs_input_grad
        need_bias = len(needs) > 2 and needs[2]
        dx = dw = db = None
        if needs[0]:
            dx = be.conv2d_input_grad(grad, w, ctx.geometry, ctx.workspace)
        if needs[1] or need_bias:
            dw, db = be.conv2d_weight_grad(grad, x, ctx.geometry, ctx.workspace, needs[1],
                                           need_bias)
        return (dx, dw, db)[:len(needs)]
