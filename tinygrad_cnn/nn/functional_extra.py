"""More of torch.nn.functional: transposed conv, normalisations, GELU/SiLU, channel dropout, padding, one-hot and nearest upsampling.

Re-exported by nn/functional.py. Most are compositions of differentiable tensor ops (so
autograd derives their gradients); conv_transpose2d and gelu are ops of their own.
"""
import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn import random as tc_random
from tinygrad_cnn.kernels.geometry import ConvGeometry
from tinygrad_cnn.nn._args import check_4d, pair, positive_pair
from tinygrad_cnn.tensor import Tensor, cat


def unbatched(fn, x, *args, **kwargs):
    """fn on a (C, H, W) input as a batch of one, the batch dim removed again (as torch)."""
    out = fn(x.unsqueeze(0), *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) for o in out)
    return out.squeeze(0)


# ---- transposed convolution ---------------------------------------------------------------
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution of NCHW input with an (in, out/groups, kh, kw) weight, as torch.

    Output size: (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    """
    if input.ndim == 3:
        return unbatched(conv_transpose2d, input, weight, bias, stride, padding, output_padding,
                         groups, dilation)
    check_4d(input, "conv_transpose2d")
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d weight must be 4-D (in, out/groups, kh, kw), got "
                         f"{weight.shape}")
    N, C, H, W = input.shape
    Cw, Og, KH, KW = weight.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1 or C % groups:
        raise ValueError(f"groups={groups!r} must be a positive int dividing the input "
                         f"channels ({C})")
    if Cw != C:
        raise ValueError(f"conv_transpose2d expected {Cw} input channels (weight {weight.shape}), "
                         f"got {C} (input shape {input.shape})")
    if input.dtype != weight.dtype:
        raise TypeError(f"conv_transpose2d input dtype {input.dtype} differs from weight dtype "
                        f"{weight.dtype}")
    stride, dilation = positive_pair(stride, "stride"), positive_pair(dilation, "dilation")
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    out_hw = []
    for axis, size, k, s, p, op, d in (("height", H, KH, stride[0], ph, oph, dilation[0]),
                                       ("width", W, KW, stride[1], pw, opw, dilation[1])):
        if p < 0 or op < 0:
            raise ValueError(f"conv_transpose2d padding and output_padding must be >= 0, got "
                             f"{padding!r} and {output_padding!r}")
        if op >= max(s, d):
            raise ValueError(f"conv_transpose2d output_padding {op} ({axis}) must be smaller "
                             f"than either the stride {s} or the dilation {d}")
        out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ValueError(f"conv_transpose2d output {axis} would be {out} (input shape "
                             f"{input.shape}, kernel {k}, stride {s}, padding {p})")
        out_hw.append(out)       # the geometry's OH/OW exceed H/W when op >= stride
    geometry = ConvGeometry.of((N, Og * groups, *out_hw), weight.shape, stride,
                               (ph, ph, pw, pw), dilation, int(groups), input.dtype.itemsize)
    y = ops.ConvTranspose2d.apply(input, weight, geometry=geometry)
    if bias is None:
        return y
    if bias.shape != (Og * groups,):
        raise ValueError(f"bias must have shape ({Og * groups},), got {bias.shape}")
    return y + bias.reshape(1, -1, 1, 1)


# ---- activations ----------------------------------------------------------------------
def gelu(input, approximate="none"):
    """x * Phi(x); approximate="tanh" uses torch's tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return ops.GELU.apply(input, approximate=approximate)


def into(x, fn, inplace):
    """fn(x), or with ``inplace`` (torch's ``inplace=True``) x overwritten with fn's values
    through the graph (``x.copy_``) and returned; fn works on a clone, so what it saves for
    backward is not the storage being overwritten."""
    return x.copy_(fn(x.clone())) if inplace else fn(x)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish); with ``inplace`` the input is overwritten and returned."""
    return into(input, lambda v: v * v.sigmoid(), inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels with probability p (one draw per (N, C) plane), scale the rest by
    1/(1-p). As torch, a 3-D input is read as (N, C, L) (channel-wise 1-D dropout), with
    torch's warning; other ranks than 3 and 4 warn too."""
    import warnings

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {input.ndim}-D input; dropout2d is meant for 3-D "
                      f"or 4-D inputs (as torch, this is deprecated: use dropout)", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and, as torch, treats it as (N, C, L), "
                      "dropping channels of 1-D maps; use dropout1d for that, or add a batch "
                      "dim for a (C, H, W) image", stacklevel=2)
    if not training or p == 0:
        return input
    if input.ndim < 2:
        raise ValueError(f"dropout2d needs at least 2 dims (N, C, ...), got shape {input.shape}")
    if p == 1:
        return into(input, lambda v: v * 0, inplace)
    planes = input.shape[:2]
    keep = tc_random.generator().random(planes) >= p
    mask = (keep.astype(input.dtype) / input.dtype.type(1 - p)).reshape(
        planes + (1,) * (input.ndim - 2))
    return into(input, lambda v: v * Tensor(mask, dtype=input.dtype, device=input.device),
                inplace)


