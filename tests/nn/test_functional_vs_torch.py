"""nn.functional forward and gradients against torch on drawn configurations."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn.nn.functional as F
from conv_paths import PATHS, conv_path
from strategies import arrays, conv_configs, pool_configs, seeds, tie_free
from tinygrad_cnn import Tensor, no_grad

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=2e-4, atol=2e-5)


def both(a, requires_grad=True):
    """The same float32 values as our Tensor and a torch tensor."""
    a = np.asarray(a, np.float32)
    return Tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def check_grads(pairs):
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **TOL)


@pytest.mark.parametrize("path", PATHS)
@given(cfg=conv_configs(max_channels=8), seed=seeds)
def test_conv2d_matches_torch(path, cfg, seed):
    (x, xt), (w, wt) = both(arrays(cfg.x_shape, seed)), both(arrays(cfg.w_shape, seed + 1))
    b, bt = both(arrays((cfg.O,), seed + 2)) if cfg.bias else (None, None)
    with conv_path(path):
        out = F.conv2d(x, w, b, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        ref = TF.conv2d(xt, wt, bt, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
        g = arrays(out.shape, seed + 3, np.float32)
        out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(x, xt), (w, wt)] + ([(b, bt)] if cfg.bias else []))


@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((2, 4), 1), ((3, 2), (2, 1))])
def test_conv2d_same_valid_match_torch(kernel, dilation):
    (x, xt), (w, wt) = both(arrays((2, 3, 7, 6), 0)), both(arrays((4, 3) + kernel, 1))
    for mode in ("same", "valid"):
        out = F.conv2d(x, w, padding=mode, dilation=dilation)
        ref = TF.conv2d(xt, wt, padding=mode, dilation=dilation)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)


@pytest.mark.parametrize("path", ["gemm-nhwc", "gemm-nhwc-chunked", "gemm-nhwc-transposed"])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_pointwise_conv_multiplies_the_pixels_directly(path, channels_last, bias):
    """A 1x1 stride-1 unpadded conv on the gemm-nhwc route makes no patches (its input's
    pixels are the rows): forward and every gradient against torch, for NCHW and
    channels-last input memory."""
    x = arrays((3, 5, 4, 6), 11)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    (xo, xt), (w, wt) = both(x), both(arrays((7, 5, 1, 1), 12))
    b, bt = both(arrays((7,), 13)) if bias else (None, None)
    with conv_path(path):
        out = F.conv2d(xo, w, b)
        ref = TF.conv2d(xt, wt, bt)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
        g = arrays(out.shape, 14)
        out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(xo, xt), (w, wt)] + ([(b, bt)] if bias else []))


@given(cfg=pool_configs(), seed=seeds)
def test_max_pool2d_matches_torch(cfg, seed):
    x, xt = both(tie_free(cfg.x_shape, seed))
    out, idx = F.max_pool2d(x, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation, cfg.ceil_mode,
                            return_indices=True)
    ref, ref_idx = TF.max_pool2d(xt, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation,
                                 cfg.ceil_mode, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    # A window that dilation places wholly in the padding has no input to choose: torch
    # outputs -inf with an index that points outside the window; we output -inf with -1
    # and route no gradient there.
    empty = idx.numpy() < 0
    assert np.all(np.isneginf(out.numpy()[empty]))
    np.testing.assert_array_equal(idx.numpy()[~empty], ref_idx.numpy()[~empty])
    if empty.any():
        return
    g = arrays(out.shape, seed + 1, np.float32)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(x, xt)])


@given(cfg=pool_configs(), seed=seeds)
def test_max_pool2d_without_grad_matches_torch_in_both_layouts(cfg, seed):
    """Under no_grad no argmax is kept: channels-last input takes the values-only kernel,
    NCHW the forward's; both match torch, NaN included."""
    x = arrays(cfg.x_shape, seed, np.float32)
    x.reshape(-1)[::7] = np.nan
    ref = TF.max_pool2d(torch.tensor(x), cfg.kernel, cfg.stride, cfg.padding, cfg.dilation,
                        cfg.ceil_mode).numpy()
    for memory in (x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):
        with no_grad():
            out = F.max_pool2d(Tensor(memory), cfg.kernel, cfg.stride, cfg.padding,
                               cfg.dilation, cfg.ceil_mode)
        np.testing.assert_array_equal(out.numpy(), ref)


