"""@njit kernels for the channels-last (NHWC) conv path the CPU backend uses internally.

Channels-last puts a pixel's C values side by side, so im2col copies runs of C floats
instead of single elements and pooling's inner loop runs over contiguous channels. The
public layout stays NCHW: the backend hands these kernels ``x.transpose(0, 2, 3, 1)``
views and returns NCHW views of their outputs. Rows of the patch matrix are (n, oy, ox),
its columns (i, j, c). Argmax indices are h*W+w per (n, c) plane, as in the NCHW kernels.
"""
import numpy as np
from numba import prange

from tinygrad_cnn.kernels.cpu_gemm import matmul_nt_add
from tinygrad_cnn.kernels.geometry import avg_pool_divisor
from tinygrad_cnn.kernels.jit import fill as _fill, njit, njit_parallel


@njit_parallel
def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, kh*kw*C) from x (N, H, W, C): rows (n, oy, ox), columns (i, j, c)."""
    N = x.shape[0]
    for n in prange(N):
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, 0,
                    cols[n * oh * ow:(n + 1) * oh * ow])


@njit
def _patch_rows(img, kh, kw, sh, sw, ph, pw, dh, dw, ow, first, cols):
    """cols[r] = the (i, j, c) patch of output pixel first + r of one image img (H, W, C).

    Without dilation a kernel row's kw*C values lie side by side in img, so each (pixel, i)
    is one copy of the in-image stretch between two zero fills; dilated kernels copy C
    values per tap.
    """
    H, W, C = img.shape
    zero = img.dtype.type(0)
    flat = img.reshape(H * W * C)
    run = kw * C
    for r in range(cols.shape[0]):
        oy, ox = (first + r) // ow, (first + r) % ow
        x0 = ox * sw - pw                                        # input column of tap j = 0
        if dw == 1:
            jlo, jhi = min(max(0, -x0), kw), max(min(kw, W - x0), 0)
        for i in range(kh):
            y = oy * sh - ph + i * dh
            dst = cols[r, i * run:(i + 1) * run]
            if y < 0 or y >= H:
                for k in range(run):
                    dst[k] = zero
            elif dw == 1:
                src = flat[(y * W + x0 + jlo) * C:]
                for k in range(jlo * C):
                    dst[k] = zero
                inside = dst[jlo * C:]
                for k in range(max(jhi - jlo, 0) * C):
                    inside[k] = src[k]
                for k in range(max(jhi, jlo) * C, run):
                    dst[k] = zero
            else:
                for j in range(kw):
                    xx = x0 + j * dw
                    if 0 <= xx < W:
                        for c in range(C):
                            dst[j * C + c] = img[y, xx, c]
                    else:
                        for c in range(C):
                            dst[j * C + c] = zero


_CONV_ROWS = 128
"""Output pixels per block in conv2d_forward_nhwc: their patches (128 x 288 floats for
SimpleCNN's conv2, 147 KB) stay in the core's L2 cache while they are multiplied."""


@njit_parallel
def conv2d_forward_nhwc(x, wmat, bias, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out (N, OH, OW, O) = im2col_nhwc(x) @ wmat (O, kh*kw*C).T + bias (O,), fused.

    Each thread takes a block of one image's output pixels, makes their patch rows and
    multiplies them at once, so patches are never written to memory as a whole.
    """
    N = x.shape[0]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P, K = oh * ow, wmat.shape[1]
    blocks = (P + _CONV_ROWS - 1) // _CONV_ROWS
    step = ((P + blocks - 1) // blocks + 3) // 4 * 4        # even blocks, whole 4-row tiles
    for job in prange(N * blocks):
        n, first = job // blocks, (job % blocks) * step
        rows = min(step, P - first)
        cols = np.empty((step, K), dtype=x.dtype)
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, first, cols[:rows])
        dst = out[n].reshape(P, O)[first:first + rows]
        for r in range(rows):
            for o in range(O):
                dst[r, o] = bias[o]
        matmul_nt_add(cols[:rows], wmat, dst)


@njit_parallel
def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out (N, OH, OW, C) = window max (greater or NaN replaces; ties keep the first).

    The first in-image tap of a window is copied, later ones replace by a select, so the
    loop over contiguous channels has no branches and vectorises. A window with no tap in
    the image (only possible with ceil_mode) gives -inf and index -1.
    """
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    ninf = x.dtype.type(-np.inf)
    for n in prange(N):
        for oy in range(oh):
            for ox in range(ow):
                best, at = out[n, oy, ox], argmax[n, oy, ox]
                first = True
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        if xx < 0 or xx >= W:
                            continue
                        src, pos = x[n, y, xx], np.int32(y * W + xx)
                        if first:
                            for c in range(C):
                                best[c] = src[c]
                                at[c] = pos
                            first = False
                            continue
                        for c in range(C):
                            v = src[c]
                            take = v > best[c] or v != v
                            best[c] = v if take else best[c]
                            at[c] = pos if take else at[c]
                if first:
                    for c in range(C):
                        best[c] = ninf
                        at[c] = -1


@njit_parallel
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
    for n in prange(N):
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


@njit_parallel
def avg_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out (N, OH, OW, C) = window sum / divisor, PyTorch's divisor rules."""
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    zero = x.dtype.type(0)
    for n in prange(N):
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                scale = x.dtype.type(1) / x.dtype.type(div)
                for c in range(C):
                    out[n, oy, ox, c] = zero
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        for c in range(C):
                            out[n, oy, ox, c] += x[n, y, xx, c]
                for c in range(C):
                    out[n, oy, ox, c] *= scale


@njit_parallel
def avg_pool2d_backward_nhwc(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward_nhwc. Windows that cannot overlap (stride >= kernel)
    assign each input pixel once instead of zeroing grad_x and adding."""
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    disjoint = sh >= kh and sw >= kw
    covered = disjoint and sh == kh and sw == kw and ph == 0 and pw == 0 \
        and oh * sh == H and ow * sw == W
    for n in prange(N):
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
