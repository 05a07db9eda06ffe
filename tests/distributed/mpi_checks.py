"""Checks that need several ranks; run as ``mpiexec -n 2 python tests/distributed/mpi_checks.py``.

Each check asserts on every rank; an AssertionError aborts the job (distributed.init()'s
excepthook), so a non-zero exit status means a failure. Rank 0 prints "ok NAME" per check.
"""
import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor, distributed as dist, nn
from tinygrad_cnn.data import DataLoader, MNISTSample
from tinygrad_cnn.distributed import ReduceOp

dist.init()
RANK, WORLD = dist.get_rank(), dist.get_world_size()


def say(name):
    dist.barrier()
    if RANK == 0:
        print("ok", name, flush=True)


def check_collectives():
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    ranks = np.arange(WORLD, dtype=np.float32).reshape(-1, 1, 1)
    every = base + ranks                                   # (WORLD, 2, 3): each rank's values
    for op, want in ((ReduceOp.SUM, every.sum(0)), (ReduceOp.AVG, every.mean(0)),
                     (ReduceOp.MAX, every.max(0)), (ReduceOp.MIN, every.min(0)),
                     (ReduceOp.PRODUCT, every.prod(0))):
        t = Tensor(base + RANK)
        storage = t._array
        assert dist.all_reduce(t, op) is None
        assert t._array is storage, "all_reduce must work in place"
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)
    ints = Tensor(np.array([1, 2, 4], np.int64) << RANK)
    dist.all_reduce(ints, ReduceOp.BOR)
    assert ints.numpy().tolist() == list(np.bitwise_or.reduce([np.array([1, 2, 4]) << r for r in range(WORLD)]))
    t = Tensor(base + RANK)
    work = dist.all_reduce(t, ReduceOp.AVG, async_op=True)
    assert work.wait() is True and work.is_completed()
    np.testing.assert_allclose(t.numpy(), every.mean(0), rtol=1e-6)
    t = Tensor(base * (RANK + 1))
    dist.broadcast(t, src=WORLD - 1)
    np.testing.assert_array_equal(t.numpy(), base * WORLD)
    try:
        dist.all_reduce(Tensor(np.arange(3)), ReduceOp.AVG)
        raise AssertionError("AVG of an integer tensor must be refused")
    except TypeError as err:
        assert "AVG needs a float tensor" in str(err)
    say("collectives")


def small_net(dtype):
    tc.manual_seed(100 + RANK)                            # different on each rank on purpose
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    return net.double() if dtype == np.float64 else net


def global_batch(dtype, n=8):
    rng = np.random.default_rng(0)                        # the same global batch on every rank
    return rng.standard_normal((n, 1, 8, 8)).astype(dtype), rng.integers(0, 10, n)


def check_ddp(dtype, overlap, rtol):
    x, y = global_batch(dtype)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(small_net(dtype))
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-3,  # ~1 KB: several buckets
                                       reduce_during_backward=overlap)
    assert len(ddp._ddp.buckets) > 1
    for p in model.parameters():                          # rank 0's initial weights everywhere
        spread = Tensor(p.numpy().copy(), dtype=p.dtype)
        low = Tensor(p.numpy().copy(), dtype=p.dtype)
        dist.all_reduce(spread, ReduceOp.MAX)
        dist.all_reduce(low, ReduceOp.MIN)
        np.testing.assert_array_equal(spread.numpy(), low.numpy())
    reference = small_net(dtype)
    reference.load_state_dict(model.state_dict())
    share = slice(RANK * len(x) // WORLD, (RANK + 1) * len(x) // WORLD)
    for step in range(2):                                 # twice: buckets reset between steps
        for m in (model, reference):
            m.zero_grad()
        F.cross_entropy(ddp(Tensor(x[share], dtype=dtype)), Tensor(y[share])).backward()
        F.cross_entropy(reference(Tensor(x, dtype=dtype)), Tensor(y)).backward()
        # the conv bias before BatchNorm has a zero gradient up to rounding: the absolute
        # tolerance is relative to the largest gradient of the model
        scale = max(np.abs(q.grad.numpy()).max() for q in reference.parameters())
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol,
                                       atol=rtol * scale, err_msg=name)
    for name, b in model.named_buffers():
        np.testing.assert_allclose(b.numpy(), dict(reference.named_buffers())[name].numpy(),
                                   rtol=rtol, err_msg=name)
    say(f"ddp gradients = whole-batch gradients ({np.dtype(dtype).name}, "
        f"reduce_during_backward={overlap})")


def check_ddp_no_sync_and_unused_parameters():
    x, y = global_batch(np.float64)
    share = slice(RANK * len(x) // WORLD, (RANK + 1) * len(x) // WORLD)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(small_net(np.float64))
    ddp = dist.DistributedDataParallel(model)
    reference = small_net(np.float64)
    reference.load_state_dict(model.state_dict())
    with ddp.no_sync():                                   # accumulate locally, reduce later
        F.cross_entropy(ddp(Tensor(x[share], dtype=np.float64)), Tensor(y[share])).backward()
    F.cross_entropy(ddp(Tensor(x[share], dtype=np.float64)), Tensor(y[share])).backward()
    for _ in range(2):
        F.cross_entropy(reference(Tensor(x, dtype=np.float64)), Tensor(y)).backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-15,
                                   err_msg=name)
    partial = nn.Sequential(nn.Linear(3, 2), nn.Linear(3, 2))
    ddp = dist.DistributedDataParallel(partial)
    partial[0](Tensor(np.ones((2, 3)))).sum().backward()  # partial[1] gets no gradient
    try:
        ddp(Tensor(np.ones((2, 3))))
        raise AssertionError("a forward after an incomplete reduction must be refused")
    except RuntimeError as err:
        assert "gave gradients to only 2 of 4 parameters" in str(err), err
    say("DDP no_sync accumulates then averages; an unused parameter is reported")


