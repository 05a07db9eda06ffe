"""Utilities shaped like torch.utils: ``tinygrad_cnn.utils.data`` (datasets, samplers, DataLoader)."""
from tinygrad_cnn.utils import data  # noqa: F401  (so tc.utils.data.DataLoader works, as torch's)
