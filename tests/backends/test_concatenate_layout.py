"""The CPU backend's concatenate keeps channels-last memory when every input has it (conv
outputs joined by DenseNet and GoogLeNet), on every axis; other layouts join as NumPy does."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.backends import cpu
from tinygrad_cnn.backends.cpu import layout


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -2, -3, -4])
def test_channels_last_inputs_give_channels_last_output(axis):
    rng = np.random.default_rng(0)
    shapes = [[2, 3, 4, 5], [2, 3, 4, 5]]
    shapes[1][axis] += 2
    parts = [channels_last(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    out = cpu.concatenate(parts, axis)
    np.testing.assert_array_equal(out, np.concatenate(parts, axis=axis))
    assert layout.is_channels_last(out) and out.dtype == np.float32


def test_mixed_layouts_join_as_numpy_does():
    rng = np.random.default_rng(1)
    a = channels_last(rng.standard_normal((2, 3, 4, 5)))
    b = rng.standard_normal((2, 6, 4, 5))
    out = cpu.concatenate([a, b], 1)
    np.testing.assert_array_equal(out, np.concatenate([a, b], axis=1))


def test_cat_backward_hands_each_input_its_slice():
    rng = np.random.default_rng(2)
    a = tc.tensor(channels_last(rng.standard_normal((2, 3, 4, 4))), requires_grad=True)
    b = tc.tensor(channels_last(rng.standard_normal((2, 5, 4, 4))), requires_grad=True)
    out = tc.cat([a, b], dim=1)
    g = rng.standard_normal(out.shape)
    out.backward(tc.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), g[:, :3])
    np.testing.assert_array_equal(b.grad.numpy(), g[:, 3:])
