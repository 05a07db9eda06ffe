"""NumPy reference kernels: the spec the fast kernels are tested against.

Written for clarity in the style of deep-learning-from-scratch: loops over kernel offsets
with strided slices, never over pixels. Every kernel takes its outputs as arguments, in
the same contract as kernels/cpu/nchw.py: geometry is explicit (top/left padding, output
size), so asymmetric padding such as ``padding="same"`` needs no special case.
"""
import numpy as np

from tinygrad_cnn.kernels.geometry import adaptive_bounds


def _pad(x, ph, pw, oh, ow, kh, kw, sh, sw, dh, dw, value):
    """x padded by ph/pw on top/left and enough on bottom/right to hold every window."""
    N, C, H, W = x.shape
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    bottom = max(need_h - H - ph, 0)
    right = max(need_w - W - pw, 0)
    return np.pad(x, [(0, 0), (0, 0), (ph, bottom), (pw, right)], constant_values=value)


def _window(img, i, j, oh, ow, sh, sw, dh, dw):
    """The (N, C, oh, ow) slice that kernel offset (i, j) reads from a padded image."""
    y, x = i * dh, j * dw
    return img[:, :, y:y + sh * (oh - 1) + 1:sh, x:x + sw * (ow - 1) + 1:sw]


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, C*kh*kw): rows ordered (n, oy, ox), columns (c, i, j)."""
    N, C, H, W = x.shape
    img = _pad(x, ph, pw, oh, ow, kh, kw, sh, sw, dh, dw, 0)
    col = np.zeros((N, C, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, :, i, j] = _window(img, i, j, oh, ow, sh, sw, dh, dw)
    cols[...] = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, C * kh * kw)


def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col: x (N, C, H, W) = sum of every patch in cols at its place."""
    N, C, H, W = x.shape
    col = cols.reshape(N, oh, ow, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros_like(_pad(x, ph, pw, oh, ow, kh, kw, sh, sw, dh, dw, 0))
    for i in range(kh):
        for j in range(kw):
            _window(img, i, j, oh, ow, sh, sw, dh, dw)[...] += col[:, :, i, j]
    x[...] = img[:, :, ph:ph + H, pw:pw + W]


def conv2d_forward_planes(xp, w_taps, bias, kh, kw, dh, dw, out, first, stop):
    """Images first .. stop-1 of out (N, oh, ow, O) = the stride-1 convolution of the already
    padded xp (N, C, Hp, Wp) by w_taps (C*kh*kw, O), rows (c, i, j), + bias."""
    part = xp[first:stop]
    oh, ow, O = out.shape[1:]
    cols = np.empty((part.shape[0] * oh * ow, w_taps.shape[0]), dtype=xp.dtype)
    im2col(part, kh, kw, 1, 1, 0, 0, dh, dw, oh, ow, cols)
    out[first:stop] = (cols @ w_taps + bias).reshape(-1, oh, ow, O)


def patch_columns(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols_t, first, stop):
    """cols_t (C*kh*kw, N*oh*ow) = im2col of the already padded xp, transposed, for images
    first .. stop-1 (their columns)."""
    part = xp[first:stop]
    cols = np.empty((part.shape[0] * oh * ow, cols_t.shape[0]), dtype=xp.dtype)
    im2col(part, kh, kw, sh, sw, 0, 0, dh, dw, oh, ow, cols)
    cols_t[:, first * oh * ow:stop * oh * ow] = cols.T


def patch_columns_add(cols_t, kh, kw, sh, sw, dh, dw, oh, ow, xp, first, stop):
    """Adjoint of patch_columns: col2im of the transposed columns of images first .. stop-1
    into the padded xp."""
    cols = np.ascontiguousarray(cols_t[:, first * oh * ow:stop * oh * ow].T)
    col2im(cols, kh, kw, sh, sw, 0, 0, dh, dw, oh, ow, xp[first:stop])


def conv2d_weight_grad(x, grad, kh, kw, ph, pw, dh, dw, grad_w, grad_b):
    """Stride-1 weight/bias gradients of channels-last x (N, H, W, C) padded by (ph, pw) for
    channels-last grad (N, oh, ow, O): grad_w (C*kh*kw, O), rows (c, i, j); grad_b (O,)."""
    N, H, W, C = x.shape
    oh, ow, O = grad.shape[1:]
    cols = np.empty((N * oh * ow, C * kh * kw), dtype=x.dtype)
    im2col(_nchw(x), kh, kw, 1, 1, ph, pw, dh, dw, oh, ow, cols)
    g = grad.reshape(-1, O)
    grad_w[...], grad_b[...] = cols.T @ g, g.sum(axis=0)


def matmul_nt_add(a, b, c):
    """c += a @ b.T (kernels/cpu_gemm.py's register-tiled product)."""
    c += a @ b.T


def matmul_into(a, b, c):
    """c = a @ b (kernels/cpu_gemm.py's outer-product tiles)."""
    c[...] = a @ b


def add_row_sums(a, out):
    """out += the sum of each row of a."""
    out += a.sum(axis=1)


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out = window max; argmax = its flat h*W+w in the plane.

    As PyTorch: a value replaces the running max when greater or NaN, so ties keep the
    first position and NaN propagates; padding is never chosen.
    """
    N, C, H, W = x.shape
    oh, ow = out.shape[2:]
    img = _pad(x, ph, pw, oh, ow, kh, kw, sh, sw, dh, dw, -np.inf)
    where = np.arange(H * W).reshape(1, 1, H, W)
    where = _pad(where, ph, pw, oh, ow, kh, kw, sh, sw, dh, dw, -1)
    best = np.full(out.shape, -np.inf, dtype=x.dtype)
    best_idx = np.full(out.shape, -1, dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            val = _window(img, i, j, oh, ow, sh, sw, dh, dw)
            pos = _window(where, i, j, oh, ow, sh, sw, dh, dw)
            take = (pos >= 0) & ((val > best) | np.isnan(val) | (best_idx < 0))
            best = np.where(take, val, best)
            best_idx = np.where(take, pos, best_idx)
    out[...] = best
    argmax[...] = best_idx


def max_pool2d_backward(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x = each output gradient added at the input position its window chose.

    The geometry is not needed to scatter; it is in the contract so that the CUDA twin
    can gather over the windows that read each input (no atomics, same sum every run).
    """
    N, C, H, W = grad_x.shape
    g = np.zeros((N * C, H * W), dtype=grad_x.dtype)
    planes = np.repeat(np.arange(N * C), grad_out.shape[2] * grad_out.shape[3])
    idx = argmax.reshape(-1)
    keep = idx >= 0
    np.add.at(g, (planes[keep], idx[keep]), grad_out.reshape(-1)[keep])
    grad_x[...] = g.reshape(N, C, H, W)


def _avg_divisor(H, W, oh, ow, kh, kw, sh, sw, ph, pw, count_include_pad):
    """(oh, ow) divisors of average pooling, with PyTorch's padding and ceil rules."""
    ys = np.arange(oh) * sh - ph
    xs = np.arange(ow) * sw - pw
    if count_include_pad:
        hs = np.minimum(ys + kh, H + ph) - ys
        ws = np.minimum(xs + kw, W + pw) - xs
    else:
        hs = np.minimum(ys + kh, H) - np.maximum(ys, 0)
        ws = np.minimum(xs + kw, W) - np.maximum(xs, 0)
    return hs[:, None] * ws[None, :]


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out = window sum / divisor (padding counts as zeros)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2:]
    img = _pad(x, ph, pw, oh, ow, kh, kw, sh, sw, 1, 1, 0)
    total = np.zeros(out.shape, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            total += _window(img, i, j, oh, ow, sh, sw, 1, 1)
    div = _avg_divisor(H, W, oh, ow, kh, kw, sh, sw, ph, pw, count_include_pad)
    out[...] = total / div.astype(x.dtype)


def avg_pool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2:]
    div = _avg_divisor(H, W, oh, ow, kh, kw, sh, sw, ph, pw, count_include_pad)
    share = grad_out / div.astype(grad_out.dtype)
    img = np.zeros_like(_pad(grad_x, ph, pw, oh, ow, kh, kw, sh, sw, 1, 1, 0))
    for i in range(kh):
        for j in range(kw):
            _window(img, i, j, oh, ow, sh, sw, 1, 1)[...] += share
    grad_x[...] = img[:, :, ph:ph + H, pw:pw + W]


