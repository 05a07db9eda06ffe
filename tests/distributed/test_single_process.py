"""The distributed pieces that need no MPI job: DistributedSampler against torch's, the
DataLoader's sampler hook, SyncBatchNorm in a world of one, launch detection, the train
command's one-process stand-in. Nothing here imports mpi4py."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor, nn
from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.distributed import DistributedSampler, launched_by_mpi
from tinygrad_cnn.distributed import process_group
from tinygrad_cnn.models import get_model


class Items:
    """A dataset of n items: image i is filled with i, label i % 10."""

    def __init__(self, n):
        self.images = np.repeat(np.arange(n, dtype=np.float32), 4).reshape(n, 2, 2)
        self.labels = np.arange(n, dtype=np.int64) % 10

    def __len__(self):
        return len(self.labels)


def _torch_shard(n, world, rank, drop_last, order):
    """torch.utils.data.DistributedSampler's padding/cutting and striding, applied to ``order``."""
    import math

    if drop_last and n % world:
        per = math.ceil((n - world) / world)
    else:
        per = math.ceil(n / world)
    total = per * world
    order = list(order)
    if not drop_last:
        pad = total - n
        order += (order * math.ceil(pad / n))[:pad] if pad > len(order) else order[:pad]
    else:
        order = order[:total]
    return order[rank:total:world]


