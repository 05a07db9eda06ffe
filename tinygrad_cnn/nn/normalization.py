"""BatchNorm1d and BatchNorm2d: per-channel batch normalisation with running statistics."""
import numpy as np

from tinygrad_cnn.nn.functional import batch_norm, batch_norm_then_relu
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.nn.parameter import Parameter
from tinygrad_cnn.tensor import Tensor


def affine_parameters(module, shape, dtype, weight, bias):
    """weight = 1 and bias = 0 of ``shape`` (or None when not wanted), as torch's init."""
    dtype = np.dtype(dtype or np.float32)
    if weight:
        module.weight = Parameter(Tensor(np.ones(shape), dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if weight and bias:
        module.bias = Parameter(Tensor(np.zeros(shape), dtype=dtype))
    else:
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: PyTorch's parameters, buffers, momentum and eps.

    affine=True learns a per-channel weight and (unless bias=False, a torch 2.13 keyword)
    a bias. track_running_stats keeps running_mean / running_var / num_batches_tracked.
    """

    _dims = ()  # accepted input ranks
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, *, bias=True):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__} needs num_features >= 1, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__} momentum must be in [0, 1] or None, got "
                             f"{momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = np.dtype(dtype or np.float32)
        affine_parameters(self, num_features, dtype, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features), dtype=dtype))
            self.register_buffer("running_var", Tensor(np.ones(num_features), dtype=dtype))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            for t, value in ((self.running_mean, 0), (self.running_var, 1),
                             (self.num_batches_tracked, 0)):
                t._array = t.backend.full(t.shape, value, t.dtype)

    def reset_parameters(self):
        """Running statistics reset; weight = 1, bias = 0."""
        self.reset_running_stats()
        for p, value in ((self.weight, 1), (self.bias, 0)):
            if p is not None:
                p._array = p.backend.full(p.shape, value, p.dtype)

    def _check_input(self, x):
        name = type(self).__name__
        if x.ndim not in self._dims:
            raise ValueError(f"{name} expects {self._layout} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name} expected {self.num_features} channels, got {x.shape[1]} "
                             f"(input shape {x.shape})")

    def _momentum_factor(self):
        """The blend factor for this call; counts the batch. momentum=None: cumulative average."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        counter = self.num_batches_tracked
        count = int(counter.item()) + 1
        counter._array = counter.backend.from_numpy(np.array(count, dtype=np.int64))
        return 1.0 / count if self.momentum is None else self.momentum

    def forward(self, x):
        return self.forward_then_relu(x, relu=False)

    def forward_then_relu(self, x, relu=True):
        """forward(x), and with ``relu`` its ReLU in the same pass (nn/fusion.bn_relu):
        the values and gradients of the two modules, one op."""
        self._check_input(x)
        factor = self._momentum_factor()
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        norm = batch_norm_then_relu if relu else batch_norm
        return norm(x, self.running_mean if track else None,
                    self.running_var if track else None, self.weight, self.bias, use_batch,
                    factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, per channel C."""

    _dims = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input, per channel C."""

    _dims = (4,)
    _layout = "4-D (N, C, H, W)"