def adaptive_avg_pool2d_forward(x, out):
    """out[.., a, b] = mean of x over rows [floor(aH/OH), ceil((a+1)H/OH)) and likewise cols."""
    H, W = x.shape[2:]
    oh, ow = out.shape[2:]
    for a in range(oh):
        y0, y1 = adaptive_bounds(a, H, oh)
        for b in range(ow):
            x0, x1 = adaptive_bounds(b, W, ow)
            out[:, :, a, b] = x[:, :, y0:y1, x0:x1].mean(axis=(2, 3))


def adaptive_avg_pool2d_backward(grad_out, grad_x):
    """Adjoint of adaptive_avg_pool2d_forward."""
    H, W = grad_x.shape[2:]
    oh, ow = grad_out.shape[2:]
    grad_x[...] = 0
    for a in range(oh):
        y0, y1 = adaptive_bounds(a, H, oh)
        for b in range(ow):
            x0, x1 = adaptive_bounds(b, W, ow)
            count = (y1 - y0) * (x1 - x0)
            grad_x[:, :, y0:y1, x0:x1] += (grad_out[:, :, a, b] / grad_x.dtype.type(count))[:, :, None, None]


# ---- channels-last twins: the NCHW spec seen through transposes -----------------------
def _nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """cols (N*oh*ow, kh*kw*C) of x (N, H, W, C): im2col with columns reordered (i, j, c)."""
    N, H, W, C = x.shape
    nchw_cols = np.empty((N * oh * ow, C * kh * kw), dtype=x.dtype)
    im2col(_nchw(x), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, nchw_cols)
    cols[...] = nchw_cols.reshape(-1, C, kh, kw).transpose(0, 2, 3, 1).reshape(cols.shape)


