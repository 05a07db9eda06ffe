"""Inference's fused conv (nn/fusion.py): Conv2d -> eval BatchNorm2d -> ReLU as one conv where
nothing needs a gradient, against the same modules run one by one and against torch, through
each CPU conv route; and the cases that must not fuse, which run the modules unchanged."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import pool_configs, tie_free

import tinygrad_cnn as tc
from conv_paths import conv_path
from tinygrad_cnn import nn
from tinygrad_cnn.ops.batchnorm import BatchNorm
from tinygrad_cnn.ops.elementwise import ReLU
from tinygrad_cnn.ops.pool import MaxPool2d as MaxPool2dOp
from tinygrad_cnn.nn.fusion import bn_relu, conv_bn_relu

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _block(C, O, k, stride, pad, bias, bn, affine, relu, dtype, seed):
    """(tinygrad_cnn Sequential, torch Sequential): the same weights and BN statistics."""
    rng = np.random.default_rng(seed)
    ours = [nn.Conv2d(C, O, k, stride, pad, bias=bias, dtype=dtype)]
    theirs = [torch.nn.Conv2d(C, O, k, stride, pad, bias=bias, dtype=torch.float64)]
    if bn:
        ours.append(nn.BatchNorm2d(O, affine=affine, dtype=dtype))
        theirs.append(torch.nn.BatchNorm2d(O, affine=affine, dtype=torch.float64))
    if relu:
        ours.append(nn.ReLU())
        theirs.append(torch.nn.ReLU())
    ours, theirs = nn.Sequential(*ours), torch.nn.Sequential(*theirs)
    state = {name: rng.normal(size=v.shape) for name, v in theirs.state_dict().items()
             if v.dtype == torch.float64}
    if bn:
        state["1.running_var"] = rng.uniform(0.3, 3.0, O)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    ours.load_state_dict({k: tc.tensor(v.astype(dtype)) for k, v in state.items()},
                         strict=False)
    return ours.eval(), theirs.eval()


def _unfused(module, x):
    """The module's output with the modules run one by one: grad on and the parameters
    requiring it keep the fusion out."""
    return module(x).detach().numpy()


@pytest.mark.parametrize("path", ["vector-tiles", "image-tiles", "gemm-nhwc", "gemm", "fused",
                                  "winograd"])
@settings(max_examples=12, deadline=None)
@given(C=st.integers(1, 6), O=st.sampled_from([3, 12, 16, 32]), k=st.integers(1, 3),
       stride=st.integers(1, 2), pad=st.integers(0, 1), bias=st.booleans(), bn=st.booleans(),
       affine=st.booleans(), relu=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_fused_conv_matches_the_modules_and_torch(path, C, O, k, stride, pad, bias, bn, affine,
                                                  relu, dtype, seed):
    ours, theirs = _block(C, O, k, stride, pad, bias, bn, affine, relu, dtype, seed)
    x = np.random.default_rng(seed + 1).normal(size=(3, C, 9, 9))
    xt = tc.tensor(x.astype(dtype))
    with conv_path(path):
        want = _unfused(ours, xt)
        with tc.no_grad():
            got = ours(xt).numpy()
    with torch.no_grad():
        ref = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_allclose(got, ref, **TOL[dtype])
    if relu:
        assert (got >= 0).all()


def _counting(monkeypatch):
    """Counts of the BatchNorm and ReLU ops applied (the fused conv applies neither)."""
    counts = {"BatchNorm": 0, "ReLU": 0}
    for name, op in (("BatchNorm", BatchNorm), ("ReLU", ReLU)):
        original = op.apply.__func__

        def apply(cls, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(cls, *args, **kwargs)
        monkeypatch.setattr(op, "apply", classmethod(apply))
    return counts


def test_inference_folds_the_conv_and_otherwise_bn_and_relu_are_one_op(monkeypatch):
    """Inference folds the batch norm into the conv (no BatchNorm op, the ReLU in the conv);
    where a gradient is recorded or the batch norm trains, the conv runs alone and the batch
    norm and its ReLU are one BatchNorm op (no ReLU op)."""
    ours, _ = _block(4, 16, 3, 1, 1, True, True, True, True, np.float32, 0)
    counts = _counting(monkeypatch)
    x = tc.tensor(np.random.default_rng(0).normal(size=(2, 4, 8, 8)).astype(np.float32))
    with tc.no_grad():
        ours(x)
    assert counts == {"BatchNorm": 0, "ReLU": 0}
    ours(x)                                        # grad on, parameters requiring grad
    assert counts == {"BatchNorm": 1, "ReLU": 0}
    for p in ours.parameters():
        p.requires_grad_(False)
    ours(x)                                        # grad on, but nothing requires it
    assert counts == {"BatchNorm": 1, "ReLU": 0}
    ours.train()
    before = ours[1].running_mean.numpy().copy()
    with tc.no_grad():
        ours(x)                                    # training BN: batch statistics, updated
    assert counts == {"BatchNorm": 2, "ReLU": 0}
    assert not np.array_equal(ours[1].running_mean.numpy(), before)


def test_hooks_and_subclasses_keep_the_modules(monkeypatch):
    ours, _ = _block(4, 16, 3, 1, 1, True, True, True, True, np.float32, 1)
    counts = _counting(monkeypatch)
    x = tc.tensor(np.random.default_rng(1).normal(size=(2, 4, 8, 8)).astype(np.float32))
    seen = []
    handle = ours[2].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    with tc.no_grad():
        ours(x)
    assert seen == [(2, 16, 8, 8)] and counts["ReLU"] == 1 and counts["BatchNorm"] == 0
    handle.remove()
    handle = ours[1].register_forward_hook(lambda m, args, out: seen.append("bn"))
    with tc.no_grad():
        ours(x)
    assert seen[-1] == "bn" and counts["BatchNorm"] == 1
    handle.remove()

    class Doubled(nn.Conv2d):
        def forward(self, x):
            return super().forward(x) * 2
    doubled = Doubled(4, 16, 3, padding=1)
    doubled.load_state_dict(ours[0].state_dict())
    with tc.no_grad():
        got = nn.Sequential(doubled, nn.ReLU())(x).numpy()
        want = nn.Sequential(ours[0], nn.ReLU())(x).numpy()
    np.testing.assert_allclose(got, 2 * want, rtol=1e-6)


def test_conv_bn_relu_in_a_custom_forward_takes_a_relu_module_or_flag():
    ours, theirs = _block(3, 16, 3, 1, 1, False, True, True, False, np.float64, 2)
    x = np.random.default_rng(2).normal(size=(2, 3, 7, 7))
    with torch.no_grad():
        ref = torch.relu(theirs(torch.tensor(x))).numpy()
    with tc.no_grad():
        for relu in (True, nn.ReLU()):
            got = conv_bn_relu(tc.tensor(x), ours[0], ours[1], relu).numpy()
            np.testing.assert_allclose(got, ref, **TOL[np.float64])
        plain = conv_bn_relu(tc.tensor(x), ours[0], ours[1]).numpy()
    np.testing.assert_allclose(np.maximum(plain, 0), ref, **TOL[np.float64])
    assert (plain < 0).any()


def test_fused_relu_keeps_nan_as_the_relu_does():
    conv = nn.Conv2d(1, 16, 1, bias=False)
    conv.weight.data = tc.tensor(np.ones((16, 1, 1, 1), np.float32))
    x = np.full((1, 1, 4, 4), -1.0, np.float32)
    x[0, 0, 1, 2] = np.nan
    with tc.no_grad():
        got = nn.Sequential(conv, nn.ReLU())(tc.tensor(x)).numpy()
    assert np.isnan(got[0, :, 1, 2]).all()
    assert (np.delete(got.reshape(16, 16), 6, axis=1) == 0).all()


def test_a_fused_relu_conv_refuses_a_gradient():
    x = tc.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    w = tc.tensor(np.ones((16, 1, 3, 3), np.float32))
    with pytest.raises(RuntimeError, match="ReLU or max pool fused has no backward"):
        nn.functional.conv2d_then_relu(x, w, relu=True)
    with pytest.raises(RuntimeError, match="ReLU or max pool fused has no backward"):
        nn.functional.conv2d_then_relu(x, w, relu=False, max_pool=True)


def test_export_traces_the_modules_unfused():
    """ONNX export traces under no_grad in eval mode: the graph still has the batch norm and
    the ReLU (tracing turns the fusion off)."""
    from tinygrad_cnn.onnx.export import build_graph
    ours, _ = _block(2, 16, 3, 1, 1, True, True, True, True, np.float32, 3)
    proto = build_graph(ours, tc.tensor(np.ones((1, 2, 6, 6), np.float32)))
    kinds = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in kinds and "Relu" in kinds and "Conv" in kinds


def test_what_the_modules_refuse_is_refused_fused():
    """A batch norm of the wrong width, an unbatched input or mixed dtypes: under no_grad
    the same error as with the modules one by one, not a broadcast or a quiet result."""
    x = tc.tensor(np.ones((2, 3, 6, 6), np.float32))
    wrong = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(32)).eval()
    with pytest.raises(ValueError, match="BatchNorm2d expected 32 channels, got 16"):
        with tc.no_grad():
            wrong(x)
    block = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16)).eval()
    with pytest.raises(ValueError, match="BatchNorm2d expects 4-D"):
        with tc.no_grad():
            block(tc.tensor(np.ones((3, 6, 6), np.float32)))
    mixed = nn.Sequential(nn.Conv2d(3, 16, 3, dtype=np.float64), nn.BatchNorm2d(16)).eval()
    with pytest.raises(TypeError):
        with tc.no_grad():
            mixed(tc.tensor(np.ones((2, 3, 6, 6))))


def _eval_bn(C, affine, dtype, seed):
    """An eval-mode BatchNorm2d and torch's, with the same random statistics and affine."""
    rng = np.random.default_rng(seed)
    ours = nn.BatchNorm2d(C, affine=affine, dtype=dtype).eval()
    theirs = torch.nn.BatchNorm2d(C, affine=affine, dtype=torch.float64).eval()
    state = {"running_mean": rng.normal(size=C), "running_var": rng.uniform(0.2, 3, size=C)}
    if affine:
        state.update(weight=rng.normal(size=C), bias=rng.normal(size=C))
    for name, value in state.items():
        getattr(ours, name).data = tc.tensor(value.astype(dtype))
        getattr(theirs, name).data = torch.tensor(value)
    return ours, theirs


