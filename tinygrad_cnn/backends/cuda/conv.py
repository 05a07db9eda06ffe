"""CUDA convolution: im2col + GEMM, written straight into NCHW.

Forward, per group: out[n] (O, OH*OW) = W (O, K) @ cols[n]^T, one batched GEMM over
images whose strides read cols transposed and write NCHW, so no transpose pass is
needed. Input gradient: dcols[n] = grad[n]^T @ W (batched, again by strides) and col2im
as a gather. Weight gradient: dW = grad_rows^T @ cols with split-K over chunks of whole
images (partial products summed by a deterministic reduction); db = grad summed over
(N, OH, OW).
"""
import dataclasses

from tinygrad_cnn.backends.cuda import elementwise as cuda_elementwise
from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.backends.cuda import reduce as cuda_reduce
from tinygrad_cnn.backends.cuda.gemm import gemm
from tinygrad_cnn.backends.cuda.pool import max_pool2d_values
from tinygrad_cnn.backends.cuda.settings import settings
from tinygrad_cnn.kernels.cuda import conv as kernels
from tinygrad_cnn.kernels.cuda import elementwise as ew


@dataclasses.dataclass
class ConvWorkspace:
    """What the CUDA conv's forward hands its gradients beside x and w: the patch matrix
    (N*OH*OW, C*KH*KW), which the weight gradient reuses (the CPU backend's ConvWorkspace
    is its twin)."""
    cols: object
    route = "im2col+gemm"
    """The kernels every CUDA conv runs, in one short line."""


def _add_channel_bias(out, b):
    """out (N, O, OH, OW) += b[o], in place."""
    N, O, OH, OW = out.shape
    shape, so, sb = rt.collapse((N, O, OH * OW), (O * OH * OW, OH * OW, 1), (0, 1, 0))
    rt.launch(ew.binary, out.size, ew.ADD, rt.flat(out), rt.flat(b), out.dtype.type(0),
              rt.flat(out), shape, so, sb)


def conv2d_forward(x, w, b, geometry, need_weight_grad=True, relu=False):
    """(out, ConvWorkspace) of the NCHW convolution of ``geometry``
    (kernels/geometry.ConvGeometry), by im2col + GEMM, and with ``relu`` its ReLU (for
    inference: no gradient; applied after the product); the workspace keeps the patch
    matrix only when need_weight_grad."""
    if relu and need_weight_grad:
        raise ValueError("conv2d_forward: relu=True is for inference; it has no gradient")
    g = geometry
    P, Kg, Og = g.OH * g.OW, g.C // g.groups * g.KH * g.KW, g.O // g.groups
    Kt, O = g.groups * Kg, g.O
    cols = rt.empty((g.N * P, Kt), x.dtype)                            # (N*P, Kt)
    rt.launch(kernels.im2col, cols.size, x, *g.kernel_args(), g.OH, g.OW, cols)
    out = rt.empty(g.out_shape, x.dtype)
    fw, fc, fo = rt.flat(w), rt.flat(cols), rt.flat(out)
    for k in range(g.groups):
        # out[n, o, p] = sum_k w[o, k] cols[n*P + p, k]
        gemm(fw, (k * Og * Kg, 0, Kg, 1), fc, (k * Kg, P * Kt, 1, Kt),
             fo, (k * Og * P, O * P, P, 1), (g.N, Og, P, Kg))
    if b is not None:
        _add_channel_bias(out, b)
    if relu:
        out = cuda_elementwise.relu(out)
    return out, ConvWorkspace(cols if need_weight_grad else None)


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


def conv2d_forward_max_pool(x, w, b, geometry, pool, relu):
    """(out, route): the inference conv (conv2d_forward) and then the max pool of ``pool``
    over its output, two launches one after the other."""
    out, workspace = conv2d_forward(x, w, b, geometry, False, relu)
    return max_pool2d_values(out, pool), workspace.route


def conv2d_input_grad(grad, w, geometry, workspace):
    """d(conv2d_forward(x, w))/dx applied to ``grad`` (the forward of a transposed
    convolution when workspace is None): dcols = grad^T @ W per image, then col2im as a
    gather. Reads nothing of the workspace."""
    g = geometry
    P, Kg, Og = g.OH * g.OW, g.C // g.groups * g.KH * g.KW, g.O // g.groups
    Kt, O = g.groups * Kg, g.O
    dcols = rt.empty((g.N * P, Kt), grad.dtype)
    fg, fw, fd = rt.flat(grad), rt.flat(w), rt.flat(dcols)
    for k in range(g.groups):
        # dcols[n*P + p, k] = sum_o grad[n, o, p] w[o, k]
        gemm(fg, (k * Og * P, O * P, 1, P), fw, (k * Og * Kg, 0, Kg, 1),
             fd, (k * Kg, P * Kt, Kt, 1), (g.N, P, Kg, Og))
    dx = rt.empty(g.x_shape, grad.dtype)
    rt.launch(kernels.col2im, dx.size, dcols, *g.kernel_args(), g.OH, g.OW, dx)
    return dx


def conv2d_weight_grad(grad, x, geometry, workspace, need_weight, need_bias):
    """(dw, db) of conv2d_forward for the output gradient ``grad``, from the workspace's
    patch matrix (x itself is not read); either is None when not needed."""
    g = geometry
    dw = db = None
    if need_weight:
        dw = _weight_grad(grad, workspace.cols, g.O, g.C // g.groups * g.KH * g.KW,
                          g.groups).reshape(g.w_shape)
    if need_bias:
        db = cuda_reduce.sum(grad, axis=(0, 2, 3))
    return dw, db
