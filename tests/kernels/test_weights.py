"""kernels/cpu/weights.transpose_weight and backends/cpu/weights.weight_layout: a conv
weight in the columns and patch-rows layouts, bit for bit NumPy's transposing copy, for
any shape (whole 8 x 8 blocks, edges, 1x1 and 5x5 kernels), float32 and float64."""
import numpy as np
from hypothesis import given, settings as hsettings, strategies as st

from tinygrad_cnn.backends.cpu import weights
from tinygrad_cnn.backends.cpu.settings import override
from tinygrad_cnn.kernels.cpu.weights import transpose_weight


@hsettings(deadline=None, max_examples=60)
@given(O=st.integers(1, 40), C=st.integers(1, 40), KH=st.integers(1, 5), KW=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_transpose_weight_matches_numpy(O, C, KH, KW, dtype, seed):
    w = np.random.default_rng(seed).standard_normal((O, C, KH, KW)).astype(dtype)
    columns = np.full((KH * KW, C, O), np.nan, dtype)
    rows = np.full((O, KH * KW, C), np.nan, dtype)
    transpose_weight(w, columns, True)
    transpose_weight(w, rows, False)
    assert np.array_equal(columns, w.transpose(2, 3, 1, 0).reshape(KH * KW, C, O))
    assert np.array_equal(rows, w.transpose(0, 2, 3, 1).reshape(O, KH * KW, C))


def test_special_values_are_copied_bit_for_bit():
    w = np.random.default_rng(0).standard_normal((16, 8, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0], w[3, 5, 1, 2], w[15, 7, 2, 2] = np.nan, np.inf, -0.0
    columns = np.empty((9, 8, 16), np.float32)
    transpose_weight(w, columns, True)
    assert np.array_equal(columns.view(np.uint32),
                          np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(9, 8, 16).view(np.uint32))


def test_weight_layout_is_the_same_by_numpy_and_by_the_kernel():
    """Below settings.weight_kernel_values NumPy copies; from it on the kernel: the same
    arrays either way, also from a weight that is not C-contiguous."""
    w = np.random.default_rng(1).standard_normal((24, 20, 3, 3)).astype(np.float32)
    strided = np.asfortranarray(w)
    for columns in (True, False):
        with override(weight_kernel_values=1 << 62):
            by_numpy = weights.weight_layout(w, columns)
        with override(weight_kernel_values=0):
            by_kernel = weights.weight_layout(strided, columns)
        assert by_kernel.flags.c_contiguous and by_kernel.shape == by_numpy.shape
        assert np.array_equal(by_numpy, by_kernel)
    assert by_numpy.shape == (24, 180)
