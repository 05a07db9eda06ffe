"""A torch-style training loop built from the compatibility pieces (TensorDataset, DataLoader,
Conv2d + GroupNorm + GELU + AdaptiveMaxPool2d + ConvTranspose2d, weighted CrossEntropyLoss,
RMSprop + MultiStepLR) gives torch's losses step by step from the same initial weights."""
import numpy as np
import pytest

import tinygrad_cnn as tc

torch = pytest.importorskip("torch")


def _model(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.GELU(),
        nn.ConvTranspose2d(4, 4, 2, stride=2), nn.SiLU(), nn.AdaptiveMaxPool2d((3, 3)),
        nn.Flatten(), nn.Dropout(0.0), nn.Linear(36, 5))


def _run(lib, nn, optim, data, state):
    model = _model(nn)
    model.load_state_dict(state)
    weight = lib.tensor(np.array([1.0, 2.0, 0.5, 1.0, 1.5], np.float32)) if lib is torch else \
        tc.Tensor(np.array([1.0, 2.0, 0.5, 1.0, 1.5], np.float32))
    loss_fn = nn.CrossEntropyLoss(weight=weight, ignore_index=4, label_smoothing=0.1)
    opt = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5, centered=True)
    sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    losses = []
    for images, labels in data:
        opt.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_losses_equal_torch_step_by_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 5, 24)
    theirs_model = _model(torch.nn)
    state = {k: v.detach().numpy().copy() for k, v in theirs_model.state_dict().items()}
    ours_data = tc.utils.data.DataLoader(
        tc.utils.data.TensorDataset(tc.Tensor(x), tc.Tensor(y)), batch_size=4)
    theirs_data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    ours = _run(tc, tc.nn, tc.optim, ours_data, state)
    theirs = _run(torch, torch.nn, torch.optim,
                  theirs_data, {k: torch.tensor(v) for k, v in state.items()})
    assert len(ours) == 6
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