def conv2d_forward_vector_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu, out, first,
                                stop):
    """Images first .. stop-1 of out (N, oh, ow, O) = im2col_nhwc(x) @ wt[:, :O] + bias[:O]
    (wt and bias may have more columns: whole tiles), and with ``relu`` 0 where that is
    below 0 (NaN kept), no dilation along W, for images of 6 or more output pixels; the
    rest of out as it was."""
    if out.shape[1] * out.shape[2] >= 6:
        conv2d_forward_image_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu, kh, 6, out,
                                   first, stop)


def conv2d_forward_image_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu, rows_per_pass,
                               images_per_block, out, first, stop):
    """conv2d_forward_vector_tiles for images of any number of output pixels (the passes
    of rows_per_pass kernel rows and the blocks of images_per_block images change how the
    sums are grouped and ordered, not their values)."""
    oh, ow, O = out.shape[1:]
    part = x[first:stop]
    cols = np.empty((part.shape[0] * oh * ow, wt.shape[0]), dtype=x.dtype)
    im2col_nhwc(part, kh, kw, sh, sw, ph, pw, dh, 1, oh, ow, cols)
    sums = cols @ wt[:, :O] + bias[:O]
    if relu:
        sums = np.where(sums < 0, sums.dtype.type(0), sums)
    out[first:stop] = sums.reshape(part.shape[0], oh, ow, O)