def check_sync_batchnorm(shape, affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    upstream = rng.standard_normal(shape)                 # d(loss)/d(output), global batch
    C = shape[1]
    weight, bias = rng.standard_normal(C), rng.standard_normal(C)
    share = slice(RANK * shape[0] // WORLD, (RANK + 1) * shape[0] // WORLD)

    def layer(cls):
        bn = cls(C, affine=affine, dtype=np.float64)
        if affine:
            bn.weight._array[:], bn.bias._array[:] = weight, bias
        return bn

    bn, sbn = layer(nn.BatchNorm1d if len(shape) < 4 else nn.BatchNorm2d), layer(nn.SyncBatchNorm)
    xg = Tensor(x, requires_grad=True, dtype=np.float64)
    xl = Tensor(x[share], requires_grad=True, dtype=np.float64)
    out_g, out_l = bn(xg), sbn(xl)
    np.testing.assert_allclose(out_l.numpy(), out_g.numpy()[share], rtol=1e-10, atol=1e-12)
    (out_g * Tensor(upstream, dtype=np.float64)).sum().backward()
    (out_l * Tensor(upstream[share], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy(), xg.grad.numpy()[share], rtol=1e-9, atol=1e-12)
    if affine:                                            # local sums add up to the global ones
        for p, q in ((sbn.weight, bn.weight), (sbn.bias, bn.bias)):
            total = Tensor(p.grad.numpy().copy(), dtype=np.float64)
            dist.all_reduce(total)
            np.testing.assert_allclose(total.numpy(), q.grad.numpy(), rtol=1e-10)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(sbn, name).numpy(), getattr(bn, name).numpy(),
                                   rtol=1e-12)
    sbn.eval(), bn.eval()                                 # evaluation: the running statistics
    np.testing.assert_allclose(sbn(Tensor(x[share], dtype=np.float64)).numpy(),
                               bn(Tensor(x, dtype=np.float64)).numpy()[share],
                               rtol=1e-12)
    say(f"SyncBatchNorm = BatchNorm over the global batch {shape}, affine={affine}")


def check_sync_batchnorm_central_differences(eps=1e-6):
    """d(global loss)/d(this rank's input, weight, bias) by float64 central differences, each
    element perturbed on one rank at a time while every rank runs the forward together."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2 * WORLD, 2, 3, 3))
    upstream = rng.standard_normal(x.shape)
    share = slice(2 * RANK, 2 * RANK + 2)
    sbn = nn.SyncBatchNorm(2, track_running_stats=False, dtype=np.float64)
    sbn.weight._array[:], sbn.bias._array[:] = rng.standard_normal(2), rng.standard_normal(2)
    xl = Tensor(x[share], requires_grad=True, dtype=np.float64)

    def global_loss():
        local = Tensor(np.array([(sbn(xl) * Tensor(upstream[share], dtype=np.float64)).sum().item()]),
                       dtype=np.float64)
        dist.all_reduce(local)
        return local.item()

    (sbn(xl) * Tensor(upstream[share], dtype=np.float64)).sum().backward()
    numeric = np.zeros(xl.shape)
    for k in range(xl.numel()):
        for owner in range(WORLD):                        # every rank runs every forward
            values = []
            for sign in (1, -1):
                if RANK == owner:
                    xl._array.reshape(-1)[k] += sign * eps
                values.append(global_loss())
                if RANK == owner:
                    xl._array.reshape(-1)[k] -= sign * eps
            if RANK == owner:
                numeric.reshape(-1)[k] = (values[0] - values[1]) / (2 * eps)
    np.testing.assert_allclose(xl.grad.numpy(), numeric, rtol=1e-5, atol=1e-7)
    for p in (sbn.weight, sbn.bias):                      # replicated: perturbed on every rank
        total = Tensor(p.grad.numpy().copy(), dtype=np.float64)
        dist.all_reduce(total)
        for c in range(2):
            p._array[c] += eps
            up = global_loss()
            p._array[c] -= 2 * eps
            down = global_loss()
            p._array[c] += eps
            np.testing.assert_allclose(total.numpy()[c], (up - down) / (2 * eps), rtol=1e-5,
                                       atol=1e-7)
    say("SyncBatchNorm gradients = central differences of the global loss (float64)")


def check_sampler():
    data = MNISTSample(train=True)
    sampler = dist.DistributedSampler(data, seed=5)      # world and rank from MPI
    assert (sampler.num_replicas, sampler.rank) == (WORLD, RANK)
    sampler.set_epoch(2)
    mine = Tensor(np.array(list(sampler), np.int64))
    gathered = Tensor(np.zeros((WORLD, len(mine)), np.int64))
    gathered._array[RANK] = mine.numpy()
    dist.all_reduce(gathered)
    loader = DataLoader(data, 4 * WORLD, shuffle=True, seed=5)
    for _ in range(3):                                    # the loader's third permutation
        order = loader.generator.permutation(len(data))
    interleaved = gathered.numpy().T.reshape(-1)[:len(data)]
    np.testing.assert_array_equal(interleaved, order)
    say("DistributedSampler shards interleave to the single-process permutation")


check_collectives()
check_ddp(np.float64, True, 1e-9)
check_ddp(np.float64, False, 1e-9)
check_ddp(np.float32, True, 1e-4)
check_ddp_no_sync_and_unused_parameters()
check_sync_batchnorm((6, 3, 4, 5), True)
check_sync_batchnorm((10, 4), False)
check_sync_batchnorm_central_differences()
check_sampler()
if RANK == 0:
    print("all checks passed", flush=True)
