"""A hand-written data-parallel training loop with tinygrad_cnn.distributed, as in torch DDP.

    mpiexec -n 2 -env NUMBA_NUM_THREADS 1 python examples/data_parallel.py --epochs 2

Each rank trains LeNet-5 on its shard of the bundled MNIST sample (batch 32 per rank);
DistributedDataParallel averages the gradients, so every rank holds the same weights; rank 0
prints the held-out accuracy, summed over the ranks' shares of the test set.
"""
import argparse

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import distributed as dist
from tinygrad_cnn import nn, optim
from tinygrad_cnn.data import DataLoader, MNISTSample
from tinygrad_cnn.models import LeNet5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    args = parser.parse_args()

    dist.init()                          # an error on any rank now aborts the whole job
    rank, world = dist.get_rank(), dist.get_world_size()
    tc.manual_seed(0)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(LeNet5())
    ddp = dist.DistributedDataParallel(model)          # rank 0's weights on every rank
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train, test = MNISTSample(train=True), MNISTSample(train=False)
    sampler = dist.DistributedSampler(train, seed=0)   # world size and rank from MPI
    loader = DataLoader(train, args.batch_size, sampler=sampler)
    test_loader = DataLoader(test, 500, sampler=range(rank, len(test), world))

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)                       # a new permutation each epoch
        ddp.train()
        for images, labels in loader:
            opt.zero_grad()
            F.cross_entropy(ddp(images), labels).backward()   # gradients averaged here
            opt.step()
        model.eval()
        counts = np.zeros(2)                           # (correct, seen) over this rank's share
        with tc.no_grad():
            for images, labels in test_loader:
                counts += [(model(images).numpy().argmax(axis=1) == labels.numpy()).sum(),
                           len(labels)]
        correct = tc.Tensor(counts, dtype=np.float64)
        dist.all_reduce(correct, dist.ReduceOp.SUM)    # in place, on every rank
        if rank == 0:
            hits, seen = correct.numpy()
            print(f"epoch {epoch + 1}: held-out accuracy {hits / seen:.4f} "
                  f"({world} ranks x batch {args.batch_size})")


if __name__ == "__main__":
    main()
