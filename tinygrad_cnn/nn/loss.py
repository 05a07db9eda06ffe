"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss over nn.functional."""
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.nn.module import Module


def _no_class_weights(weight, name):
    if weight is not None:
        raise ValueError(f"{name}: per-class weights are not supported (weight must be None)")


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of (N, C) logits against integer class indices."""

    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0):
        super().__init__()
        _no_class_weights(weight, "CrossEntropyLoss")
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction, self.label_smoothing)


class NLLLoss(Module):
    """Negative log-likelihood of (N, C) log-probabilities at the target classes."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        _no_class_weights(weight, "NLLLoss")
        self.reduction = reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction)


class MSELoss(Module):
    """Mean (or summed) squared error."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)
