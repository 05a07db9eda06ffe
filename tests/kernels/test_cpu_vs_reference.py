"""The @njit kernels agree with the NumPy reference kernels on drawn configurations."""
import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from strategies import arrays, conv_configs, pool_configs, seeds, tie_free
from tinygrad_cnn.kernels import reference
from tinygrad_cnn.kernels.cpu import conv as cpu_conv, conv_wgrad as cpu_conv_wgrad, gemm as cpu_gemm
from tinygrad_cnn.kernels.cpu import conv_image_tiles as cpu_conv_image_tiles
from tinygrad_cnn.kernels.cpu import conv_pool as cpu_conv_pool
from tinygrad_cnn.kernels.cpu import conv_row_tiles as cpu_conv_row_tiles
from tinygrad_cnn.kernels.cpu import conv_vector as cpu_conv_vector
from tinygrad_cnn.kernels.cpu import nchw as cpu, nhwc as cpu_nhwc, norm as cpu_norm
from tinygrad_cnn.kernels.geometry import conv_out_size

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _conv_geometry(cfg):
    oh, ow = cfg.out_hw
    return (cfg.kh, cfg.kw, *cfg.stride, *cfg.padding, *cfg.dilation, oh, ow)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds)
def test_im2col_matches_reference(dtype, cfg, seed):
    x = arrays(cfg.x_shape, seed, dtype)
    geo = _conv_geometry(cfg)
    oh, ow = cfg.out_hw
    shape = (cfg.N * oh * ow, cfg.C * cfg.kh * cfg.kw)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu.im2col(x, *geo, fast)
    reference.im2col(x, *geo, ref)
    np.testing.assert_array_equal(fast, ref)
    assert fast.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds)
def test_col2im_matches_reference_and_is_adjoint(dtype, cfg, seed):
    geo = _conv_geometry(cfg)
    oh, ow = cfg.out_hw
    cols = arrays((cfg.N * oh * ow, cfg.C * cfg.kh * cfg.kw), seed, dtype)
    fast, ref = np.full(cfg.x_shape, np.nan, dtype), np.full(cfg.x_shape, np.nan, dtype)
    cpu.col2im(cols, *geo, fast)
    reference.col2im(cols, *geo, ref)
    np.testing.assert_allclose(fast, ref, **TOL[dtype])
    # adjoint: <im2col(x), cols> == <x, col2im(cols)>
    x = arrays(cfg.x_shape, seed + 1, np.float64)
    xc = np.empty(cols.shape)
    reference.im2col(x, *geo, xc)
    lhs, rhs = np.sum(xc * cols), np.sum(x * fast)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


def test_im2col_asymmetric_padding_as_same_mode():
    """Top/left padding with an output size that implies a different bottom/right pad."""
    x = arrays((2, 3, 5, 6), 0)
    kh, kw, ph, pw = 4, 2, 1, 0          # "same": total 3 -> top 1, bottom 2; total 1 -> 0, 1
    oh, ow = conv_out_size(5, kh, 1, 3, 1), conv_out_size(6, kw, 1, 1, 1)
    assert (oh, ow) == (5, 6)
    fast, ref = np.empty((2 * oh * ow, 3 * kh * kw)), np.empty((2 * oh * ow, 3 * kh * kw))
    cpu.im2col(x, kh, kw, 1, 1, ph, pw, 1, 1, oh, ow, fast)
    reference.im2col(x, kh, kw, 1, 1, ph, pw, 1, 1, oh, ow, ref)
    np.testing.assert_array_equal(fast, ref)


def _pool_geo(cfg):
    return (*cfg.kernel, *cfg.stride, *cfg.padding)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(), seed=seeds)
def test_max_pool_matches_reference(dtype, cfg, seed):
    x = tie_free(cfg.x_shape, seed, dtype)
    out_shape = cfg.x_shape[:2] + cfg.out_hw
    results = []
    for mod in (cpu, reference):
        out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int64)
        mod.max_pool2d_forward(x, *_pool_geo(cfg), *cfg.dilation, out, idx)
        grad = arrays(out_shape, seed + 1, dtype)
        gx = np.full(cfg.x_shape, np.nan, dtype)
        mod.max_pool2d_backward(grad, idx, *_pool_geo(cfg), *cfg.dilation, gx)
        results.append((out, idx, gx))
    (o1, i1, g1), (o2, i2, g2) = results
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(g1, g2, **TOL[dtype])


def test_max_pool_nan_propagates_and_ties_keep_first():
    x = np.array([[[[1.0, 1.0], [np.nan, 0.0]]]])
    for mod in (cpu, reference):
        out, idx = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int64)
        mod.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, out, idx)
        assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 2
        mod.max_pool2d_forward(x[:, :, :1], 1, 2, 1, 2, 0, 0, 1, 1, out, idx)
        assert out[0, 0, 0, 0] == 1.0 and idx[0, 0, 0, 0] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_nhwc_max_pool_nan_ties_and_empty_windows(dtype):
    """The channels-last kernel's branch-free select, over 3 channels at once: a NaN wins
    (the last one), ties keep the first, a window with no pixel (ceil_mode) gives -inf, -1;
    the backward puts each gradient at its argmax. int32 indices, as the backend passes."""
    planes = np.array([[[1.0, 1.0], [np.nan, 0.0]],           # NaN at 2
                       [[5.0, 5.0], [5.0, 5.0]],              # all tied: the first, 0
                       [[np.nan, 2.0], [3.0, np.nan]]],       # two NaN: the last, 3
                      dtype)
    x = np.ascontiguousarray(np.concatenate([planes, np.zeros((3, 2, 1), dtype)], axis=2)
                             [None].transpose(0, 2, 3, 1))    # (1, 2, 3, 3): W=3
    out = np.empty((1, 1, 2, 3), dtype)
    idx = np.empty((1, 1, 2, 3), np.int32)
    cpu_nhwc.max_pool2d_forward_nhwc(x, 2, 2, 2, 2, 0, 0, 1, 1, False, out, idx)
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 3   # h*W + w with W=3
    assert out[0, 0, 0, 1] == 5.0 and idx[0, 0, 0, 1] == 0
    assert np.isnan(out[0, 0, 0, 2]) and idx[0, 0, 0, 2] == 4
    assert (out[0, 0, 1] == 0).all()                            # the last column's window
    empty_out, empty_idx = np.empty((1, 1, 1, 3), dtype), np.empty((1, 1, 1, 3), np.int32)
    cpu_nhwc.max_pool2d_forward_nhwc(x, 2, 2, 2, 2, 0, 4, 1, 1, False, empty_out,
                                     empty_idx)
    assert (empty_out == -np.inf).all() and (empty_idx == -1).all()
    values = np.empty((1, 1, 2, 3), dtype)                      # the forward without argmax
    none = np.empty((1, 1, 2, 0), np.int32)
    cpu_nhwc.max_pool2d_forward_nhwc(x, 2, 2, 2, 2, 0, 0, 1, 1, False, values, none)
    np.testing.assert_array_equal(values, out)
    cpu_nhwc.max_pool2d_forward_nhwc(x, 2, 2, 2, 2, 0, 4, 1, 1, False, empty_out, none[:, :, :1])
    assert (empty_out == -np.inf).all()
    grad = np.arange(1, 7, dtype=dtype).reshape(1, 1, 2, 3)
    gx = np.full(x.shape, np.nan, dtype)
    cpu_nhwc.max_pool2d_backward_nhwc(grad, idx, 2, 2, 2, 2, 0, 0, 1, 1, gx)
    expect = np.zeros(x.shape, dtype)
    for c, k in enumerate(idx[0, 0, 0]):
        expect[0, k // 3, k % 3, c] = grad[0, 0, 0, c]
    for c, k in enumerate(idx[0, 0, 1]):
        expect[0, k // 3, k % 3, c] += grad[0, 0, 1, c]
    np.testing.assert_array_equal(gx, expect)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3])
