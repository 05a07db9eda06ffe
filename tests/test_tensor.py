"""Tensor construction, dtypes, shapes, indexing and reductions against NumPy and torch."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor


def test_dtypes_default_and_kept():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([[1.0, 2.0]]).dtype == np.float32
    assert Tensor(np.zeros(3)).dtype == np.float32          # floating data defaults to float32
    assert Tensor(np.zeros(3), dtype=np.float64).dtype == np.float64
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor(np.array([1, 2], np.int32)).dtype == np.int32
    assert Tensor([True]).dtype == np.bool_


def test_float64_end_to_end_and_no_silent_upcast():
    x = Tensor(np.ones((2, 2)), dtype=np.float64, requires_grad=True)
    y = ((x * 2.5 + 1) / 3).exp().sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64
    f = Tensor(np.ones(2, np.float32))
    assert (f * 0.5).dtype == np.float32 and (2 ** f).dtype == np.float32
    assert (f + np.float64(1.0)).dtype == np.float32
    with pytest.raises(TypeError, match="float32 and float64|float64 and float32"):
        f + Tensor(np.ones(2), dtype=np.float64)


def test_int_joins_float_as_float():
    assert (Tensor([1.0]) * Tensor([2])).dtype == np.float32


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2], requires_grad=True)


def test_shape_ops_match_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor(a)
    np.testing.assert_array_equal(t.reshape(4, -1).numpy(), a.reshape(4, -1))
    np.testing.assert_array_equal(t.view(6, 4).numpy(), a.reshape(6, 4))
    np.testing.assert_array_equal(t.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(t.transpose(0, 2).numpy(), a.transpose(2, 1, 0))
    np.testing.assert_array_equal(t.permute(1, 2, 0).numpy(), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    np.testing.assert_array_equal(t[1].numpy(), a[1])
    np.testing.assert_array_equal(t[:, 1:3].numpy(), a[:, 1:3])
    idx = np.array([1, 0, 1])
    np.testing.assert_array_equal(t[idx].numpy(), a[idx])
    np.testing.assert_array_equal(t[Tensor(idx)].numpy(), a[idx])
    with pytest.raises(ValueError, match=r"cannot reshape tensor of shape \(2, 3, 4\) \(24"):
        t.reshape(5, 5)


def test_reductions_match_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    t, tt = Tensor(a), torch.tensor(a)
    for dim in (None, 0, -1, (0, 2)):
        kw = {} if dim is None else {"dim": dim}
        np.testing.assert_allclose(t.sum(**kw).numpy(), tt.sum(**kw).numpy(), rtol=1e-5)
        np.testing.assert_allclose(t.mean(**kw).numpy(), tt.mean(**kw).numpy(), rtol=1e-5)
        np.testing.assert_allclose(t.var(**kw).numpy(), tt.var(**kw).numpy(), rtol=1e-4)
    np.testing.assert_allclose(t.max(dim=1).values.numpy(), tt.amax(dim=1).numpy())
    np.testing.assert_allclose(t.amax(dim=1).numpy(), tt.amax(dim=1).numpy())
    np.testing.assert_array_equal(t.argmax(dim=2).numpy(), tt.argmax(dim=2).numpy())
    assert t.argmax().item() == tt.argmax().item()


def test_comparisons_are_not_differentiable():
    x = Tensor([1.0, 3.0], requires_grad=True)
    m = x > 2
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.numpy(), [False, True])
    np.testing.assert_array_equal((x == Tensor([1.0, 0.0])).numpy(), [True, False])


def test_constructors_and_seed():
    tc.manual_seed(3)
    a = Tensor.randn(2, 3).numpy()
    tc.manual_seed(3)
    np.testing.assert_array_equal(Tensor.randn(2, 3).numpy(), a)
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.ones((4,)).numpy().sum() == 4
    assert Tensor.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert Tensor.arange(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert 0 <= Tensor.rand(100).numpy().min() and Tensor.rand(100).numpy().max() < 1
    x = Tensor(np.ones((2, 2)), dtype=np.float64)
    assert Tensor.zeros_like(x).dtype == np.float64 and Tensor.ones_like(x).numpy().sum() == 4


def test_cat_stack():
    a, b = Tensor(np.zeros((2, 3))), Tensor(np.ones((2, 3)))
    assert tc.cat([a, b], 0).shape == (4, 3) and tc.cat([a, b], 1).shape == (2, 6)
    assert tc.stack([a, b], 0).shape == (2, 2, 3) and tc.stack([a, b], -1).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="differ outside"):
        tc.cat([a, Tensor(np.ones((3, 2)))], 0)


def test_item_and_repr():
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))


def test_unknown_and_missing_device_errors():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        Tensor([1.0], device="tpu")
