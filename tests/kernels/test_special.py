"""The erf kernel behind exact GELU against math.erf: every element, both float dtypes,
non-contiguous and empty inputs (the NumPy twin is math.erf itself, element by element)."""
import math

import numpy as np
import pytest

from tinygrad_cnn.backends import cpu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_matches_math_erf(dtype):
    x = np.concatenate([np.linspace(-6, 6, 241), [0.0, -0.0, 1e-30, np.inf, -np.inf]]).astype(dtype)
    out = cpu.erf(x)
    assert out.dtype == dtype and out.shape == x.shape
    expect = np.array([math.erf(float(v)) for v in x], dtype=dtype)
    if dtype == np.float64:
        np.testing.assert_array_equal(out, expect)
    else:                                   # float32 input: numba calls the C library's erff
        np.testing.assert_allclose(out, expect, rtol=2.4e-7, atol=0)  # within 1 ulp
    assert np.isnan(cpu.erf(np.array([np.nan], dtype)))[0]


def test_erf_takes_views_and_empty_arrays():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2] / 10
    np.testing.assert_array_equal(cpu.erf(x), np.vectorize(math.erf)(x).astype(np.float32))
    assert cpu.erf(np.zeros((0, 3), np.float64)).shape == (0, 3)
