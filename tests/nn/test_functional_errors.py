"""Bad input gets a clear error naming the problem and the numbers."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor


def z(*shape, dtype=np.float32):
    return Tensor(np.zeros(shape, dtype), dtype=dtype)


def test_conv_input_not_4d():
    with pytest.raises(ValueError, match=r"4-D input .* got shape \(28, 28\)"):
        F.conv2d(z(28, 28), z(3, 1, 3, 3))


def test_conv_channel_mismatch():
    with pytest.raises(ValueError, match=r"expected 3 input channels .* got 1 \(input shape \(8, 1, 28, 28\)\)"):
        F.conv2d(z(8, 1, 28, 28), z(4, 3, 3, 3))


def test_conv_groups_not_dividing():
    with pytest.raises(ValueError, match="groups=3 must divide both input channels \\(4\\)"):
        F.conv2d(z(1, 4, 5, 5), z(6, 2, 3, 3), groups=3)


def test_conv_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="kernel height 7 .* larger than the padded input height 5 \\+ 0"):
        F.conv2d(z(1, 1, 5, 5), z(1, 1, 7, 3))


def test_conv_integer_input_refused():
    with pytest.raises(TypeError, match="float32 or float64 input, got int64"):
        F.conv2d(Tensor(np.zeros((1, 1, 3, 3), np.int64)), z(1, 1, 2, 2))


def test_conv_bad_padding_and_bias():
    with pytest.raises(ValueError, match="'same' or 'valid', got 'full'"):
        F.conv2d(z(1, 1, 5, 5), z(1, 1, 3, 3), padding="full")
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(z(1, 1, 5, 5), z(1, 1, 3, 3), padding="same", stride=2)
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\), got \(3,\)"):
        F.conv2d(z(1, 1, 5, 5), z(2, 1, 3, 3), z(3))
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        F.conv2d(z(1, 1, 5, 5), z(1, 1, 3, 3), stride=1.5)


def test_pool_padding_more_than_half_kernel():
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be >= 0 and at most half the kernel size \(3, 3\)"):
        F.max_pool2d(z(1, 1, 8, 8), 3, padding=2)


def test_pool_output_below_one():
    with pytest.raises(ValueError, match="output height would be 0"):
        F.max_pool2d(z(1, 1, 2, 8), 3)
    with pytest.raises(ValueError, match="4-D input"):
        F.avg_pool2d(z(8, 8), 2)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"target 10 is outside \[0, 10\) classes"):
        F.cross_entropy(z(2, 10), Tensor([3, 10]))
    with pytest.raises(ValueError, match=r"target -1 is outside"):
        F.nll_loss(z(2, 10), Tensor([-1, 0]))
    with pytest.raises(TypeError, match="integer class indices, got float32"):
        F.cross_entropy(z(2, 10), Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\), got \(3,\)"):
        F.cross_entropy(z(2, 10), Tensor([1, 2, 3]))


def test_linear_and_matmul_shape_errors():
    with pytest.raises(ValueError, match="expected 5 input features, got 4"):
        F.linear(z(2, 4), z(3, 5))
    with pytest.raises(ValueError, match=r"matmul shapes \(2, 4\) and \(5, 3\) do not match: 4 != 5"):
        z(2, 4) @ z(5, 3)


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64 inputs, got float32"):
        tc.gradcheck(lambda x: x * 2, [Tensor([1.0], requires_grad=True)])


def test_dtype_mismatch_between_input_and_weight():
    with pytest.raises(TypeError, match="input dtype float64 differs from weight dtype float32"):
        F.conv2d(z(1, 1, 3, 3, dtype=np.float64), z(1, 1, 2, 2))
