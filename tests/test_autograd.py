"""The engine in micrograd's spirit: reuse, diamonds, accumulation, no_grad, detach."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor


def test_micrograd_sanity_matches_torch():
    torch = pytest.importorskip("torch")
    x = Tensor(-4.0, requires_grad=True, dtype=np.float64)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xt = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
    zt = 2 * xt + 2 + xt
    qt = zt.relu() + zt * xt
    ht = (zt * zt).relu()
    yt = ht + qt + qt * xt
    yt.backward()
    assert y.item() == pytest.approx(yt.item())
    assert x.grad.item() == pytest.approx(xt.grad.item())


def test_more_ops_match_torch():
    torch = pytest.importorskip("torch")
    a = Tensor(-4.0, requires_grad=True, dtype=np.float64)
    b = Tensor(2.0, requires_grad=True, dtype=np.float64)
    at = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)

    def run(a, b):
        c = a + b
        d = a * b + b ** 3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e ** 2
        g = f / 2.0
        g = g + 10.0 / f
        return g

    g, gt = run(a, b), run(at, bt)
    g.backward()
    gt.backward()
    assert g.item() == pytest.approx(gt.item(), rel=1e-12)
    assert a.grad.item() == pytest.approx(at.grad.item(), rel=1e-12)
    assert b.grad.item() == pytest.approx(bt.grad.item(), rel=1e-12)


def test_diamond_and_reuse():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b = x * 2, x * 3          # two paths from x
    y = (a * b).sum()            # y = 6 x^2, dy/dx = 12 x
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [12, 24, 36])


def test_tensor_used_twice_in_one_op():
    x = Tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])


def test_second_backward_through_freed_graph_raises():
    x = Tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = Tensor([1.5], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])


def test_broadcast_gradients_reduce_to_input_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((3,)), requires_grad=True)
    c = Tensor(np.ones((2, 1)), requires_grad=True)
    ((x + b) * c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (2, 1)
    np.testing.assert_allclose(b.grad.numpy(), [2, 2, 2])
    np.testing.assert_allclose(c.grad.numpy(), [[6], [6]])


def test_constants_in_graph_get_no_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    k = Tensor([5.0, 7.0])
    (x * k).sum().backward()
    assert k.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5, 7])


def test_no_grad_context_and_decorator():
    x = Tensor([1.0], requires_grad=True)
    with tc.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf

    @tc.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert (x * 2).requires_grad  # recording is back on
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_detach_cuts_the_graph():
    x = Tensor([2.0], requires_grad=True)
    y = x * x
    z = y.detach() * x          # d/dx = y (treated as constant) = 4
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])
    assert y.detach().numpy() is not None and not y.detach().requires_grad


def test_non_scalar_backward_needs_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(Tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])


def test_deep_chain_has_no_recursion_limit():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_leaf_and_nonleaf():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    y.sum().backward()
    assert y.grad is None  # non-leaf grads are not retained, as in torch


def test_accumulated_grads_are_not_aliased():
    """z = x + y hands both inputs the same gradient array; each leaf must own its copy."""
    x, y = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    (x + y).sum().backward()
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])
    np.testing.assert_allclose(y.grad.numpy(), [1.0])


def test_the_graph_frees_activations_no_backward_needs():
    """As in PyTorch, the graph keeps only what forward saved and the leaves it accumulates
    into: an intermediate that no backward reads (the input of a sum, of a max pool) is freed
    once the user drops it, and the gradient still reaches the leaf."""
    import gc
    import weakref
    x = tc.tensor(np.arange(32.0).reshape(2, 1, 4, 4), requires_grad=True)
    h = x * 2.0                                           # saves nothing of x: a constant factor
    pooled = tc.nn.functional.max_pool2d(h, 2)            # saves its argmax, not h
    kept = weakref.ref(h._array)
    del h
    gc.collect()
    assert kept() is None
    pooled.sum().backward()
    expect = np.zeros((2, 1, 4, 4))
    expect[:, :, 1::2, 1::2] = 2.0                        # each window's max is its last tap
    np.testing.assert_array_equal(x.grad.numpy(), expect)