# ---- normalisation --------------------------------------------------------------------
def _normalise(x, dims, eps):
    """(x - mean) / sqrt(biased var + eps) over ``dims``."""
    centred = x - x.mean(dims, keepdim=True)
    var = (centred * centred).mean(dims, keepdim=True)
    return centred / (var + eps).sqrt()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims, then weight * x + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise ValueError(f"layer_norm normalized_shape {shape} does not match the last dims of "
                         f"input shape {input.shape}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = _normalise(input, dims, eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of num_groups channel groups per sample, then per-channel weight, bias."""
    if input.ndim < 2:
        raise ValueError(f"group_norm expects (N, C, ...) input, got shape {input.shape}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the {C} channels")
    grouped = input.reshape(N, num_groups, -1)                        # (N, G, C/G * spatial)
    if grouped.shape[2] == 1:
        raise ValueError(f"group_norm expected more than 1 value per group (input shape "
                         f"{input.shape}, num_groups={num_groups}), as torch")
    out = _normalise(grouped, 2, eps).reshape(input.shape)
    per_channel = (1, C) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    return out if bias is None else out + bias.reshape(per_channel)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha/size * sum of x^2 over `size` neighbouring channels)^beta, as torch
    (the window runs from c - size//2 to c + (size-1)//2, zero outside)."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm expects 3-D or more input (N, C, ...), got "
                         f"shape {input.shape}")
    if size < 1:
        raise ValueError(f"local_response_norm size must be >= 1, got {size}")
    C = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    zeros = [Tensor.zeros(*((input.shape[0], n) + input.shape[2:]), dtype=input.dtype,
                          device=input.device) for n in (before, after)]
    padded = cat([z for z in (zeros[0], sq, zeros[1]) if z.shape[1]], 1)
    window = padded[:, 0:C]
    for s in range(1, size):
        window = window + padded[:, s:s + C]
    return input / (window * (alpha / size) + k) ** beta


# ---- padding, one-hot, resizing --------------------------------------------------------
def _edge_indices(n, before, after, mode):
    """Source index of each padded position along an axis of length n."""
    pos = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    period = 2 * (n - 1)                                                # reflect
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= n, period - pos, pos)


