"""The notes' architecture gallery (003) side by side: parameters, FLOPs, depth, and why
GoogLeNet's 1x1 convolutions pay.

    python examples/architectures.py              # the digit models, 1x28x28
    python examples/architectures.py --imagenet   # also torchvision's models at 3x224x224 (~1 min)

Every figure comes from tc.summary's forward pass, so it counts what the code computes.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn import models, nn  # noqa: E402
from tinygrad_cnn.tensor import cat  # noqa: E402

IDEAS = {
    "lenet5": "conv-pool x2, three dense layers (1998)",
    "simple-cnn": "the notes' 2-conv MNIST CNN (004)",
    "deep-cnn": "3 convs, dropout in the classifier (004)",
    "resnet": "the notes' small ResNet, 3 residual blocks",
    "alexnet": "5 convs, ReLU, overlapping max pools, dropout",
    "vgg11": "only 3x3 convs, stacked; 2x2 pools",
    "googlenet": "Inception: 1x1 | 3x3 | 5x5 | pool branches, 1x1 reductions, aux heads",
    "resnet18": "residual blocks: out = relu(F(x) + x)",
    "preact-resnet18": "pre-activation: BN-ReLU-conv, clean identity path",
    "densenet": "dense blocks concatenate all earlier maps, growth k=12, bottleneck, transitions",
}


def depth(report):
    """Weight layers (convs and linears) the eval forward runs: the usual count of a network's
    depth (GoogLeNet's auxiliary heads, training only, are not counted)."""
    return sum(r.kind in ("Conv2d", "Linear") for r in report.rows)


def gallery(rows, input_shape):
    print(f"{'model':17}{'params':>13}{'MFLOPs':>11}{'depth':>7}   idea  (input {input_shape})")
    print("-" * 100)
    for name, model in rows:
        report = tc.summary(model, input_shape, print_fn=None)
        print(f"{name:17}{report.total_params:>13,}{report.total_flops / 1e6:>11,.1f}"
              f"{depth(report):>7}   {IDEAS.get(name, '')}")
    print()


class NaiveInception(nn.Module):
    """(a) of the notes' figure: 1x1, 3x3 and 5x5 convs and a 3x3 max pool, side by side on the
    full input, concatenated."""

    def __init__(self, c_in, c1, c3, c5):
        super().__init__()
        self.b1 = nn.Conv2d(c_in, c1, 1)
        self.b3 = nn.Conv2d(c_in, c3, 3, padding=1)
        self.b5 = nn.Conv2d(c_in, c5, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        return cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)


class ReducedInception(nn.Module):
    """(b): 1x1 convs shrink the channels before the 3x3 and 5x5 convs and after the pool."""

    def __init__(self, c_in, c1, r3, c3, r5, c5, pool_proj):
        super().__init__()
        self.b1 = nn.Conv2d(c_in, c1, 1)
        self.b3 = nn.Sequential(nn.Conv2d(c_in, r3, 1), nn.Conv2d(r3, c3, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(c_in, r5, 1), nn.Conv2d(r5, c5, 5, padding=2))
        self.pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                  nn.Conv2d(c_in, pool_proj, 1))

    def forward(self, x):
        return cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)


def multiplications(model, input_shape):
    """Multiplications of the convs (the notes count these): half of the summary's conv
    FLOPs without the bias adds."""
    report = tc.summary(model, input_shape, print_fn=None)
    return sum((r.flops - r.output_shape[1] * r.output_shape[2] * r.output_shape[3]) // 2
               for r in report.rows if r.kind == "Conv2d")


def one_by_one_saving():
    """The notes' question, "why does a 1x1 conv cut the computation?", on GoogLeNet's
    inception (3a) input: 28x28x192. Returns the figures it prints."""
    shape = (1, 192, 28, 28)
    print("Why 1x1 convolutions cut the computation (input 28x28x192, inception 3a):")
    direct = multiplications(nn.Sequential(nn.Conv2d(192, 32, 5, padding=2)), shape)
    reduced = multiplications(nn.Sequential(nn.Conv2d(192, 16, 1),
                                            nn.Conv2d(16, 32, 5, padding=2)), shape)
    print(f"  5x5 conv 192 -> 32 directly:          28*28*32 * 5*5*192 = {direct:,} mult.")
    print(f"  1x1 conv 192 -> 16, 5x5 conv 16 -> 32: 28*28*16 * 192 + 28*28*32 * 5*5*16 "
          f"= {reduced:,} mult. ({direct / reduced:.1f}x fewer)")
    naive = NaiveInception(192, 64, 128, 32)
    with_red = ReducedInception(192, 64, 96, 128, 16, 32, 32)
    n_mult, r_mult = multiplications(naive, shape), multiplications(with_red, shape)
    n_par = sum(p.numel() for p in naive.parameters())
    r_par = sum(p.numel() for p in with_red.parameters())
    n_out = naive(tc.Tensor.zeros(*shape)).shape[1]
    r_out = with_red(tc.Tensor.zeros(*shape)).shape[1]
    print(f"  whole module, naive (a):             {n_mult:>13,} mult., {n_par:>9,} params, "
          f"{n_out} output channels (the pool passes all 192 through)")
    print(f"  whole module, with reductions (b):   {r_mult:>13,} mult., {r_par:>9,} params, "
          f"{r_out} output channels")
    print(f"  saving: {n_mult / r_mult:.1f}x fewer multiplications, {n_par / r_par:.1f}x fewer "
          f"parameters. (torchvision's GoogLeNet, ported from the original weights, uses a 3x3 "
          f"conv in the \"5x5\" branch.)\n")
    return {"direct": direct, "reduced": reduced, "naive": n_mult, "module": r_mult}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--imagenet", action="store_true",
                   help="also torchvision's constructors at 3x224x224 (builds VGG: ~1 min)")
    args = p.parse_args()
    tc.manual_seed(0)
    gallery([(name, models.get_model(name)) for name in models.MODELS], (1, 1, 28, 28))
    if args.imagenet:
        gallery([(name, ctor()) for name, ctor in models.TORCHVISION_MODELS.items()],
                (1, 3, 224, 224))
    one_by_one_saving()


if __name__ == "__main__":
    main()
