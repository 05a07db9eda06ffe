"""Dropout: identity in eval; in train a mask with drop fraction ~p and survivors scaled 1/(1-p)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def test_eval_mode_is_identity():
    layer = nn.Dropout(0.7).eval()
    x = tc.Tensor.randn(50, 40)
    assert np.array_equal(layer(x).numpy(), x.numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_train_mode_drops_about_p_and_scales_survivors(p):
    tc.manual_seed(0)
    layer = nn.Dropout(p)
    x = tc.Tensor(np.full((200, 250), 2.0, np.float32))
    y = layer(x).numpy()
    dropped = np.mean(y == 0)
    assert abs(dropped - p) < 0.01  # 50,000 draws: std of the fraction < 0.0023
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32


def test_gradient_uses_the_same_mask_and_scale():
    tc.manual_seed(1)
    layer = nn.Dropout(0.3)
    x = tc.Tensor(np.ones((30, 30), np.float32), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy(), rtol=1e-6)  # y = mask * 1/(1-p)


def test_dropout_is_repeatable_under_manual_seed():
    x = tc.Tensor.ones(10, 10)
    tc.manual_seed(5)
    a = nn.Dropout(0.5)(x).numpy()
    tc.manual_seed(5)
    b = nn.Dropout(0.5)(x).numpy()
    assert np.array_equal(a, b)


def test_p_zero_and_one():
    x = tc.Tensor.randn(4, 4)
    assert np.array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(x).numpy().any()
