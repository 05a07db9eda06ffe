"""Issue 11's tensor semantics on device "cuda": in-place ops, versions, sort/topk, devices."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from strategies import tie_free
from tinygrad_cnn import nn, optim


def test_cuda_device_strings_and_availability():
    assert tc.cuda.is_available() and tc.cuda.device_count() == 1
    assert tc.accelerator.current_accelerator() == "cuda"
    x = tc.ones(2, device="cuda:0")
    assert x.device == "cuda" and x.device == tc.device("cuda:0") and x.is_cuda
    assert tc.zeros(3).to(tc.device("cuda", 0)).device == "cuda"
    with pytest.raises(TypeError, match="can't convert cuda device type tensor to numpy"):
        np.asarray(x)


def test_inplace_ops_on_the_device_equal_the_cpu():
    a = tie_free((2, 3), 0, np.float32)
    results = []
    for device in ("cpu", "cuda"):
        x = tc.tensor(a, device=device)
        x.add_(1).mul_(tc.tensor([1.0, 2.0, 3.0], device=device))
        x -= 0.5
        x /= 2
        x.clamp_(-1, 2)
        x[0].zero_() if device == "cpu" else None
        results.append(x.cpu().numpy())
        assert x._version == 5 + (device == "cpu")
    results[1][0] = 0
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    y = tc.zeros(2, 3, device="cuda")
    y.copy_(tc.tensor(a))            # from the host, as torch's copy_ across devices
    np.testing.assert_array_equal(y.cpu().numpy(), a)
    y.fill_(3)
    assert y.cpu().numpy().sum() == 18


def test_views_on_the_device():
    x = tc.zeros(2, 3, device="cuda")
    x.view(6).add_(1)                # a reshape shares memory on the device too
    assert x.cpu().numpy().sum() == 6
    with pytest.raises(RuntimeError, match="holds a copy"):
        x.t().add_(1)                # a transpose is a copy on the device: refused, not lost


def test_non_leaf_inplace_backward_on_the_device():
    grads = []
    for device in ("cpu", "cuda"):
        x = tc.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
        y = x * 2
        y *= x
        y += 1
        y.sum().backward()
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_sort_topk_max_on_the_device_equal_the_cpu():
    a = tie_free((3, 4), 1, np.float32)
    cpu, dev = tc.tensor(a, requires_grad=True), tc.tensor(a, device="cuda", requires_grad=True)
    for fn in (lambda t: t.sort(1, descending=True), lambda t: t.topk(2, 0),
               lambda t: t.max(1), lambda t: t.min(0, keepdim=True)):
        (v1, i1), (v2, i2) = fn(cpu), fn(dev)
        np.testing.assert_array_equal(v1.detach().numpy(), v2.detach().cpu().numpy())
        np.testing.assert_array_equal(i1.numpy(), i2.cpu().numpy())
        v1.sum().backward()
        v2.sum().backward()
    np.testing.assert_allclose(cpu.grad.numpy(), dev.grad.cpu().numpy())


def test_optimizer_step_bumps_versions_on_the_device():
    w = nn.Parameter(tc.ones(3, device="cuda"))
    w.grad = tc.ones(3, device="cuda")
    loss = (w * w).sum()
    optim.SGD([w], lr=0.1, momentum=0.9).step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    with tc.no_grad():
        w -= 0.5 * w.grad
    np.testing.assert_allclose(w.cpu().numpy(), [0.4, 0.4, 0.4], rtol=1e-6)


def test_setitem_on_the_device_equals_the_cpu():
    a = tie_free((3, 4), 2, np.float32)
    out = []
    for device in ("cpu", "cuda"):
        x = tc.tensor(a, device=device)
        x[x < 0] = 0
        x[0] = 5
        x[:, 1] = tc.tensor([1.0, 2.0, 3.0], device=device)
        out.append(x.cpu().numpy())
        assert x._version == 3
    np.testing.assert_array_equal(out[0], out[1])


def test_moving_between_devices_is_differentiable():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * 2).cuda()
    assert y.requires_grad and not y.is_leaf
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0, 24.0])
    w = tc.ones(2, device="cuda", requires_grad=True)
    (w.cpu() * 3).sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), [3.0, 3.0])


def test_data_and_detach_of_a_copied_view_refuse_in_place_writes():
    x = tc.zeros(2, 3, device="cuda")
    for alias in (x.t().data, x.t().detach()):
        with pytest.raises(RuntimeError, match="holds a copy"):
            alias.add_(1)
    assert x.cpu().numpy().sum() == 0