def test_nhwc_max_pool_in_image_windows_keep_nan_and_tie_rules(dtype, k):
    """The 2x2 and 3x3 windows inside the image (the register path): over 4 channels, no
    NaN, one NaN, two NaNs (the last wins) and an all-tied window (the first wins), with and
    without argmax channels, against the general path (a window reaching into padding)."""
    taps = k * k
    planes = np.stack([np.arange(taps, dtype=np.float64)[::-1],        # max at the first
                       np.where(np.arange(taps) == 1, np.nan, 0.0),     # NaN at 1
                       np.where(np.arange(taps) % 2 == 1, np.nan, 9.0),  # NaNs: the last
                       np.full(taps, 7.0)]).reshape(4, k, k).astype(dtype)
    x = np.ascontiguousarray(planes[None].transpose(0, 2, 3, 1))       # (1, k, k, 4)
    out, idx = np.empty((1, 1, 1, 4), dtype), np.empty((1, 1, 1, 4), np.int32)
    cpu_nhwc.max_pool2d_forward_nhwc(x, k, k, k, k, 0, 0, 1, 1, False, out, idx)
    last_nan = taps - 1 if taps % 2 == 0 else taps - 2
    assert out[0, 0, 0, 0] == taps - 1 and idx[0, 0, 0, 0] == 0
    assert np.isnan(out[0, 0, 0, 1]) and idx[0, 0, 0, 1] == 1
    assert np.isnan(out[0, 0, 0, 2]) and idx[0, 0, 0, 2] == last_nan
    assert out[0, 0, 0, 3] == 7.0 and idx[0, 0, 0, 3] == 0
    values = np.empty_like(out)
    cpu_nhwc.max_pool2d_forward_nhwc(x, k, k, k, k, 0, 0, 1, 1, False, values,
                                     np.empty((1, 1, 1, 0), np.int32))
    np.testing.assert_array_equal(values, out)
    padded_out, padded_idx = np.empty((1, 2, 2, 4), dtype), np.empty((1, 2, 2, 4), np.int32)
    cpu_nhwc.max_pool2d_forward_nhwc(x, k, k, k - 1, k - 1, 1, 1, 1, 1, False, padded_out,
                                     padded_idx)
    ref_out, ref_idx = np.empty_like(padded_out), np.empty_like(padded_idx)
    reference.max_pool2d_forward_nhwc(x, k, k, k - 1, k - 1, 1, 1, 1, 1, False, ref_out,
                                      ref_idx)
    np.testing.assert_array_equal(padded_out, ref_out)
    np.testing.assert_array_equal(padded_idx, ref_idx)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(), channels=st.integers(1, 72), relu=st.booleans(),
       nans=st.integers(0, 3), seed=seeds)
def test_nhwc_pooling_over_any_channel_count_matches_reference(dtype, cfg, channels, relu,
                                                              nans, seed):
    """kernels/cpu/window_reduce.py takes a pixel's channels in pairs of full vectors (16 or
    8 lanes), one more vector, an overlapping last one, vectors of 4 lanes or one channel
    at a time by the count: 1 to 72 channels reach every path in both dtypes and on AVX2
    and AVX-512. The max pool's values, argmax (with and without the ReLU) and values-only
    form, with NaNs placed at random, and the average pool (undilated configurations),
    against the reference exactly: both sum the taps in the same order."""
    rng = np.random.default_rng(seed)
    x = tie_free((cfg.N, channels, cfg.H, cfg.W), seed, dtype)
    x.reshape(-1)[rng.integers(0, x.size, nans)] = np.nan
    x = nhwc(x)
    out_shape = (cfg.N, *cfg.out_hw, channels)
    res = []
    for kernel in (cpu_nhwc.max_pool2d_forward_nhwc, reference.max_pool2d_forward_nhwc):
        out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int32)
        kernel(x, *_pool_geo(cfg), *cfg.dilation, relu, out, idx)
        res.append((out, idx))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])
    values = np.full(out_shape, -1.0, dtype)
    cpu_nhwc.max_pool2d_forward_nhwc(x, *_pool_geo(cfg), *cfg.dilation, relu, values,
                                     np.empty(out_shape[:3] + (0,), np.int32))
    np.testing.assert_array_equal(values, res[1][0])
    if cfg.dilation != (1, 1):
        return
    means = []
    for kernel in (cpu_nhwc.avg_pool2d_forward_nhwc, reference.avg_pool2d_forward_nhwc):
        means.append(np.full(out_shape, -1.0, dtype))
        kernel(x, *_pool_geo(cfg), cfg.count_include_pad, means[-1])
    np.testing.assert_array_equal(means[0], means[1])


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(dilation=False), seed=seeds)
def test_avg_pool_matches_reference(dtype, cfg, seed):
    x = arrays(cfg.x_shape, seed, dtype)
    out_shape = cfg.x_shape[:2] + cfg.out_hw
    grad = arrays(out_shape, seed + 1, dtype)
    results = []
    for mod in (cpu, reference):
        out = np.empty(out_shape, dtype)
        mod.avg_pool2d_forward(x, *_pool_geo(cfg), cfg.count_include_pad, out)
        gx = np.full(cfg.x_shape, np.nan, dtype)
        mod.avg_pool2d_backward(grad, *_pool_geo(cfg), cfg.count_include_pad, gx)
        results.append((out, gx))
    np.testing.assert_allclose(results[0][0], results[1][0], **TOL[dtype])
    np.testing.assert_allclose(results[0][1], results[1][1], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@given(N=st.integers(1, 2), C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9),
       oh=st.integers(1, 9), ow=st.integers(1, 9), seed=seeds)
def test_adaptive_avg_pool_matches_reference(dtype, N, C, H, W, oh, ow, seed):
    x = arrays((N, C, H, W), seed, dtype)
    grad = arrays((N, C, oh, ow), seed + 1, dtype)
    results = []
    for mod in (cpu, reference):
        out = np.empty((N, C, oh, ow), dtype)
        mod.adaptive_avg_pool2d_forward(x, out)
        gx = np.full((N, C, H, W), np.nan, dtype)
        mod.adaptive_avg_pool2d_backward(grad, gx)
        results.append((out, gx))
    np.testing.assert_allclose(results[0][0], results[1][0], **TOL[dtype])
    np.testing.assert_allclose(results[0][1], results[1][1], **TOL[dtype])


def test_kernels_keep_float32():
    """float32 in gives float32 accumulators out (no silent float64 results)."""
    x = arrays((1, 2, 4, 4), 0, np.float32)
    out = np.empty((1, 2, 2, 2), np.float32)
    cpu.avg_pool2d_forward(x, 2, 2, 2, 2, 0, 0, True, out)
    np.testing.assert_allclose(out, x.reshape(1, 2, 2, 2, 2, 2).mean(axis=(3, 5)), rtol=1e-6)
    # A float32 accumulator drops the +1s next to 2^24; a float64 one would keep them.
    big = np.array([[[[2.0**24, 1.0], [1.0, 1.0]]]], np.float32)
    one = np.empty((1, 1, 1, 1), np.float32)
    cpu.avg_pool2d_forward(big, 2, 2, 2, 2, 0, 0, True, one)
    assert one[0, 0, 0, 0] == np.float32(2.0**24) / 4


