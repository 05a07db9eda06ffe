"""Neural-network building blocks: functional ops now; modules arrive with training."""
from tinygrad_cnn.nn import functional  # noqa: F401