@settings(deadline=None, max_examples=20)
@given(N=st.integers(1, 3), C=st.integers(1, 20), H=st.integers(1, 9), affine=st.booleans(),
       channels_last=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_bn_relu_gives_the_modules_values_exactly_and_torchs(N, C, H, affine, channels_last,
                                                             dtype, seed):
    ours, theirs = _eval_bn(C, affine, dtype, seed)
    x = np.random.default_rng(seed + 1).normal(size=(N, C, H, H)).astype(dtype)
    x.flat[::7] = np.nan
    xt = tc.tensor(x)
    if channels_last:
        xt = tc.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    with tc.no_grad():
        fused = nn.Sequential(ours, nn.ReLU())(xt).numpy()
        alone = nn.functional.relu(ours(xt)).numpy()
        flag = bn_relu(xt, ours).numpy()
    np.testing.assert_array_equal(fused, alone)             # NaN where the modules have it
    np.testing.assert_array_equal(flag, alone)
    with torch.no_grad():
        ref = torch.relu(theirs(torch.tensor(x, dtype=torch.float64))).numpy()
    np.testing.assert_allclose(fused, ref, **TOL[dtype])


def test_bn_relu_is_one_op_unless_a_hook_needs_the_modules(monkeypatch):
    bn, _ = _eval_bn(8, True, np.float32, 5)
    block = nn.Sequential(bn, nn.ReLU())
    counts = _counting(monkeypatch)
    x = tc.tensor(np.random.default_rng(5).normal(size=(2, 8, 5, 5)).astype(np.float32))
    with tc.no_grad():
        block(x)
    assert counts == {"BatchNorm": 1, "ReLU": 0}            # one op: the batch norm's pass
    block(x)                                                # grad on, parameters requiring it
    assert counts == {"BatchNorm": 2, "ReLU": 0}
    handle = block[1].register_forward_hook(lambda m, args, out: None)
    with tc.no_grad():
        block(x)
    assert counts == {"BatchNorm": 3, "ReLU": 1}            # a hooked ReLU runs itself
    handle.remove()
    block.train()
    with tc.no_grad():
        block(x)                                            # training: batch statistics
    assert counts == {"BatchNorm": 4, "ReLU": 1}
    block.eval()
    with pytest.raises(ValueError, match="BatchNorm2d expected 8 channels, got 3"):
        with tc.no_grad():
            block(tc.tensor(np.ones((2, 3, 5, 5), np.float32)))


def _bn_pair(C, affine, dtype, seed, training):
    """A BatchNorm2d (training or eval mode) and torch's, the same random statistics and
    affine; float64 on torch's side."""
    ours, theirs = _eval_bn(C, affine, dtype, seed)
    return ours.train(training), theirs.train(training)


@settings(deadline=None, max_examples=30)
@given(N=st.integers(1, 3), C=st.integers(1, 20), H=st.integers(1, 7), affine=st.booleans(),
       channels_last=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       training=st.booleans(), seed=st.integers(0, 2**16))
def test_bn_relu_with_gradients_gives_the_modules_and_torchs(N, C, H, affine, channels_last,
                                                             dtype, training, seed):
    """Where gradients are recorded, bn_relu (one BatchNorm op, the ReLU's mask taken in its
    backward passes) against the two modules one by one (F.relu after the batch norm) and
    against torch in float64: output, input and parameter gradients and the running
    statistics, in training (batch statistics) and eval mode, in both memory layouts."""
    if training and N * H * H < 2:
        training = False                                    # one value per channel: no stats
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(N, C, H, H)).astype(dtype)
    gy = rng.normal(size=(N, C, H, H)).astype(dtype)
    results = []
    for fused in (True, False):
        ours, _ = _bn_pair(C, affine, dtype, seed, training)
        xt = tc.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2) \
            if channels_last else tc.tensor(x)
        xt.requires_grad_(True)
        y = bn_relu(xt, ours) if fused else nn.functional.relu(ours(xt))
        y.backward(tc.tensor(gy))
        grads = [xt.grad.numpy()] + [p.grad.numpy() for p in ours.parameters()]
        results.append((y.detach().numpy(), grads, ours.running_mean.numpy(),
                        ours.running_var.numpy()))
    (y, grads, rm, rv), (y_alone, grads_alone, rm_alone, rv_alone) = results
    np.testing.assert_array_equal(y, y_alone)               # the same values, bit for bit
    np.testing.assert_array_equal(rm, rm_alone)
    np.testing.assert_array_equal(rv, rv_alone)
    for g, g_alone in zip(grads, grads_alone):
        np.testing.assert_allclose(g, g_alone, **TOL[dtype])
    _, theirs = _bn_pair(C, affine, dtype, seed, training)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = torch.relu(theirs(xt))
    yt.backward(torch.tensor(gy, dtype=torch.float64))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype])
    want = [xt.grad.numpy()] + [p.grad.numpy() for p in theirs.parameters()]
    for g, g_torch in zip(grads, want):
        np.testing.assert_allclose(g, g_torch, rtol=TOL[dtype]["rtol"] * 10,
                                   atol=TOL[dtype]["atol"] * 10)
    np.testing.assert_allclose(rm, theirs.running_mean.numpy(), **TOL[dtype])
    np.testing.assert_allclose(rv, theirs.running_var.numpy(), **TOL[dtype])


