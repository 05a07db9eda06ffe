"""Tensors and modules on device "cuda": moving, mixing devices, autograd on the device."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from strategies import arrays
from tinygrad_cnn import Tensor, nn


def test_to_and_back_keeps_values_dtype_and_shape():
    for a in (arrays((2, 3), 0, np.float32), arrays((4,), 1, np.float64), np.arange(5),
              np.array(3.5), np.array([True, False])):
        t = Tensor(a, dtype=a.dtype).to("cuda")
        assert t.device == "cuda" and t.dtype == a.dtype and t.shape == a.shape
        back = t.cpu()
        assert back.device == "cpu"
        np.testing.assert_array_equal(back.numpy(), a)
    x = Tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.cuda().cuda().device == "cuda"
    assert "device='cuda'" in repr(x.cuda())


def test_constructors_on_the_device():
    z = Tensor.zeros(2, 3, device="cuda")
    assert z.device == "cuda" and z.numpy().sum() == 0
    tc.manual_seed(0)
    r = Tensor.randn(3, device="cuda")
    tc.manual_seed(0)
    np.testing.assert_array_equal(r.numpy(), Tensor.randn(3).numpy())
    assert Tensor.ones_like(z).device == "cuda"


def test_mixing_devices_names_both():
    a, b = Tensor([1.0, 2.0]).cuda(), Tensor([3.0, 4.0])
    for op in (lambda: a + b, lambda: b * a, lambda: a @ b, lambda: tc.cat([a, b])):
        with pytest.raises(RuntimeError, match="different devices, '(cuda|cpu)' and '(cpu|cuda)'"):
            op()
    with pytest.raises(RuntimeError, match="'cuda' and 'cpu'"):
        _ = a == b
    x = Tensor(np.zeros((1, 1, 4, 4), np.float32)).cuda()
    with pytest.raises(RuntimeError, match="different devices"):
        F.conv2d(x, Tensor(np.zeros((1, 1, 3, 3), np.float32)))


def test_scalars_join_the_tensor_on_its_device():
    a = Tensor([1.0, 2.0, 3.0]).cuda()
    out = (2 * a + 1) / 2 - a ** 2
    assert out.device == "cuda" and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), (2 * np.array([1, 2, 3.0]) + 1) / 2 - np.array([1, 4, 9.0]),
                               rtol=1e-6)


def test_autograd_on_the_device_matches_the_cpu():
    a, b = arrays((3, 4), 2), arrays((4,), 3)

    def run(device):
        # made on the device: .to(device) of a tensor that requires grad is not a leaf (torch)
        x = Tensor(a, dtype=np.float64, requires_grad=True, device=device)
        y = Tensor(b, dtype=np.float64, requires_grad=True, device=device)
        loss = ((x * y).relu().sum(1).softmax(0) * (x.max(1).values - x.mean(1))).sum()
        loss = loss + (x[1:, ::2].exp().var() + y.tanh().sigmoid().sum()) * 0.5
        loss.backward()
        return loss.item(), x.grad.numpy(), y.grad.numpy(), x.grad.device

    (l1, gx1, gy1, _), (l2, gx2, gy2, dev2) = run("cpu"), run("cuda")
    assert dev2 == "cuda"
    np.testing.assert_allclose(l2, l1, rtol=1e-12)
    np.testing.assert_allclose(gx2, gx1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy2, gy1, rtol=1e-10, atol=1e-12)


def test_indexing_cat_stack_and_argmax_on_the_device():
    a = arrays((4, 3), 4, np.float32)
    t = Tensor(a).cuda()
    np.testing.assert_array_equal(t[1].numpy(), a[1])
    np.testing.assert_array_equal(t[:, 1:3].numpy(), a[:, 1:3])
    np.testing.assert_array_equal(t[[0, 2, 2]].numpy(), a[[0, 2, 2]])
    np.testing.assert_array_equal(t[Tensor([3, 0]).cuda()].numpy(), a[[3, 0]])
    np.testing.assert_array_equal(tc.cat([t, t], 1).numpy(), np.concatenate([a, a], 1))
    np.testing.assert_array_equal(tc.stack([t, t]).numpy(), np.stack([a, a]))
    np.testing.assert_array_equal(t.argmax(1).numpy(), a.argmax(1))
    assert t.argmax().item() == a.argmax()


def test_module_to_moves_parameters_buffers_and_grads():
    tc.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    x = Tensor(arrays((2, 1, 3, 3), 5, np.float32))
    model(x).sum().backward()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    assert model.to("cuda") is model
    for t in list(model.parameters()) + list(model.buffers()):
        assert t.device == "cuda"
    for p in model.parameters():
        assert p.grad.device == "cuda"
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    out = model(x.cuda())
    assert out.device == "cuda"
    model.cpu()
    assert all(p.device == "cpu" for p in model.parameters())


def test_nll_loss_and_dropout_on_the_device():
    logits = Tensor(arrays((3, 4), 6), dtype=np.float64).cuda()
    logits.requires_grad = True
    target = Tensor(np.array([1, 0, 3])).cuda()
    loss = F.nll_loss(logits.log_softmax(1), target)
    loss.backward()
    ref = Tensor(arrays((3, 4), 6), dtype=np.float64, requires_grad=True)
    ref_loss = F.nll_loss(ref.log_softmax(1), Tensor(np.array([1, 0, 3])))
    ref_loss.backward()
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(logits.grad.numpy(), ref.grad.numpy(), rtol=1e-10, atol=1e-14)
    tc.manual_seed(3)
    d = F.dropout(Tensor.ones(4, 4, device="cuda"), 0.5)
    assert d.device == "cuda" and set(np.unique(d.numpy())) <= {0.0, 2.0}
