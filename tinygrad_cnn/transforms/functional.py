"""torchvision.transforms.functional's geometry: pad, crop, center_crop, resize, hflip, affine,
rotate, plus to_tensor and normalize.

A PIL image goes through Pillow exactly as torchvision's PIL path does; a Tensor (C, H, W)
through torchvision's tensor path (nearest sampling on pixel centres, done in NumPy); a
NumPy (H, W) / (H, W, C) array as a tensor, returned as an array.
"""
import math
import numbers

import numpy as np

from tinygrad_cnn.tensor import Tensor

_PIL_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def _is_pil(img):
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(img, Image.Image)


def get_dimensions(img):
    """[channels, height, width], as torchvision's."""
    if _is_pil(img):
        return [len(img.getbands()), img.size[1], img.size[0]]
    if isinstance(img, Tensor):
        return [img.shape[-3] if img.ndim > 2 else 1, img.shape[-2], img.shape[-1]]
    arr = np.asarray(img)
    return [arr.shape[2] if arr.ndim == 3 else 1, arr.shape[0], arr.shape[1]]


def _hw(img):
    return tuple(get_dimensions(img)[1:])


def _as_chw(img):
    """(array (C, H, W), how to give the result back) for a Tensor or an ndarray."""
    if isinstance(img, Tensor):
        arr = img.numpy()
        return arr, lambda out: Tensor(out, dtype=arr.dtype, device=img.device)
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr[None], lambda out: out[0]
    return arr.transpose(2, 0, 1), lambda out: np.ascontiguousarray(out.transpose(1, 2, 0))


def _interpolation(mode):
    """'nearest', 'bilinear', ... from a string, a torchvision InterpolationMode or a PIL int."""
    mode = getattr(mode, "value", mode)
    if isinstance(mode, (int, np.integer)):
        names = {v: k for k, v in _PIL_FILTERS.items()}
        if int(mode) not in names:
            raise ValueError(f"unknown PIL interpolation {mode}")
        return names[int(mode)]
    if str(mode) not in _PIL_FILTERS:
        raise ValueError(f"interpolation must be one of {sorted(_PIL_FILTERS)}, got {mode!r}")
    return str(mode)


def to_tensor(pic):
    """PIL image or (H, W[, C]) array -> Tensor (C, H, W); uint8 scaled to float32 [0, 1]
    (other dtypes are kept, as torchvision)."""
    arr = np.asarray(pic)
    if _is_pil(pic) and pic.mode == "1":
        arr = arr.astype(np.uint8) * 255
    if arr.ndim not in (2, 3):
        raise ValueError(f"to_tensor expects an (H, W) or (H, W, C) image, got shape {arr.shape}")
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    if chw.dtype == np.uint8:
        return Tensor(chw.astype(np.float32) / np.float32(255))
    return Tensor(np.ascontiguousarray(chw), dtype=chw.dtype)


def normalize(tensor, mean, std, inplace=False):
    """(x - mean[c]) / std[c] per channel of a (..., C, H, W) float Tensor."""
    if not isinstance(tensor, Tensor) or tensor.dtype.kind != "f":
        raise TypeError(f"normalize expects a float Tensor, got {type(tensor).__name__} "
                        f"(apply ToTensor first)")
    if tensor.ndim < 3:
        raise ValueError(f"normalize expects a (..., C, H, W) tensor, got shape {tensor.shape}")
    mean = np.asarray(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=tensor.dtype).reshape(-1, 1, 1)
    if (std == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         f"division by zero (std={std.reshape(-1).tolist()})")
    as_t = lambda a: Tensor(a, dtype=tensor.dtype, device=tensor.device)  # noqa: E731
    return (tensor - as_t(mean)) / as_t(std)


# ---- padding and cropping --------------------------------------------------------------------
def _padding(padding):
    """(left, top, right, bottom) from an int, a pair (left/right, top/bottom) or four values."""
    if isinstance(padding, numbers.Number):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return padding * 2
    if len(padding) == 4:
        return padding
    raise ValueError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")


def _pad_chw(chw, ltrb, fill, mode):
    left, top, right, bottom = ltrb
    if mode != "constant":
        return np.pad(chw, ((0, 0), (top, bottom), (left, right)), mode)
    C, H, W = chw.shape
    out = np.empty((C, H + top + bottom, W + left + right), chw.dtype)
    values = np.asarray(fill, dtype=np.float64).reshape(-1)
    out[...] = (values if values.size == C else values[:1]).reshape(-1, 1, 1).astype(chw.dtype)
    out[:, top:top + H, left:left + W] = chw
    return out


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders by (left, top, right, bottom); fill is a number or one per channel."""
    modes = {"constant": "constant", "edge": "edge", "reflect": "reflect",
             "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ValueError(f"padding_mode must be constant, edge, reflect or symmetric, got "
                         f"{padding_mode!r}")
    ltrb = _padding(padding)
    if _is_pil(img):
        from PIL import Image

        arr = np.asarray(img)
        chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        out = _pad_chw(chw, ltrb, fill, modes[padding_mode])
        out = Image.fromarray(out[0] if arr.ndim == 2 else out.transpose(1, 2, 0), img.mode)
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    chw, back = _as_chw(img)
    return back(_pad_chw(chw, ltrb, fill, modes[padding_mode]))


def crop(img, top, left, height, width):
    """The height x width window whose top-left corner is (top, left)."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    chw, back = _as_chw(img)
    return back(np.ascontiguousarray(chw[:, top:top + height, left:left + width]))


