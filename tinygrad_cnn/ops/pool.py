"""Pooling ops: max (gradient to the recorded argmax), average, adaptive average."""
from tinygrad_cnn.function import Function


class MaxPool2d(Function):
    """Max pooling of a kernels/geometry.PoolGeometry; ``indices``, a list, receives the
    int32 argmax (flat h*W+w per plane) when the caller wants it (return_indices). With
    ``relu``, the pooled values' ReLU in the same pass (nn/fusion.py's ReLU -> MaxPool2d,
    which commute), the ReLU's gradient mask kept as argmax -1, so that backward is the
    pool's alone."""

    @staticmethod
    def forward(ctx, x, geometry=None, indices=None, relu=False):
        if relu and indices is not None:
            raise ValueError("a max pool with its ReLU has no indices to return")
        if indices is None and not ctx.needs_input_grad[0]:     # no backward: no argmax
            out = ctx.backend.max_pool2d_values(x, geometry)
            if relu:
                ctx.backend.relu_in_place(out)
            return out
        out, argmax = ctx.backend.max_pool2d_forward(x, geometry, relu)
        ctx.save_for_backward(argmax)
        ctx.geometry = geometry
        if indices is not None:
            indices.append(argmax)
        return out

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.max_pool2d_backward(grad, ctx.saved[0], ctx.geometry)


class AvgPool2d(Function):
    """Average pooling of a kernels/geometry.PoolGeometry."""

    @staticmethod
    def forward(ctx, x, geometry=None):
        ctx.geometry = geometry
        return ctx.backend.avg_pool2d_forward(x, geometry)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.avg_pool2d_backward(grad, ctx.geometry)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size=None):
        ctx.x_shape = x.shape
        return ctx.backend.adaptive_avg_pool2d_forward(x, output_size)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.adaptive_avg_pool2d_backward(grad, ctx.x_shape)
