"""@cuda.jit patch kernels of the convolution: im2col and its adjoint col2im.

GPU twins of kernels/cpu/nchw.py's im2col and col2im, same names and signatures. Outputs are
passed in; each kernel walks its output with a grid-stride loop, so any grid size is
correct. col2im is a gather over the output positions that read each input element, in a
fixed order: no atomics, so results are bit-identical run to run.
"""
from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_jit
from tinygrad_cnn.kernels.cuda.device_functions import window_source


@cuda_jit
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, C*kh*kw): rows ordered (n, oy, ox), columns (c, i, j)."""
    N, C, H, W = x.shape
    K = C * kh * kw
    total = cols.shape[0] * K
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        row, col = t // K, t % K
        n, r = row // (oh * ow), row % (oh * ow)
        oy, ox = r // ow, r % ow
        c, q = col // (kh * kw), col % (kh * kw)
        y = oy * sh - ph + (q // kw) * dh
        xx = ox * sw - pw + (q % kw) * dw
        if 0 <= y < H and 0 <= xx < W:
            cols[row, col] = x[n, c, y, xx]
        else:
            cols[row, col] = 0


@cuda_jit
def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col: x (N, C, H, W) = sum of every patch in cols at its place.

    A gather: each input element sums the patch entries that read it, in a fixed order.
    """
    N, C, H, W = x.shape
    total = N * C * H * W
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        xx, y = t % W, (t // W) % H
        c, n = (t // (W * H)) % C, t // (W * H * C)
        acc = x.dtype.type(0)
        for i in range(kh):
            oy = window_source(y, ph, i, dh, sh, oh)
            if oy < 0:
                continue
            for j in range(kw):
                ox = window_source(xx, pw, j, dw, sw, ow)
                if ox >= 0:
                    acc += cols[(n * oh + oy) * ow + ox, (c * kh + i) * kw + j]
        x[n, c, y, xx] = acc
