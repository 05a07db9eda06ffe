"""Each layer and op the exporter converts, in small networks, against onnxruntime; and the
attributes that ONNX defaults differently from PyTorch, checked in the written graph."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from onnx_helpers import attrs, check_model, nodes, randomise


class Net(nn.Module):
    """Layers in a Sequential, then an optional functional tail."""

    def __init__(self, *layers, tail=None):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.tail = tail

    def forward(self, x):
        out = self.body(x)
        return out if self.tail is None else self.tail(out)


class TwoBranch(nn.Module):
    """An Inception-like cat of two conv branches, and a residual add."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 2, 3, padding=1)
        self.proj = nn.Conv2d(6, 3, 1, bias=False)

    def forward(self, x):
        return x + self.proj(tc.cat([self.a(x), self.b(x)], dim=1))


def _max(x, dim):
    """The largest values over dim by ops.Max: x.amax(dim) once issue 11 gives max(dim)
    torch's (values, indices), found by argmax outside the graph (which export refuses)."""
    return x.amax(dim) if hasattr(x, "amax") else x.max(dim=dim)


CASES = {
    "conv-pads-strides-dilations-groups": (lambda: Net(
        nn.Conv2d(4, 8, 3, stride=2, padding=(1, 2), dilation=(2, 1), groups=2),
        nn.Conv2d(8, 8, (2, 3), padding="same", groups=8, bias=False)), (4, 11, 9)),
    "maxpool-pads-dilation-ceil": (lambda: Net(
        nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
        nn.MaxPool2d((2, 3), ceil_mode=True)), (2, 12, 13)),
    "maxpool-plain": (lambda: Net(nn.MaxPool2d(2), nn.MaxPool2d(2, 1, padding=1)), (2, 8, 8)),
    "avgpool-count-include-pad": (lambda: Net(
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)), (3, 9, 8)),
    "avgpool-ceil": (lambda: Net(nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)),
                     (2, 7, 9)),
    "adaptive-global": (lambda: Net(nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 7, 5)),
    "adaptive-divisible": (lambda: Net(nn.AdaptiveAvgPool2d((2, 3))), (3, 8, 9)),
    "adaptive-uneven": (lambda: Net(nn.AdaptiveAvgPool2d((3, 4))), (3, 7, 9)),
    "activations": (lambda: Net(
        nn.Conv2d(2, 4, 3), nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 1), nn.ELU(0.7),
        nn.Conv2d(4, 4, 1), nn.Sigmoid(), nn.Conv2d(4, 4, 1), nn.Tanh(),
        tail=lambda x: (x * 3).clamp(-0.5, 0.6) + x.relu()), (2, 6, 6)),
    "batchnorm-affine-and-not": (lambda: Net(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4, affine=False),
        nn.Flatten(), nn.Linear(64, 5), nn.BatchNorm1d(5)), (3, 6, 6)),
    "dropout-flatten-linear-softmax": (lambda: Net(
        nn.Flatten(), nn.Linear(30, 8), nn.Dropout(0.5), nn.Linear(8, 6, bias=False),
        nn.Softmax(dim=1)), (5, 3, 2)),
    "log-softmax-maxout": (lambda: Net(
        nn.Conv2d(2, 6, 3), nn.Maxout(3), nn.Flatten(), nn.LogSoftmax(dim=-1)), (2, 5, 5)),
    "cat-and-residual": (TwoBranch, (3, 6, 6)),
    "elementwise-and-reductions": (lambda: Net(nn.Conv2d(2, 3, 1), tail=lambda x: (
        (x.exp() + (x * x + 1).log() - x.abs().sqrt() / 2 - (-x) ** 2).sum(dim=(2, 3))
        + x.mean(dim=(1, 3)) - _max(x.permute(0, 2, 1, 3), dim=3).sum(dim=2))), (2, 3, 3)),
    "reshape-expand-matmul": (lambda: Net(nn.Conv2d(2, 4, 1), tail=lambda x: (
        x.reshape(x.shape[0], 4, 9) @ x.reshape(x.shape[0], 9, 4)
        + x.sum(dim=(2, 3), keepdim=True).reshape(x.shape[0], 4, 1).expand(x.shape[0], 4, 4))),
        (2, 3, 3)),
    "indexing": (lambda: Net(nn.Conv2d(2, 6, 1), tail=lambda x: (
        x[:, 1:5, ::2, -3:] * x[..., 1][:, 2:, 1:4].reshape(x.shape[0], 4, 3, 1)
        + x[:, tc.Tensor(np.array([0, 5, 2, 2]))][:, :, 1:4, 1:4])), (2, 5, 4)),
    "batch-sized-fills": (lambda: Net(nn.Conv2d(2, 3, 1), tail=lambda x: tc.cat(
        [x, tc.Tensor.full((x.shape[0], 2, 4, 4), 0.5) * x[:, :1]], dim=1)), (2, 4, 4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_onnxruntime(case, tmp_path):
    build, shape = CASES[case]
    tc.manual_seed(3)
    check_model(randomise(build(), seed=len(case)), shape, tmp_path)


def test_opset_17_writes_reduce_max_axes_as_an_attribute(tmp_path):
    build, shape = CASES["log-softmax-maxout"]
    proto = check_model(randomise(build()), shape, tmp_path, opset=17)
    assert attrs(nodes(proto, "ReduceMax")[0])["axes"] == [2]


def test_attributes_onnx_defaults_differently_are_written(tmp_path):
    """MaxPool strides (ONNX default 1, PyTorch's the kernel), Gemm transB=1 with the
    stored (out, in) weight, Conv pads as [top, left, bottom, right]."""
    net = Net(nn.Conv2d(1, 2, 3, padding=(1, 2)), nn.MaxPool2d(2), nn.Flatten(),
              nn.Linear(2 * 14 * 14, 3))
    proto = check_model(randomise(net), (1, 28, 26), tmp_path)
    assert attrs(nodes(proto, "MaxPool")[0]) == {
        "kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "dilations": [1, 1],
        "ceil_mode": 0}
    conv = attrs(nodes(proto, "Conv")[0])
    assert conv["pads"] == [1, 2, 1, 2] and conv["strides"] == [1, 1] and conv["group"] == 1
    gemm = nodes(proto, "Gemm")[0]
    assert attrs(gemm) == {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}
    assert list(gemm.input)[1:] == ["body.3.weight", "body.3.bias"]
    assert not nodes(proto, "Transpose") and not nodes(proto, "MatMul")


@pytest.mark.parametrize("case", ["conv-transpose", "gelu-silu-norms", "inplace-activations",
                                  "log-sigmoid-pad-upsample"])
def test_issue_11_layers_match_onnxruntime(case, tmp_path):
    """ConvTranspose (output_padding, groups, dilation), GELU both ways, SiLU, LayerNorm,
    GroupNorm, log-sigmoid, padding and nearest upsampling, once those layers exist."""
    build = {
        "conv-transpose": lambda: Net(
            nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
            nn.ConvTranspose2d(6, 3, (2, 3), stride=(1, 2), dilation=2, bias=False)),
        "gelu-silu-norms": lambda: Net(
            nn.Conv2d(4, 6, 1), nn.GELU(), nn.Conv2d(6, 6, 1), nn.GELU(approximate="tanh"),
            nn.SiLU(), nn.GroupNorm(3, 6), nn.LayerNorm([6, 5, 5])),
        "inplace-activations": lambda: Net(
            nn.Conv2d(4, 6, 1), nn.BatchNorm2d(6), nn.ReLU(inplace=True), nn.Conv2d(6, 6, 1),
            nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(6, 6, 1), nn.ELU(inplace=True),
            nn.SiLU(inplace=True), nn.Dropout(0.3, inplace=True)),
        "log-sigmoid-pad-upsample": lambda: Net(
            nn.Conv2d(4, 3, 1), nn.Upsample(scale_factor=2),
            tail=lambda x: F.pad(F.logsigmoid(x), (1, 2, 0, 1))),
    }[case]
    tc.manual_seed(4)
    check_model(randomise(build()), (4, 5, 5), tmp_path)


class InPlace(nn.Module):
    """torchvision's `out += identity`: later uses of `out` must see the sum."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 1)

    def forward(self, x):
        out = self.a(x)
        out += self.b(x)
        out.mul_(2)
        return out * out + out


def test_in_place_ops_are_traced_as_the_values_they_make(tmp_path):
    check_model(randomise(InPlace()), (3, 5, 5), tmp_path)
