"""kernels/cpu/weights.column_weights and backends/cpu/weights.column_weights: a conv
weight in the vector tiles' columns layout, bit for bit NumPy's transposing copy, for any
shape (whole 8 x 8 blocks, edges, 1x1 and 5x5 kernels), float32 and float64."""
import numpy as np
from hypothesis import given, settings as hsettings, strategies as st

from tinygrad_cnn.backends.cpu import weights
from tinygrad_cnn.backends.cpu.settings import override
from tinygrad_cnn.kernels.cpu import weights as weight_kernels


@hsettings(deadline=None, max_examples=60)
@given(O=st.integers(1, 40), C=st.integers(1, 40), KH=st.integers(1, 5), KW=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_column_weights_kernel_matches_numpy(O, C, KH, KW, dtype, seed):
    w = np.random.default_rng(seed).standard_normal((O, C, KH, KW)).astype(dtype)
    columns = np.full((KH * KW, C, O), np.nan, dtype)
    weight_kernels.column_weights(w, columns)
    assert np.array_equal(columns, w.transpose(2, 3, 1, 0).reshape(KH * KW, C, O))


def test_special_values_are_copied_bit_for_bit():
    w = np.random.default_rng(0).standard_normal((16, 8, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0], w[3, 5, 1, 2], w[15, 7, 2, 2] = np.nan, np.inf, -0.0
    columns = np.empty((9, 8, 16), np.float32)
    weight_kernels.column_weights(w, columns)
    expected = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(9, 8, 16)
    assert np.array_equal(columns.view(np.uint32), expected.view(np.uint32))


def test_backend_columns_are_the_same_by_numpy_and_by_the_kernel():
    """Below settings.weight_kernel_values NumPy copies; from it on the kernel: the same
    array either way, also from a weight that is not C-contiguous."""
    w = np.random.default_rng(1).standard_normal((24, 20, 3, 3)).astype(np.float32)
    with override(weight_kernel_values=1 << 62):
        by_numpy = weights.column_weights(w)
    with override(weight_kernel_values=0):
        by_kernel = weights.column_weights(np.asfortranarray(w))
    assert by_kernel.flags.c_contiguous and by_kernel.shape == by_numpy.shape == (180, 24)
    assert np.array_equal(by_numpy, by_kernel)