def _public(m):
    return {n for n in dir(m) if not n.startswith("_") and callable(getattr(m, n))
            and getattr(getattr(m, n), "__module__", "").startswith(m.__name__)}


def test_cpu_and_reference_export_the_same_kernels():
    assert _public(cpu) | _public(cpu_conv) | _public(cpu_conv_wgrad) | _public(cpu_nhwc) \
        | _public(cpu_gemm) | _public(cpu_norm) | _public(cpu_conv_vector) \
        | _public(cpu_conv_image_tiles) | _public(cpu_conv_row_tiles) == _public(reference)
    assert {"im2col", "col2im", "max_pool2d_forward", "patch_columns",
            "conv2d_forward_nhwc", "matmul_nt_add"} <= _public(reference)


def nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def _padded_input(cfg, seed, dtype):
    """An input already padded as patch_columns expects: just large enough for every window."""
    oh, ow = cfg.out_hw
    hp = (oh - 1) * cfg.stride[0] + (cfg.kh - 1) * cfg.dilation[0] + 1
    wp = (ow - 1) * cfg.stride[1] + (cfg.kw - 1) * cfg.dilation[1] + 1
    return arrays((cfg.N, cfg.C, hp, wp), seed, dtype)


def _column_geo(cfg):
    return (cfg.kh, cfg.kw, *cfg.stride, *cfg.dilation, *cfg.out_hw)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds)
def test_patch_columns_match_reference_and_are_adjoint(dtype, cfg, seed):
    xp = _padded_input(cfg, seed, dtype)
    oh, ow = cfg.out_hw
    shape = (cfg.C * cfg.kh * cfg.kw, cfg.N * oh * ow)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu_conv.patch_columns(xp, *_column_geo(cfg), fast, 0, cfg.N)
    reference.patch_columns(xp, *_column_geo(cfg), ref, 0, cfg.N)
    np.testing.assert_array_equal(fast, ref)
    cols_t = arrays(shape, seed + 1, dtype)
    back = np.full(xp.shape, np.nan, dtype)
    cpu_conv.patch_columns_add(cols_t, *_column_geo(cfg), back, 0, cfg.N)
    ref_back = np.full(xp.shape, np.nan, dtype)
    reference.patch_columns_add(cols_t, *_column_geo(cfg), ref_back, 0, cfg.N)
    np.testing.assert_allclose(back, ref_back, **TOL[dtype])
    # adjoint: <patch_columns(x), c> == <x, patch_columns_add(c)>, to the rounding of the
    # summed terms (relative to their magnitudes: the sum itself may nearly cancel)
    magnitude = np.vdot(np.abs(fast).astype(np.float64), np.abs(cols_t))
    np.testing.assert_allclose(np.vdot(fast, cols_t), np.vdot(xp, back), rtol=0,
                               atol=(1e-5 if dtype == np.float32 else 1e-12) * magnitude)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds, data=st.data())
def test_planes_conv_forward_matches_reference_on_its_images(dtype, cfg, seed, data):
    """conv2d_forward_planes (stride 1) over a thread's range of images: those outputs,
    nothing else."""
    cfg = dataclasses.replace(cfg, stride=(1, 1))
    first = data.draw(st.integers(0, cfg.N), label="first")
    stop = data.draw(st.integers(first, cfg.N), label="stop")
    xp = _padded_input(cfg, seed, dtype)
    oh, ow = cfg.out_hw
    w_taps = arrays((cfg.C * cfg.kh * cfg.kw, cfg.O), seed + 1, dtype)
    bias = arrays((cfg.O,), seed + 2, dtype)
    geo = (cfg.kh, cfg.kw, *cfg.dilation)
    shape = (cfg.N, oh, ow, cfg.O)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu_conv.conv2d_forward_planes(xp, w_taps, bias, *geo, fast, first, stop)
    reference.conv2d_forward_planes(xp, w_taps, bias, *geo, ref, first, stop)
    np.testing.assert_allclose(fast[first:stop], ref[first:stop], **SUM_TOL[dtype])
    assert np.isnan(fast[:first]).all() and np.isnan(fast[stop:]).all()


def _vector_case(cfg, seed, dtype, data, channels):
    """A vector-tiles case from a drawn conv: ungrouped, no dilation along W, O drawn from
    ``channels``; (cfg, first, stop, channels-last x, the kernels' geometry arguments)."""
    O = data.draw(st.sampled_from(channels), label="O")
    cfg = dataclasses.replace(cfg, groups=1, O=O, dilation=(cfg.dilation[0], 1))
    assume(min(cfg.out_hw) >= 1)
    first = data.draw(st.integers(0, cfg.N), label="first")
    stop = data.draw(st.integers(first, cfg.N), label="stop")
    geo = (cfg.kh, cfg.kw, *cfg.stride, *cfg.padding, cfg.dilation[0])
    return cfg, first, stop, nhwc(arrays(cfg.x_shape, seed, dtype)), geo


