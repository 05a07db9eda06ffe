"""The PyTorch-compatibility ops on "cuda" equal the same ops on "cpu" (float64): transposed
conv, GELU (erf kernel), log-sigmoid, normalisations, padding, resizing and the new losses."""
import numpy as np
import pytest

import tinygrad_cnn.nn.functional as F
from strategies import arrays, tie_free
from tinygrad_cnn import Tensor

X4 = (2, 2, 5, 4)


def _ce_weighted(x):
    w = Tensor([0.5, 2.0, 1.0], dtype=np.float64).to(x.device)
    t = Tensor(np.array([0, 2, 1, 2])).to(x.device)
    return F.cross_entropy(x, t, weight=w, ignore_index=1, label_smoothing=0.1)


OPS = {
    "conv_transpose": (lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, (1, 2)),
                       [X4, (2, 2, 3, 2), (4,)]),
    "conv_transpose_plain": (lambda x, w: F.conv_transpose2d(x, w), [X4, (2, 3, 2, 2)]),
    "conv_transpose_output_padding_by_dilation": (
        lambda x, w: F.conv_transpose2d(x, w, None, 1, 1, (1, 1), 1, 2), [X4, (2, 3, 2, 2)]),
    "gelu": (lambda x: F.gelu(x) + F.gelu(x, "tanh") + F.silu(x), [(3, 4)]),
    "norms": (lambda x, w, b: F.layer_norm(x, (5, 4), None, None) + F.group_norm(x, 2, w, b)
              + F.local_response_norm(x, 3), [X4, (2,), (2,)]),
    "pad_interpolate": (lambda x: F.pad(x, (1, 2, 2, 1), "reflect").sum()
                        + F.pad(x, (1, 1, 0, 2), "replicate").sum() + F.pad(x, (1, 0, 2, 1)).sum()
                        + F.pad(x, (2, 1, 1, 1), "circular").sum()
                        + F.interpolate(x, scale_factor=1.5).sum(), [X4]),
    "adaptive_max": (lambda x: F.adaptive_max_pool2d(x, (2, 3)), ["tie", X4]),
    "binary_losses": (lambda x, t: F.binary_cross_entropy_with_logits(x, t.sigmoid())
                      + F.binary_cross_entropy(x.sigmoid(), t.sigmoid())
                      + F.smooth_l1_loss(x, t) + F.huber_loss(x, t, delta=0.5) + F.l1_loss(x, t)
                      + F.kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"),
                      [(3, 4), (3, 4)]),
    "cross_entropy_weighted": (_ce_weighted, [(4, 3)]),
}


def _inputs(spec, device):
    tie = spec and spec[0] == "tie"
    shapes = spec[1:] if tie else spec
    out = []
    for k, shape in enumerate(shapes):
        data = tie_free(shape, k) if tie and k == 0 else arrays(shape, k + 1)
        t = Tensor(data, dtype=np.float64).to(device)
        t.requires_grad = True
        out.append(t)
    return out


@pytest.mark.parametrize("name", sorted(OPS))
def test_extra_op_on_cuda_equals_cpu(name):
    fn, spec = OPS[name]
    results = []
    for device in ("cpu", "cuda"):
        inputs = _inputs(spec, device)
        out = fn(*inputs)
        assert out.device == device
        g = np.random.default_rng(0).standard_normal(out.shape)
        (out * Tensor(g, dtype=np.float64).to(device)).sum().backward()
        results.append((out.numpy(), [t.grad.numpy() for t in inputs]))
    (out_cpu, grads_cpu), (out_cuda, grads_cuda) = results
    np.testing.assert_allclose(out_cuda, out_cpu, rtol=1e-10, atol=1e-12)
    for k, (a, b) in enumerate(zip(grads_cuda, grads_cpu)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"grad of input {k}")


def test_erf_kernel_float32_on_cuda():
    x = np.linspace(-3, 3, 37, dtype=np.float32)
    y = F.gelu(Tensor(x).to("cuda"))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), F.gelu(Tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
