"""@cuda.jit pooling kernels: max, average and adaptive average, forward and backward.

GPU twins of kernels/cpu/nchw.py's pooling kernels, same names and signatures. Outputs are
passed in; each kernel walks its output with a grid-stride loop, so any grid size is
correct. Backward kernels are gathers over the windows that read each input element, in
a fixed order: no atomics, so results are bit-identical run to run. Accumulators take the
array's dtype.
"""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_device, cuda_jit
from tinygrad_cnn.kernels.cuda.device_functions import larger, smaller, window_source


@cuda_device
def _adaptive_bounds(index, in_size, out_size):
    """Window [start, end) of adaptive pooling output ``index`` (geometry.adaptive_bounds)."""
    start = (index * in_size) // out_size
    end = -((-(index + 1) * in_size) // out_size)
    return start, end


@cuda_device
def _avg_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad):
    """Divisor of one average-pooling window, with PyTorch's padding and ceil rules."""
    if count_include_pad:
        return (smaller(y0 + kh, H + ph) - y0) * (smaller(x0 + kw, W + pw) - x0)
    return (smaller(y0 + kh, H) - larger(y0, 0)) * (smaller(x0 + kw, W) - larger(x0, 0))


@cuda_jit
def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out = window max (greater or NaN replaces, ties keep the first); argmax = h*W+w."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    total = N * C * oh * ow
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox, oy = t % ow, (t // ow) % oh
        c, n = (t // (ow * oh)) % C, t // (ow * oh * C)
        best = x.dtype.type(-math.inf)
        best_idx = -1
        for i in range(kh):
            y = oy * sh - ph + i * dh
            if y < 0 or y >= H:
                continue
            for j in range(kw):
                xx = ox * sw - pw + j * dw
                if xx < 0 or xx >= W:
                    continue
                v = x[n, c, y, xx]
                if v > best or math.isnan(v) or best_idx < 0:
                    best = v
                    best_idx = y * W + xx
        out[n, c, oy, ox] = best
        argmax[n, c, oy, ox] = best_idx


@cuda_jit
def max_pool2d_backward(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x = each output gradient added at the input position its window chose.

    A gather: one thread per input element visits, in a fixed order, the windows that can
    read it and adds the gradients of those whose argmax is this element. No atomics, so
    the sum is the same every run.
    """
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    total = N * C * H * W
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        xx, y = t % W, (t // W) % H
        c, n = (t // (W * H)) % C, t // (W * H * C)
        here = y * W + xx
        acc = grad_x.dtype.type(0)
        for i in range(kh):
            oy = window_source(y, ph, i, dh, sh, oh)
            if oy < 0:
                continue
            for j in range(kw):
                ox = window_source(xx, pw, j, dw, sw, ow)
                if ox >= 0 and argmax[n, c, oy, ox] == here:
                    acc += grad_out[n, c, oy, ox]
        grad_x[n, c, y, xx] = acc


@cuda_jit
def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out = window sum / divisor (padding counts as zeros)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    total = N * C * oh * ow
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox, oy = t % ow, (t // ow) % oh
        c, n = (t // (ow * oh)) % C, t // (ow * oh * C)
        y0, x0 = oy * sh - ph, ox * sw - pw
        acc = x.dtype.type(0)
        for y in range(larger(y0, 0), smaller(y0 + kh, H)):
            for xx in range(larger(x0, 0), smaller(x0 + kw, W)):
                acc += x[n, c, y, xx]
        div = _avg_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
        out[n, c, oy, ox] = acc / x.dtype.type(div)


@cuda_jit
def avg_pool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward, as a gather over the windows that read each input."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    total = N * C * H * W
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        xx, y = t % W, (t // W) % H
        c, n = (t // (W * H)) % C, t // (W * H * C)
        acc = grad_x.dtype.type(0)
        for i in range(kh):
            oy = window_source(y, ph, i, 1, sh, oh)
            if oy < 0:
                continue
            for j in range(kw):
                ox = window_source(xx, pw, j, 1, sw, ow)
                if ox >= 0:
                    div = _avg_divisor(oy * sh - ph, ox * sw - pw, kh, kw, H, W, ph, pw,
                                       count_include_pad)
                    acc += grad_out[n, c, oy, ox] / grad_x.dtype.type(div)
        grad_x[n, c, y, xx] = acc


@cuda_jit
def adaptive_avg_pool2d_forward(x, out):
    """out[.., a, b] = mean of x over rows [floor(aH/OH), ceil((a+1)H/OH)), same for cols."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    total = N * C * oh * ow
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, a = t % ow, (t // ow) % oh
        c, n = (t // (ow * oh)) % C, t // (ow * oh * C)
        y0, y1 = _adaptive_bounds(a, H, oh)
        x0, x1 = _adaptive_bounds(b, W, ow)
        acc = x.dtype.type(0)
        for y in range(y0, y1):
            for xx in range(x0, x1):
                acc += x[n, c, y, xx]
        out[n, c, a, b] = acc / x.dtype.type((y1 - y0) * (x1 - x0))


@cuda_jit
def adaptive_avg_pool2d_backward(grad_out, grad_x):
    """Adjoint of adaptive_avg_pool2d_forward, as a gather over the windows holding each input."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    total = N * C * H * W
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        xx, y = t % W, (t // W) % H
        c, n = (t // (W * H)) % C, t // (W * H * C)
        acc = grad_x.dtype.type(0)
        # windows holding row y start at or before it: a <= y*oh/H, and end after it
        for a in range((y * oh) // H, oh):
            y0, y1 = _adaptive_bounds(a, H, oh)
            if y0 > y:
                break
            if y >= y1:
                continue
            for b in range((xx * ow) // W, ow):
                x0, x1 = _adaptive_bounds(b, W, ow)
                if x0 > xx:
                    break
                if xx < x1:
                    acc += grad_out[n, c, a, b] / grad_x.dtype.type((y1 - y0) * (x1 - x0))
        grad_x[n, c, y, xx] = acc