@given(cfg=pool_configs(dilation=False), seed=seeds)
def test_avg_pool2d_matches_torch(cfg, seed):
    x, xt = both(arrays(cfg.x_shape, seed))
    args = (cfg.kernel, cfg.stride, cfg.padding, cfg.ceil_mode, cfg.count_include_pad)
    out, ref = F.avg_pool2d(x, *args), TF.avg_pool2d(xt, *args)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    g = arrays(out.shape, seed + 1, np.float32)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(x, xt)])


@given(H=st.integers(1, 9), W=st.integers(1, 9), oh=st.integers(1, 6), ow=st.integers(1, 6),
       seed=seeds)
def test_adaptive_avg_pool2d_matches_torch(H, W, oh, ow, seed):
    x, xt = both(arrays((2, 3, H, W), seed))
    out, ref = F.adaptive_avg_pool2d(x, (oh, ow)), TF.adaptive_avg_pool2d(xt, (oh, ow))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    out.sum().backward()
    ref.sum().backward()
    check_grads([(x, xt)])


@given(H=st.integers(1, 9), W=st.integers(1, 9), seed=seeds)
def test_global_avg_pool2d_of_channels_last_memory_matches_torch(H, W, seed):
    """What a conv hands on: an NCHW view of channels-last memory, pooled where it lies."""
    a = np.asarray(arrays((2, H, W, 5), seed), np.float32).transpose(0, 3, 1, 2)
    x, xt = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert x._array.transpose(0, 2, 3, 1).flags.c_contiguous
    out, ref = F.adaptive_avg_pool2d(x, 1), TF.adaptive_avg_pool2d(xt, 1)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    g = arrays(out.shape, seed + 1, np.float32)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(x, xt)])


@pytest.mark.parametrize("channels_last", [False, True])
def test_adaptive_avg_pool2d_to_the_input_size_is_a_copy(channels_last):
    """AlexNet's digit variant pools its 2x2 features to 2x2: the values, their own memory."""
    a = np.asarray(arrays((2, 4, 3, 5), 7), np.float32)
    a = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if channels_last \
        else a
    x = Tensor(a, requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (3, 5))
    np.testing.assert_array_equal(out.numpy(), a)
    assert not np.shares_memory(out._array, x._array)
    g = arrays(out.shape, 8, np.float32)
    out.backward(Tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), g)


ACTIVATIONS = [
    (F.relu, TF.relu), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh),
    (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    (lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3)),
    (lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1)),
    (lambda x: F.log_softmax(x, -1), lambda x: TF.log_softmax(x, -1)),
]


@pytest.mark.parametrize("ours,theirs", ACTIVATIONS)
@given(seed=seeds)
def test_activations_match_torch(ours, theirs, seed):
    x, xt = both(arrays((3, 5), seed, scale=3))
    out, ref = ours(x), theirs(xt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    g = arrays(out.shape, seed + 1, np.float32)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    check_grads([(x, xt)])


@given(N=st.integers(1, 6), C=st.integers(2, 7), seed=seeds,
       reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0.0, 0.2]))
