"""Dropout: inverted dropout in training, the identity in evaluation."""
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn.module import Module


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels with probability p (scaling the rest by 1/(1-p)) while training."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.inplace)