def conv2d_forward_row_tiles(x, wt, bias, kh, kw, sh, ph, pw, dh, relu, out, first, stop):
    """Output rows first .. stop-1 (row n*oh + i is image n's output row i) of out (N, oh,
    ow, O) = conv2d_forward_image_tiles' conv of x by a kh x kw kernel, stride (sh, 1), whose
    weight rows wt (kh*C*kw, U) are ordered (i, c, j) (U >= O: whole tiles), + bias[:O], and
    with ``relu`` its ReLU; the other rows as they were."""
    C, (N, oh, ow, O) = x.shape[3], out.shape
    if stop <= first:
        return
    columns = wt.reshape(kh, C, kw, -1).transpose(0, 2, 1, 3).reshape(kh * kw * C, -1)
    whole = np.empty_like(out)
    conv2d_forward_image_tiles(x, columns, bias, kh, kw, sh, 1, ph, pw, dh, relu, kh, 6, whole,
                               first // oh, -(-stop // oh))
    out.reshape(N * oh, ow, O)[first:stop] = whole.reshape(N * oh, ow, O)[first:stop]


def conv2d_weight_grad_vector_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop):
    """dwt (kh*kw*C, O) += im2col_nhwc(images first .. stop-1 of x).T @ their grad rows, in
    the channels of whole tiles (O - O % (64 // itemsize)); the other channels as they were."""
    part, g = x[first:stop], grad[first:stop]
    oh, ow, O = grad.shape[1:]
    tiled = O - O % (64 // x.itemsize)
    cols = np.empty((part.shape[0] * oh * ow, dwt.shape[0]), dtype=x.dtype)
    im2col_nhwc(part, kh, kw, sh, sw, ph, pw, dh, 1, oh, ow, cols)
    dwt[:, :tiled] += cols.T @ g.reshape(-1, O)[:, :tiled]


def conv2d_weight_grad_channel_rows(x, grad, kh, kw, sh, sw, ph, pw, dh, dw_rows, first,
                                    stop):
    """dw_rows (O, kh*kw*C) += (im2col_nhwc(images first .. stop-1 of x).T @ their grad
    rows).T, where kh*kw's row of values (kw*C) fills whole tiles (64 // itemsize); else
    dw_rows as it was."""
    if (kw * x.shape[3]) % (64 // x.itemsize) == 0:
        dwt = np.zeros((dw_rows.shape[1], dw_rows.shape[0]), dtype=x.dtype)
        part, g = x[first:stop], grad[first:stop]
        oh, ow, O = grad.shape[1:]
        cols = np.empty((part.shape[0] * oh * ow, dwt.shape[0]), dtype=x.dtype)
        im2col_nhwc(part, kh, kw, sh, sw, ph, pw, dh, 1, oh, ow, cols)
        dw_rows += (cols.T @ g.reshape(-1, O)).T


def conv2d_weight_grad_image_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop):
    """The same sums as conv2d_weight_grad_vector_tiles (grouped otherwise)."""
    conv2d_weight_grad_vector_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop)