def test_losses_match_torch(N, C, seed, reduction, smoothing):
    z, zt = both(arrays((N, C), seed, scale=4))
    target = np.random.default_rng(seed).integers(0, C, N)
    out = F.cross_entropy(z, Tensor(target), reduction=reduction, label_smoothing=smoothing)
    ref = TF.cross_entropy(zt, torch.tensor(target), reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    out.sum().backward()
    ref.sum().backward()
    check_grads([(z, zt)])
    lp, lpt = both(arrays((N, C), seed + 1))
    np.testing.assert_allclose(F.nll_loss(lp, Tensor(target), reduction=reduction).numpy(),
                               TF.nll_loss(lpt, torch.tensor(target), reduction=reduction).detach().numpy(), **TOL)
    y, yt = both(arrays((N, C), seed + 2))
    np.testing.assert_allclose(F.mse_loss(lp, y, reduction=reduction).numpy(),
                               TF.mse_loss(lpt, yt, reduction=reduction).detach().numpy(), **TOL)


def test_log_softmax_and_cross_entropy_stay_finite_at_1e4():
    z = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32), requires_grad=True)
    lp = F.log_softmax(z, 1)
    assert np.all(np.isfinite(lp.numpy()))
    loss = F.cross_entropy(z, Tensor([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1e4, rel=1e-6)
    assert np.all(np.isfinite(z.grad.numpy()))


def test_linear_matches_torch():
    (x, xt), (w, wt), (b, bt) = both(arrays((4, 5), 0)), both(arrays((3, 5), 1)), both(arrays((3,), 2))
    out, ref = F.linear(x, w, b), TF.linear(xt, wt, bt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL)
    out.sum().backward()
    ref.sum().backward()
    check_grads([(x, xt), (w, wt), (b, bt)])


@pytest.mark.parametrize("C, O", [(16, 16), (48, 12), (16, 5)])
def test_conv2d_channel_rows_weight_grad_matches_torch(C, O):
    """The channel-rows weight gradient (the per-image tiles turned over), forced on for any
    ISA, at ResNet's 16 -> 16 and DenseNet's 48 -> 12 sizes and a last tile of 5 channels:
    forward and every gradient against torch, batch split over the threads."""
    from tinygrad_cnn.backends.cpu.plan import plan_conv
    from tinygrad_cnn.backends.cpu.settings import override, settings
    from tinygrad_cnn.kernels.geometry import ConvGeometry
    (x, xt), (w, wt) = both(arrays((6, C, 28, 28), 0)), both(arrays((O, C, 3, 3), 1, scale=0.2))
    b, bt = both(arrays((O,), 2))
    with override(channel_rows_max_outputs=16):
        geometry = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, 4)
        assert plan_conv(geometry, settings).weight_grad == "channel-rows"
        out = F.conv2d(x, w, b, 1, 1)
        g = arrays(out.shape, 3, np.float32)
        out.backward(Tensor(g))
    ref = TF.conv2d(xt, wt, bt, 1, 1)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    for ours, theirs in [(x, xt), (w, wt), (b, bt)]:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("C,O,stride,padding,dilation", [
    (32, 64, 1, 1, 1),        # SimpleCNN's conv2: tiles forward, transposed conv, rows dW
    (64, 32, 1, 1, 1),        # 32-column tiles; dx through 64-column tiles
    (32, 64, 2, 1, 1),        # strided: the patch-gradient kernel for dx
    (32, 32, 2, 2, 2),        # strided and dilated
    (16, 64, 1, 0, 1),        # dx as a transposed conv through the dot-product kernel
    (1, 32, 1, 1, 1),         # SimpleCNN's conv1: GEMM-path forward, taps weight gradient
])
def test_conv2d_at_model_sizes_matches_torch(C, O, stride, padding, dilation):
    """The backend's own choice of kernels (no path forced: the vector and image tiles, BLAS
    below them) at the channel counts of the notes' models, forward and every gradient,
    batch large enough to split over threads."""
    (x, xt), (w, wt) = both(arrays((6, C, 13, 14), 0)), both(arrays((O, C, 3, 3), 1, scale=0.2))
    b, bt = both(arrays((O,), 2))
    out = F.conv2d(x, w, b, stride, padding, dilation)
    ref = TF.conv2d(xt, wt, bt, stride, padding, dilation)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = arrays(out.shape, 3, np.float32)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    for ours, theirs in [(x, xt), (w, wt), (b, bt)]:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=2e-3)