@pytest.mark.parametrize("kernel", ["vector", "image"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds, data=st.data())
def test_tiles_conv_forward_matches_reference_on_its_images(kernel, dtype, cfg, seed, data):
    """conv2d_forward_vector_tiles and conv2d_forward_image_tiles over a thread's range of
    images, any stride, padding and dilation along H, with and without the ReLU at the
    store, weights padded to whole tiles (16 float32, 8 float64): every output channel (a
    last partial tile too), and nothing else (NaN where both left it). The vector tiles
    take images of 6 or more pixels; the image tiles any range of images (fewer than a
    tile's 6 too, windows wholly in the padding: the bias), in passes of 1 to KH+1 kernel
    rows and blocks of 6 or 12 images. Where the ISA has tiles of more units (AVX-512),
    19 and 32 channels take one of 32 columns, 40 one of 48 (vector_tile.tile_units)."""
    cfg, first, stop, x, geo = _vector_case(cfg, seed, dtype, data, [1, 5, 8, 16, 19, 32, 40])
    oh, ow, O = *cfg.out_hw, cfg.O
    whole = -(-O // (64 // np.dtype(dtype).itemsize)) * (64 // np.dtype(dtype).itemsize)
    wt = arrays((cfg.kh * cfg.kw * cfg.C, whole), seed + 1, dtype)    # padded: any values
    bias = arrays((whole,), seed + 2, dtype)
    shape = (cfg.N, oh, ow, O)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    args = [x, wt, bias, *geo, data.draw(st.booleans(), label="relu")]
    if kernel == "image":
        args.append(data.draw(st.integers(1, cfg.kh + 1), label="rows_per_pass"))
        args.append(data.draw(st.sampled_from([6, 12]), label="images_per_block"))
    name = f"conv2d_forward_{kernel}_tiles"
    getattr(cpu_conv_image_tiles if kernel == "image" else cpu_conv_vector, name)(
        *args, fast, first, stop)
    getattr(reference, name)(*args, ref, first, stop)
    np.testing.assert_allclose(fast, ref, **SUM_TOL[dtype])     # NaN where both left it


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_size=20, max_channels=12), seed=seeds, data=st.data())
def test_row_tiles_conv_forward_matches_reference_on_its_rows(dtype, cfg, seed, data):
    """conv2d_forward_row_tiles over a thread's range of output rows (of any images, an
    empty range too), a 3- or 5-wide kernel at stride 1 along the rows, any stride, padding
    and dilation along H (rows wholly in the padding: the bias), rows of 1 to 20 pixels
    (whole tiles and a last partial one), 1 to 13 channels in (blocks of 8 and the rest),
    with and without the ReLU, one or two tile units of output channels (16 or 32 float32,
    8 or 16 float64), every real one stored and nothing else (NaN where both left it)."""
    unit = 64 // np.dtype(dtype).itemsize
    O = data.draw(st.sampled_from([1, 5, unit - 1, unit, unit + 3, 2 * unit]), label="O")
    kw = data.draw(st.sampled_from([3, 5]), label="kw")
    cfg = dataclasses.replace(cfg, groups=1, O=O, kw=kw, stride=(cfg.stride[0], 1),
                              dilation=(cfg.dilation[0], 1))
    assume(min(cfg.out_hw) >= 1)
    oh, ow = cfg.out_hw
    first = data.draw(st.integers(0, cfg.N * oh), label="first")
    stop = data.draw(st.integers(first, cfg.N * oh), label="stop")
    x = nhwc(arrays(cfg.x_shape, seed, dtype))
    whole = -(-O // unit) * unit
    wt = arrays((cfg.kh * cfg.C * kw, whole), seed + 1, dtype)      # padded: any values
    bias = arrays((whole,), seed + 2, dtype)
    args = [x, wt, bias, cfg.kh, kw, cfg.stride[0], *cfg.padding, cfg.dilation[0],
            data.draw(st.booleans(), label="relu")]
    shape = (cfg.N, oh, ow, O)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu_conv_row_tiles.conv2d_forward_row_tiles(*args, fast, first, stop)
    reference.conv2d_forward_row_tiles(*args, ref, first, stop)
    np.testing.assert_allclose(fast, ref, **SUM_TOL[dtype])     # NaN where both left it


def test_row_tiles_keep_ieee_nan_and_inf():
    """A NaN or inf input reaches exactly the outputs whose windows read it: the row tiles
    multiply-add with IEEE semantics (no fast-math), the padding read as zeros."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 12, 9)).astype(np.float32)
    x[0, 2, 4, 1], x[1, 0, 11, 8] = np.nan, np.inf
    wt = rng.standard_normal((3 * 9 * 3, 16)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    out, ref = np.empty((2, 5, 12, 13), np.float32), np.empty((2, 5, 12, 13), np.float32)
    for relu in (False, True):
        args = (x, wt, bias, 3, 3, 1, 1, 1, 1, relu)
        cpu_conv_row_tiles.conv2d_forward_row_tiles(*args, out, 0, 10)
        reference.conv2d_forward_row_tiles(*args, ref, 0, 10)
        np.testing.assert_allclose(out, ref, **SUM_TOL[np.float32])
        assert np.isnan(out[0, 1:4, 3:6]).all() and np.isnan(out).sum() == 9 * 13 + \
            np.isnan(out[1]).sum()
        assert not np.isnan(out[0, :, :3]).any() and not np.isnan(out[0, 4]).any()
        hit = out[1, :2, 10:]                                   # the windows over the inf
        assert (np.isinf(hit) | (relu & (hit == 0))).all() and np.isinf(hit).any()
        assert np.isfinite(out[1, 2:]).all() and np.isfinite(out[1, :, :10]).all()


@pytest.mark.parametrize("images", [1, 6, 14])
def test_image_tiles_span_batches_and_keep_ieee_nan_and_inf(images):
    """A larger batch than the drawn ones (whole tiles of 6 images and a last partial one,
    in blocks of 6 images): the image tiles' forward against the reference, and a NaN or
    inf input reaches exactly the outputs whose windows read it, in every image it is in,
    through two passes of kernel rows."""
    rng = np.random.default_rng(images)
    x = rng.standard_normal((images, 5, 4, 3)).astype(np.float32)
    x[-1, 0, 0, 0], x[0, 4, 3, 2] = np.nan, np.inf
    wt = rng.standard_normal((3 * 2 * 3, 32)).astype(np.float32)
    wt[:, :3] = np.abs(wt[:, :3])                             # inf stays inf, ReLU or not
    wt[:, 3] = 0                                              # inf * 0 = NaN in column 3
    bias = rng.standard_normal(32).astype(np.float32)
    out, ref = np.empty((images, 5, 4, 20), np.float32), np.empty((images, 5, 4, 20), np.float32)
    for relu in (False, True):
        geo = (3, 2, 1, 1, 1, 0, 1, relu)
        cpu_conv_image_tiles.conv2d_forward_image_tiles(x, wt, bias, *geo, 2, 6, out, 0,
                                                        images)
        reference.conv2d_forward_image_tiles(x, wt, bias, *geo, 2, 6, ref, 0, images)
        np.testing.assert_allclose(out, ref, **SUM_TOL[np.float32])
        assert np.isnan(out[-1, :2, 0]).all() and np.isnan(out[0, 3:, 2:, 3]).all()
        assert np.isinf(out[0, 3:, 2:, :3]).all()
        if images > 1:                                        # two images, one bad value each
            assert not np.isnan(out[-1, 2:]).any() and not np.isnan(out[-1, :, 1:]).any()
            assert not np.isnan(out[0, :, 0]).any() and not np.isinf(out[:, :3]).any()


@pytest.mark.parametrize("kernel", ["vector", "image"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds, data=st.data())
def test_tiles_weight_grad_matches_reference_on_its_images(kernel, dtype, cfg, seed, data):
    """conv2d_weight_grad_vector_tiles and conv2d_weight_grad_image_tiles add the range's
    images' gradient (none for an empty range) to what dwt holds in the channels of whole
    tiles, for every patch column (a last tile of fewer than 6 too; the image tiles' runs of
    taps inside the image, none for taps that only ever read padding), and leave the other
    channels as they were: with tiles of more units (AVX-512), 32 channels take one of
    32 columns, 48 one of 48."""
    cfg, first, stop, x, geo = _vector_case(cfg, seed, dtype, data, [1, 5, 8, 16, 19, 32, 48])
    O = cfg.O
    grad = arrays((cfg.N, *cfg.out_hw, O), seed + 1, dtype)
    start = arrays((cfg.kh * cfg.kw * cfg.C, O), seed + 2, dtype)
    fast, ref = start.copy(), start.copy()
    name = f"conv2d_weight_grad_{kernel}_tiles"
    getattr(cpu_conv_image_tiles if kernel == "image" else cpu_conv_vector, name)(
        x, grad, *geo, fast, first, stop)
    getattr(reference, name)(x, grad, *geo, ref, first, stop)
    np.testing.assert_allclose(fast, ref, **SUM_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds, data=st.data())
def test_channel_rows_weight_grad_matches_reference_on_its_images(dtype, cfg, seed, data):
    """conv2d_weight_grad_channel_rows (the per-image tiles turned over: 6 output channels x
    a kernel row's patch columns) adds the range's images' gradient to dw_rows (O, KH*KW*C)
    where KW*C fills whole tiles: C drawn so that it does (16 float32, 8 float64 columns a
    unit; 16, 32 and 48 columns with AVX-512's rows of more units), a last tile of fewer
    than 6 output channels too; and leaves dw_rows as it was where KW*C does not."""
    unit = 64 // np.dtype(dtype).itemsize
    C = data.draw(st.sampled_from([1, unit, 2 * unit, 3 * unit]), label="C")
    cfg = dataclasses.replace(cfg, C=C)
    cfg, first, stop, x, geo = _vector_case(cfg, seed, dtype, data, [1, 5, 6, 13, 16])
    grad = arrays((cfg.N, *cfg.out_hw, cfg.O), seed + 1, dtype)
    start = arrays((cfg.O, cfg.kh * cfg.kw * cfg.C), seed + 2, dtype)
    fast, ref = start.copy(), start.copy()
    cpu_conv_vector.conv2d_weight_grad_channel_rows(x, grad, *geo, fast, first, stop)
    reference.conv2d_weight_grad_channel_rows(x, grad, *geo, ref, first, stop)
    np.testing.assert_allclose(fast, ref, **SUM_TOL[dtype])
    if (cfg.kw * C) % unit:
        np.testing.assert_array_equal(fast, start)


def test_vector_tiles_keep_ieee_nan_and_inf():
    """llvm.fmuladd is the only liberty: a NaN or inf input still reaches every output whose
    window reads it, and inf * 0 is NaN; a ReLU at the store keeps NaN and zeroes -inf."""
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, 0, 0, 0], x[0, 3, 3, 1] = np.nan, np.inf
    wt = np.ones((2 * 2 * 2, 16), np.float32)
    wt[:, 3] = 0                                              # inf * 0 = NaN in column 3
    out = np.empty((1, 3, 3, 16), np.float32)
    for relu in (False, True):
        cpu_conv_vector.conv2d_forward_vector_tiles(x, wt, np.zeros(16, np.float32), 2, 2, 1,
                                                    1, 0, 0, 1, relu, out, 0, 1)
        assert np.isnan(out[0, 0, 0]).all()                       # a fused ReLU keeps NaN
        assert np.isinf(out[0, 2, 2, :3]).all() and np.isnan(out[0, 2, 2, 3])
        assert (out[0, 1, 1] == 0).all()
    x[0, 3, 3, 1] = -np.inf
    cpu_conv_vector.conv2d_forward_vector_tiles(x, wt, np.zeros(16, np.float32), 2, 2, 1, 1,
                                                0, 0, 1, True, out, 0, 1)
    assert (out[0, 2, 2, :3] == 0).all() and np.isnan(out[0, 2, 2, 3])


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds, data=st.data())
def test_patch_columns_write_only_their_images(dtype, cfg, seed, data):
    """A thread's range of images: its columns, or its padded images, and nothing else."""
    first = data.draw(st.integers(0, cfg.N), label="first")
    stop = data.draw(st.integers(first, cfg.N), label="stop")
    xp = _padded_input(cfg, seed, dtype)
    P = cfg.out_hw[0] * cfg.out_hw[1]
    whole = np.empty((cfg.C * cfg.kh * cfg.kw, cfg.N * P), dtype)
    cpu_conv.patch_columns(xp, *_column_geo(cfg), whole, 0, cfg.N)
    part = np.full(whole.shape, np.nan, dtype)
    cpu_conv.patch_columns(xp, *_column_geo(cfg), part, first, stop)
    np.testing.assert_array_equal(part[:, first * P:stop * P], whole[:, first * P:stop * P])
    assert np.isnan(part[:, :first * P]).all() and np.isnan(part[:, stop * P:]).all()
    back = np.full(xp.shape, np.nan, dtype)
    cpu_conv.patch_columns_add(whole, *_column_geo(cfg), back, first, stop)
    ref_back = np.full(xp.shape, np.nan, dtype)
    reference.patch_columns_add(whole, *_column_geo(cfg), ref_back, first, stop)
    np.testing.assert_allclose(back[first:stop], ref_back[first:stop], **TOL[dtype])
    assert np.isnan(back[:first]).all() and np.isnan(back[stop:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds)
def test_nhwc_im2col_matches_reference(dtype, cfg, seed):
    x = nhwc(arrays(cfg.x_shape, seed, dtype))
    oh, ow = cfg.out_hw
    shape = (cfg.N * oh * ow, cfg.kh * cfg.kw * cfg.C)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu_conv.im2col_nhwc(x, *_conv_geometry(cfg), fast)
    reference.im2col_nhwc(x, *_conv_geometry(cfg), ref)
    np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(), seed=seeds)
def test_nhwc_col2im_matches_reference_and_is_adjoint(dtype, cfg, seed):
    """<im2col_nhwc(x), c> == <x, col2im_nhwc(c)>, and every element of x is written (it
    starts as NaN)."""
    oh, ow = cfg.out_hw
    cols = arrays((cfg.N * oh * ow, cfg.kh * cfg.kw * cfg.C), seed, dtype)
    x_shape = (cfg.N, cfg.H, cfg.W, cfg.C)
    fast, ref = np.full(x_shape, np.nan, dtype), np.full(x_shape, np.nan, dtype)
    cpu_conv.col2im_nhwc(cols, *_conv_geometry(cfg), fast)
    reference.col2im_nhwc(cols, *_conv_geometry(cfg), ref)
    np.testing.assert_allclose(fast, ref, **TOL[dtype])
    x = nhwc(arrays(cfg.x_shape, seed + 1, dtype))
    patches = np.empty_like(cols)
    cpu_conv.im2col_nhwc(x, *_conv_geometry(cfg), patches)
    np.testing.assert_allclose(np.vdot(patches, cols), np.vdot(x, fast), **SUM_TOL[dtype])


SUM_TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}
"""The register-tiled product sums in another order than NumPy: equal up to rounding."""


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds)
def test_fused_conv_forward_matches_reference(dtype, cfg, seed):
    x = nhwc(arrays(cfg.x_shape, seed, dtype))
    oh, ow = cfg.out_hw
    wmat = arrays((cfg.O, cfg.kh * cfg.kw * cfg.C), seed + 1, dtype)
    bias = arrays((cfg.O,), seed + 2, dtype)
    geo = (cfg.kh, cfg.kw, *cfg.stride, *cfg.padding, *cfg.dilation)
    fast, ref = np.full((cfg.N, oh, ow, cfg.O), np.nan, dtype), np.empty((cfg.N, oh, ow, cfg.O), dtype)
    cpu_conv.conv2d_forward_nhwc(x, wmat, bias, *geo, fast, 0, cfg.N * oh * ow)
    reference.conv2d_forward_nhwc(x, wmat, bias, *geo, ref, 0, cfg.N * oh * ow)
    np.testing.assert_allclose(fast, ref, **SUM_TOL[dtype])
    assert fast.dtype == dtype


@pytest.mark.parametrize("hw", [(5, 7), (29, 31)])
@given(seed=seeds, data=st.data())
def test_fused_conv_forward_writes_only_its_pixels(hw, seed, data):
    """A thread's range of output pixels, starting and ending anywhere, across images and
    row blocks (29x31 is several blocks per image): those pixels, and nothing else."""
    H, W = hw
    x = nhwc(arrays((3, 2, H, W), seed, np.float32))
    wmat, bias = arrays((5, 3 * 3 * 2), seed + 1, np.float32), arrays((5,), seed + 2, np.float32)
    total = 3 * H * W
    first = data.draw(st.integers(0, total), label="first")
    stop = data.draw(st.integers(first, total), label="stop")
    fast, ref = np.full((3, H, W, 5), np.nan, np.float32), np.empty((3, H, W, 5), np.float32)
    cpu_conv.conv2d_forward_nhwc(x, wmat, bias, 3, 3, 1, 1, 1, 1, 1, 1, fast, first, stop)
    reference.conv2d_forward_nhwc(x, wmat, bias, 3, 3, 1, 1, 1, 1, 1, 1, ref, 0, total)
    flat_fast, flat_ref = fast.reshape(total, 5), ref.reshape(total, 5)
    np.testing.assert_allclose(flat_fast[first:stop], flat_ref[first:stop], **SUM_TOL[np.float32])
    assert np.isnan(flat_fast[:first]).all() and np.isnan(flat_fast[stop:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=6), seed=seeds)
def test_weight_grad_kernel_matches_reference(dtype, cfg, seed):
    """Stride 1 (the kernel's case) over drawn kernels, dilations and paddings; every
    result element written (the outputs start as NaN)."""
    x = nhwc(arrays(cfg.x_shape, seed, dtype))
    ph, pw = cfg.padding
    oh = conv_out_size(cfg.H, cfg.kh, 1, 2 * ph, cfg.dilation[0])
    ow = conv_out_size(cfg.W, cfg.kw, 1, 2 * pw, cfg.dilation[1])
    assume(oh >= 1 and ow >= 1)
    grad = arrays((cfg.N, oh, ow, cfg.O), seed + 1, dtype)
    K = cfg.C * cfg.kh * cfg.kw
    res = []
    for mod in (cpu_conv_wgrad, reference):
        dw, db = np.full((K, cfg.O), np.nan, dtype), np.full((cfg.O,), np.nan, dtype)
        mod.conv2d_weight_grad(x, grad, cfg.kh, cfg.kw, ph, pw, *cfg.dilation, dw, db)
        res.append((dw, db))
    np.testing.assert_allclose(res[0][0], res[1][0], **SUM_TOL[dtype])
    np.testing.assert_allclose(res[0][1], res[1][1], **SUM_TOL[dtype])


@pytest.mark.parametrize("hw", [(80, 80), (9, 700), (29, 31)])
def test_fused_conv_forward_on_images_of_many_row_blocks(hw):
    """Images of more output pixels than one block of _CONV_ROWS: every block inside its
    image (80x80 once ran a block past the end)."""
    H, W = hw
    x = nhwc(arrays((2, 3, H, W), 0, np.float32))
    wmat, bias = arrays((5, 3 * 3 * 3), 1, np.float32), arrays((5,), 2, np.float32)
    fast = np.full((3, H, W, 5), np.nan, np.float32)          # one image more than written
    ref = np.empty((2, H, W, 5), np.float32)
    reference.conv2d_forward_nhwc(x, wmat, bias, 3, 3, 1, 1, 1, 1, 1, 1, ref, 0, 2 * H * W)
    for kernel, weights in [(cpu_conv.conv2d_forward_nhwc, wmat),
                            (cpu_conv.conv2d_forward_tiles, np.ascontiguousarray(wmat.T))]:
        fast[:] = np.nan
        kernel(x, weights, bias, 3, 3, 1, 1, 1, 1, 1, 1, fast[:2], 0, 2 * H * W)
        np.testing.assert_allclose(fast[:2], ref, **SUM_TOL[np.float32])
        assert np.isnan(fast[2]).all()                         # nothing written past the end


@pytest.mark.parametrize("dtype", DTYPES)
@given(m=st.integers(0, 13), n=st.integers(0, 13), k=st.integers(0, 40), seed=seeds)
def test_matmul_nt_add_matches_numpy_at_every_edge(dtype, m, n, k, seed):
    """Sizes on and off the 6x4 tiles, empty ones included; c is added to, not overwritten."""
    a, b = arrays((m, k), seed, dtype), arrays((n, k), seed + 1, dtype)
    c = arrays((m, n), seed + 2, dtype)
    ref = c + a @ b.T
    cpu_gemm.matmul_nt_add(a, b, c)
    np.testing.assert_allclose(c, ref, **SUM_TOL[dtype])
    assert c.dtype == dtype
    sums = arrays((m,), seed + 3, dtype)
    ref_sums = sums.copy()
    cpu_gemm.add_row_sums(a, sums)
    reference.add_row_sums(a, ref_sums)
    np.testing.assert_allclose(sums, ref_sums, **SUM_TOL[dtype])


def test_matmul_nt_add_keeps_ieee_nan_and_inf():
    """Only reassociation and contraction are allowed: NaN and inf still propagate."""
    a = np.ones((7, 8), np.float32)                     # a 6x4 tile plus both edges
    b = np.ones((5, 8), np.float32)
    a[1, 3], b[2, 5], a[4, 0], a[6, 2] = np.nan, np.inf, np.inf, np.nan
    b[4, 0] = 0.0
    c = np.zeros((7, 5), np.float32)
    cpu_gemm.matmul_nt_add(a, b, c)
    assert np.isnan(c[1]).all() and np.isnan(c[6]).all()   # a NaN poisons its whole row
    assert np.isinf(c[[0, 2, 3, 5], 2]).all()               # inf from b's row 2
    assert np.isnan(c[4, 4])                                # inf * 0 is NaN
    assert c[0, 0] == 8.0


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(), seed=seeds)
def test_nhwc_pooling_matches_reference(dtype, cfg, seed):
    x = nhwc(tie_free(cfg.x_shape, seed, dtype))
    oh, ow = cfg.out_hw
    out_shape = (cfg.N, oh, ow, cfg.C)
    grad = arrays(out_shape, seed + 1, dtype)
    for relu in (False, True):          # with its ReLU: clamped, argmax -1 where it is shut
        res = []
        for fwd, bwd in ((cpu_nhwc.max_pool2d_forward_nhwc, cpu_nhwc.max_pool2d_backward_nhwc),
                         (reference.max_pool2d_forward_nhwc,
                          reference.max_pool2d_backward_nhwc)):
            out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int32)  # the backend's
            fwd(x, *_pool_geo(cfg), *cfg.dilation, relu, out, idx)
            gx = np.full(x.shape, np.nan, dtype)
            bwd(grad, idx, *_pool_geo(cfg), *cfg.dilation, gx)
            res.append((out, idx, gx))
        np.testing.assert_array_equal(res[0][0], res[1][0])
        np.testing.assert_array_equal(res[0][1], res[1][1])
        np.testing.assert_allclose(res[0][2], res[1][2], **TOL[dtype])
        out, idx = res[0][:2]
        if relu:
            assert (out[~np.isnan(out)] >= 0).all() and ((idx == -1) == ~(out > 0)).all()
    out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int64)
    reference.max_pool2d_forward_nhwc(x, *_pool_geo(cfg), *cfg.dilation, False, out, idx)
    values = np.full(out_shape, np.nan, dtype)          # the forward with no argmax channels
    cpu_nhwc.max_pool2d_forward_nhwc(x, *_pool_geo(cfg), *cfg.dilation, False, values,
                                     np.empty(out_shape[:3] + (0,), np.int32))
    np.testing.assert_array_equal(values, out)
    if cfg.dilation != (1, 1):
        return
    res = []
    for fwd, bwd in ((cpu_nhwc.avg_pool2d_forward_nhwc, cpu_nhwc.avg_pool2d_backward_nhwc),
                     (reference.avg_pool2d_forward_nhwc, reference.avg_pool2d_backward_nhwc)):
        out = np.empty(out_shape, dtype)
        fwd(x, *_pool_geo(cfg), cfg.count_include_pad, out)
        gx = np.full(x.shape, np.nan, dtype)
        bwd(grad, *_pool_geo(cfg), cfg.count_include_pad, gx)
        res.append((out, gx))
    np.testing.assert_allclose(res[0][0], res[1][0], **TOL[dtype])
    np.testing.assert_allclose(res[0][1], res[1][1], **TOL[dtype])


