"""The torchvision-exact constructors against torchvision 0.28 (weights=None): parameter
counts, state-dict keys/order/shapes, weights loaded in both directions giving the same
eval logits, and train-mode loss and gradients in float64.

The 224x224 checks are marked ``slow`` (each model once, batch 1); deselect them with
``-m "not slow"`` while developing.
"""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import models
from tinygrad_cnn.nn import functional as F
from torchvision_import import import_torchvision_models

tv_models = import_torchvision_models()
needs_torchvision = pytest.mark.skipif(tv_models is None, reason="torchvision not installed")

# From the issue, checked against torchvision 0.28 with torch 2.13.
PARAMETER_COUNTS = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544,
    "vgg11_bn": 132_868_840, "googlenet": 13_004_888, "resnet18": 11_689_512,
    "resnet34": 21_797_672, "densenet121": 7_978_856,
}
SMALL = ("googlenet", "resnet18", "resnet34", "densenet121")


def _torchvision(name):
    import torch
    torch.manual_seed(0)
    kwargs = {"aux_logits": True, "init_weights": True} if name == "googlenet" else {}
    return getattr(tv_models, name)(weights=None, **kwargs)


def _numpy_state(tmodel):
    return {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}


def _randomise_batch_norm(tmodel, seed):
    """Batch-norm weights, biases and running statistics away from torchvision's 1/0/0/1
    init, so the eval forward exercises them."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                C = m.num_features
                m.weight.copy_(torch.rand(C, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(C, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(C, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(C, generator=gen) + 0.5)


def _assert_logits_close(ours, theirs, rtol=1e-3):
    """Within rtol of the logits' largest magnitude (the logits of random weights can sit
    near zero, where an elementwise relative check means nothing)."""
    scale = np.abs(theirs).max()
    assert scale > 0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("name", SMALL)
def test_parameter_count(name):
    model = models.TORCHVISION_MODELS[name]()
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[name]


def test_googlenet_without_aux_heads():
    model = models.googlenet(aux_logits=False)
    assert sum(p.numel() for p in model.parameters()) == 6_624_904
    assert not any(k.startswith("aux") for k in model.state_dict())


@pytest.mark.slow
@needs_torchvision
@pytest.mark.parametrize("name", list(PARAMETER_COUNTS))
def test_matches_torchvision(name):
    """Keys, order, shapes and counts; torchvision's weights into ours (224x224, batch 1)
    and ours into torchvision (64x64, batch 2) give the same eval logits."""
    import torch
    tc.manual_seed(0)
    ours, theirs = models.TORCHVISION_MODELS[name](), _torchvision(name)
    assert sum(p.numel() for p in ours.parameters()) == PARAMETER_COUNTS[name]
    assert sum(p.numel() for p in theirs.parameters()) == PARAMETER_COUNTS[name]
    ours_state = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    assert list(ours_state) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert ours_state[key].shape == tuple(value.shape), key
    ours.eval(), theirs.eval()

    # torchvision -> ours
    _randomise_batch_norm(theirs, seed=2)
    ours.load_state_dict(_numpy_state(theirs))
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with tc.no_grad(), torch.no_grad():
        logits = ours(tc.Tensor(x)).numpy()
        assert logits.shape == (1, 1000)
        _assert_logits_close(logits, theirs(torch.from_numpy(x)).numpy())

    # ours (our own initialisation) -> torchvision
    ours.load_state_dict(ours_state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours_state.items()})
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with tc.no_grad(), torch.no_grad():
        _assert_logits_close(ours(tc.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).numpy())


@needs_torchvision
@pytest.mark.parametrize("name, first_conv", [("resnet18", "conv1"),
                                              ("densenet121", "features.conv0")])
def test_train_step_matches_torchvision_float64(name, first_conv):
    """Train mode at 64x64 in float64: batch-norm batch statistics, the loss and the first
    conv's weight gradient, and the running statistics after the step."""
    import torch
    theirs = _torchvision(name).double().train()
    ours = models.TORCHVISION_MODELS[name]().double().train()
    ours.load_state_dict(_numpy_state(theirs))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 64, 64))
    y = np.array([3, 917])
    loss = F.cross_entropy(ours(tc.Tensor(x, dtype=np.float64)), tc.Tensor(y))
    loss.backward()
    their_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)),
                                                   torch.from_numpy(y))
    their_loss.backward()
    np.testing.assert_allclose(loss.item(), their_loss.item(), rtol=1e-9)
    ours_grad = dict(ours.named_parameters())[first_conv + ".weight"].grad.numpy()
    their_grad = dict(theirs.named_parameters())[first_conv + ".weight"].grad.numpy()
    np.testing.assert_allclose(ours_grad, their_grad, rtol=1e-7,
                               atol=1e-9 * np.abs(their_grad).max())
    ours_state, their_state = ours.state_dict(), theirs.state_dict()
    for key in [k for k in their_state if "running" in k][:6]:
        np.testing.assert_allclose(ours_state[key].numpy(), their_state[key].numpy(),
                                   rtol=1e-9, atol=1e-12)


@needs_torchvision
def test_googlenet_train_outputs_match_torchvision():
    """In training GoogLeNet returns (logits, aux_logits2, aux_logits1) as torchvision's named
    tuple; with dropout off, each matches torchvision's at 64x64."""
    import torch
    theirs = _torchvision("googlenet").train()
    ours = models.googlenet().train()
    ours.load_state_dict(_numpy_state(theirs))
    for model in (ours, theirs):
        for m in (model.dropout, model.aux1.dropout, model.aux2.dropout):
            m.p = 0.0
    x = np.random.default_rng(5).standard_normal((2, 3, 64, 64)).astype(np.float32)
    out, ref = ours(tc.Tensor(x)), theirs(torch.from_numpy(x))
    assert type(out).__name__ == type(ref).__name__ == "GoogLeNetOutputs"
    assert out._fields == ref._fields == ("logits", "aux_logits2", "aux_logits1")
    for a, b in zip(out, ref):
        _assert_logits_close(a.numpy(), b.detach().numpy())
    ours.eval(), theirs.eval()
    assert isinstance(ours(tc.Tensor(x)), tc.Tensor)
    ours.transform_input = theirs.transform_input = True     # ImageNet -> [-1, 1] per channel
    with torch.no_grad():
        _assert_logits_close(ours(tc.Tensor(x)).numpy(), theirs(torch.from_numpy(x)).numpy())


def test_resnet_zero_init_residual_zeroes_each_blocks_last_batch_norm():
    model = models.resnet18(zero_init_residual=True)
    blocks = [m for m in model.modules() if isinstance(m, models.resnet.BasicBlock)]
    assert len(blocks) == 8
    assert all(not b.bn2.weight.numpy().any() for b in blocks)
    assert models.resnet18().layer1[0].bn2.weight.numpy().all()
