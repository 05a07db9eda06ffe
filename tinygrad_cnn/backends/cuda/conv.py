"""CUDA convolution: im2col + GEMM, written straight into NCHW.

Forward, per group: out[n] (O, OH*OW) = W (O, K) @ cols[n]^T, one batched GEMM over
images whose strides read cols transposed and write NCHW, so no transpose pass is
needed. Backward: dcols[n] = grad[n]^T @ W (batched, again by strides) and col2im as a
gather; dW = grad_rows^T @ cols with split-K over chunks of whole images (partial
products summed by a deterministic reduction); db = grad summed over (N, OH, OW).
"""
from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.backends.cuda import reduce as cuda_reduce
from tinygrad_cnn.backends.cuda.gemm import gemm
from tinygrad_cnn.backends.cuda.settings import settings
from tinygrad_cnn.kernels.cuda import conv as kernels
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.geometry import conv_out_size


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N*oh*ow, C*kh*kw) patch matrix of x."""
    N, C = x.shape[:2]
    cols = rt.empty((N * oh * ow, C * kh * kw), x.dtype)
    rt.launch(kernels.im2col, cols.size, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N, C, H, W) sum of the patches in cols."""
    x = rt.empty(x_shape, cols.dtype)
    rt.launch(kernels.col2im, x.size, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x)
    return x


def _add_channel_bias(out, b):
    """out (N, O, OH, OW) += b[o], in place."""
    N, O, OH, OW = out.shape
    shape, so, sb = rt.collapse((N, O, OH * OW), (O * OH * OW, OH * OW, 1), (0, 1, 0))
    rt.launch(ew.binary, out.size, ew.ADD, rt.flat(out), rt.flat(b), out.dtype.type(0),
              rt.flat(out), shape, so, sb)


def conv2d_forward(x, w, b, stride, pad, dilation, groups):
    """NCHW convolution by im2col + GEMM. pad = (top, bottom, left, right).

    Returns the output and the patch matrix, which backward reuses for the weight grad.
    """
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    OH = conv_out_size(H, KH, sh, pt + pb, dh)
    OW = conv_out_size(W, KW, sw, pl + pr, dw)
    P, Kg, Og = OH * OW, Cg * KH * KW, O // groups
    Kt = groups * Kg
    cols = im2col(x, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)             # (N*P, Kt)
    out = rt.empty((N, O, OH, OW), x.dtype)
    fw, fc, fo = rt.flat(w), rt.flat(cols), rt.flat(out)
    for g in range(groups):
        # out[n, o, p] = sum_k w[o, k] cols[n*P + p, k]
        gemm(fw, (g * Og * Kg, 0, Kg, 1), fc, (g * Kg, P * Kt, 1, Kt),
             fo, (g * Og * P, O * P, P, 1), (N, Og, P, Kg))
    if b is not None:
        _add_channel_bias(out, b)
    return out, cols


def _divisor_at_most(n, limit):
    """The largest divisor of n that is <= limit (at least 1)."""
    for d in range(max(1, min(n, limit)), 0, -1):
        if n % d == 0:
            return d
    return 1


def _weight_grad(grad, cols, O, Kg, groups):
    """dW (O, Kg) = grad_rows^T @ cols per group, split over chunks of whole images."""
    N, _, OH, OW = grad.shape
    P, Og, Kt = OH * OW, O // groups, cols.shape[1]
    rows = rt.permute(grad.reshape((N, O, P)), (0, 2, 1))               # (N*P, O)
    per = _divisor_at_most(N, max(1, settings.split_k_depth // P))
    S, Kc = N // per, per * P
    partial = rt.empty((S, O, Kg), grad.dtype)
    fr, fc, fp = rt.flat(rows), rt.flat(cols), rt.flat(partial)
    for g in range(groups):
        # partial[s, o, k] = sum over m in chunk s of rows[m, o] cols[m, k]
        gemm(fr, (g * Og, Kc * O, 1, O), fc, (g * Kg, Kc * Kt, Kt, 1),
             fp, (g * Og * Kg, O * Kg, Kg, 1), (S, Og, Kg, Kc))
    return partial.reshape((O, Kg)) if S == 1 else cuda_reduce.sum(partial, axis=0)


def conv2d_backward(grad, saved, x_shape, w, stride, pad, dilation, groups, needs):
    """Gradients (input, weight, bias) of conv2d_forward; ``needs`` says which to compute.

    ``saved`` is what this backend's conv2d_forward returned beside the output: the patch
    matrix (N*OH*OW, C*KH*KW).
    """
    cols = saved
    N, O, OH, OW = grad.shape
    _, Cg, KH, KW = w.shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, pad, dilation
    P, Kg, Og = OH * OW, Cg * KH * KW, O // groups
    Kt = groups * Kg
    dx = dw_ = db = None
    if needs[0]:
        dcols = rt.empty((N * P, Kt), grad.dtype)
        fg, fw, fd = rt.flat(grad), rt.flat(w), rt.flat(dcols)
        for g in range(groups):
            # dcols[n*P + p, k] = sum_o grad[n, o, p] w[o, k]
            gemm(fg, (g * Og * P, O * P, 1, P), fw, (g * Og * Kg, 0, Kg, 1),
                 fd, (g * Kg, P * Kt, Kt, 1), (N, P, Kg, Og))
        dx = col2im(dcols, tuple(x_shape), KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)
    if needs[1]:
        dw_ = _weight_grad(grad, cols, O, Kg, groups).reshape(w.shape)
    if len(needs) > 2 and needs[2]:
        db = cuda_reduce.sum(grad, axis=(0, 2, 3))
    return dx, dw_, db


def conv2d_input_grad(grad, x_shape, w, stride, pad, dilation, groups):
    """d(conv2d_forward(x, w))/dx applied to ``grad``, for an x of ``x_shape`` (the forward
    of a transposed convolution): conv2d_backward's input-gradient path, which reads no
    saved patches."""
    return conv2d_backward(grad, None, tuple(x_shape), w, stride, pad, dilation, groups,
                           (True, False))[0]
