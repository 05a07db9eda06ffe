"""Utilities shaped like torch.utils: ``tinygrad_cnn.utils.data`` (datasets, samplers, DataLoader)."""
