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


@pytest.mark.parametrize("axis", [0, 1, 2, 3])
@pytest.mark.parametrize("channels_last_in", [True, False])
def test_split_gives_the_slices_and_channels_last_pieces_of_their_own(axis, channels_last_in):
    """split (Cat's backward) of a channels-last array along its channels: pieces equal to
    the slices, each channels-last in memory of its own (no gaps between its rows, not
    sharing a's memory); along another axis, or of another layout: the slices as views."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 7, 4, 5)).astype(np.float32)
    a = channels_last(a) if channels_last_in else a
    sizes = [1, a.shape[axis] - 3, 2]
    pieces = cpu.split(a, sizes, axis)
    starts = np.cumsum([0] + sizes)
    for piece, lo, hi in zip(pieces, starts[:-1], starts[1:]):
        np.testing.assert_array_equal(piece, np.take(a, np.arange(lo, hi), axis=axis))
        copied = axis == 1 and channels_last_in
        assert np.shares_memory(piece, a) != copied
        if copied:
            assert piece.transpose(0, 2, 3, 1).flags.c_contiguous
