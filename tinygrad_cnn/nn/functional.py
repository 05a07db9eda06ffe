"""nn.functional: checked, PyTorch-shaped entry points to the ops.

Convolution, pooling, dense layers, activations, dropout and batch norm are defined here;
the rest of F (transposed conv, other normalisations, padding, ...; the losses) is defined
in functional_extra.py and losses_functional.py and imported below."""
import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn import random as tc_random
from tinygrad_cnn.kernels.geometry import (
    ConvGeometry, PoolGeometry, conv_out_size, pool_out_size)
from tinygrad_cnn.nn._args import check_4d, pair, positive_pair
from tinygrad_cnn.nn.functional_extra import (  # noqa: F401 - F's names, defined there
    conv_transpose2d, dropout2d, gelu, group_norm, interpolate, into, layer_norm,
    local_response_norm, one_hot, pad, silu,
)
from tinygrad_cnn.nn.functional_extra import unbatched as _unbatched
from tinygrad_cnn.nn.losses_functional import (  # noqa: F401 - F's names, defined there
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
    l1_loss, logsigmoid, mse_loss, nll_loss, smooth_l1_loss,
)
from tinygrad_cnn.ops.batchnorm import BatchNorm
from tinygrad_cnn.tensor import Tensor, cat


# ---- convolution -------------------------------------------------------------------
def conv_padding(padding, kernel, stride, dilation):
    """(top, bottom, left, right) from an int, a pair, "same" or "valid" (nn.Conv2d checks
    its padding here too)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride {stride}: "
                             f"padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return ph, ph, pw, pw


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of NCHW x with (O, C/groups, KH, KW) weight."""
    return conv2d_then_relu(x, weight, bias, stride, padding, dilation, groups, relu=False)


