"""The transform classes, torchvision's arguments and parameter draws over ``functional``."""
import numbers

from tinygrad_cnn import random as tc_random
from tinygrad_cnn.transforms import functional as F


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
    """PIL image or (H, W[, C]) array -> Tensor (C, H, W), uint8 scaled to float32 [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a (C, H, W) or (N, C, H, W) float Tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Resize:
    """Resize to (h, w), or the shorter edge to an int size (PIL: any of Pillow's filters)."""

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        self.size, self.interpolation, self.max_size = size, interpolation, max_size
        F._interpolation(interpolation)                       # fail early on a bad name

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size)

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={F._interpolation(self.interpolation)})"


class CenterCrop:
    """The centred size = (h, w) window."""

    def __init__(self, size):
        self.size = F._size_pair(size)

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class Pad:
    """Pad the borders (int, (left/right, top/bottom) or (left, top, right, bottom))."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        F._padding(padding)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class RandomCrop:
    """Pad (optionally), then crop a random size = (h, w) window, as torchvision."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = F._size_pair(size)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        h, w = F._hw(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = F.pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = F.pad(img, [0, th - h], self.fill, self.padding_mode)
        h, w = F._hw(img)
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        rng = tc_random.generator()
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return F.crop(img, i, j, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left to right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return F.hflip(img) if tc_random.generator().random() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


def _range(value, name):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive, got {value}")
        return -float(value), float(value)
    if len(value) not in (2, 4):
        raise ValueError(f"{name} should be a number or a sequence of 2 (or 4) numbers")
    return tuple(float(v) for v in value)


class RandomRotation:
    """Rotate by an angle drawn uniformly from degrees (counter-clockwise)."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        self.degrees = _range(degrees, "degrees")
        self.interpolation = F._interpolation(interpolation)   # Tensors: nearest only
        self.expand, self.center, self.fill = expand, center, fill

    def __call__(self, img):
        angle = float(tc_random.generator().uniform(self.degrees[0], self.degrees[1]))
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees})"


class RandomAffine:
    """A random rotation, translation, scale and shear, torchvision's parameter ranges."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest",
                 fill=0, center=None):
        self.degrees = _range(degrees, "degrees")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"translation values should be between 0 and 1, got {translate}")
        if scale is not None and not all(s > 0 for s in scale):
            raise ValueError(f"scale values should be positive, got {scale}")
        self.translate, self.scale = translate, scale
        self.shear = None if shear is None else _range(shear, "shear")
        self.interpolation = F._interpolation(interpolation)   # Tensors: nearest only
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
        angle, translate, scale, shear = self.get_params(*F._hw(img))
        return F.affine(img, angle, translate, scale, shear, self.interpolation, self.fill,
                        self.center)

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")
