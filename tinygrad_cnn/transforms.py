"""A small torchvision.transforms: Compose, ToTensor, Normalize, RandomCrop, RandomHorizontalFlip,
RandomRotation and RandomAffine, with torchvision's arguments and geometry.

Inputs are PIL images (handled by Pillow exactly as torchvision's PIL path does), Tensors
(C, H, W) (torchvision's tensor path: nearest sampling on pixel centres, done in NumPy) or
NumPy arrays (H, W) / (H, W, C) (as a tensor, returned as an array). Random parameters
come from the global generator that tc.manual_seed seeds; the draws are NumPy's, so they
are not the numbers torch would draw.
"""
import math
import numbers

import numpy as np

from tinygrad_cnn import random as tc_random
from tinygrad_cnn.tensor import Tensor


def _is_pil(img):
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(img, Image.Image)


def _hw(img):
    """(height, width) of a PIL image, a (..., H, W) Tensor or an (H, W[, C]) array."""
    if _is_pil(img):
        return img.size[1], img.size[0]
    if isinstance(img, Tensor):
        return img.shape[-2:]
    return img.shape[:2]


def _as_chw(img):
    """(array (C, H, W), how to give the result back) for a Tensor or an ndarray."""
    if isinstance(img, Tensor):
        arr = img.numpy()
        return arr, lambda out: Tensor(out, dtype=arr.dtype, device=img.device)
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr[None], lambda out: out[0]
    return arr.transpose(2, 0, 1), lambda out: np.ascontiguousarray(out.transpose(1, 2, 0))


class Compose:
    """Apply each transform in turn."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class ToTensor:
    """PIL image or (H, W[, C]) array -> float32 Tensor (C, H, W); uint8 scaled to [0, 1]
    (other dtypes are kept, as torchvision)."""

    def __call__(self, pic):
        arr = np.asarray(pic)
        if _is_pil(pic) and pic.mode == "1":
            arr = arr.astype(np.uint8) * 255
        if arr.ndim not in (2, 3):
            raise ValueError(f"ToTensor expects an (H, W) or (H, W, C) image, got shape "
                             f"{arr.shape}")
        chw = (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return Tensor(chw.astype(np.float32) / np.float32(255))
        return Tensor(np.ascontiguousarray(chw), dtype=chw.dtype)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a (C, H, W) or (N, C, H, W) float Tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor) or tensor.dtype.kind != "f":
            raise TypeError(f"Normalize expects a float Tensor, got {type(tensor).__name__} "
                            f"(apply ToTensor first)")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize expects a (..., C, H, W) tensor, got shape {tensor.shape}")
        mean = np.asarray(self.mean, dtype=tensor.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=tensor.dtype).reshape(-1, 1, 1)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                             f"to division by zero (std={self.std})")
        return (tensor - Tensor(mean, dtype=tensor.dtype, device=tensor.device)) / Tensor(
            std, dtype=tensor.dtype, device=tensor.device)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def _padding(padding):
    """(left, top, right, bottom) from an int, a pair (left/right, top/bottom) or four values."""
    if isinstance(padding, numbers.Number):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return padding * 2
    if len(padding) == 4:
        return padding
    raise ValueError(f"padding must be an int or a sequence of 2 or 4 ints, got {padding}")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the image borders (left, top, right, bottom), as torchvision's F.pad."""
    left, top, right, bottom = _padding(padding)
    modes = {"constant": "constant", "edge": "edge", "reflect": "reflect",
             "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ValueError(f"padding_mode must be constant, edge, reflect or symmetric, got "
                         f"{padding_mode!r}")
    if _is_pil(img):
        from PIL import Image

        arr = np.asarray(img)
        widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
        kw = {"constant_values": fill} if padding_mode == "constant" else {}
        out = Image.fromarray(np.pad(arr, widths, modes[padding_mode], **kw))
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    chw, back = _as_chw(img)
    kw = {"constant_values": fill} if padding_mode == "constant" else {}
    return back(np.pad(chw, ((0, 0), (top, bottom), (left, right)), modes[padding_mode], **kw))


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


class RandomCrop:
    """Pad (optionally), then crop a random size = (h, w) window, as torchvision."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_pair(size)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        h, w = _hw(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = pad(img, [0, th - h], self.fill, self.padding_mode)
        h, w = _hw(img)
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        rng = tc_random.generator()
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return crop(img, i, j, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def hflip(img):
    """Mirror left to right."""
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.FLIP_LEFT_RIGHT)
    chw, back = _as_chw(img)
    return back(np.ascontiguousarray(chw[:, :, ::-1]))


class RandomHorizontalFlip:
    """Mirror left to right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return hflip(img) if tc_random.generator().random() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


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