def conv2d_then_relu(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                     relu, max_pool=False):
    """conv2d, and with ``relu`` its ReLU in the same op, which has no backward: inference's
    fused conv (nn/fusion.py), where nothing needs a gradient. With ``max_pool``, also the
    2x2 stride-2 max pool after it (max_pool2d(..., 2)), in the same op: the backend pools
    each block of images as the conv computes it."""
    if x.ndim == 3:  # unbatched (C, H, W), as torch
        return _unbatched(conv2d_then_relu, x, weight, bias, stride, padding, dilation, groups,
                          relu=relu, max_pool=max_pool)
    check_4d(x, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d weight must be 4-D (out, in/groups, kh, kw), got {weight.shape}")
    N, C, H, W = x.shape
    O, Cg, KH, KW = weight.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if C % groups or O % groups:
        raise ValueError(f"groups={groups} must divide both input channels ({C}) and output "
                         f"channels ({O})")
    if O == 0:
        raise ValueError(f"conv2d weight {weight.shape} has 0 output channels; it needs at "
                         f"least 1 (as torch)")
    if Cg * groups != C:
        raise ValueError(f"conv2d expected {Cg * groups} input channels (weight {weight.shape}, "
                         f"groups={groups}), got {C} (input shape {x.shape})")
    if x.dtype != weight.dtype:
        raise TypeError(f"conv2d input dtype {x.dtype} differs from weight dtype {weight.dtype}")
    stride, dilation = positive_pair(stride, "stride"), positive_pair(dilation, "dilation")
    pad = conv_padding(padding, (KH, KW), stride, dilation)
    for axis, size, k, s, p, d in (("height", H, KH, stride[0], pad[0] + pad[1], dilation[0]),
                                   ("width", W, KW, stride[1], pad[2] + pad[3], dilation[1])):
        span = d * (k - 1) + 1
        if span > size + p:
            raise ValueError(f"conv2d kernel {axis} {k} (dilated to {span}) is larger than the "
                             f"padded input {axis} {size} + {p} (input shape {x.shape})")
        if conv_out_size(size, k, s, p, d) < 1:
            raise ValueError(f"conv2d output {axis} would be < 1 (input shape {x.shape})")
    if bias is not None:
        bias = _check_bias(bias, O, x.dtype)
    geometry = ConvGeometry.of(x.shape, weight.shape, stride, pad, dilation, int(groups),
                               x.dtype.itemsize)
    if C == 0:
        out = _conv2d_of_no_channels(x, weight, bias, (N, 0, geometry.OH, geometry.OW))
        out = out.relu() if relu else out
        return max_pool2d(out, 2) if max_pool else out
    if max_pool and min(geometry.OH, geometry.OW) < 2:      # max_pool2d raises its error
        return max_pool2d(conv2d_then_relu(x, weight, bias, stride, padding, dilation, groups,
                                           relu=relu), 2)
    args = (x, weight) if bias is None else (x, weight, bias)
    pool = PoolGeometry.of((N, O, geometry.OH, geometry.OW), (2, 2), (2, 2), (0, 0), (1, 1),
                           False, True) if max_pool else None
    return ops.Conv2d.apply(*args, geometry=geometry, relu=relu, pool=pool)


def _conv2d_of_no_channels(x, weight, bias, out_shape):
    """conv2d of an input with 0 channels gives, as in torch, an empty (N, 0, OH, OW) result;
    x, weight and bias stay in the graph and get zero gradients."""
    parts = x.sum() + weight.sum() + (0.0 if bias is None else bias.sum())
    return (parts * 0.0).reshape(1, 1, 1, 1).expand(*out_shape)


def _check_bias(bias, out_channels, dtype):
    if bias.shape != (out_channels,):
        raise ValueError(f"bias must have shape ({out_channels},), got {bias.shape}")
    if bias.dtype != dtype:
        raise TypeError(f"bias dtype {bias.dtype} differs from input dtype {dtype}")
    return bias


# ---- pooling -----------------------------------------------------------------------
def _pool_geometry(x, what, kernel_size, stride, padding, dilation, ceil_mode,
                   count_include_pad=True):
    """The checked PoolGeometry of pooling x (``what`` names the function in errors)."""
    check_4d(x, what)
    if 0 in x.shape[1:]:
        raise ValueError(f"{what} expects non-zero channels, height and width (only the batch "
                         f"may be 0, as in torch), got input shape {x.shape}")
    kernel = positive_pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else positive_pair(stride, "stride")
    padding = pair(padding, "padding")
    dilation = positive_pair(dilation, "dilation")
    for p, k in zip(padding, kernel):
        if p < 0 or 2 * p > k:
            raise ValueError(f"{what} padding {padding} must be >= 0 and at most half the "
                             f"kernel size {kernel}")
    H, W = x.shape[2:]
    for axis, size, k, s, p, d in (("height", H, kernel[0], stride[0], padding[0], dilation[0]),
                                   ("width", W, kernel[1], stride[1], padding[1], dilation[1])):
        out = pool_out_size(size, k, s, p, d, ceil_mode)
        if out < 1:
            raise ValueError(f"{what} output {axis} would be {out}: kernel {k} (dilation {d}) "
                             f"does not fit input {axis} {size} with padding {p} "
                             f"(input shape {x.shape})")
    return PoolGeometry.of(x.shape, kernel, stride, padding, dilation, ceil_mode,
                           count_include_pad)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over NCHW windows; indices are flat h*W+w per plane, as PyTorch."""
    if x.ndim == 3:  # unbatched (C, H, W), as torch
        return _unbatched(max_pool2d, x, kernel_size, stride, padding, dilation, ceil_mode,
                          return_indices)
    geometry = _pool_geometry(x, "max_pool2d", kernel_size, stride, padding, dilation,
                              ceil_mode)
    if not return_indices:
        return ops.MaxPool2d.apply(x, geometry=geometry)
    indices = []
    out = ops.MaxPool2d.apply(x, geometry=geometry, indices=indices)
    return out, Tensor._wrap(x.backend.astype(indices[0], np.int64), x.device)


def max_pool2d_then_relu(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """relu(max_pool2d(x, ...)) as one op on a batch (N, C, H, W): the max pool's values
    clamped as they are stored, its backward the pool's alone (the ReLU's mask kept in the
    argmax). Max pooling and ReLU commute (nn/fusion._pool_then_relu), so this is also
    max_pool2d(relu(x), ...) for undilated windows."""
    geometry = _pool_geometry(x, "max_pool2d", kernel_size, stride, padding, dilation,
                              ceil_mode)
    return ops.MaxPool2d.apply(x, geometry=geometry, relu=True)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling; padding counts as zeros when count_include_pad, as PyTorch."""
    if x.ndim == 3:  # unbatched (C, H, W), as torch
        return _unbatched(avg_pool2d, x, kernel_size, stride, padding, ceil_mode,
                          count_include_pad)
    geometry = _pool_geometry(x, "avg_pool2d", kernel_size, stride, padding, 1, ceil_mode,
                              count_include_pad)
    return ops.AvgPool2d.apply(x, geometry=geometry)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size; (1, 1) is global average pooling."""
    if x.ndim == 3:  # unbatched (C, H, W), as torch
        return _unbatched(adaptive_avg_pool2d, x, output_size)
    check_4d(x, "adaptive_avg_pool2d")
    oh, ow = _adaptive_size(x, output_size, "adaptive_avg_pool2d")
    return ops.AdaptiveAvgPool2d.apply(x, output_size=(int(oh), int(ow)))


def _adaptive_size(x, output_size, what):
    """(oh, ow) of an adaptive pooling: an int, or a pair where None keeps that input size."""
    H, W = x.shape[2:]
    if isinstance(output_size, (tuple, list)):
        oh, ow = (output_size[0] or H), (output_size[1] or W)
    else:
        oh, ow = pair(output_size, "output_size")
    if oh < 1 or ow < 1:
        raise ValueError(f"{what} output_size must be >= 1, got {output_size!r}")
    return oh, ow


def global_avg_pool2d(x):
    """Mean over each feature map: (N, C, H, W) -> (N, C, 1, 1)."""
    return adaptive_avg_pool2d(x, 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows [floor(i*H/oh), ceil((i+1)*H/oh)), per output cell.

    Each window is one max_pool2d (so ties and indices follow max pooling's rule); when the
    sizes divide evenly, the whole map is one max_pool2d.
    """
    if input.ndim == 3:
        return _unbatched(adaptive_max_pool2d, input, output_size, return_indices)
    check_4d(input, "adaptive_max_pool2d")
    H, W = input.shape[2:]
    oh, ow = _adaptive_size(input, output_size, "adaptive_max_pool2d")
    if H % oh == 0 and W % ow == 0:
        k = (H // oh, W // ow)
        return max_pool2d(input, k, k, return_indices=return_indices)
    rows = []
    for i in range(oh):
        h0, h1 = (i * H) // oh, -(-(i + 1) * H // oh)
        cells = []
        for j in range(ow):
            w0, w1 = (j * W) // ow, -(-(j + 1) * W // ow)
            cells.append(max_pool2d(input[:, :, h0:h1, w0:w1], (h1 - h0, w1 - w0),
                                    return_indices=return_indices))
        rows.append(cells)
    out = cat([cat([c[0] if return_indices else c for c in r], 3) for r in rows], 2)
    if not return_indices:
        return out
    idx = np.zeros(out.shape, np.int64)
    for i, r in enumerate(rows):
        h0 = (i * H) // oh
        for j, (_, cell) in enumerate(r):
            w0, w1 = (j * W) // ow, -(-(j + 1) * W // ow)
            local = cell.numpy()[:, :, 0, 0]
            idx[:, :, i, j] = (h0 + local // (w1 - w0)) * W + w0 + local % (w1 - w0)
    return out, Tensor(idx, device=input.device)


# ---- dense layers and activations ----------------------------------------------------
def linear(x, weight, bias=None):
    """x @ weight.T + bias, weight shaped (out, in) as PyTorch."""
    if weight.ndim != 2:
        raise ValueError(f"linear weight must be 2-D (out, in), got {weight.shape}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear expected {weight.shape[1]} input features, got {x.shape[-1]} "
                         f"(input shape {x.shape})")
    out = x @ weight.T
    return out if bias is None else out + bias


def relu(x, inplace=False):
    """max(x, 0); with ``inplace`` x itself is overwritten and returned (as torch)."""
    return x.relu_() if inplace else x.relu()


def leaky_relu(x, negative_slope=0.01, inplace=False):
    """max(x, slope*x) for slope < 1; the notes' variant is negative_slope=0.1."""
    return into(x, lambda v: ops.LeakyReLU.apply(v, slope=float(negative_slope)), inplace)


def elu(x, alpha=1.0, inplace=False):
    return into(x, lambda v: ops.ELU.apply(v, alpha=float(alpha)), inplace)


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, dim=-1):
    return x.softmax(dim)


def log_softmax(x, dim=-1):
    return x.log_softmax(dim)


def maxout(x, pieces):
    """Maxout over channel groups: (N, C*pieces, ...) -> (N, C, ...), max of each group."""
    if x.ndim < 2 or x.shape[1] % pieces:
        raise ValueError(f"maxout needs the channel count {x.shape[1] if x.ndim > 1 else None} "
                         f"to be divisible by pieces={pieces} (input shape {x.shape})")
    N, C = x.shape[:2]
    grouped = x.reshape((N, C // pieces, pieces) + x.shape[2:])
    return grouped.amax(dim=2)


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p); identity in eval."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return into(x, lambda v: v * 0, inplace)
    keep = tc_random.generator().random(x.shape) >= p
    mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
    return into(x, lambda v: v * Tensor._wrap(x.backend.from_numpy(mask), x.device), inplace)


# ---- normalisation ------------------------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1) as torch.nn.functional.batch_norm.

    training: normalise with the batch's mean and biased variance, and blend the batch mean
    and unbiased variance into running_mean / running_var (when given) with ``momentum``.
    Otherwise normalise with the running statistics.
    """
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                       relu=False)


def batch_norm_then_relu(x, running_mean, running_var, weight=None, bias=None, training=False,
                         momentum=0.1, eps=1e-5):
    """batch_norm, then its ReLU, as one op and one pass over the values (nn/fusion.py's
    batch norm and ReLU): batch_norm's values and relu's exactly, and their gradients,
    whose ReLU mask backward takes in the batch norm's own passes."""
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                       relu=True)


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, relu):
    _check_batch_norm(x, running_mean, running_var, weight, bias, training)
    if training:
        mean, var = x.backend.batch_norm_stats(x._array)
        count = x.numel() // x.shape[1]
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            unbiased = x.backend.mul(var, x.dtype.type(count / (count - 1)))
            _update_running(running_var, unbiased, momentum)
    else:
        mean, var = running_mean._array, running_var._array
    return _normalised(x, mean, var, weight, bias, eps, bool(training), relu)


