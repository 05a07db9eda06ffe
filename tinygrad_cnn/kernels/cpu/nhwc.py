"""@njit pooling kernels for channels-last (NHWC) activations, which the CPU conv path
produces.

Channels-last puts a pixel's C values side by side, so pooling's inner loop runs over
contiguous channels. The public layout stays NCHW: the backend hands these kernels
``x.transpose(0, 2, 3, 1)`` views and returns NCHW views of their outputs. Argmax indices
are h*W+w per (n, c) plane, as in the NCHW kernels.
"""
import numpy as np

from tinygrad_cnn.kernels.geometry import UNIT_STEP, avg_pool_divisor, taps_inside
from tinygrad_cnn.kernels.cpu.window_reduce import window_max, window_mean
from tinygrad_cnn.kernels.jit import fill as _fill, njit


@njit
def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, relu, out, argmax):
    """out (N, OH, OW, C) = window max (greater or NaN replaces; ties keep the first), and
    argmax its flat index y*W+x, unless argmax is (N, OH, OW, 0) (values only). With
    ``relu``, the max's ReLU (``0 if v < 0 else v``, the ReLU kernel's) and argmax -1 where
    the max is not above 0: the ReLU passes no gradient there, and the backward kernel
    sends nothing to index -1. A window with no tap in the image (ceil_mode, or padding
    with dilation) gives -inf (0 with relu) and index -1. x is C-contiguous.

    A window inside the image has the same taps relative to its first (``window``, made
    once); a window at the border lists its taps inside the image (``edge``,
    kernels/geometry.taps_inside). kernels/cpu/window_reduce.window_max takes the max over
    a list of taps for all the pixel's channels, a vector of channels at a time.
    """
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    keep = argmax.shape[3] > 0
    flat_x, flat_out, flat_argmax = x.reshape(x.size), out.reshape(out.size), \
        argmax.reshape(argmax.size)
    window, window_at = np.empty(kh * kw, dtype=np.int64), np.empty(kh * kw, dtype=np.int32)
    edge, edge_at = np.empty(kh * kw, dtype=np.int64), np.empty(kh * kw, dtype=np.int32)
    for i in range(kh):
        for j in range(kw):
            window_at[i * kw + j] = i * dh * W + j * dw
            window[i * kw + j] = (i * dh * W + j * dw) * C
    empty = out.dtype.type(0) if relu else out.dtype.type(-np.inf)
    for n in range(N):
        for oy in range(oh):
            y0 = oy * sh - ph
            r0, r1 = taps_inside(y0, dh, kh, H)
            for ox in range(ow):
                x0 = ox * sw - pw
                c0, c1 = taps_inside(x0, dw, kw, W)
                at = ((n * oh + oy) * ow + ox) * C
                if r1 - r0 == kh and c1 - c0 == kw:            # the whole window inside
                    base, offsets, position, positions, taps = \
                        ((n * H + y0) * W + x0) * C, window, y0 * W + x0, window_at, kh * kw
                else:
                    base, offsets, position, positions, taps = 0, edge, 0, edge_at, 0
                    for i in range(r0, r1):
                        for j in range(c0, c1):
                            edge_at[taps] = (y0 + i * dh) * W + x0 + j * dw
                            edge[taps] = (n * H * W + edge_at[taps]) * C
                            taps += 1
                if taps > 0:        # one call site: the intrinsic's IR is emitted once
                    window_max(flat_x, base, offsets, position, positions, taps, C, relu, keep,
                               flat_out, at, flat_argmax)
                    continue
                for c in range(C):
                    flat_out[at + c] = empty
                    if keep:
                        flat_argmax[at + c] = -1


@njit
def max_pool2d_backward_nhwc(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x (N, H, W, C) = each output gradient added where its window's max was.

    Windows that cannot overlap (stride >= kernel, no dilation) write each input pixel
    once, the gradient or zero by a select; others zero grad_x and add at the argmax.
    """
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    disjoint = sh >= kh and sw >= kw and dh == 1 and dw == 1
    tiled = sh == kh and sw == kw and ph == 0 and pw == 0 and oh * sh == H and ow * sw == W
    covered = disjoint and tiled                        # every input pixel in one window
    for n in range(N):
        if not covered:
            _fill(grad_x[n], zero)
        for oy in range(oh):
            for ox in range(ow):
                g, at = grad_out[n, oy, ox], argmax[n, oy, ox]
                if not disjoint:
                    for c in range(C):
                        k = at[c]
                        if k >= 0:
                            grad_x[n, k // W, k % W, c] += g[c]
                    continue
                for y in range(max(oy * sh - ph, 0), min(oy * sh - ph + kh, H)):
                    for xx in range(max(ox * sw - pw, 0), min(ox * sw - pw + kw, W)):
                        dst, pos = grad_x[n, y, xx], y * W + xx
                        for c in range(C):
                            dst[c] = g[c] if at[c] == pos else zero


@njit
def avg_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out (N, OH, OW, C) = window sum / divisor, PyTorch's divisor rules
    (kernels/geometry.avg_pool_divisor); x is C-contiguous. The windows' taps as in
    max_pool2d_forward_nhwc; kernels/cpu/window_reduce.window_mean sums them for all the
    pixel's channels, a vector of channels at a time."""
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    flat_x, flat_out = x.reshape(x.size), out.reshape(out.size)
    window, edge = np.empty(kh * kw, dtype=np.int64), np.empty(kh * kw, dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            window[i * kw + j] = (i * W + j) * C
    inside = x.dtype.type(kh * kw)                 # a window inside the image: either rule
    for n in range(N):
        for oy in range(oh):
            y0 = oy * sh - ph
            r0, r1 = taps_inside(y0, UNIT_STEP, kh, H)
            for ox in range(ow):
                x0 = ox * sw - pw
                c0, c1 = taps_inside(x0, UNIT_STEP, kw, W)
                at = ((n * oh + oy) * ow + ox) * C
                if r1 - r0 == kh and c1 - c0 == kw:            # the whole window inside
                    base, offsets, taps, divisor = ((n * H + y0) * W + x0) * C, window, kh * kw, \
                        inside
                else:
                    base, offsets, taps = 0, edge, 0
                    for i in range(r0, r1):
                        for j in range(c0, c1):
                            edge[taps] = ((n * H + y0 + i) * W + x0 + j) * C
                            taps += 1
                    divisor = x.dtype.type(avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw,
                                                            count_include_pad))
                window_mean(flat_x, base, offsets, taps, C, divisor, flat_out, at)


@njit
def avg_pool2d_backward_nhwc(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward_nhwc. Windows that cannot overlap (stride >= kernel)
    assign each input pixel once instead of zeroing grad_x and adding."""
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    disjoint = sh >= kh and sw >= kw
    covered = disjoint and sh == kh and sw == kw and ph == 0 and pw == 0 \
        and oh * sh == H and ow * sw == W
    for n in range(N):
        if not covered:
            _fill(grad_x[n], zero)
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                scale = grad_x.dtype.type(1) / grad_x.dtype.type(div)
                g = grad_out[n, oy, ox]
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        dst = grad_x[n, y, xx]
                        if disjoint:
                            for c in range(C):
                                dst[c] = g[c] * scale
                        else:
                            for c in range(C):
                                dst[c] += g[c] * scale