def pad(input, pad, mode="constant", value=None):
    """torch's F.pad: ``pad`` lists (before, after) pairs from the last dim backwards.

    constant pads any dims (value, default 0; negative pads crop); reflect, replicate and
    circular pad the last 1 or 2 dims by index gathers.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad must hold (before, after) pairs for at most {input.ndim} dims, "
                         f"got {pad}")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]  # last dim first
    if mode == "constant":
        return _constant_pad(input, pairs, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    if value not in (None, 0):
        raise ValueError(f"pad value is only used with mode='constant' (got value={value})")
    if input.ndim - len(pairs) not in (1, 2):
        raise ValueError(f"pad mode {mode!r} with {len(pad)} pad values needs a "
                         f"{len(pairs) + 1}-D or {len(pairs) + 2}-D input, as torch; got shape "
                         f"{input.shape}")
    if len(pairs) > 2 or any(b < 0 or a < 0 for b, a in pairs):
        raise NotImplementedError(f"pad mode {mode!r} supports padding the last 1 or 2 dims by "
                                  f"non-negative amounts here, got pad={pad}")
    out = input
    for k, (before, after) in enumerate(pairs):
        axis = input.ndim - 1 - k
        n = input.shape[axis]
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"reflect padding ({before}, {after}) must be smaller than the "
                             f"dimension size {n} (input shape {input.shape})")
        if mode == "circular" and (before > n or after > n):
            raise ValueError(f"circular padding ({before}, {after}) must be at most the "
                             f"dimension size {n} (input shape {input.shape})")
        index = [slice(None)] * input.ndim
        index[axis] = Tensor(_edge_indices(n, before, after, mode), device=input.device)
        out = out[tuple(index)]
    return out


def _constant_pad(x, pairs, value):
    out = x
    for k, (before, after) in enumerate(pairs):
        axis = x.ndim - 1 - k
        n = out.shape[axis]
        lo, hi = max(-before, 0), n - max(-after, 0)
        if lo or hi != n:                                               # negative pads crop
            index = [slice(None)] * x.ndim
            index[axis] = slice(lo, hi)
            out = out[tuple(index)]
        parts = []
        for amount in (max(before, 0), max(after, 0)):
            shape = list(out.shape)
            shape[axis] = amount
            parts.append(Tensor(np.full(shape, value), dtype=x.dtype, device=x.device)
                         if amount else None)
        pieces = [p for p in (parts[0], out, parts[1]) if p is not None]
        out = cat(pieces, axis) if len(pieces) > 1 else out
    return out


def one_hot(tensor, num_classes=-1):
    """(…,) int64 class indices -> (…, num_classes) int64 one-hot; -1 infers max + 1."""
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors (int64), got {tensor.dtype}")
    labels = tensor.numpy().astype(np.int64)
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    out = (labels[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor(out, device=tensor.device)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, H, W) (or (N, C, L)) input; mode="nearest" only, torch's index rule
    src = floor(dst * in / out) (or floor(dst / scale_factor) when a scale is given and
    recompute_scale_factor is not True)."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate mode {mode!r} is not supported: only "
                                  f"mode='nearest' (use it, or resize the data beforehand)")
    if align_corners is not None:
        raise ValueError("align_corners only applies to linear modes, not 'nearest'")
    if antialias:
        raise ValueError("antialias only applies to the bilinear and bicubic modes")
    if input.ndim not in (3, 4):
        raise ValueError(f"interpolate expects 3-D (N, C, L) or 4-D (N, C, H, W) input, got "
                         f"shape {input.shape}")
    spatial = input.shape[2:]
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate needs exactly one of size and scale_factor")
    if size is not None:
        sizes = (size,) * k if isinstance(size, int) else tuple(size)
        scales = [None] * k
    else:
        scales = [float(scale_factor)] * k if not isinstance(scale_factor, (tuple, list)) \
            else [float(s) for s in scale_factor]
        sizes = tuple(int(np.floor(n * s)) for n, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = [None] * k
    if len(sizes) != k or any(s < 1 for s in sizes):
        raise ValueError(f"interpolate output size {sizes} does not fit input shape "
                         f"{input.shape}")
    out = input
    for axis, (n, m, scale) in enumerate(zip(spatial, sizes, scales)):
        step = 1.0 / scale if scale is not None else n / m
        src = np.floor(np.arange(m, dtype=np.float32) * np.float32(step))  # float32, as torch
        src = np.minimum(src.astype(np.int64), n - 1)
        index = [slice(None)] * input.ndim
        index[2 + axis] = Tensor(src, device=input.device)
        out = out[tuple(index)]
    return out
