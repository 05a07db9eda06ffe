"""Tensor methods with torch's semantics: named-tuple reductions, sort/topk, conversions,
Python protocols and shape helpers; forward and gradients against torch, float64 gradchecks."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
from strategies import arrays, seeds, small_shapes, tie_free


def pair(a, requires_grad=False):
    return (tc.tensor(a, dtype=tc.float64, requires_grad=requires_grad),
            torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))


def grads_match(fn, a, seed):
    """fn's values and input gradient (for random output weights) equal torch's."""
    (x, xt) = pair(a, True)
    out, ref = fn(x), fn(xt)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    w = arrays(tuple(ref.shape), seed)
    (out * tc.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


INDEXED = {
    "max_dim": lambda x, d: x.max(d),
    "max_keepdim": lambda x, d: x.max(dim=d, keepdim=True),
    "min_dim": lambda x, d: x.min(d),
    "sort": lambda x, d: x.sort(d),
    "sort_desc": lambda x, d: x.sort(dim=d, descending=True),
    "topk": lambda x, d: x.topk(1, d),
    "topk_smallest": lambda x, d: x.topk(1, dim=d, largest=False),
}


@pytest.mark.parametrize("name", sorted(INDEXED))
@given(shape=small_shapes(max_dims=3), seed=seeds, data=st.data())
def test_values_and_indices_match_torch(name, shape, seed, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = tie_free(shape, seed)
    values, indices = INDEXED[name](tc.tensor(a), d)
    ref = INDEXED[name](torch.tensor(a), d)
    np.testing.assert_array_equal(values.numpy(), ref.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    assert indices.dtype == tc.int64
    out = INDEXED[name](tc.tensor(a), d)
    assert out.values is out[0] and out.indices is out[1]
    grads_match(lambda x: INDEXED[name](x, d).values, a, seed + 1)
    x = tc.tensor(a, requires_grad=True)
    assert tc.gradcheck(lambda t: INDEXED[name](t, d).values, [x])


def test_max_without_dim_is_one_tensor_and_unpacking_is_safe():
    x = tc.tensor([[1.0, 5.0], [7.0, 2.0]])
    m = x.max()
    assert isinstance(m, tc.Tensor) and m.item() == 7.0
    _, predicted = x.max(1)   # the CIFAR tutorial's line, with a batch of 2
    np.testing.assert_array_equal(predicted.numpy(), [1, 0])
    values, _ = tc.max(x, 1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    with pytest.raises(TypeError, match="use .values or .indices"):
        x.max(1) - x.mean(1)   # torch raises too: a tuple is not a tensor


def test_topk_k_and_sort_stability_nan():
    x = tc.tensor([3.0, 1.0, 3.0, float("nan"), 2.0])
    xt = torch.tensor([3.0, 1.0, 3.0, float("nan"), 2.0])
    for desc in (False, True):
        ours, ref = x.sort(descending=desc, stable=True), xt.sort(descending=desc, stable=True)
        np.testing.assert_array_equal(ours.indices.numpy(), ref.indices.numpy())
    np.testing.assert_array_equal(tc.tensor([[4.0, 9, 1, 7]]).topk(3).indices.numpy(), [[1, 3, 0]])
    with pytest.raises(RuntimeError, match="k \\(5\\) out of range"):
        tc.ones(4).topk(5)


@pytest.mark.parametrize("name,fn", [
    ("std", lambda x: x.std()),
    ("std_dim", lambda x: x.std(dim=-1, keepdim=True)),
    ("std_biased", lambda x: x.std(0, unbiased=False)),
    ("var_correction", lambda x: x.var(0, correction=0)),
    ("repeat", lambda x: x.repeat(2, 1, 3)),
    ("repeat_same_dims", lambda x: x.repeat(*([2] * x.ndim))),
    ("clone", lambda x: x.clone() * 2),
    ("expand", lambda x: x[..., :1].expand(*x.shape[:-1], 3)),
    ("expand_minus_one", lambda x: x.unsqueeze(0).expand(2, *([-1] * x.ndim))),
    ("expand_as", lambda x: x[..., :1].expand_as(x)),
    ("to_float32_and_back", lambda x: x.float().double() * 3),
    ("t", lambda x: x.reshape(x.shape[0], -1).t()),
    ("view_as", lambda x: x.reshape(-1).view_as(x)),
    ("reshape_as", lambda x: x.reshape(-1).reshape_as(x)),
    ("contiguous", lambda x: x.T.contiguous()),
    ("amax", lambda x: x.amax(0)),
])
@given(shape=small_shapes(max_dims=3), seed=seeds)
def test_differentiable_methods_match_torch(name, fn, shape, seed):
    if name.startswith("std") or name.startswith("var"):
        shape = tuple(n + 1 for n in shape)   # at least two values along every dim
    a = tie_free(shape, seed)
    grads_match(fn, a, seed + 1)
    if name != "to_float32_and_back":   # float32 rounding is too coarse for differences
        x = tc.tensor(a, requires_grad=True)
        assert tc.gradcheck(fn, [x])


def test_python_protocols():
    one = tc.tensor([[2.5]])
    assert float(one) == 2.5 and int(one) == 2 and bool(one)
    assert f"{one:.2f}" == "2.50" and f"{tc.tensor(3.14159):.3f}" == "3.142"
    assert "Tensor" in f"{tc.ones(2)}"
    with pytest.raises(TypeError, match="format"):
        f"{tc.ones(2):.2f}"
    assert [10, 20, 30][tc.tensor(1)] == 20 and range(5)[tc.tensor([2])] == 2
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][tc.tensor(1.0)]
    with pytest.raises(RuntimeError, match="cannot be converted"):
        float(tc.ones(2))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tc.ones(2))
    x = tc.tensor([[1, 2], [3, 4]])
    assert len(x) == 2 and x.tolist() == [[1, 2], [3, 4]]
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3, 4]
    with pytest.raises(TypeError, match="0-d"):
        iter(tc.tensor(1.0))
    arr = np.asarray(tc.tensor([1.5, 2.5]))
    assert arr.dtype == np.float32 and arr.tolist() == [1.5, 2.5]
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_conversions():
    x = tc.tensor([1.7, -2.2])
    assert x.double().dtype == tc.float64 and x.half().dtype == tc.float16
    assert x.long().dtype == tc.int64 and x.long().tolist() == [1, -2]
    assert x.int().dtype == tc.int32 and x.bool().dtype == tc.bool
    assert x.to(tc.float64).dtype == tc.float64 and x.to(np.float64).dtype == tc.float64
    assert x.to("cpu") is x and x.to("cpu", tc.float32) is x
    assert x.to("cpu", tc.float64, non_blocking=True).dtype == tc.float64
    assert x.to(tc.ones(1, dtype=tc.int64)).dtype == tc.int64
    assert x.to(device="cpu", dtype=tc.int32).dtype == tc.int32
    assert x.to(tc.float32, copy=True) is not x
    assert x.type() == "tinygrad_cnn.FloatTensor" and x.type(tc.int64).dtype == tc.int64
    assert x.float() is x and x.is_floating_point() and not x.long().is_floating_point()
    with pytest.raises(TypeError, match="unexpected argument"):
        x.to([1])


def test_shape_helpers_and_comparisons():
    x = tc.arange(6).reshape(2, 3)
    xt = torch.arange(6).reshape(2, 3)
    assert x.dim() == 2 and x.size(1) == 3 and x.size(-1) == 3 and x.size() == (2, 3)
    assert x.numel() == 6
    assert x.unsqueeze(0).squeeze(0).shape == (2, 3) and x.squeeze().shape == (2, 3)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(x, name)(2).numpy(), getattr(xt, name)(2).numpy())
    np.testing.assert_array_equal(x.repeat(2, 2).numpy(), xt.repeat(2, 2).numpy())
    c = x.clone()
    c.add_(1)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(RuntimeError, match="<= 2 dimensions"):
        tc.ones(1, 1, 1).t()
    with pytest.raises(RuntimeError, match="repeat dims"):
        x.repeat(2)


def test_new_factories_and_masked_fill_match_torch():
    a = tie_free((2, 3), 0)
    (x, xt) = (tc.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))
    for fn in (lambda t: t.new_zeros(2, 2), lambda t: t.new_ones((3,)),
               lambda t: t.new_full((2,), 4.0), lambda t: t.new_tensor([1.0, 2.0]),
               lambda t: t.new_zeros(2, dtype=t.new_tensor([1]).dtype)):
        ours, ref = fn(x.detach()), fn(xt.detach())
        assert ours.shape == tuple(ref.shape) and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    assert x.new_empty(4).shape == (4,) and x.new_zeros(1).dtype == tc.float64
    ours, ref = x.masked_fill(x > 0, -1.0), xt.masked_fill(xt > 0, -1.0)
    np.testing.assert_array_equal(ours.detach().numpy(), ref.detach().numpy())
    ours.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
