"""The worked examples of the course notes (shared/seeds), as tests."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor
from tinygrad_cnn.kernels import reference
from tinygrad_cnn.kernels.geometry import conv_out_size


def seed_im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """The notes' im2col (000_549b713e1cf5eded.txt), verbatim in logic."""
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def test_im2col_shapes_of_the_notes():
    assert tc.im2col(np.random.rand(1, 3, 7, 7), 5, 5, stride=1, pad=0).shape == (9, 75)
    assert tc.im2col(np.random.rand(10, 3, 7, 7), 5, 5, stride=1, pad=0).shape == (90, 75)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_im2col_order_is_the_notes_order(stride, pad):
    x = np.random.default_rng(0).random((2, 3, 7, 8))
    np.testing.assert_array_equal(tc.im2col(x, 3, 2, stride, pad), seed_im2col(x, 3, 2, stride, pad))


def test_col2im_is_the_adjoint_of_im2col():
    x = np.random.default_rng(1).random((2, 3, 7, 7))
    col = np.random.default_rng(2).random((2 * 9, 75))
    lhs = np.sum(tc.im2col(x, 5, 5) * col)
    rhs = np.sum(x * tc.col2im(col, x.shape, 5, 5))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    # overlapping patches sum: each pixel of a 3x3 image appears once per 2x2 window
    ones = np.ones((4, 4))
    counts = tc.col2im(ones, (1, 1, 3, 3), 2, 2)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_hand_worked_convolution_and_bias():
    """004: [[1,2,3],[2,1,0],[3,0,1]] * [[1,0],[1,0]] = [[3,3],[5,1]]; + bias 5 = [[8,8],[10,6]]."""
    x = Tensor([[[[1, 2, 3], [2, 1, 0], [3, 0, 1]]]], dtype=np.float32)
    w = Tensor([[[[1, 0], [1, 0]]]], dtype=np.float32)
    np.testing.assert_array_equal(F.conv2d(x, w).numpy()[0, 0], [[3, 3], [5, 1]])
    np.testing.assert_array_equal(F.conv2d(x, w, Tensor([5.0])).numpy()[0, 0], [[8, 8], [10, 6]])


@pytest.mark.parametrize("W,F_,S,P,expected", [
    (7, 3, 1, 0, 5), (7, 3, 2, 0, 3),       # 000: W' = (W - F)/S + 1
    (32, 5, 1, 0, 28),                       # 000 quiz: 32x32 input, 5x5x3 filter
    (28, 5, 1, 2, 28),                       # 001: LeNet-5 pads 28 to 32
    (28, 3, 1, 1, 28), (5, 3, 2, 1, 3),      # 002/004: (H + 2P - FH)/S + 1
])
def test_output_size_formulas(W, F_, S, P, expected):
    assert conv_out_size(W, F_, S, 2 * P, 1) == expected
    out = F.conv2d(Tensor(np.zeros((1, 1, W, W))), Tensor(np.zeros((1, 1, F_, F_))), stride=S, padding=P)
    assert out.shape[2:] == (expected, expected)


def test_stride_3_on_7_with_3_does_not_divide():
    """000: (7 - 3)/3 + 1 = 2.33 is not an integer; frameworks floor it to 2, as PyTorch."""
    assert F.conv2d(Tensor(np.zeros((1, 1, 7, 7))), Tensor(np.zeros((1, 1, 3, 3))), stride=3).shape == (1, 1, 2, 2)


def seed_pool(x, pool, mode):
    """The notes' MaxPooling / AveragePooling forward, built on im2col."""
    N, C, H, W = x.shape
    out_h = out_w = 1 + (H - pool) // pool
    col = seed_im2col(x, pool, pool, pool, 0).reshape(-1, pool * pool)
    out = np.max(col, axis=1) if mode == "max" else np.mean(col, axis=1)
    return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("batch", [1, 10])
def test_max_and_average_pooling_examples(batch):
    """000: (1,3,7,7) and (10,3,7,7) pooled 2x2 stride 2 give (batch, 3, 3, 3)."""
    x = np.random.default_rng(batch).random((batch, 3, 7, 7))
    mp = F.max_pool2d(Tensor(x, dtype=np.float64), 2, 2)
    ap = F.avg_pool2d(Tensor(x, dtype=np.float64), 2, 2)
    assert mp.shape == ap.shape == (batch, 3, 3, 3)
    np.testing.assert_allclose(mp.numpy(), seed_pool(x, 2, "max"))
    np.testing.assert_allclose(ap.numpy(), seed_pool(x, 2, "mean"))


def test_global_average_pooling_three_ways():
    """000: avg_pool2d over the whole map, adaptive (1, 1), and a mean over H*W agree."""
    x = Tensor(np.random.default_rng(0).random((1, 3, 7, 7)))
    g1 = F.avg_pool2d(x, x.shape[2:])
    g2 = F.adaptive_avg_pool2d(x, (1, 1))
    g3 = x.view(x.shape[0], x.shape[1], -1).mean(dim=2)
    assert g1.shape == g2.shape == (1, 3, 1, 1) and g3.shape == (1, 3)
    np.testing.assert_allclose(g1.numpy().reshape(1, 3), g3.numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.global_avg_pool2d(x).numpy(), g2.numpy(), rtol=1e-6)


def test_maxpool_with_padding_gives_4x4_as_deep_cnn():
    """004: MaxPool2d(2, 2, padding=1) on 7x7 gives 4x4 (2048 = 4*4*128 features)."""
    assert F.max_pool2d(Tensor(np.zeros((1, 128, 7, 7))), 2, 2, padding=1).shape == (1, 128, 4, 4)


def test_leaky_relu_of_the_notes():
    """001: Leaky ReLU max(0.1x, x)."""
    x = Tensor([-2.0, 0.5])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).numpy(), [-0.2, 0.5])


def test_edge_filters_detect_a_vertical_edge():
    """001: a Sobel mask responds to a vertical edge and not to a flat region."""
    img = np.zeros((1, 1, 5, 6), np.float32)
    img[..., 3:] = 1.0
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)[None, None]
    out = F.conv2d(Tensor(img), Tensor(sobel_x)).numpy()[0, 0]
    assert np.all(out[:, 0] == 0) and np.all(out[:, 1:3] == 4)


def test_reference_kernels_reproduce_the_notes_im2col():
    x = np.random.default_rng(3).random((2, 3, 7, 7))
    cols = np.empty((2 * 9, 75))
    reference.im2col(x, 5, 5, 1, 1, 0, 0, 1, 1, 3, 3, cols)
    np.testing.assert_array_equal(cols, seed_im2col(x, 5, 5))