def col2im_nhwc(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col_nhwc: x (N, H, W, C) = sum of every patch row in cols at its place."""
    N, H, W, C = x.shape
    nchw_cols = cols.reshape(-1, kh, kw, C).transpose(0, 3, 1, 2).reshape(cols.shape[0], -1)
    nchw = np.empty((N, C, H, W), dtype=x.dtype)
    col2im(np.ascontiguousarray(nchw_cols), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, nchw)
    x[...] = nchw.transpose(0, 2, 3, 1)


def conv2d_forward_nhwc(x, wmat, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop):
    """Output pixels first .. stop-1, counted (n, oy, ox), of out (N, oh, ow, O) = patches of
    x (N, H, W, C), columns (i, j, c), @ wmat.T + bias."""
    N, H, W, C = x.shape
    oh, ow, O = out.shape[1:]
    cols = np.empty((N * oh * ow, kh * kw * C), dtype=x.dtype)
    im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    out.reshape(-1, O)[first:stop] = (cols[first:stop] @ wmat.T + bias)


def conv2d_input_grad_nhwc(grad, wmat, kh, kw, sh, sw, ph, pw, dh, dw, dx, first, stop):
    """Images first .. stop-1 of channels-last dx (N, H, W, C) = col2im(grad @ wmat) for
    channels-last grad (N, oh, ow, O) and weight rows wmat (O, kh*kw*C), columns (i, j, c)."""
    part = dx[first:stop]
    n, H, W, C = part.shape
    oh, ow, O = grad.shape[1:]
    dcols = grad[first:stop].reshape(-1, O) @ wmat                    # columns (i, j, c)
    dcols = dcols.reshape(-1, kh, kw, C).transpose(0, 3, 1, 2).reshape(-1, C * kh * kw)
    x = np.empty((n, C, H, W), dtype=dx.dtype)
    col2im(dcols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x)
    part[...] = x.transpose(0, 2, 3, 1)


def conv2d_weight_grad_taps(xp, grad, kh, kw, sh, sw, dh, dw, grad_w, grad_b):
    """Weight/bias gradients of the already padded NCHW xp for channels-last grad
    (N, oh, ow, O): grad_w (C*kh*kw, O), rows (c, i, j); grad_b (O,)."""
    oh, ow, O = grad.shape[1:]
    cols = np.empty((xp.shape[0] * oh * ow, grad_w.shape[0]), dtype=xp.dtype)
    im2col(xp, kh, kw, sh, sw, 0, 0, dh, dw, oh, ow, cols)
    g = grad.reshape(-1, O)
    grad_w[...], grad_b[...] = cols.T @ g, g.sum(axis=0)


def conv2d_weight_grad_rows(x, grad, kh, kw, sh, sw, ph, pw, dh, dw, grad_w, grad_b):
    """Weight/bias gradients of channels-last x (N, H, W, C) for channels-last grad
    (N, oh, ow, O), any stride: grad_w (kh*kw*C, O), rows (i, j, c); grad_b (O,)."""
    oh, ow, O = grad.shape[1:]
    cols = np.empty((x.shape[0] * oh * ow, grad_w.shape[0]), dtype=x.dtype)
    im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    g = grad.reshape(-1, O)
    grad_w[...], grad_b[...] = cols.T @ g, g.sum(axis=0)


def conv2d_forward_tiles(x, wmat_t, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop):
    """conv2d_forward_nhwc with the weights given transposed, wmat_t (kh*kw*C, O)."""
    conv2d_forward_nhwc(x, wmat_t.T, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop)


def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, relu, out, argmax):
    """argmax (N, OH, OW, 0): the values alone. With ``relu``: the ReLU of the max
    (``0 if v < 0 else v``), and argmax -1 where the max is not above 0."""
    o, a = _nchw(out), _nchw(np.empty(out.shape, np.int64))
    max_pool2d_forward(_nchw(x), kh, kw, sh, sw, ph, pw, dh, dw, o, a)
    out[...] = o.transpose(0, 2, 3, 1)
    if argmax.shape[3]:
        argmax[...] = a.transpose(0, 2, 3, 1)
    if relu:
        if argmax.shape[3]:
            argmax[~(out > 0)] = -1
        out[out < 0] = 0


def max_pool2d_backward_nhwc(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    g = _nchw(grad_x)
    max_pool2d_backward(_nchw(grad_out), _nchw(argmax), kh, kw, sh, sw, ph, pw, dh, dw, g)
    grad_x[...] = g.transpose(0, 2, 3, 1)


def avg_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    o = _nchw(out)
    avg_pool2d_forward(_nchw(x), kh, kw, sh, sw, ph, pw, count_include_pad, o)
    out[...] = o.transpose(0, 2, 3, 1)


def avg_pool2d_backward_nhwc(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    g = _nchw(grad_x)
    avg_pool2d_backward(_nchw(grad_out), kh, kw, sh, sw, ph, pw, count_include_pad, g)
    grad_x[...] = g.transpose(0, 2, 3, 1)


# ---- batch normalisation (kernels/cpu/norm.py): rows (M, C) and planes (N, C, S) --------
def _rows(a):
    """An (N, C, S) planes array as (N*S, C) rows; a rows array as itself."""
    return a.transpose(0, 2, 1).reshape(-1, a.shape[1]) if a.ndim == 3 else a


def _shifted_sums(x, shift, out_d, out_dd):
    d = _rows(x).astype(np.float64) - shift
    out_d += d.sum(axis=0)
    out_dd += (d * d).sum(axis=0)


def shifted_sums_rows(x, shift, out_d, out_dd):
    """out_d[c] += sum over rows of d = x[:, c] - shift[c]; out_dd[c] += sum of d * d."""
    _shifted_sums(x, shift, out_d, out_dd)


def shifted_sums_planes(x, shift, out_d, out_dd):
    """shifted_sums_rows for an (N, C, S) array."""
    _shifted_sums(x, shift, out_d, out_dd)


def _relu_passed(g, x, relu, x_mean, scale, shift, planes):
    """g where the ReLU of the affine map (x - x_mean) * scale + shift passed a gradient
    (that value above 0), or g itself without ``relu``."""
    if not relu:
        return g
    v = (slice(None), None) if planes else slice(None)
    return np.where((x - x_mean[v]) * scale[v] + shift[v] > 0, g, g.dtype.type(0))


def _grad_sums(g, x, mean, out_g, out_gx):
    g64, x64 = _rows(g).astype(np.float64), _rows(x).astype(np.float64)
    out_g += g64.sum(axis=0)
    out_gx += (g64 * (x64 - mean)).sum(axis=0)


def grad_sums_rows(g, x, mean, relu, x_mean, scale, shift, out_g, out_gx):
    """out_g[c] += sum of g[:, c]; out_gx[c] += sum of g[:, c] * (x[:, c] - mean[c]); with
    ``relu``, of g where (x - x_mean) * scale + shift > 0 only."""
    _grad_sums(_relu_passed(g, x, relu, x_mean, scale, shift, False), x, mean, out_g, out_gx)


def grad_sums_planes(g, x, mean, relu, x_mean, scale, shift, out_g, out_gx):
    """grad_sums_rows for (N, C, S) arrays."""
    _grad_sums(_relu_passed(g, x, relu, x_mean, scale, shift, True), x, mean, out_g, out_gx)


def affine_rows(x, mean, scale, shift, relu, out):
    """out[:, c] = (x[:, c] - mean[c]) * scale[c] + shift[c], with ``relu`` its ReLU (NaN
    kept)."""
    out[...] = (x - mean) * scale + shift
    if relu:
        out[out < 0] = 0


def affine_planes(x, mean, scale, shift, relu, out):
    """affine_rows for (N, C, S) arrays."""
    v = (slice(None), None)                                     # (C, 1) against (N, C, S)
    out[...] = (x - mean[v]) * scale[v] + shift[v]
    if relu:
        out[out < 0] = 0


def input_grad_rows(g, x, mean, a, b, d, relu, scale, shift, out):
    """out[:, c] = g[:, c] * a[c] + (x[:, c] - mean[c]) * b[c] + d[c], with ``relu`` g
    where (x - mean) * scale + shift > 0 only."""
    g = _relu_passed(g, x, relu, mean, scale, shift, False)
    out[...] = g * a + (x - mean) * b + d


def input_grad_planes(g, x, mean, a, b, d, relu, scale, shift, out):
    """input_grad_rows for (N, C, S) arrays."""
    g = _relu_passed(g, x, relu, mean, scale, shift, True)
    v = (slice(None), None)                                     # (C, 1) against (N, C, S)
    out[...] = g * a[v] + (x - mean[v]) * b[v] + d[v]
