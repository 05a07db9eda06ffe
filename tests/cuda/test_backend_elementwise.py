"""backends/cuda/ against backends/cpu.py: arrays, elementwise ops with broadcasting,
comparisons, where, activations."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cuda_helpers import backend, dev, host
from strategies import arrays
from tinygrad_cnn.backends import cpu

TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
UNARY = ["neg", "exp", "abs", "tanh", "sign", "sigmoid", "relu"]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


def check(got, want, **tol):
    """Same shape and dtype as the CPU result, and the same values (within ``tol``)."""
    got = host(got)
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                               want.shape, want.dtype)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, **(tol or TOL[want.dtype.type]))
    else:
        np.testing.assert_array_equal(got, want)


def test_round_trip_and_constructors():
    be = backend()
    a = arrays((2, 3), 0, np.float32)
    assert np.array_equal(be.to_numpy(be.from_numpy(a)), a)
    check(be.zeros((2, 2), np.float64), np.zeros((2, 2)))
    check(be.full((3,), 7, np.float32), np.full((3,), 7, np.float32))
    check(be.full((), 2.5, np.float64), np.full((), 2.5))
    assert be.empty((4, 0), np.float32).shape == (4, 0)
    check(be.arange(5), np.arange(5))
    d = be.from_numpy(a)
    assert be.astype(d, np.float32) is d
    check(be.astype(d, np.float64), a.astype(np.float64))
    check(be.astype(be.from_numpy(np.array([0, 2, -1])), np.bool_), np.array([False, True, True]))
    c = be.copy(d)
    assert c is not d
    check(c, a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1, 3), (1, 2, 1)),
                                    ((), (2, 2)), ((2, 1), ())])
def test_binary_broadcasting(name, shapes, dtype):
    be = backend()
    a, b = arrays(shapes[0], 1, dtype), arrays(shapes[1], 2, dtype)
    check(getattr(be, name)(dev(a), dev(b)), getattr(cpu, name)(a, b))


@pytest.mark.parametrize("name", BINARY + ["power"])
def test_binary_with_scalars_keeps_float32(name):
    be = backend()
    a = np.abs(arrays((3, 2), 3, np.float32)) + np.float32(0.5)
    for s in (2.0, np.float32(1.5), 3):
        check(getattr(be, name)(dev(a), s), getattr(cpu, name)(a, s))
        check(getattr(be, name)(s, dev(a)), getattr(cpu, name)(s, a))


@settings(max_examples=10)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
       seed=st.integers(0, 100))
def test_binary_drawn_broadcasts(shapes, seed):
    be = backend()
    a, b = arrays(shapes.input_shapes[0], seed), arrays(shapes.input_shapes[1], seed + 1)
    check(be.mul(dev(a), dev(b)), a * b)
    check(be.sub(dev(b), dev(a)), b - a)


@pytest.mark.parametrize("name", COMPARE)
def test_comparisons(name):
    be = backend()
    a = np.array([[1.0, 2.0, np.nan], [0.0, -1.0, 2.0]], np.float32)
    b = np.array([1.0, 1.0, np.nan], np.float32)
    check(getattr(be, name)(dev(a), dev(b)), getattr(cpu, name)(a, b))
    check(getattr(be, name)(dev(a), np.float32(2)), getattr(cpu, name)(a, np.float32(2)))


def test_comparisons_with_a_host_array_name_both_devices():
    be = backend()
    with pytest.raises(RuntimeError, match="'cuda' and 'cpu'"):
        be.equal(dev(np.zeros(3)), np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, dtype):
    be = backend()
    a = np.concatenate([arrays((7,), 4, dtype) * dtype(3), np.array([0, 40, -40], dtype)])
    check(getattr(be, name)(dev(a)), getattr(cpu, name)(a))


def test_log_sqrt_edges_as_numpy():
    be = backend()
    a = np.array([4.0, 1.0, 0.0, -1.0, np.inf, np.nan], np.float32)
    with np.errstate(all="ignore"):
        check(be.log(dev(a)), np.log(a))
        check(be.sqrt(dev(a)), np.sqrt(a))
    check(be.relu(dev(a)), cpu.relu(a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_in_place_overwrites_its_array_as_the_cpu(dtype):
    be = backend()
    a = np.array([[4.0, -1.0, 0.0], [-np.inf, np.nan, 2.5]], dtype)
    on_device, on_host = dev(a), a.copy()
    assert be.relu_in_place(on_device) is None and cpu.relu_in_place(on_host) is None
    check(on_device, on_host)
    assert np.isnan(on_host[1, 1]) and (on_host[~np.isnan(on_host)] >= 0).all()


def test_nan_propagates_through_maximum_and_relu():
    be = backend()
    a = np.array([np.nan, 1.0, -1.0], np.float32)
    b = np.array([0.0, np.nan, -2.0], np.float32)
    check(be.maximum(dev(a), dev(b)), np.maximum(a, b))
    check(be.minimum(dev(a), dev(b)), np.minimum(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_pairs(dtype):
    be = backend()
    x, g = arrays((3, 4), 5, dtype), arrays((3, 4), 6, dtype)
    check(be.relu_backward(dev(g), dev(x)), cpu.relu_backward(g, x))
    check(be.leaky_relu(dev(x), 0.1), cpu.leaky_relu(x, 0.1))
    check(be.leaky_relu_backward(dev(g), dev(x), 0.1), cpu.leaky_relu_backward(g, x, 0.1))
    check(be.elu(dev(x), 0.7), cpu.elu(x, 0.7))
    check(be.elu_backward(dev(g), dev(x), 0.7), cpu.elu_backward(g, x, 0.7))


def test_clip_and_where():
    be = backend()
    x = arrays((2, 5), 7, np.float32)
    for lo, hi in ((-0.5, 0.5), (None, 0.2), (-0.1, None)):
        check(be.clip(dev(x), lo, hi), cpu.clip(x, lo, hi))
    cond = x > 0
    y = arrays((5,), 8, np.float32)
    check(be.where(dev(cond), dev(x), dev(y)), np.where(cond, x, y))
    check(be.where(dev(cond), dev(x), np.float32(0)), np.where(cond, x, np.float32(0)))
    check(be.where(cond, np.float32(0), dev(x)), np.where(cond, np.float32(0), x))
