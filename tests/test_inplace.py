"""In-place ops and version counters, against torch's behaviour and its own error cases."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")
from hypothesis import given

import tinygrad_cnn as tc
from strategies import arrays, seeds, small_shapes
from tinygrad_cnn import nn, optim


def pair(a, requires_grad=False):
    """The same float64 values as a tinygrad_cnn tensor and a torch tensor."""
    return (tc.tensor(a, dtype=tc.float64, requires_grad=requires_grad),
            torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))


OPS = {
    "add_": lambda t, o: t.add_(o),
    "add_alpha": lambda t, o: t.add_(o, alpha=-0.5),
    "sub_": lambda t, o: t.sub_(o),
    "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o),
    "clamp_": lambda t, o: t.clamp_(-0.3, 0.4),
    "relu_": lambda t, o: t.relu_(),
    "iadd": lambda t, o: t.__iadd__(o),
    "isub": lambda t, o: t.__isub__(o),
    "imul": lambda t, o: t.__imul__(o),
    "idiv": lambda t, o: t.__itruediv__(o),
    "copy_": lambda t, o: t.copy_(o),
    "fill_": lambda t, o: t.fill_(2.5),
    "zero_": lambda t, o: t.zero_(),
}


@pytest.mark.parametrize("name", sorted(OPS))
@given(shape=small_shapes(max_dims=3), seed=seeds)
def test_inplace_values_identity_and_version_match_torch(name, shape, seed):
    a, b = arrays(shape, seed), arrays(shape[-1:], seed + 1) + 3.0   # b broadcasts, nonzero
    (x, xt), (o, ot) = pair(a), pair(b)
    out, out_t = OPS[name](x, o), OPS[name](xt, ot)
    assert out is x
    np.testing.assert_allclose(x.numpy(), xt.numpy(), rtol=1e-12)
    assert x._version == xt._version == 1


@pytest.mark.parametrize("name", sorted(OPS))
@given(shape=small_shapes(max_dims=3), seed=seeds)
def test_inplace_on_non_leaf_is_differentiable_as_torch(name, shape, seed):
    a, b = arrays(shape, seed), arrays(shape[-1:], seed + 1) + 3.0
    (x, xt), (o, ot) = pair(a, True), pair(b, True)
    w = arrays(shape, seed + 2)
    y, yt = x * 2, xt * 2
    OPS[name](y, o * 1.5)
    OPS[name](yt, ot * 1.5)
    (y * tc.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if ot.grad is None:
        assert o.grad is None or not o.grad.numpy().any()
    else:
        np.testing.assert_allclose(o.grad.numpy(), ot.grad.numpy(), rtol=1e-10, atol=1e-12)


@given(shape=small_shapes(max_dims=3), seed=seeds)
def test_gradcheck_through_a_chain_of_inplace_ops(shape, seed):
    def fn(x, w):
        y = x * 2
        y += w
        y *= x
        y.clamp_(-1.5, 1.5)
        y /= w * w + 1
        y.sub_(x, alpha=0.5)
        return y

    x = tc.tensor(arrays(shape, seed), dtype=tc.float64, requires_grad=True)
    w = tc.tensor(arrays(shape, seed + 1), dtype=tc.float64, requires_grad=True)
    assert tc.gradcheck(fn, [x, w])


def test_old_references_keep_the_old_graph():
    """z = y + 1 taken before y *= 3 must not pick up the factor 3 (the graph keeps nodes)."""
    (x, xt) = pair([1.0, 2.0], True)
    y, yt = x * 2, xt * 2
    z, zt = y + 1, yt + 1
    y *= 3
    yt *= 3
    (z.sum() + y.sum()).backward()
    (zt.sum() + yt.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_leaf_requiring_grad_raises_outside_no_grad_as_torch():
    w = tc.ones(3, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.normal_()):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation"):
            op()
    with pytest.raises(RuntimeError, match="a leaf Variable"):
        w += 1
    with tc.no_grad():
        w += 1
    np.testing.assert_array_equal(w.numpy(), [2, 2, 2])
    assert w.requires_grad and w.is_leaf and w._version == 1


def test_modified_saved_tensor_raises_naming_the_op():
    w = tc.ones(3, requires_grad=True)
    loss = (w * w).sum()
    with tc.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: .*shape \[3\].* "
                                           r"is at version 1; expected version 0 instead"):
        loss.backward()


def test_modified_op_output_names_its_backward():
    x = tc.ones(3, requires_grad=True)
    y = x.exp()
    y.add_(1)   # Exp saved its output
    with pytest.raises(RuntimeError, match="which is output 0 of ExpBackward, is at version 1; "
                                           "expected version 0"):
        y.sum().backward()


def test_relu_inplace_output_changed_again_raises_as_torch():
    """relu_ saves its output, the tensor's own storage: a second in-place change before
    backward raises, in torch as here; a change of another tensor does not."""
    x, xt = pair(np.array([-1.0, 2.0, 3.0]), True)
    y, yt = x * 1, xt * 1
    y.relu_()
    yt.relu_()
    y.mul_(2)
    yt.mul_(2)
    with pytest.raises(RuntimeError, match="output 0 of Relu.*, is at version 2; "
                                           "expected version 1"):
        yt.sum().backward()
    with pytest.raises(RuntimeError, match="output 0 of ReLUInPlaceBackward, is at version 2; "
                                           "expected version 1"):
        y.sum().backward()
    y, yt = x + 0, xt + 0                                 # Add saves nothing
    z, zt = y.relu_() * 3, yt.relu_() * 3
    x.grad, xt.grad = None, None
    with tc.no_grad():
        x.add_(1)                                          # the leaf, not the saved output
    with torch.no_grad():
        xt.add_(1)
    z.sum().backward()
    zt.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), [0, 3, 3])


def test_unsaved_tensor_may_change_as_in_torch():
    x = tc.ones(3, requires_grad=True)
    y = x + 1
    with tc.no_grad():
        x.add_(1)
    y.sum().backward()   # Add saved nothing: torch does not raise either
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1])


def test_optimizer_step_between_forward_and_backward_raises_like_torch():
    w = nn.Parameter(tc.ones(3))
    opt = optim.SGD([w], lr=0.1)
    w.grad = tc.ones(3)
    loss = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    w2 = nn.Parameter(tc.ones(3))
    adam = optim.Adam([w2])
    w2.grad = tc.ones(3)
    loss2 = (w2 * w2).sum()
    adam.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss2.backward()


def test_manual_sgd_loop_matches_torch():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    W0 = rng.standard_normal((2, 4))
    ours, ref = nn.Linear(4, 2).double(), torch.nn.Linear(4, 2).double()
    with tc.no_grad():
        ours.weight.copy_(tc.tensor(W0))
        ours.bias.zero_()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(W0))
        ref.bias.zero_()
    for _ in range(3):
        for model, lib in ((ours, tc), (ref, torch)):
            loss = ((model(lib.tensor(X)) - lib.tensor(Y)) ** 2).mean()
            for p in model.parameters():
                p.grad = None
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
    np.testing.assert_allclose(ours.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(ours.bias.detach().numpy(), ref.bias.detach().numpy(), rtol=1e-10)


def test_tensor_copies_user_arrays_and_from_numpy_shares():
    a = np.ones(3, np.float32)
    p = nn.Parameter(tc.Tensor(a))
    p.grad = tc.ones(3)
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(a, [1, 1, 1])   # the user's array is untouched
    t = tc.tensor(a)
    t += 1
    np.testing.assert_array_equal(a, [1, 1, 1])
    shared = tc.from_numpy(a)
    shared += 1
    np.testing.assert_array_equal(a, [2, 2, 2])   # from_numpy shares, as torch


def test_data_shares_storage_outside_the_graph_and_version():
    w = tc.ones(3, requires_grad=True)
    d = w.data
    assert not d.requires_grad and d.is_leaf
    d.add_(1)   # allowed on a leaf's .data, not tracked (torch: w._version stays 0)
    np.testing.assert_array_equal(w.detach().numpy(), [2, 2, 2])
    assert w._version == 0
    det = w.detach()
    det.mul_(2)   # detach() shares the version counter, as torch
    assert w._version == 1
    np.testing.assert_array_equal(w.detach().numpy(), [4, 4, 4])
    w.data = tc.zeros(2)
    assert w.shape == (2,)
    with pytest.raises(TypeError, match="must be set to a Tensor"):
        w.data = np.zeros(2)


def test_views_share_storage_and_version():
    x = tc.zeros(2, 3)
    v = x.view(6)
    v.add_(1)
    x[0].fill_(5)
    x.t()[2].mul_(2)
    xt = torch.zeros(2, 3)
    xt.view(6).add_(1)
    xt[0].fill_(5)
    xt.t()[2].mul_(2)
    np.testing.assert_array_equal(x.numpy(), xt.numpy())
    assert x._version == v._version == 3


def test_view_errors_mirror_torch():
    w = tc.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is "
                                           "being used in an in-place operation"):
        w.view(6).add_(1)
    y = w * 2
    with pytest.raises(RuntimeError, match="view .* not supported"):
        y[0].add_(1)
    e = tc.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e.add_(1)


def test_dtype_and_shape_errors_mirror_torch():
    a = tc.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        a += 1.5
    a += 2   # int stays int
    np.testing.assert_array_equal(a.numpy(), [3, 4])
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        tc.ones(3).add_(tc.ones(2, 3))
    f = tc.ones(2)
    f += tc.ones(2, dtype=tc.float64)   # an in-place op keeps self's dtype, as torch
    assert f.dtype == tc.float32


def test_accumulating_into_a_plain_tensor_joins_the_graph():
    (w, wt) = pair([1.0, 2.0], True)
    acc, acct = tc.zeros(2, dtype=tc.float64), torch.zeros(2, dtype=torch.float64)
    acc += w * w
    acct += wt * wt
    assert acc.requires_grad and not acc.is_leaf
    acc.sum().backward()
    acct.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy())


def test_random_fills_are_seeded_and_in_range():
    t = tc.empty(2000)
    tc.manual_seed(3)
    t.uniform_(-2, 3)
    first = t.numpy().copy()
    tc.manual_seed(3)
    t.uniform_(-2, 3)
    np.testing.assert_array_equal(first, t.numpy())
    assert first.min() >= -2 and first.max() < 3 and t._version == 2
    t.normal_(1.0, 0.5)
    assert abs(t.numpy().mean() - 1.0) < 0.1 and abs(t.numpy().std() - 0.5) < 0.05
    assert t.dtype == tc.float32


def test_init_through_data_as_in_torch_scripts():
    conv = nn.Conv2d(1, 2, 3)
    conv.weight.data.normal_(0.0, 0.02)
    conv.bias.data.fill_(0)
    assert conv.bias.numpy().sum() == 0 and abs(conv.weight.numpy().std() - 0.02) < 0.02


def test_inplace_on_zero_dim_reduction_results():
    s = tc.ones(3).sum()
    s += 1
    assert s.item() == 4 and s._version == 1
    (w, wt) = pair([1.0, 2.0], True)
    loss, loss_t = (w * w).sum(), (wt * wt).sum()
    loss *= 3
    loss_t *= 3
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy())


def test_setitem_outside_the_graph_matches_torch():
    a = arrays((3, 4), 0)
    (x, xt) = pair(a)
    for lib, t in ((tc, x), (torch, xt)):
        t[t < 0] = 0
        t[0] = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.dtype)
        t[:, 1] = -1.5
        t[1:, 2:] = lib.ones(2, 2, dtype=t.dtype) * 7
        t[[0, 2], 3] = 9
    np.testing.assert_array_equal(x.numpy(), xt.numpy())
    assert x._version == 5
    w = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="tc.no_grad"):
        w[0] = 3
    with tc.no_grad():
        w[0] = 3
    assert w.tolist() == [3.0, 1.0]
    loss = (w * w).sum()
    with tc.no_grad():
        w[1] = 0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_detached_views_write_through_and_drop_the_graph():
    x = tc.ones(2, 3, requires_grad=True)
    y = x * 2
    d = y.t().detach()
    assert d._base is not None and d._base._ctx is None   # the graph is not kept alive
    d.add_(1)                                             # writes through to y, as torch
    np.testing.assert_array_equal(y.detach().numpy(), np.full((2, 3), 3.0))
    assert y._version == 1


def test_a_view_taken_before_its_base_changed_in_place_refuses_to_be_used():
    """torch rebases such a view; here it raises instead of sending gradients through the
    old values (the same arithmetic with the views taken after the in-place op matches torch)."""
    x = tc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 2
    v, r = y[0], y.reshape(6)
    y.mul_(3)
    with pytest.raises(RuntimeError, match="changed in place after the view was taken"):
        v.sum()
    y = x * 2
    y.mul_(3)
    v, r = y[0], y.reshape(6)
    (v.sum() + (r * r).sum()).backward()
    xt = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    yt = xt * 2
    vt, rt = yt[0], yt.reshape(6)
    yt.mul_(3)
    (vt.sum() + (rt * rt).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_inplace_relu_saves_its_input_in_the_inputs_layout():
    """relu_ inside a graph writes over the tensor's storage and saves that storage (its
    output) for backward, no copy: in the input's own memory layout (a channels-last
    activation stays channels-last), so the gradient the ReLU hands back needs no layout
    change downstream (batch norm's backward converted one, twice)."""
    rng = np.random.default_rng(0)
    xn = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)           # NHWC values
    x = tc.tensor(xn, requires_grad=True)
    y = x.permute(0, 3, 1, 2) * 2                                   # channels-last strides
    assert not y._array.flags.c_contiguous
    y.relu_()
    saved = y._ctx.ctx.saved[0]
    assert saved is y._array
    g = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    y.backward(tc.tensor(g))
    want = np.where(xn.transpose(0, 3, 1, 2) > 0, 2 * g, 0).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)
