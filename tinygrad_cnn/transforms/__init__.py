"""A small torchvision.transforms: Compose, ToTensor, Normalize, Resize, CenterCrop, Pad,
RandomCrop, RandomHorizontalFlip, RandomRotation, RandomAffine, and ``functional``.

Random parameters come from the global generator that tc.manual_seed seeds; the draws are
NumPy's, so they are not the numbers torch would draw.
"""
from tinygrad_cnn.transforms import functional  # noqa: F401
from tinygrad_cnn.transforms.transforms import (  # noqa: F401
    CenterCrop, Compose, Normalize, Pad, RandomAffine, RandomCrop, RandomHorizontalFlip,
    RandomRotation, Resize, ToTensor,
)