def _fill_values(fill, channels):
    values = [float(fill)] * channels if isinstance(fill, numbers.Number) else list(fill)
    if len(values) not in (1, channels):
        raise ValueError(f"fill has {len(values)} values for an image of {channels} channels")
    return np.array(values * channels if len(values) == 1 else values)


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
    fills = _fill_values(fill, C).astype(chw.dtype)[:, None, None]
    return np.where(inside[None], out, fills).astype(chw.dtype)


def affine(img, angle, translate, scale, shear, fill=0, center=None):
    """Rotate by ``angle`` degrees (clockwise), translate, scale and shear, nearest sampling."""
    shear = (float(shear), 0.0) if isinstance(shear, numbers.Number) else tuple(shear)
    if _is_pil(img):
        from PIL import Image

        w, h = img.size
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        m = _inverse_affine_matrix(c, angle, translate, scale, shear)
        fillcolor = fill if isinstance(fill, numbers.Number) or len(img.getbands()) > 1 \
            else fill[0]
        return img.transform(img.size, Image.AFFINE, m, Image.NEAREST,
                             fillcolor=tuple(fillcolor) if isinstance(fillcolor, (list, tuple))
                             else fillcolor)
    chw, back = _as_chw(img)
    H, W = chw.shape[1:]
    c = [0.0, 0.0] if center is None else [center[0] - W * 0.5, center[1] - H * 0.5]
    m = _inverse_affine_matrix(c, angle, [float(t) for t in translate], scale, shear)
    return back(_affine_array(chw, m, fill))


def _range(value, name, centred=True):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive, got {value}")
        return (-float(value), float(value)) if centred else (float(value),) * 2
    if len(value) not in (2, 4):
        raise ValueError(f"{name} should be a number or a sequence of 2 (or 4) numbers")
    return tuple(float(v) for v in value)


class RandomRotation:
    """Rotate by an angle drawn uniformly from degrees (counter-clockwise), nearest sampling."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        if str(getattr(interpolation, "value", interpolation)) != "nearest":
            raise NotImplementedError(f"RandomRotation supports interpolation='nearest' only, "
                                      f"got {interpolation!r}")
        if expand:
            raise NotImplementedError("RandomRotation(expand=True) is not supported; the output "
                                      "keeps the input size")
        self.degrees = _range(degrees, "degrees")
        self.center, self.fill = center, fill

    def __call__(self, img):
        angle = float(tc_random.generator().uniform(self.degrees[0], self.degrees[1]))
        if _is_pil(img):
            return img.rotate(angle, 0, False, self.center, fillcolor=self.fill)
        return affine(img, -angle, (0, 0), 1.0, (0.0, 0.0), self.fill, self.center)

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees})"


class RandomAffine:
    """A random rotation, translation, scale and shear, torchvision's parameter ranges."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest",
                 fill=0, center=None):
        if str(getattr(interpolation, "value", interpolation)) != "nearest":
            raise NotImplementedError(f"RandomAffine supports interpolation='nearest' only, got "
                                      f"{interpolation!r}")
        self.degrees = _range(degrees, "degrees")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"translation values should be between 0 and 1, got {translate}")
        if scale is not None and not all(s > 0 for s in scale):
            raise ValueError(f"scale values should be positive, got {scale}")
        self.translate, self.scale = translate, scale
        self.shear = None if shear is None else _range(shear, "shear")
        self.fill, self.center = fill, center

    def get_params(self, height, width):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) drawn as torchvision draws them."""
        rng = tc_random.generator()
        angle = float(rng.uniform(*self.degrees))
        tx = ty = 0
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            tx = int(round(float(rng.uniform(-max_dx, max_dx))))
            ty = int(round(float(rng.uniform(-max_dy, max_dy))))
        scale = 1.0 if self.scale is None else float(rng.uniform(*self.scale))
        shear = [0.0, 0.0]
        if self.shear is not None:
            shear[0] = float(rng.uniform(self.shear[0], self.shear[1]))
            if len(self.shear) == 4:
                shear[1] = float(rng.uniform(self.shear[2], self.shear[3]))
        return angle, (tx, ty), scale, tuple(shear)

    def __call__(self, img):
        angle, translate, scale, shear = self.get_params(*_hw(img))
        return affine(img, angle, translate, scale, shear, self.fill, self.center)

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")
