"""Every differentiable op through autograd on "cuda" equals the same op on "cpu" (float64):
outputs and input gradients, for the op variants the layers use."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from strategies import arrays, tie_free
from tinygrad_cnn import Tensor

X4 = (2, 2, 5, 4)          # a small NCHW input
OPS = {
    "conv_groups_stride_dilation": (lambda x, w: F.conv2d(x, w, None, (2, 1), 1, (1, 2), 2),
                                    [X4, (4, 1, 2, 3)]),
    "conv_same_bias": (lambda x, w, b: F.conv2d(x, w, b, padding="same"),
                       [X4, (3, 2, 2, 3), (3,)]),
    "max_pool_ceil_pad": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), ["tie", X4]),
    "max_pool_dilated": (lambda x: F.max_pool2d(x, 2, 1, 0, dilation=(2, 1)), ["tie", X4]),
    "avg_pool_no_pad_count": (lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), [X4]),
    "adaptive_avg_pool": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [X4]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [X4, (2,), (2,)]),
    "batch_norm_eval": (lambda x: F.batch_norm(x, Tensor([0.1, -0.2], dtype=np.float64).cuda()
                                               if x.device == "cuda" else
                                               Tensor([0.1, -0.2], dtype=np.float64),
                                               Tensor([1.5, 0.5], dtype=np.float64).to(x.device)),
                        [X4]),
    "activations": (lambda x: F.leaky_relu(x, 0.1) + F.elu(x, 0.7) + x.sigmoid() * x.tanh()
                    + x.clip(-0.5, 0.5) + x.abs(), [(3, 4)]),
    "log_sqrt_pow_div": (lambda x, y: (x * x + 1).log() + (y * y + 0.5).sqrt() / (x * x + 1)
                         + (y * y + 1) ** x, [(3, 4), (4,)]),
    "softmax_dims": (lambda x: x.softmax(0) * x.log_softmax(2).exp() + x.softmax(1), [(2, 3, 4)]),
    "reductions": (lambda x: x.var(1, keepdim=True) + x.max(0).values + x.min(2, keepdim=True).values
                   + x.mean((0, 2), keepdim=True), ["tie", (2, 3, 4)]),
    "maxout": (lambda x: F.maxout(x, 2), ["tie", (2, 4, 3)]),
    "cross_entropy_smoothing": (lambda x: F.cross_entropy(x, np.array([1, 0, 3]),
                                                          label_smoothing=0.2), [(3, 4)]),
    "cross_entropy_none": (lambda x: F.cross_entropy(x, np.array([2, 2, 0]), reduction="none"),
                           [(3, 4)]),
    "nll_and_mse": (lambda x, y: F.nll_loss(x.log_softmax(1), np.array([0, 3, 1]))
                    + F.mse_loss(x, y), [(3, 4), (3, 4)]),
    "movement": (lambda x: tc.cat([x.permute(2, 0, 1)[1:, :, ::2], x.transpose(0, 2)[:, 1:]],
                                  0).reshape(-1) * 2, [(2, 3, 4)]),
    "stack_expand_index": (lambda x: tc.stack([x[0], x[1]], 1).unsqueeze(1).expand(2, 4, 2, 3)
                           + x[[1, 0]][:, None], [(2, 2, 3)]),
    "batched_matmul": (lambda a, b: a @ b + (a[0] @ b[1]), [(2, 3, 4), (2, 4, 2)]),
    "linear_vector": (lambda x, w, b: F.linear(x, w, b) @ Tensor(np.ones(2)).to(x.device),
                      [(3, 4), (2, 4), (2,)]),
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
def test_op_on_cuda_equals_cpu(name):
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