def _normalised(x, mean, var, weight, bias, eps, batch_stats, relu=False):
    """The BatchNorm op over x with these statistics (backend arrays) and affine pair."""
    weight, bias = _affine_pair(weight, bias, x)
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*inputs, mean=mean, var=var, eps=float(eps), batch_stats=batch_stats,
                           relu=relu)


def _check_batch_norm(x, running_mean, running_var, weight, bias, training):
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of at least 2 dimensions (N, C, ...), "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm expects a float32 or float64 input, got {x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"batch_norm {name} has shape {t.shape}, expected ({C},) for "
                             f"input shape {x.shape} with {C} channels")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"batch_norm {name} dtype {t.dtype} differs from input dtype {x.dtype}")
    if training and x.numel() // max(C, 1) <= 1:
        raise ValueError(f"expected more than 1 value per channel when training, got input "
                         f"shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm with training=False needs running_mean and running_var")


def _update_running(running, stat, momentum):
    """running = (1 - momentum) * running + momentum * stat, on the running tensor itself."""
    be, dt = running.backend, running.dtype.type
    keep = be.mul(running._array, dt(1 - momentum))
    running._array = be.add(keep, be.mul(be.astype(stat, running.dtype), dt(momentum)))


def _affine_pair(weight, bias, x):
    """(weight, bias) both Tensors or both None; a missing one becomes a constant 1 or 0."""
    if weight is None and bias is None:
        return None, None
    C = x.shape[1]
    if weight is None:
        weight = Tensor.ones(C, dtype=x.dtype, device=x.device)
    if bias is None:
        bias = Tensor.zeros(C, dtype=x.dtype, device=x.device)
    return weight, bias
