"""Helpers shared by the nn module tests: torch <-> ours weight copies and comparisons."""
import numpy as np

import tinygrad_cnn as tc


def torch_state_as_numpy(tmod):
    """A torch module's state_dict as name -> NumPy array."""
    return {k: v.detach().cpu().numpy().copy() for k, v in tmod.state_dict().items()}


def copy_torch_to_ours(tmod, ours):
    """Load the torch module's weights and buffers into ours (strict)."""
    ours.load_state_dict(torch_state_as_numpy(tmod))


def run_both(ours, tmod, x, seed=0):
    """Forward both on x (NumPy), backward a fixed random upstream gradient.

    Returns (our output, torch output, our input grad, torch input grad) as NumPy arrays.
    """
    import torch

    xo = tc.Tensor(x, requires_grad=True, dtype=x.dtype)
    xt = torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), tmod(xt)
    g = np.random.default_rng(seed).standard_normal(yt.shape).astype(x.dtype)
    (yo * tc.Tensor(g, dtype=x.dtype)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    return yo.numpy(), yt.detach().numpy(), xo.grad.numpy(), xt.grad.numpy()


def assert_param_grads_match(ours, tmod, rtol, atol):
    """Every named parameter's gradient equals torch's, name by name."""
    theirs = dict(tmod.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs), f"parameter names differ: {names} vs {list(theirs)}"
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"grad of {name}")
