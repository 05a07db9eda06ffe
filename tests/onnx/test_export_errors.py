"""What export refuses, with the reason named, and what it never changes."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
import tinygrad_cnn.onnx as tonnx
from tinygrad_cnn import nn
from tinygrad_cnn.function import Function
from tinygrad_cnn.models import ResNet

from onnx_helpers import assert_matches, export_and_load, randomise


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.conv(x))


class Square(Function):
    """An op of the user's own, which the exporter has no converter for."""

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.mul(a, a)


X = tc.Tensor(np.random.default_rng(0).standard_normal((3, 1, 6, 6)).astype(np.float32))


@pytest.mark.parametrize("fn, message", [
    (lambda y: Square.apply(y), "Square"),
    (lambda y: y[0], "GetItem.*batch dimension"),
    (lambda y: y[:, None], "GetItem.*None"),
    (lambda y: y[:, :, ::-1], "GetItem.*negative step"),
    (lambda y: F.cross_entropy(y.flatten(1), tc.Tensor(np.zeros(y.shape[0], np.int64))),
     "CrossEntropy"),
    (lambda y: y * tc.Tensor(y.numpy().mean()), "outside the op graph"),
    (lambda y: y - y.mean(dim=0), "batch"),
    (lambda y: y if y.shape[0] < 4 else y * 2, "different ops"),
])
def test_an_op_that_cannot_be_exported_is_named_and_no_file_is_left(fn, message, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(tonnx.ExportError, match=message):
        tonnx.export(Fn(fn).eval(), X, path)
    assert not path.exists()


def test_unsupported_opset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="opset 12"):
        tonnx.export(Fn(lambda y: y).eval(), X, tmp_path / "m.onnx", opset=12)


def test_a_training_model_is_exported_as_in_eval_and_left_exactly_as_it_was(tmp_path):
    """Modes (mixed ones too), parameters, running statistics and num_batches_tracked are
    unchanged; the graph computes what eval mode computes."""
    model = randomise(ResNet())
    model.train()
    model.stages[0].eval()
    modes = [m.training for m in model.modules()]
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="training mode"):
        _, session = export_and_load(model, tc.Tensor(np.ones((2, 1, 28, 28), np.float32)),
                                     tmp_path / "resnet.onnx")
    assert [m.training for m in model.modules()] == modes
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    model.eval()
    assert_matches(model, session, np.random.default_rng(1).standard_normal(
        (7, 1, 28, 28)).astype(np.float32))


def test_a_tensor_rewritten_outside_the_ops_is_refused(tmp_path):
    def redraw(y):
        z = y * 2
        y.normal_()
        return z + y

    with pytest.raises(tonnx.ExportError, match="changed in place|differs between the two"):
        tonnx.export(Fn(redraw).eval(), X, tmp_path / "m.onnx")