GEMM_COLUMNS = [0, 1, 7, 31, 32, 33, 64, 65, 96, 100, 128]
"""Column counts on and off matmul_into's 64- and 32-column tiles, and its plain edges."""


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", GEMM_COLUMNS)
@given(m=st.integers(0, 19), k=st.integers(0, 21), transposed=st.booleans(), seed=seeds)
def test_matmul_into_matches_numpy_at_every_edge(dtype, n, m, k, transposed, seed):
    """Rows on and off the 6- and 8-row tiles, odd and even k (the 32-column tile takes k in
    pairs), a as a transposed view (the weight gradient's patches); every element of c
    written (it starts as NaN)."""
    a = arrays((k, m), seed, dtype).T if transposed else arrays((m, k), seed, dtype)
    b = arrays((k, n), seed + 1, dtype)
    c = np.full((m, n), np.nan, dtype)
    cpu_gemm.matmul_into(a, b, c)
    np.testing.assert_allclose(c, a @ b, **SUM_TOL[dtype])
    assert c.dtype == dtype


@pytest.mark.parametrize("n", [32, 64, 70])
def test_matmul_into_keeps_ieee_nan_and_inf(n):
    """NaN and inf propagate through the register tiles and the edges alike."""
    a, b = np.ones((9, 5), np.float32), np.ones((5, n), np.float32)
    a[1, 3], a[8, 0], b[2, 5] = np.nan, np.inf, np.inf
    b[0, n - 1] = 0.0
    c = np.full((9, n), np.nan, np.float32)
    cpu_gemm.matmul_into(a, b, c)
    assert np.isnan(c[1]).all()                          # a NaN poisons its whole row
    assert np.isinf(c[[0, 2, 7], 5]).all()               # inf from b's column 5
    assert np.isnan(c[8, n - 1])                         # inf * 0 is NaN
    assert c[0, 0] == 5.0


