"""DistributedDataParallel: one model replica per rank, gradients averaged over the ranks.

At construction every rank receives rank 0's parameters and buffers. The parameters that
require grad are split into buckets of about ``bucket_cap_mb`` (in reverse registration
order, the order backward finishes them), one flat buffer per bucket. A post-accumulate
hook on each parameter notes when backward has finished its gradient; when a bucket is
complete its gradients are copied into the flat buffer and reduced with one in-place
Allreduce (SUM), then divided by the world size and copied back into each ``.grad``.

reduce_during_backward=True starts a bucket's reduction (MPI_Iallreduce) as soon as the
bucket is complete, while backward computes the earlier layers' gradients, and waits for
all of them when the last bucket completes; False reduces every bucket with a blocking
Allreduce once the last gradient is in. Either way the averaging is finished when
``loss.backward()`` returns. bench/bench_distributed.py measures which is faster.
"""
from contextlib import contextmanager

import numpy as np

from tinygrad_cnn import grad_mode
from tinygrad_cnn.distributed.collectives import broadcast
from tinygrad_cnn.distributed.process_group import _comm, get_world_size, mpi
from tinygrad_cnn.nn.module import Module


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    def __init__(self, params, dtype):
        self.params = params
        self.sizes = [p.numel() for p in params]
        self.flat = np.empty(sum(self.sizes), dtype)
        self.ready = 0
        self.request = None

    def pack(self):
        """Copy the parameters' gradients into the flat buffer."""
        at = 0
        for p, n in zip(self.params, self.sizes):
            self.flat[at:at + n] = p.grad._array.reshape(-1)
            at += n

    def unpack(self, scale):
        """grad = flat * scale, written into each parameter's own gradient array."""
        self.flat *= self.flat.dtype.type(scale)
        at = 0
        for p, n in zip(self.params, self.sizes):
            np.copyto(p.grad._array, self.flat[at:at + n].reshape(p.shape))
            at += n


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the MPI world (as torch's DDP).

    Each rank feeds its own shard of the batch; after backward every parameter's .grad holds
    the mean of the ranks' gradients. broadcast_buffers re-sends rank 0's buffers (such as
    BatchNorm running statistics) before each training forward. The state_dict keys carry the
    prefix ``module.``, as torch's; checkpoint ``ddp.module`` for keys without it.
    """

    def __init__(self, module, device_ids=None, broadcast_buffers=True, bucket_cap_mb=25.0,
                 find_unused_parameters=False, reduce_during_backward=True):
        super().__init__()
        if device_ids is not None:
            raise ValueError("device_ids is for one GPU per process in torch; here pass "
                             "device_ids=None and move the module with .to(device) first")
        if find_unused_parameters:
            raise ValueError("find_unused_parameters=True is not supported: every parameter "
                             "that requires grad must receive a gradient in each backward")
        if float(bucket_cap_mb) <= 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        _comm()  # fails with the fix when distributed.init() was not called
        self.module = module
        params = [p for p in module.parameters() if p.requires_grad]
        for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
            if t.device != "cpu":
                raise ValueError(f"DistributedDataParallel works on CPU modules (MPI moves host "
                                 f"memory), got a tensor on {t.device!r}")
        object.__setattr__(self, "_ddp", _Reducer(params, bucket_cap_mb, reduce_during_backward))
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        self._sync_module_state()

    def _sync_module_state(self):
        """Every rank takes rank 0's parameters and buffers."""
        for t in self.module.parameters():
            broadcast(t, 0)
        self._broadcast_buffers()

    def _broadcast_buffers(self):
        for b in self.module.buffers():
            if b is not None:
                broadcast(b, 0)

    def forward(self, *args, **kwargs):
        self._ddp.check_finished()
        if self.broadcast_buffers and self.module.training and grad_mode.is_enabled():
            self._broadcast_buffers()
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self):
        """Inside, backward accumulates local gradients without reducing them (as torch's)."""
        self._ddp.enabled = False
        try:
            yield
        finally:
            self._ddp.enabled = True


class _Reducer:
    """Buckets the gradients and reduces each bucket once backward has completed it."""

    def __init__(self, params, bucket_cap_mb, overlap):
        self.overlap, self.enabled = bool(overlap), True
        self.world = get_world_size()
        cap = int(float(bucket_cap_mb) * 2**20)
        self.buckets, self.bucket_of = [], {}
        current, size = [], 0
        for p in reversed(params):   # backward finishes the last layers first
            if current and (size + p.numel() * p.dtype.itemsize > cap or
                            p.dtype != current[0].dtype):
                self._add_bucket(current)
                current, size = [], 0
            current.append(p)
            size += p.numel() * p.dtype.itemsize
        if current:
            self._add_bucket(current)
        self.pending = 0
        for p in params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _add_bucket(self, params):
        bucket = _Bucket(params, params[0].dtype)
        for p in params:
            self.bucket_of[id(p)] = bucket
        self.buckets.append(bucket)

    def _grad_ready(self, param):
        if not self.enabled:
            return
        bucket = self.bucket_of[id(param)]
        bucket.ready += 1
        self.pending += 1
        if bucket.ready == len(bucket.params):
            bucket.pack()
            if self.overlap:
                bucket.request = _comm().Iallreduce(mpi().IN_PLACE, bucket.flat, op=mpi().SUM)
        elif self.overlap:
            for started in self.buckets:   # MPI progresses only inside MPI calls: poke it
                if started.request is not None:
                    started.request.Test()
        if self.pending == len(self.bucket_of):
            self._finish()

    def _finish(self):
        comm, MPI = _comm(), mpi()
        for bucket in self.buckets:
            if bucket.request is not None:
                bucket.request.Wait()
                bucket.request = None
            else:
                comm.Allreduce(MPI.IN_PLACE, bucket.flat, op=MPI.SUM)
            bucket.unpack(1.0 / self.world)
            bucket.ready = 0
        self.pending = 0

    def check_finished(self):
        """Refuse to start a forward while the previous backward's reduction is incomplete."""
        if self.pending:
            got = self.pending
            self.pending = 0
            for bucket in self.buckets:
                bucket.ready = 0
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward gave gradients to only {got} "
                f"of {len(self.bucket_of)} parameters, so they were not averaged over the "
                f"ranks. Every parameter that requires grad must be used in the loss (set "
                f"requires_grad=False on unused ones).")
