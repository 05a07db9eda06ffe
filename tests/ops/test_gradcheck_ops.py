"""Every differentiable op: autograd equals float64 central differences (tc.gradcheck)."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from conv_paths import PATHS, conv_path
from strategies import arrays, conv_configs, pool_configs, seeds, tie_free
from tinygrad_cnn import Tensor
from tinygrad_cnn.backends.cpu.settings import override


def t64(a):
    return Tensor(a, dtype=np.float64, requires_grad=True)


@pytest.mark.parametrize("path", PATHS)
@given(cfg=conv_configs(max_size=7, max_channels=3), seed=seeds)
def test_conv2d_gradcheck(path, cfg, seed):
    x, w = t64(arrays(cfg.x_shape, seed)), t64(arrays(cfg.w_shape, seed + 1))
    inputs = [x, w] + ([t64(arrays((cfg.O,), seed + 2))] if cfg.bias else [])
    fn = lambda x, w, b=None: F.conv2d(x, w, b, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
    with conv_path(path):
        assert tc.gradcheck(fn, inputs)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kernel,dilation", [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((4, 1), (1, 1))])
def test_conv2d_same_padding_gradcheck(path, kernel, dilation):
    x, w = t64(arrays((2, 2, 5, 6), 0)), t64(arrays((3, 2) + kernel, 1))
    fn = lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation)
    with conv_path(path):
        assert F.conv2d(x, w, padding="same", dilation=dilation).shape == (2, 3, 5, 6)
        assert tc.gradcheck(fn, [x, w])


@given(cfg=pool_configs(max_size=7), seed=seeds)
def test_max_pool2d_gradcheck(cfg, seed):
    assume(not cfg.has_empty_windows)   # -inf outputs have no finite differences
    x = t64(tie_free(cfg.x_shape, seed))
    fn = lambda x: F.max_pool2d(x, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation, cfg.ceil_mode)
    assert tc.gradcheck(fn, [x])


@given(cfg=pool_configs(max_size=7, dilation=False), seed=seeds)
def test_avg_pool2d_gradcheck(cfg, seed):
    x = t64(arrays(cfg.x_shape, seed))
    fn = lambda x: F.avg_pool2d(x, cfg.kernel, cfg.stride, cfg.padding, cfg.ceil_mode,
                                cfg.count_include_pad)
    assert tc.gradcheck(fn, [x])


@given(H=st.integers(1, 7), W=st.integers(1, 7), oh=st.integers(1, 5), ow=st.integers(1, 5),
       seed=seeds)
def test_adaptive_avg_pool2d_gradcheck(H, W, oh, ow, seed):
    x = t64(arrays((2, 2, H, W), seed))
    assert tc.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (oh, ow)), [x])
    assert tc.gradcheck(F.global_avg_pool2d, [x])


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
UNARY = {
    "exp": lambda x: x.exp(),
    "log": lambda x: (x.abs() + 0.5).log(),
    "sqrt": lambda x: (x.abs() + 0.5).sqrt(),
    "abs": lambda x: x.abs(),
    "neg": lambda x: -x,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "elu": lambda x: F.elu(x, 0.7),
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "clip": lambda x: x.clip(-0.5, 0.7),
    "softmax": lambda x: F.softmax(x, -1),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "sum": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(dim=0, keepdim=True),
    "mean": lambda x: x.mean(dim=-1),
    "var": lambda x: x.var() if x.numel() > 1 else x.sum(),
    "max": lambda x: x.max(),
    "max_dim": lambda x: x.max(dim=-1).values,
    "min": lambda x: x.min(dim=0).values,
    "amax": lambda x: x.amax(dim=-1),
    "pow": lambda x: x ** 3,
    "rpow": lambda x: 2.0 ** x,
    "reshape_T": lambda x: x.reshape(-1).reshape(x.shape).T,
    "flatten": lambda x: x.flatten() * 2,
    "index": lambda x: x[0] * 3,
    "slice": lambda x: x[..., :2],
    "fancy_index": lambda x: x[[0, 0, x.shape[0] - 1]],
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_gradcheck(name, shape, seed):
    x = t64(tie_free(shape, seed) + 0.05)   # away from the kinks of relu/abs/clip at 0
    assert tc.gradcheck(UNARY[name], [x])


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 0.5),
    "pow": lambda a, b: (a.abs() + 0.5) ** b,
    "rsub_scalar": lambda a, b: 1.0 - a * b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shape=shapes, seed=seeds, data=st.data())
def test_binary_broadcast_gradcheck(name, shape, seed, data):
    # b broadcasts: some of its dims are 1, and it may have fewer dims
    b_shape = tuple(data.draw(st.sampled_from([n, 1])) for n in shape)[data.draw(st.integers(0, len(shape) - 1)):]
    a, b = t64(arrays(shape, seed)), t64(arrays(b_shape, seed + 1))
    assert tc.gradcheck(BINARY[name], [a, b])


@given(n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), batch=st.integers(0, 2),
       seed=seeds)
def test_matmul_gradcheck(n, k, m, batch, seed):
    a = t64(arrays((batch,) * (batch > 0) + (n, k), seed))
    b = t64(arrays((k, m), seed + 1))
    v = t64(arrays((k,), seed + 2))
    assert tc.gradcheck(lambda a, b: a @ b, [a, b])
    assert tc.gradcheck(lambda a, v: a @ v, [a, v])
    assert tc.gradcheck(lambda v, b: v @ b, [v, b])


@given(seed=seeds, dim=st.integers(0, 1))
def test_cat_stack_gradcheck(seed, dim):
    a, b = t64(arrays((2, 3), seed)), t64(arrays((2, 3), seed + 1))
    assert tc.gradcheck(lambda a, b: tc.cat([a, b, a], dim), [a, b])
    assert tc.gradcheck(lambda a, b: tc.stack([a, b], dim), [a, b])


@given(N=st.integers(1, 5), C=st.integers(2, 6), seed=seeds, smoothing=st.sampled_from([0.0, 0.1]),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_losses_gradcheck(N, C, seed, smoothing, reduction):
    logits = t64(arrays((N, C), seed, scale=3))
    target = Tensor(np.random.default_rng(seed).integers(0, C, N))
    assert tc.gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction, label_smoothing=smoothing), [logits])
    assert tc.gradcheck(lambda z: F.nll_loss(F.log_softmax(z, 1), target, reduction=reduction), [logits])
    other = t64(arrays((N, C), seed + 1))
    assert tc.gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [logits, other])


@given(seed=seeds)
def test_maxout_and_dropout_gradcheck(seed):
    x = t64(tie_free((2, 6, 3), seed))
    assert tc.gradcheck(lambda x: F.maxout(x, 3), [x])
    tc.manual_seed(seed % 1000)
    mask_seed = seed % 1000

    def dropped(x):
        tc.manual_seed(mask_seed)  # the same mask on every evaluation
        return F.dropout(x, 0.3, training=True)

    assert tc.gradcheck(dropped, [x])


def test_gradcheck_catches_a_wrong_gradient():
    """The checker itself can fail: a Function with a deliberately wrong backward."""
    from tinygrad_cnn.function import Function

    class BadSquare(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.saved[0]  # missing the factor 2

    x = t64(arrays((3,), 0) + 2)
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        tc.gradcheck(lambda x: BadSquare.apply(x), [x])


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30], ids=["remade-patches", "kept-patches"])
@given(cfg=conv_configs(max_size=7, max_channels=3), seed=seeds)
def test_conv2d_in_many_chunks_matches_one_chunk(keep_bytes, cfg, seed):
    """The CPU backend makes patches a few images at a time and, for large patch matrices,
    remakes them in backward; one image per chunk, with patches kept or remade, must give
    the same output and gradients as the whole batch at once."""
    from tinygrad_cnn.backends.cpu import settings

    x_np, w_np = arrays(cfg.x_shape, seed), arrays(cfg.w_shape, seed + 1)
    b_np = arrays((cfg.O,), seed + 2) if cfg.bias else None

    def run():
        x, w = t64(x_np), t64(w_np)
        b = t64(b_np) if cfg.bias else None
        out = F.conv2d(x, w, b, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        (out * Tensor(arrays(out.shape, seed + 3), dtype=np.float64)).sum().backward()
        return [out.numpy()] + [t.grad.numpy() for t in (x, w, b) if t is not None]

    whole = run()
    with settings.override(patch_chunk_bytes=1, keep_patch_bytes=keep_bytes):  # an image a chunk
        chunked = run()
        x1 = t64(x_np)
        assert tc.gradcheck(lambda x: F.conv2d(x, t64(w_np), None, cfg.stride, cfg.padding,
                                               cfg.dilation, cfg.groups), [x1])
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("C,O", [(8, 6), (16, 7)])
def test_conv2d_gradcheck_through_the_channel_rows(C, O):
    """The channel-rows weight gradient (float64: kernel rows of 8-column units) by central
    differences, forced on for any ISA: 6 and 7 output channels (a last tile of 1)."""
    x, w, b = t64(arrays((2, C, 8, 8), 0)), t64(arrays((O, C, 3, 3), 1)), t64(arrays((O,), 2))
    fn = lambda x, w, b: F.conv2d(x, w, b, 1, 1)
    with override(channel_rows_max_outputs=16):
        from tinygrad_cnn.backends.cpu.plan import plan_conv
        from tinygrad_cnn.backends.cpu.settings import settings
        from tinygrad_cnn.kernels.geometry import ConvGeometry
        g = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, 8)
        assert plan_conv(g, settings).weight_grad == "channel-rows"
        assert tc.gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("C,O,kernel,stride", [(1, 32, 3, 1), (2, 32, 2, 1), (32, 32, 1, 1),
                                               (32, 64, 1, 2)])
def test_conv2d_gradcheck_through_the_register_tiles(C, O, kernel, stride):
    """Channel counts that reach the 32-column register tiles with the plan's own choice
    among the fused routes (settings.register_tiles, as session 4's AVX-512 defaults were):
    first-layer taps (C*k*k <= 12, stride 1), the tiles forward and weight gradient, the
    strided patch-gradient kernel."""
    x, w, b = t64(arrays((2, C, 5, 4), 0)), t64(arrays((O, C, kernel, kernel), 1)), t64(arrays((O,), 2))
    fn = lambda x, w, b: F.conv2d(x, w, b, stride, 1)
    with override(register_tiles=True, blas_convs=False, vector_tiles=False):
        assert tc.gradcheck(fn, [x, w, b])
