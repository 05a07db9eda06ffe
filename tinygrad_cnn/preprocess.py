"""A user's image file as an MNIST digit: 28x28 float32 in [0, 1], light digit on black.

MNIST's digits were made this way (LeCun et al.): the digit's bounding box scaled, aspect
kept, to fit a 20x20 box (anti-aliased, hence grey edges), then placed in a 28x28 field so
that its centre of mass sits at the centre. ``mnist_like`` does the same to any image:
  1. any mode (RGB, palette, 16-bit, with alpha: transparent areas count as white paper)
     and any size become one grey channel in [0, 1], upright by the EXIF orientation;
  2. a dark-on-light image (pen on paper: the border is lighter than the middle of the
     range) is inverted, so the digit is light on dark as in MNIST;
  3. the paper's level (the border's median) becomes 0 and the brightest stroke 1;
  4. the bounding box of the strokes (pixels above a fifth of the range) is cut out,
     scaled so its longer side is 20 pixels, and pasted into 28x28 with its centre of
     mass at (14, 14), where MNIST's are.
Needs Pillow (``pip install 'tinygrad-cnn[train]'``).
"""
import numpy as np

FIELD, BOX = 28, 20
STROKE = 0.2             # a pixel above this fraction of the range belongs to the digit


class ImageError(ValueError):
    """An image file that is missing, unreadable, or holds no digit."""


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError("reading image files needs Pillow: pip install 'tinygrad-cnn[train]'") from None
    return Image, ImageOps


def read_gray(path):
    """The image at ``path`` as an (H, W) float32 array in [0, 1]; ImageError when unreadable."""
    Image, ImageOps = _pil()
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    return _to_gray(img, Image)


def _to_gray(img, Image):
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return (arr / top).astype(np.float32)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return np.clip(arr / max(float(arr.max()), 1.0), 0, 1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255)


def _border(gray):
    """Every pixel on the image's outer edge."""
    return np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])


def mnist_like(gray, where="image"):
    """(H, W) grey in [0, 1] -> (28, 28) float32 light-on-dark digit, MNIST's framing."""
    Image, _ = _pil()
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise ImageError(f"{where}: expected a 2-D image, got shape {gray.shape}")
    if np.median(_border(gray)) > 0.5:                       # dark ink on light paper
        gray = 1 - gray
    paper = float(np.median(_border(gray)))
    span = float(gray.max()) - paper
    if span < 0.05:
        raise ImageError(f"{where}: no digit found (the image is nearly uniform: values "
                         f"{gray.min():.2f} to {gray.max():.2f})")
    gray = np.clip((gray - paper) / span, 0, 1)
    rows, cols = np.nonzero(gray > STROKE)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL: (width, height)
    small = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.LANCZOS),
                       dtype=np.float32)
    small = np.clip(small, 0, 1)
    return _centre_by_mass(small)


def _centre_by_mass(digit):
    """Paste ``digit`` into a 28x28 field with its centre of mass at the field's centre."""
    h, w = digit.shape
    total = float(digit.sum())
    cy = float((digit.sum(axis=1) * np.arange(h)).sum()) / total
    cx = float((digit.sum(axis=0) * np.arange(w)).sum()) / total
    top = int(round(FIELD / 2 - cy))     # MNIST's centres of mass average (14.0, 14.0)
    left = int(round(FIELD / 2 - cx))
    top, left = min(max(top, 0), FIELD - h), min(max(left, 0), FIELD - w)  # stay in the field
    out = np.zeros((FIELD, FIELD), np.float32)
    out[top:top + h, left:left + w] = digit
    return out


def load_digit(path):
    """An image file as a (1, 28, 28) float32 array ready for the models (ImageError if not)."""
    return mnist_like(read_gray(path), where=str(path))[None]
