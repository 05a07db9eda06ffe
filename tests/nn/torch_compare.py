"""Run one function on ours and torch's tensors: outputs and input gradients side by side."""
import numpy as np

import tinygrad_cnn as tc


def compare_fn(ours, theirs, arrays, grads=None, rtol=1e-7, atol=1e-9, seed=0):
    """ours(*Tensors) and theirs(*torch tensors) on the same float64 arrays: outputs equal,
    and the gradients of sum(out * g) (g fixed random) equal for every input in ``grads``
    (default: every float array)."""
    import torch

    grads = [a.dtype.kind == "f" for a in arrays] if grads is None else grads
    xo = [tc.Tensor(a, requires_grad=g, dtype=a.dtype) for a, g in zip(arrays, grads)]
    xt = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    yo, yt = ours(*xo), theirs(*xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg="forward")
    assert yo.shape == tuple(yt.shape)
    if not any(grads):
        return yo
    g = np.random.default_rng(seed).standard_normal(yt.shape)
    (yo * tc.Tensor(g, dtype=yo.dtype)).sum().backward()
    (yt * torch.tensor(g, dtype=yt.dtype)).sum().backward()
    for k, (a, b, need) in enumerate(zip(xo, xt, grads)):
        if need:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {k}")
    return yo


def gradcheck_fn(fn, arrays, grads=None, **kw):
    """tc.gradcheck of fn over float64 copies of ``arrays`` (those in ``grads`` checked)."""
    grads = [a.dtype.kind == "f" for a in arrays] if grads is None else grads
    inputs = [tc.Tensor(a, requires_grad=g, dtype=a.dtype) for a, g in zip(arrays, grads)]
    assert tc.gradcheck(fn, inputs, **kw)
