"""Tensor.register_post_accumulate_grad_hook, and the order in which backward finishes weights."""
import numpy as np
import pytest

import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor, nn


def test_hook_runs_after_each_accumulation_with_the_grad_in_place():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * 3).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(seen[0], [3, 3])
    np.testing.assert_allclose(seen[1], [5, 7])            # 3 + 2w: after accumulating
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2


def test_hook_refused_on_non_leaves_and_tensors_without_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        Tensor(np.ones(2)).register_post_accumulate_grad_hook(print)
    y = Tensor(np.ones(2), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only be registered on leaf tensors"):
        y.register_post_accumulate_grad_hook(print)


def test_backward_finishes_the_last_layer_weights_first():
    """Each layer's weight gradient is complete right after that layer's backward, so the
    last layer's arrive first (what lets data-parallel training reduce them early)."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 8),
                        nn.ReLU(), nn.Linear(8, 3))
    order = []
    for name, p in net.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)))
    F.cross_entropy(net(x), Tensor(np.array([0, 2]))).backward()
    layers = [n.split(".")[0] for n in order]
    assert layers == sorted(layers, key=int, reverse=True), order
    assert len(order) == 6