@pytest.mark.parametrize("n,world,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                               (9, 3, False), (9, 4, True), (1, 1, False)])
def test_unshuffled_shards_equal_torchs(n, world, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    for rank in range(world):
        ours = DistributedSampler(range(n), world, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(range(n), world, rank, shuffle=False,
                                               drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n,world,drop_last", [(103, 4, False), (103, 4, True), (3, 5, False)])
def test_shuffled_shards_are_torchs_striding_of_the_loaders_permutation(n, world, drop_last):
    """Each epoch: rank r's indices = torch's padding and [r::world] of the permutation that
    DataLoader(shuffle=True, seed) draws on that pass."""
    data = Items(n)
    loader = DataLoader(data, n, shuffle=True, seed=9)
    samplers = [DistributedSampler(data, world, r, seed=9, drop_last=drop_last)
                for r in range(world)]
    for epoch in range(3):
        images, _ = next(iter(loader))                 # image i is filled with i
        perm = images.numpy()[:, 0, 0, 0].astype(int).tolist()
        for r, s in enumerate(samplers):
            s.set_epoch(epoch)
            assert list(s) == _torch_shard(n, world, r, drop_last, perm)
            assert s.state_dict()["generator"] == loader.state_dict()["generator"]


def test_epochs_reshuffle_and_set_epoch_goes_back():
    s = DistributedSampler(Items(50), 2, 0, seed=1)
    first = list(s)
    assert list(s) == first                      # no set_epoch: the same order (as torch)
    s.set_epoch(1)
    second = list(s)
    assert second != first
    s.set_epoch(0)
    assert list(s) == first
    s.set_epoch(3)
    fresh = DistributedSampler(Items(50), 2, 0, seed=1)
    fresh.set_epoch(3)
    assert list(s) == list(fresh)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(Items(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1, got 0"):
        DistributedSampler(Items(4), 0, 0)
    with pytest.raises(ValueError, match="distributed.init\\(\\) first"):
        DistributedSampler(Items(4))             # world and rank come from an initialised MPI
    with pytest.raises(ValueError, match="epoch must be non-negative"):
        DistributedSampler(Items(4), 1, 0).set_epoch(-1)


def test_loader_batches_a_sampler_and_refuses_shuffle_with_it():
    data = Items(10)
    s = DistributedSampler(data, 2, 1, shuffle=False)
    loader = DataLoader(data, 2, sampler=s)
    assert len(loader) == 3
    assert [y.numpy().tolist() for _, y in loader] == [[1, 3], [5, 7], [9]]
    assert [y.numpy().tolist() for _, y in DataLoader(data, 2, sampler=[4, 0, 7])] == [[4, 0], [7]]
    assert len(DataLoader(data, 2, sampler=s, drop_last=True)) == 2
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, 2, shuffle=True, sampler=s)


def test_a_checkpointed_sampler_loader_resumes_a_single_process_loader():
    """The state of a sharded loader after epoch e restores a one-process loader to the same
    point, so the next permutation is the one an uninterrupted run would draw."""
    data = Items(30)
    straight = DataLoader(data, 5, shuffle=True, seed=4)
    for _ in range(2):                           # epochs 0 and 1
        list(straight)
    sharded = DataLoader(data, 5, sampler=DistributedSampler(data, 2, 0, seed=4))
    sharded.sampler.set_epoch(1)                 # epochs 0 and 1 done
    state = sharded.state_dict()
    assert state["sampler"]["epoch"] == 1
    resumed = DataLoader(data, 5, shuffle=True, seed=123)
    resumed.load_state_dict(state)
    expect = [y.numpy().tolist() for _, y in straight]
    assert [y.numpy().tolist() for _, y in resumed] == expect
    other = DataLoader(data, 5, sampler=DistributedSampler(data, 2, 0, seed=4))
    other.load_state_dict(state)
    assert other.sampler.epoch == 1


def test_launch_detection_reads_only_the_environment(monkeypatch):
    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                 "MPI_LOCALNRANKS", "PMIX_RANK", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_mpi()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launched_by_mpi()


def test_collectives_before_init_say_how_to_start():
    assert not process_group.is_initialized()
    with pytest.raises(ValueError, match="call tinygrad_cnn.distributed.init\\(\\) first"):  # as torch
        process_group.get_rank()


def test_sync_batchnorm_in_a_world_of_one_is_batchnorm():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    bn, sbn = nn.BatchNorm2d(3, dtype=np.float64), nn.SyncBatchNorm(3, dtype=np.float64)
    xa, xb = (Tensor(x, requires_grad=True, dtype=np.float64) for _ in range(2))
    ya, yb = bn(xa), sbn(xb)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    np.testing.assert_array_equal(xa.grad.numpy(), xb.grad.numpy())
    np.testing.assert_array_equal(bn.running_var.numpy(), sbn.running_var.numpy())
    with pytest.raises(ValueError, match="process_group=None"):
        nn.SyncBatchNorm(3, process_group="group")
    with pytest.raises(ValueError, match="SyncBatchNorm expected 3 channels, got 2"):
        sbn(Tensor(np.zeros((2, 2, 3))))


def test_convert_sync_batchnorm_keeps_the_same_parameters_in_order():
    tc.manual_seed(0)
    model = get_model("resnet")
    model.eval()
    names = [n for n, _ in model.named_parameters()]
    tensors = list(model.parameters()) + list(model.buffers())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert [n for n, _ in converted.named_parameters()] == names
    assert all(a is b for a, b in zip(tensors, list(converted.parameters()) + list(converted.buffers())))
    kinds = {type(m).__name__ for m in converted.modules()}
    assert "SyncBatchNorm" in kinds and not {"BatchNorm1d", "BatchNorm2d"} & kinds
    assert not any(m.training for m in converted.modules())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(5, affine=False))
    assert isinstance(single, nn.SyncBatchNorm) and single.weight is None


def test_the_train_command_without_mpi_uses_the_plain_loop(monkeypatch):
    from tinygrad_cnn.distributed.training import LocalRun, setup_run

    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                 "MPI_LOCALNRANKS", "PMIX_RANK", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    run = setup_run()
    assert type(run) is LocalRun and run.writes and run.world == 1
    import sys
    assert "mpi4py.MPI" not in sys.modules                 # MPI was not started
    model = get_model("simple-cnn")
    assert run.wrap(model) is model
    loader = run.train_loader(Items(10), 4, seed=2)
    assert loader.shuffle and type(loader.sampler).__name__ == "RandomSampler"   # no shard


def test_init_without_mpi4py_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mpi4py", None)     # as if the mpi extra were missing
    assert not process_group.is_available()
    with pytest.raises(ImportError, match=r"pip install 'tinygrad-cnn\[mpi\]'"):
        process_group.init()
    assert not process_group.is_initialized()
