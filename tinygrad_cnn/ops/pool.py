"""Pooling ops: max (gradient to the recorded argmax), average, adaptive average."""
from tinygrad_cnn.function import Function


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel=None, stride=None, padding=None, dilation=None, ceil_mode=False):
        out, argmax = ctx.backend.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
        ctx.save_for_backward(argmax)
        ctx.x_shape = x.shape
        ctx.geometry = kernel, stride, padding, dilation
        return out

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.max_pool2d_backward(grad, ctx.saved[0], ctx.x_shape, *ctx.geometry)


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel=None, stride=None, padding=None, ceil_mode=False,
                count_include_pad=True):
        ctx.conf = kernel, stride, padding, count_include_pad
        ctx.x_shape = x.shape
        return ctx.backend.avg_pool2d_forward(x, kernel, stride, padding, ceil_mode,
                                              count_include_pad)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, count_include_pad = ctx.conf
        return ctx.backend.avg_pool2d_backward(grad, ctx.x_shape, kernel, stride, padding,
                                               count_include_pad)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size=None):
        ctx.x_shape = x.shape
        return ctx.backend.adaptive_avg_pool2d_forward(x, output_size)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.adaptive_avg_pool2d_backward(grad, ctx.x_shape)