def _wide_conv(data):
    """A channels-last conv whose channel counts reach the outer-product tiles (32, 64) or
    miss them (5, 33), with any stride, padding and dilation."""
    C = data.draw(st.sampled_from([1, 2, 32]), label="C")
    O = data.draw(st.sampled_from([5, 32, 33, 64]), label="O")
    kh, kw = data.draw(st.integers(1, 3), label="kh"), data.draw(st.integers(1, 3), label="kw")
    sh, sw = data.draw(st.integers(1, 2), label="sh"), data.draw(st.integers(1, 2), label="sw")
    ph, pw = data.draw(st.integers(0, 2), label="ph"), data.draw(st.integers(0, 2), label="pw")
    dh, dw = data.draw(st.integers(1, 2), label="dh"), data.draw(st.integers(1, 2), label="dw")
    H, W = data.draw(st.integers(1, 9), label="H"), data.draw(st.integers(1, 17), label="W")
    oh = conv_out_size(H, kh, sh, 2 * ph, dh)
    ow = conv_out_size(W, kw, sw, 2 * pw, dw)
    assume(oh >= 1 and ow >= 1)
    return C, O, H, W, (kh, kw, sh, sw, ph, pw, dh, dw), oh, ow


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=seeds)
def test_fused_forward_kernels_match_reference(dtype, data, seed):
    """conv2d_forward_nhwc (dot products) and conv2d_forward_tiles (outer-product tiles on
    the transposed weights; the backend takes it for O a multiple of 32, but it is right
    for any O): the same output, for the pixel range asked only."""
    C, O, H, W, geo, oh, ow = _wide_conv(data)
    x = arrays((3, H, W, C), seed, dtype)
    wmat = arrays((O, geo[0] * geo[1] * C), seed + 1, dtype)
    bias = arrays((O,), seed + 2, dtype)
    total = 3 * oh * ow
    first = data.draw(st.integers(0, total), label="first")
    stop = data.draw(st.integers(first, total), label="stop")
    ref = np.empty((3, oh, ow, O), dtype)
    reference.conv2d_forward_nhwc(x, wmat, bias, *geo, ref, 0, total)
    flat_ref = ref.reshape(total, O)
    for kernel, weights in [(cpu_conv.conv2d_forward_nhwc, wmat),
                            (cpu_conv.conv2d_forward_tiles, np.ascontiguousarray(wmat.T))]:
        fast = np.full((3, oh, ow, O), np.nan, dtype)
        kernel(x, weights, bias, *geo, fast, first, stop)
        flat_fast = fast.reshape(total, O)
        np.testing.assert_allclose(flat_fast[first:stop], flat_ref[first:stop], **SUM_TOL[dtype])
        assert np.isnan(flat_fast[:first]).all() and np.isnan(flat_fast[stop:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=seeds)
def test_input_grad_kernel_matches_reference(dtype, data, seed):
    """col2im(grad @ wmat) for images first .. stop-1 only, any geometry (padding taps
    dropped, strided and dilated windows overlapping or leaving pixels out)."""
    C, O, H, W, geo, oh, ow = _wide_conv(data)
    N = 3
    grad = arrays((N, oh, ow, O), seed, dtype)
    wmat = arrays((O, geo[0] * geo[1] * C), seed + 1, dtype)
    first = data.draw(st.integers(0, N), label="first")
    stop = data.draw(st.integers(first, N), label="stop")
    fast, ref = np.full((N, H, W, C), np.nan, dtype), np.full((N, H, W, C), np.nan, dtype)
    cpu_conv.conv2d_input_grad_nhwc(grad, wmat, *geo, fast, first, stop)
    reference.conv2d_input_grad_nhwc(grad, wmat, *geo, ref, first, stop)
    np.testing.assert_allclose(fast[first:stop], ref[first:stop], **SUM_TOL[dtype])
    assert np.isnan(fast[:first]).all() and np.isnan(fast[stop:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=seeds)
def test_weight_grad_rows_kernel_matches_reference(dtype, data, seed):
    """patches.T @ grad and the summed grad, any geometry; every element written (the
    outputs start as NaN)."""
    C, O, H, W, geo, oh, ow = _wide_conv(data)
    N = data.draw(st.integers(0, 3), label="N")
    x, grad = arrays((N, H, W, C), seed, dtype), arrays((N, oh, ow, O), seed + 1, dtype)
    res = []
    for mod in (cpu_conv_wgrad, reference):
        dw, db = np.full((geo[0] * geo[1] * C, O), np.nan, dtype), np.full((O,), np.nan, dtype)
        mod.conv2d_weight_grad_rows(x, grad, *geo, dw, db)
        res.append((dw, db))
    np.testing.assert_allclose(res[0][0], res[1][0], **SUM_TOL[dtype])
    np.testing.assert_allclose(res[0][1], res[1][1], **SUM_TOL[dtype])


@pytest.mark.parametrize("hw", [(23, 23), (16, 300)])
def test_weight_grad_rows_over_many_pixel_blocks(hw):
    """Images of more output pixels than one block of _WGRAD_ROWS (and of _CONV_ROWS for
    the input gradient): every block summed once."""
    H, W = hw
    x, grad = arrays((2, H, W, 32), 0, np.float32), arrays((2, H, W, 64), 1, np.float32)
    geo = (3, 3, 1, 1, 1, 1, 1, 1)
    res = []
    for wgrad, conv in ((cpu_conv_wgrad, cpu_conv), (reference, reference)):
        dw, db = np.empty((288, 64), np.float32), np.empty((64,), np.float32)
        wgrad.conv2d_weight_grad_rows(x, grad, *geo, dw, db)
        dx = np.empty((2, H, W, 32), np.float32)
        conv.conv2d_input_grad_nhwc(grad, arrays((64, 288), 2, np.float32), *geo, dx, 0, 2)
        res.append((dw, db, dx))
    for fast, ref in zip(*res):
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_channels=2), O=st.sampled_from([32, 64, 96]), seed=seeds)
def test_weight_grad_taps_kernel_matches_reference(dtype, cfg, O, seed):
    """Up to 12 taps (1-2 channels, kernels up to 4x4), any stride and dilation, even and odd
    output widths; every element written (the outputs start as NaN)."""
    K = cfg.C * cfg.kh * cfg.kw
    assume(K <= cpu_conv_wgrad.TAPS)
    xp = _padded_input(cfg, seed, dtype)
    oh, ow = cfg.out_hw
    grad = arrays((cfg.N, oh, ow, O), seed + 1, dtype)
    res = []
    for mod in (cpu_conv_wgrad, reference):
        dw, db = np.full((K, O), np.nan, dtype), np.full((O,), np.nan, dtype)
        mod.conv2d_weight_grad_taps(xp, grad, cfg.kh, cfg.kw, *cfg.stride, *cfg.dilation, dw, db)
        res.append((dw, db))
    np.testing.assert_allclose(res[0][0], res[1][0], **SUM_TOL[dtype])
    np.testing.assert_allclose(res[0][1], res[1][1], **SUM_TOL[dtype])