@pytest.mark.parametrize("training", [True, False])
def test_bn_relu_gradients_by_central_differences(training):
    """batch_norm_then_relu's gradients for x, weight and bias (float64), batch statistics
    and running ones, against central differences; no value within the differences' step
    of the ReLU's kink."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 3, 3))
    w, b = rng.normal(size=4), rng.normal(size=4)
    rm, rv = tc.tensor(rng.normal(size=4)), tc.tensor(rng.uniform(0.5, 2, size=4))

    def f(xv, wv, bv):
        return nn.functional.batch_norm_then_relu(xv, rm.clone(), rv.clone(), wv, bv,
                                                  training=training)
    inputs = [tc.tensor(a, dtype=tc.float64, requires_grad=True) for a in (x, w, b)]
    with tc.no_grad():
        pre = nn.functional.batch_norm(*inputs[:1], rm.clone(), rv.clone(), *inputs[1:],
                                       training=training).numpy()
    assume_clear = np.abs(pre).min() > 1e-4
    assert assume_clear                                     # the seed keeps clear of the kink
    assert tc.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def _pools_both_orders(cfg, conv):
    """(ours, torch): [Conv2d 3x3 ->] ReLU -> MaxPool2d of cfg, the same weights."""
    C = cfg.C
    pool = dict(kernel_size=cfg.kernel, stride=cfg.stride, padding=cfg.padding,
                dilation=cfg.dilation, ceil_mode=cfg.ceil_mode)
    ours = [nn.ReLU(inplace=conv), nn.MaxPool2d(**pool)]          # in place after a conv
    theirs = [torch.nn.ReLU(inplace=conv), torch.nn.MaxPool2d(**pool)]
    if conv:
        ours.insert(0, nn.Conv2d(C, C, 3, padding=1, dtype=np.float64))
        theirs.insert(0, torch.nn.Conv2d(C, C, 3, padding=1, dtype=torch.float64))
        w = np.random.default_rng(cfg.H).normal(size=(C, C, 3, 3))
        ours[0].weight.data = tc.tensor(w)
        theirs[0].weight.data = torch.tensor(w)
        ours[0].bias.data = tc.tensor(np.zeros(C))
        theirs[0].bias.data = torch.zeros(C, dtype=torch.float64)
    return nn.Sequential(*ours), torch.nn.Sequential(*theirs)


@settings(max_examples=40, deadline=None)
@given(cfg=pool_configs(dilation=False), seed=st.integers(0, 2**16), conv=st.booleans(),
       grad=st.booleans())
def test_relu_then_max_pool_runs_pooled_first_with_the_same_values_and_gradients(cfg, seed,
                                                                              conv, grad):
    """Sequential runs ReLU -> MaxPool2d as the pool then the ReLU (after a conv whose ReLU
    does not fuse, or alone), in training and in inference: the values and input (and
    weight) gradients of torch's ReLU -> MaxPool2d, whole windows below 0 included.
    Undilated pools: a dilated one keeps the order (below), and where its window holds
    padding only torch's backward writes the gradient to an element outside it."""
    ours, theirs = _pools_both_orders(cfg, conv)
    x = tie_free(cfg.x_shape, seed) - 0.5            # distinct values, a third below 0
    xo, xt = tc.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)
    with tc.set_grad_enabled(grad):
        out = ours(xo)
    ref = theirs(xt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    if grad:
        g = np.random.default_rng(seed + 1).normal(size=ref.shape)
        out.backward(tc.tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
        if conv:
            np.testing.assert_allclose(ours[0].weight.grad.numpy(),
                                       theirs[0].weight.grad.numpy(), rtol=1e-10)


def test_relu_then_max_pool_keeps_its_order_where_the_orders_differ(monkeypatch):
    """The ReLU runs on the pooled values, as the pool stores them (training and inference:
    one MaxPool2d op, no ReLU op); a pool that returns its indices (the clamped window's
    first zero is another element than its maximum below 0), a dilated pool (a window of
    padding only is -inf, not 0), forward hooks, subclasses: ReLU first, as written; NaN
    reaches the output in both orders."""
    x = tc.tensor(np.array([[[[-3.0, -1.0], [-2.0, -4.0]]]]))
    counts, pools, apply = _counting(monkeypatch), [], MaxPool2dOp.apply.__func__
    monkeypatch.setattr(MaxPool2dOp, "apply", classmethod(
        lambda cls, *args, **kwargs: pools.append(kwargs.get("relu")) or
        apply(cls, *args, **kwargs)))
    block = nn.Sequential(nn.Conv2d(1, 1, 1, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2))
    out = block(x)
    out.sum().backward()
    assert out.item() == max(0.0, block[0](x).max().item())
    with tc.no_grad():
        assert nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(x).item() == 0
    assert counts["ReLU"] == 0 and pools == [True, True]
    monkeypatch.undo()
    out, idx = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True))(x)
    assert out.item() == 0 and idx.item() == 0       # torch: the first of the zeros
    one = tc.tensor(np.array([[[[-1.0]]]]))            # W 1: windows (pad, pad) at dilation 2
    holes = nn.Sequential(nn.ReLU(), nn.MaxPool2d((1, 2), 1, (0, 1), dilation=(1, 2)))(one)
    assert holes.numpy().tolist() == [[[[-np.inf]]]]   # as torch: max of padding only
    seen = []
    relu = nn.ReLU()
    relu.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    nn.Sequential(relu, nn.MaxPool2d(2))(x)
    assert seen == [(1, 1, 2, 2)]

    class Shifted(nn.MaxPool2d):
        def forward(self, x):
            return super().forward(x) - 1
    assert nn.Sequential(nn.ReLU(), Shifted(2))(x).item() == -1
    nan = tc.tensor(np.array([[[[np.nan, -1.0], [-2.0, -4.0]]]]))
    assert np.isnan(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(nan).item())


