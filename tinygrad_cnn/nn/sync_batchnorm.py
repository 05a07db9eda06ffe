"""SyncBatchNorm: batch normalisation whose batch statistics span every rank (as torch's).

In training, each channel's mean and variance are those of the global batch (all ranks'
inputs together): forward reduces [sum(x), count] and then sum((x - mean)^2) over the
ranks; backward reduces [sum(dy), sum(dy * (x - mean))], so each rank's input gradient is that of
BatchNorm over the global batch. Weight and bias gradients stay local, for
DistributedDataParallel to average like every other gradient. In evaluation, or outside an
initialised MPI world of more than one process, it is BatchNorm.
"""
import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.nn.functional import _affine_pair, _update_running
from tinygrad_cnn.nn.normalization import _BatchNorm
from tinygrad_cnn.ops.batchnorm import input_grad, normalise, values_per_channel


def _all_reduce_sum(be, arrays):
    """The element-wise sums over all ranks of a few (C,) arrays, fused into one Allreduce."""
    # late (also in _world_size): nn loads with `import tinygrad_cnn`, distributed only on use
    from tinygrad_cnn.distributed.process_group import _comm, mpi

    host = [np.asarray(be.to_numpy(a)) for a in arrays]
    flat = np.concatenate([h.reshape(-1) for h in host])
    _comm().Allreduce(mpi().IN_PLACE, flat, op=mpi().SUM)
    out, at = [], 0
    for h in host:
        out.append(be.from_numpy(flat[at:at + h.size].reshape(h.shape)))
        at += h.size
    return out


def global_channel_stats(be, x):
    """(mean, biased var, count) per channel over the inputs of every rank."""
    count = values_per_channel(x.shape)
    dt = x.dtype.type
    local_sum = be.channel_sums(x, None)
    total, n = _all_reduce_sum(be, [local_sum, be.from_numpy(np.array([count], x.dtype))])
    n = dt(be.to_numpy(n)[0])
    mean = be.div(total, n)
    (sq,) = _all_reduce_sum(be, [be.channel_sums(x, mean)])
    return mean, be.div(sq, n), int(n)


class SyncBatchNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias with global batch statistics.

    The input gradient is BatchNorm's (ops/batchnorm.input_grad) with N the global count per
    channel and the sums of dy and dy (x - mean) taken over every rank; dweight =
    sum(dy xhat) and dbias = sum(dy) are this rank's own sums.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, count=None, eps=1e-5):
        ctx.count = count
        return normalise(ctx, x, weight, bias, mean, var, eps)

    @staticmethod
    def backward(ctx, grad):
        be, (x, mean, inv_std, weight) = ctx.backend, ctx.saved
        sum_grad, sum_grad_centred = be.channel_grad_sums(grad, x, mean)      # this rank's
        global_sums = _all_reduce_sum(be, [sum_grad, sum_grad_centred])
        dx = input_grad(ctx, grad, *global_sums, ctx.count, True)
        if weight is None:
            return dx
        needs = ctx.needs_input_grad
        return (dx, be.mul(sum_grad_centred, inv_std) if needs[1] else None,
                sum_grad if needs[2] else None)


def _world_size():
    from tinygrad_cnn.distributed.process_group import get_world_size, is_initialized

    return get_world_size() if is_initialized() else 1


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) input whose training statistics cover every rank's batch."""

    _dims = tuple(range(2, 33))
    _layout = "at least 2-D (N, C, ...)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, dtype=None, *, bias=True):
        if process_group is not None:
            raise ValueError("process groups other than the world are not supported: pass "
                             "process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)

    def forward(self, x):
        if not self.training or _world_size() == 1:
            return super().forward(x)
        self._check_input(x)
        if x.dtype.kind != "f":
            raise TypeError(f"SyncBatchNorm expects a float32 or float64 input, got {x.dtype}")
        factor = self._momentum_factor()
        mean, var, count = global_channel_stats(x.backend, x._array)
        if count <= 1:
            raise ValueError(f"expected more than 1 value per channel when training, got "
                             f"input shape {x.shape} on every rank")
        if self.track_running_stats:
            _update_running(self.running_mean, mean, factor)
            unbiased = x.backend.mul(var, x.dtype.type(count / (count - 1)))
            _update_running(self.running_var, unbiased, factor)
        weight, bias = _affine_pair(self.weight, self.bias, x)
        inputs = (x,) if weight is None else (x, weight, bias)
        return SyncBatchNormFunction.apply(*inputs, mean=mean, var=var, count=count,
                                           eps=float(self.eps))

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm (as torch's).

        The new layers share the old ones' parameters and buffers (the same Tensors), so an
        optimizer built before the conversion still updates them.
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                out.register_parameter(name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out.register_buffer(name, getattr(module, name))
            out.train(module.training)
            return out
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                module._modules[name] = converted  # in place: the order of children is kept
        return module