def _size_pair(size):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    """The centred window of output_size (h, w); zero-padded first when the image is smaller."""
    th, tw = _size_pair(output_size)
    h, w = _hw(img)
    if tw > w or th > h:
        ltrb = [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0]
        img = pad(img, ltrb, fill=0)
        h, w = _hw(img)
        if (h, w) == (th, tw):
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _resized_size(h, w, size, max_size):
    """torchvision's output size: an int matches the shorter edge, keeping the aspect ratio."""
    if not isinstance(size, numbers.Number) and len(size) == 2:
        return int(size[0]), int(size[1])
    requested = int(size if isinstance(size, numbers.Number) else size[0])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                             f"size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def resize(img, size, interpolation="bilinear", max_size=None, antialias=True):
    """Resize to size (h, w), or the shorter edge to an int size. PIL images take any of
    Pillow's filters (as torchvision); Tensors and arrays nearest only."""
    mode = _interpolation(interpolation)
    h, w = _hw(img)
    out_h, out_w = _resized_size(h, w, size, max_size)
    if (out_h, out_w) == (h, w):
        return img
    if _is_pil(img):
        return img.resize((out_w, out_h), _PIL_FILTERS[mode])
    if mode != "nearest":
        raise NotImplementedError(f"resize of a Tensor or array supports interpolation='nearest' "
                                  f"only (got {mode!r}); resize the PIL image before ToTensor")
    chw, back = _as_chw(img)
    rows = np.minimum(np.floor(np.arange(out_h, dtype=np.float32) * np.float32(h / out_h))
                      .astype(np.int64), h - 1)
    cols = np.minimum(np.floor(np.arange(out_w, dtype=np.float32) * np.float32(w / out_w))
                      .astype(np.int64), w - 1)
    return back(np.ascontiguousarray(chw[:, rows][:, :, cols]))


def hflip(img):
    """Mirror left to right."""
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.FLIP_LEFT_RIGHT)
    chw, back = _as_chw(img)
    return back(np.ascontiguousarray(chw[:, :, ::-1]))


# ---- affine transforms --------------------------------------------------------------------
def _inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's _get_inverse_affine_matrix: output pixel -> input pixel, 6 numbers."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m


def _affine_array(chw, matrix, fill):
    """torchvision's tensor path with nearest sampling: centred pixel coordinates through
    ``matrix``, rounded half to even as grid_sample does; outside the image -> fill."""
    C, H, W = chw.shape
    ys, xs = np.meshgrid(np.arange(H) - H * 0.5 + 0.5, np.arange(W) - W * 0.5 + 0.5,
                         indexing="ij")
    src_x = matrix[0] * xs + matrix[1] * ys + matrix[2] + W * 0.5 - 0.5
    src_y = matrix[3] * xs + matrix[4] * ys + matrix[5] + H * 0.5 - 0.5
    ix, iy = np.rint(src_x).astype(np.int64), np.rint(src_y).astype(np.int64)
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    out = chw[:, np.clip(iy, 0, H - 1), np.clip(ix, 0, W - 1)]
    values = np.asarray(fill, dtype=np.float64).reshape(-1)
    if values.size not in (1, C):
        raise ValueError(f"fill has {values.size} values for an image of {C} channels")
    fills = np.broadcast_to(values, (C,)).astype(chw.dtype)[:, None, None]
    return np.where(inside[None], out, fills).astype(chw.dtype)


def _pil_fill(img, fill):
    if isinstance(fill, numbers.Number) or len(img.getbands()) == 1:
        return fill if isinstance(fill, numbers.Number) else fill[0]
    return tuple(fill)


def affine(img, angle, translate, scale, shear, interpolation="nearest", fill=0, center=None):
    """Rotate by ``angle`` degrees (clockwise), translate, scale and shear, as torchvision."""
    mode, fill = _interpolation(interpolation), 0 if fill is None else fill
    shear = (float(shear), 0.0) if isinstance(shear, numbers.Number) else (
        tuple(float(s) for s in shear) + (0.0,))[:2]
    if _is_pil(img):
        from PIL import Image

        w, h = img.size
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        m = _inverse_affine_matrix(c, angle, translate, scale, shear)
        return img.transform(img.size, Image.AFFINE, m, _PIL_FILTERS[mode],
                             fillcolor=_pil_fill(img, fill))
    if mode != "nearest":
        raise NotImplementedError(f"affine of a Tensor or array supports interpolation='nearest' "
                                  f"only, got {mode!r}")
    chw, back = _as_chw(img)
    H, W = chw.shape[1:]
    c = [0.0, 0.0] if center is None else [center[0] - W * 0.5, center[1] - H * 0.5]
    m = _inverse_affine_matrix(c, angle, [float(t) for t in translate], scale, shear)
    return back(_affine_array(chw, m, fill))


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=0):
    """Rotate by ``angle`` degrees counter-clockwise about the centre (or ``center``)."""
    mode, fill = _interpolation(interpolation), 0 if fill is None else fill
    if _is_pil(img):
        return img.rotate(angle, _PIL_FILTERS[mode], expand, center,
                          fillcolor=_pil_fill(img, fill))
    if expand:
        raise NotImplementedError("rotate(expand=True) of a Tensor or array is not supported; "
                                  "rotate the PIL image instead")
    return affine(img, -angle, (0, 0), 1.0, (0.0, 0.0), mode, fill, center)