def test_weight_grad_taps_kernel_refuses_what_its_tile_cannot_hold():
    """More than 12 taps, or output channels off the 32-column tile, would read and write
    past the tile: the kernel raises instead."""
    xp, dw, db = np.zeros((1, 2, 5, 5), np.float32), np.empty((18, 32)), np.empty(32)
    with pytest.raises(ValueError, match="at most 12 taps"):
        cpu_conv_wgrad.conv2d_weight_grad_taps(xp, np.zeros((1, 3, 3, 32), np.float32), 3, 3,
                                               1, 1, 1, 1, dw.astype(np.float32), db.astype(np.float32))
    xp1 = np.zeros((1, 1, 5, 5), np.float32)
    with pytest.raises(ValueError, match="multiple of 32"):
        cpu_conv_wgrad.conv2d_weight_grad_taps(xp1, np.zeros((1, 3, 3, 33), np.float32), 3, 3,
                                               1, 1, 1, 1, np.empty((9, 33), np.float32),
                                               np.empty(33, np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["rows", "planes"])
@given(shape=st.tuples(st.integers(0, 4), st.integers(1, 6), st.integers(1, 7)), seed=seeds,
       relu=st.booleans())
def test_batch_norm_kernels_match_reference(dtype, layout, shape, seed, relu):
    """Every norm kernel of a layout against the reference: sums (float64, added into out)
    of the deviations from a shift and of their squares (from zero: the plain sums; from a
    mean), of the gradient with and without the mask of a ReLU after the affine map; the
    affine map with and without its ReLU; the input gradient (every element written; with
    and without the ReLU's mask)."""
    N, C, S = shape
    shape = (N * S, C) if layout == "rows" else (N, C, S)
    x, g = arrays(shape, seed, dtype), arrays(shape, seed + 1, dtype)
    mean64 = arrays((C,), seed + 2, np.float64)
    vec = [arrays((C,), seed + k, dtype) for k in range(3, 7)]
    for shift in (np.zeros(C), mean64):                 # plain sums; squared deviations
        fast, ref = (np.ones(C), np.ones(C)), (np.ones(C), np.ones(C))
        getattr(cpu_norm, f"shifted_sums_{layout}")(x, shift, *fast)
        getattr(reference, f"shifted_sums_{layout}")(x, shift, *ref)
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
    relu_of = [(False, *[np.zeros(0, dtype)] * 3), (True, *vec[:3])]    # mean, scale, shift
    for relu_args in relu_of:
        fast, ref = (np.ones(C), np.ones(C)), (np.ones(C), np.ones(C))
        getattr(cpu_norm, f"grad_sums_{layout}")(g, x, mean64, *relu_args, *fast)
        getattr(reference, f"grad_sums_{layout}")(g, x, mean64, *relu_args, *ref)
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
    fast, ref = np.full(shape, np.nan, dtype), np.empty(shape, dtype)
    getattr(cpu_norm, f"affine_{layout}")(x, *vec[:3], relu, fast)
    getattr(reference, f"affine_{layout}")(x, *vec[:3], relu, ref)
    np.testing.assert_allclose(fast, ref, **TOL[dtype])
    assert not relu or (fast >= 0).all()
    for relu, scale, shift in ((False, *relu_of[0][2:]), (True, *vec[1:3])):
        fast, ref = np.full(shape, np.nan, dtype), np.empty(shape, dtype)
        getattr(cpu_norm, f"input_grad_{layout}")(g, x, *vec, relu, scale, shift, fast)
        getattr(reference, f"input_grad_{layout}")(g, x, *vec, relu, scale, shift, ref)
        np.testing.assert_allclose(fast, ref, **TOL[dtype])
        assert fast.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@given(N=st.integers(1, 14), C=st.integers(1, 5), O=st.sampled_from([5, 16, 32, 48]),
       H=st.integers(2, 9), k=st.integers(1, 3), relu=st.booleans(), seed=seeds, data=st.data())
def test_conv_then_max_pool_kernel_matches_the_reference(dtype, N, C, O, H, k, relu, seed,
                                                         data):
    """kernels/cpu/conv_pool.py on a thread's range of images: the reference image tiles
    (the kernel's twin) then the reference 2x2 stride-2 max pool, for those images only
    (the rest of out untouched)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H, H + 1, C)).astype(dtype)
    columns = 64 // np.dtype(dtype).itemsize
    whole = -(-O // columns) * columns
    wt = rng.standard_normal((k * k * C, whole)).astype(dtype)
    bias = rng.standard_normal(whole).astype(dtype)
    geo = (k, k, 1, 1, 1, 1, 1)
    oh, ow = H + 2 - k + 1, H + 3 - k + 1
    first = data.draw(st.integers(0, N - 1))
    stop = data.draw(st.integers(first + 1, N))
    conv = np.empty((N, oh, ow, O), dtype)
    reference.conv2d_forward_image_tiles(x, wt, bias, *geo, relu, 1, 6, conv, 0, N)
    want = np.full((N, oh // 2, ow // 2, O), np.nan, dtype)
    reference.max_pool2d_forward_nhwc(conv[first:stop], 2, 2, 2, 2, 0, 0, 1, 1, False,
                                      want[first:stop], np.empty((stop - first, oh // 2,
                                                                  ow // 2, 0), np.int32))
    got = np.full_like(want, np.nan)
    cpu_conv_pool.conv2d_forward_image_tiles_max_pool(
        x, wt, bias, *geo, relu, 1, 6, np.empty((6, oh, ow, O), dtype), got, first, stop)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    assert np.isnan(got[:first]).all() and np.isnan(got[stop:]).all()