def _pool_block(C, O, k, stride, pad, bias, bn, dtype, seed):
    """_block's conv [-> batch norm] -> ReLU, then MaxPool2d(2), in both frameworks."""
    ours, theirs = _block(C, O, k, stride, pad, bias, bn, True, True, dtype, seed)
    return nn.Sequential(*ours, nn.MaxPool2d(2)).eval(), \
        torch.nn.Sequential(*theirs, torch.nn.MaxPool2d(2)).eval()


@pytest.mark.parametrize("path", ["vector-tiles", "image-tiles", "row-tiles", "gemm-nhwc", "gemm",
                                  "fused", "winograd"])
@settings(max_examples=12, deadline=None)
@given(N=st.integers(1, 13), C=st.integers(1, 6), O=st.sampled_from([3, 16, 32, 48]),
       k=st.integers(1, 3), stride=st.integers(1, 2), pad=st.integers(0, 1), H=st.integers(5, 12),
       bias=st.booleans(), bn=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_fused_conv_and_max_pool_match_the_modules_and_torch(path, N, C, O, k, stride, pad, H,
                                                            bias, bn, dtype, seed):
    """Conv [-> BN] -> ReLU -> MaxPool2d(2) in inference is one op (the pool applied to each
    block of images as the tiles compute it, kernels/cpu/conv_pool.py, or after the conv on
    the other routes): batches below and above the image tiles' 6, odd output sizes (the
    pool's floor), against the modules one by one and torch, and bit for bit against the
    fused conv with the pool run on its own (a hook on the pool keeps it apart), except
    where the row tiles take that conv alone: the pooled conv then runs in the image tiles,
    whose sums differ in the last bits."""
    ours, theirs = _pool_block(C, O, k, stride, pad, bias, bn, dtype, seed)
    x = np.random.default_rng(seed + 1).normal(size=(N, C, H, H + 1))
    xt = tc.tensor(x.astype(dtype))
    with conv_path(path):
        want = _unfused(ours, xt)
        with tc.no_grad():
            got = ours(xt).numpy()
            handle = ours[-1].register_forward_hook(lambda module, args, out: None)
            apart = ours(xt).numpy()
            handle.remove()
    with torch.no_grad():
        ref = theirs(torch.tensor(x)).numpy()
    assert got.shape == ref.shape
    if path == "row-tiles":                     # two kernels: float32 sums in other orders
        np.testing.assert_allclose(got, apart, **TOL[dtype])
    else:
        np.testing.assert_array_equal(got, apart)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_allclose(got, ref, **TOL[dtype])


def test_a_pooled_conv_takes_the_fused_image_tiles_where_the_row_tiles_would_take_it_alone():
    """The row tiles write a conv's whole output before a pool could read it: a conv with
    its max pool fused runs in the image tiles (which pool each block of images in cache)
    also where the row tiles would take the conv alone."""
    ours, _ = _pool_block(1, 32, 3, 1, 1, True, False, np.float32, 0)
    x = tc.tensor(np.random.default_rng(0).normal(size=(12, 1, 10, 10)).astype(np.float32))
    with conv_path("row-tiles"), tc.no_grad():
        with tc.profiler.profile() as alone:
            ours[0](x)
        with tc.profiler.profile() as pooled:
            ours(x)
    assert "fwd=row-tiles" in alone.table()
    assert "fwd=image-tiles +max-pool" in pooled.table() and "row-tiles" not in pooled.table()


def test_conv_and_max_pool_fuse_only_where_the_pool_is_2x2_and_nothing_records(monkeypatch):
    """The MaxPool2d op runs on its own in training, for a pool other than 2x2 stride 2 with
    no padding, with ceil_mode, or with a hook; in inference it is part of the conv."""
    pooled = []
    original = MaxPool2dOp.apply.__func__

    def apply(cls, *args, **kwargs):
        pooled.append(1)
        return original(cls, *args, **kwargs)
    monkeypatch.setattr(MaxPool2dOp, "apply", classmethod(apply))
    ours, _ = _pool_block(4, 16, 3, 1, 1, True, False, np.float32, 0)
    x = tc.tensor(np.random.default_rng(0).normal(size=(7, 4, 8, 8)).astype(np.float32))
    with tc.no_grad():
        fused = ours(x).numpy()
    assert pooled == []
    ours(x).sum().backward()                       # grad on: the modules, a backward through
    assert len(pooled) == 1 and ours[0].weight.grad is not None
    for pool in (nn.MaxPool2d(2, padding=1), nn.MaxPool2d(3, 2), nn.MaxPool2d(2, ceil_mode=True),
                 nn.MaxPool2d(2, 1)):
        with tc.no_grad():
            nn.Sequential(*list(ours)[:-1], pool).eval()(x)
    assert len(pooled) == 5
    with tc.no_grad():
        again = ours(x).numpy()
    assert len(pooled) == 5 and np.array_equal(fused, again)


def test_a_fused_pool_too_large_for_the_conv_output_raises_the_pools_error():
    """A 1x1 conv output has no 2x2 window: the fused op raises what max_pool2d raises on
    the modules' own path."""
    ours, _ = _pool_block(2, 16, 3, 1, 0, True, False, np.float32, 0)
    x = tc.tensor(np.ones((7, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="max_pool2d output height would be 0") as apart:
        ours(x)                                    # grad on: the modules one by one
    with tc.no_grad(), pytest.raises(ValueError) as fused:
        ours(x)
    assert str(fused.value) == str(apart.value)
