"""Four PyTorch training scripts, changed only in their imports (and data), against torch.

Each test builds the torch and tinygrad_cnn versions of a script from one text
(tests/compat/compat_harness.py), starts both from the same weights and batches, runs the script's
own functions for a few steps and compares the losses, predictions and weights.
"""
import argparse
import re

import numpy as np
import pytest

import compat_harness as harness

torch = pytest.importorskip("torch")
import tinygrad_cnn as tc  # noqa: E402

LOSS_ATOL = 1e-4
SCRIPTS = ["mnist_example", "cifar_classifier", "notes_004", "lenet_manual"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_two_versions_differ_only_in_the_import_block(name):
    mine = harness.source(name, "tinygrad_cnn").splitlines()
    theirs = harness.source(name, "torch").splitlines()
    changed = [(a, b) for a, b in zip(mine, theirs) if a != b]
    assert len(mine) == len(theirs) and changed
    for a, b in changed:
        assert re.match(r"(import|from) tinygrad_cnn", a), a
        assert a.replace("tinygrad_cnn", "torch") == b
    # outside the imports only main()'s offline data lines name the framework
    outside = [line for line in mine if "tinygrad_cnn" in line and not line.startswith(("import", "from"))]
    assert all(line.lstrip().startswith("from tinygrad_cnn") for line in outside)


def _pair(name):
    return harness.load(name, "torch"), harness.load(name, "tinygrad_cnn")


def _assert_same_weights(torch_model, tc_model, rtol=1e-4, atol=1e-5):
    ours = tc_model.state_dict()
    for k, v in torch_model.state_dict().items():
        np.testing.assert_allclose(np.asarray(ours[k]), v.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=k)


def test_mnist_example_trains_as_torch_does():
    pt, ours = _pair("mnist_example")
    torch.manual_seed(0)
    net_t, net_c = pt.Net(), ours.Net()
    harness.copy_weights(net_t, net_c)
    # dropout masks come from two different generators: compare the arithmetic with p = 0
    for net in (net_t, net_c):
        net.dropout1.p = net.dropout2.p = 0.0
    images, labels = harness.digits(4 * 32, mean=0.1307, std=0.3081)
    loader_t, loader_c = harness.loaders(images, labels, batch_size=32)
    opt_t = pt.optim.Adadelta(net_t.parameters(), lr=1.0)
    opt_c = ours.optim.Adadelta(net_c.parameters(), lr=1.0)
    sched_t = pt.StepLR(opt_t, step_size=1, gamma=0.7)
    sched_c = ours.StepLR(opt_c, step_size=1, gamma=0.7)
    args = argparse.Namespace(log_interval=1, dry_run=False)
    for epoch in (1, 2):
        lt = harness.printed_losses(pt.train, args, net_t, pt.torch.device("cpu"), loader_t, opt_t, epoch)
        lc = harness.printed_losses(ours.train, args, net_c, ours.torch.device("cpu"), loader_c, opt_c, epoch)
        assert len(lt) == len(lc) == 4
        np.testing.assert_allclose(lc, lt, atol=LOSS_ATOL)
        sched_t.step()
        sched_c.step()
    assert opt_c.param_groups[0]["lr"] == pytest.approx(opt_t.param_groups[0]["lr"])
    _assert_same_weights(net_t, net_c)
    test_images, test_labels = harness.digits(200, mean=0.1307, std=0.3081, offset=1000)
    test_t, test_c = harness.loaders(test_images, test_labels, batch_size=64)
    loss_t, correct_t = pt.test(net_t, "cpu", test_t)
    loss_c, correct_c = ours.test(net_c, "cpu", test_c)
    assert correct_c == correct_t
    assert loss_c == pytest.approx(loss_t, abs=LOSS_ATOL)


def test_mnist_example_main_runs_offline(tmp_path, capsys):
    ours = harness.load("mnist_example", "tinygrad_cnn")
    path = tmp_path / "mnist_cnn.pt"
    loss, correct = ours.main(["--epochs", "1", "--batch-size", "64", "--test-batch-size", "500",
                               "--log-interval", "20", "--no-accel", "--save-model", str(path)])
    printed = capsys.readouterr().out
    assert "Train Epoch: 1" in printed and "Test set: Average loss" in printed
    assert np.isfinite(loss) and correct / 500 > 0.8   # ~70 Adadelta steps on 4,500 digits
    reloaded = ours.Net()
    reloaded.load_state_dict(tc.load(str(path)))


def test_cifar_tutorial_trains_and_evaluates_as_torch_does(tmp_path):
    pt, ours = _pair("cifar_classifier")
    torch.manual_seed(1)
    net_t, net_c = pt.Net(), ours.Net()
    harness.copy_weights(net_t, net_c)
    crit_t, opt_t = pt.make_training(net_t)
    crit_c, opt_c = ours.make_training(net_c)
    crit_t, crit_c = harness.Recording(crit_t), harness.Recording(crit_c)
    images, labels = harness.digits(48, size=32, channels=3, mean=0.5, std=0.5)
    loader_t, loader_c = harness.loaders(images, labels, batch_size=4)
    pt.train(net_t, loader_t, crit_t, opt_t, epochs=2, every=6)
    ours.train(net_c, loader_c, crit_c, opt_c, epochs=2, every=6)
    assert len(crit_c.values) == 24
    np.testing.assert_allclose(crit_c.values, crit_t.values, atol=LOSS_ATOL)
    _assert_same_weights(net_t, net_c)

    net_t = pt.save_and_reload(net_t, str(tmp_path / "torch_net.pth"))
    net_c = ours.save_and_reload(net_c, str(tmp_path / "cifar_net.pth"))
    test_images, test_labels = harness.digits(40, size=32, channels=3, mean=0.5, std=0.5, offset=2000)
    test_t, test_c = harness.loaders(test_images, test_labels, batch_size=4)
    assert ours.first_predictions(net_c, test_c) == pt.first_predictions(net_t, test_t)
    assert ours.evaluate(net_c, test_c) == pt.evaluate(net_t, test_t)


class _TorchDigits:
    """What the notes read from torchvision's MNIST: `test_data`, `test_labels`, len()."""

    def __init__(self, images, labels):
        self.test_data = torch.from_numpy(images)
        self.test_labels = torch.from_numpy(labels)

    def __len__(self):
        return len(self.test_labels)


def test_notes_004_trains_and_evaluates_as_torch_does():
    pt, ours = _pair("notes_004")
    assert tuple(ours.shapes()[0]) == tuple(pt.shapes()[0]) == (1, 1, 28, 28)
    assert tuple(ours.shapes()[1]) == tuple(pt.shapes()[1]) == (1, 32, 14, 14)
    model_t, crit_t, opt_t = pt.setup()
    model_c, crit_c, opt_c = ours.setup()
    harness.copy_weights(model_t, model_c)
    crit_t, crit_c = harness.Recording(crit_t), harness.Recording(crit_c)
    images, labels = harness.digits(300)
    loader_t, loader_c = harness.loaders(images, labels, batch_size=100)
    cost_t = pt.fit(model_t, crit_t, opt_t, loader_t, training_epochs=2)
    cost_c = ours.fit(model_c, crit_c, opt_c, loader_c, training_epochs=2)
    np.testing.assert_allclose(crit_c.values, crit_t.values, atol=LOSS_ATOL)
    assert cost_c.item() == pytest.approx(cost_t.item(), abs=LOSS_ATOL)
    _assert_same_weights(model_t, model_c)

    from tinygrad_cnn.data import MNISTSample

    sample = MNISTSample(train=False)
    raw = np.asarray(sample.images[:500], dtype=np.uint8).reshape(500, 28, 28)
    targets = np.asarray(sample.labels[:500], dtype=np.int64)
    ours_test = MNISTSample(train=False)
    assert tuple(ours_test.test_data.shape)[1:] == (28, 28)
    acc_t = pt.accuracy(model_t, _TorchDigits(raw, targets))
    acc_c = ours.accuracy(model_c, _SubsetDigits(ours_test, 500))
    assert acc_c == pytest.approx(acc_t, abs=1e-6)


class _SubsetDigits:
    """The first ``n`` digits of a tinygrad_cnn dataset, read through its torchvision names."""

    def __init__(self, dataset, n):
        self.test_data = dataset.test_data[:n]
        self.test_labels = dataset.test_labels[:n]

    def __len__(self):
        return len(self.test_labels)


def test_notes_004_loader_is_the_notes_loader():
    ours = harness.load("notes_004", "tinygrad_cnn")
    from tinygrad_cnn import transforms
    from tinygrad_cnn.data import MNISTSample

    mnist_train = MNISTSample(train=True, transform=transforms.ToTensor())
    loader = ours.make_loader(mnist_train)
    assert len(loader) == len(mnist_train) // 100
    X, Y = next(iter(loader))
    assert tuple(X.shape) == (100, 1, 28, 28) and X.dtype == tc.float32
    assert tuple(Y.shape) == (100,) and Y.dtype == tc.int64
    assert 0.0 <= X.min().item() and X.max().item() <= 1.0


def test_textbook_lenet_manual_sgd_as_torch_does():
    pt, ours = _pair("lenet_manual")
    torch.manual_seed(2)
    net_t, net_c = pt.Net(), ours.Net()
    harness.copy_weights(net_t, net_c)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 32, 32)).astype(np.float32)
    target = rng.standard_normal(10).astype(np.float32)
    loss_t, bias_grad_t = pt.mse_step(net_t, torch.from_numpy(x), torch.from_numpy(target))
    loss_c, bias_grad_c = ours.mse_step(net_c, tc.tensor(x), tc.tensor(target))
    assert loss_c == pytest.approx(loss_t, abs=1e-6)
    np.testing.assert_allclose(bias_grad_c.numpy(), bias_grad_t.numpy(), rtol=1e-4, atol=1e-6)
    _assert_same_weights(net_t, net_c)

    g = rng.standard_normal((1, 10)).astype(np.float32)
    grads_t = pt.random_gradient(net_t, torch.from_numpy(x), torch.from_numpy(g))
    grads_c = ours.random_gradient(net_c, tc.tensor(x), tc.tensor(g))
    for a, b in zip(grads_c, grads_t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)

    images, labels = harness.digits(6 * 20, size=32)
    batches_t = [(torch.from_numpy(images[i:i + 20]), torch.from_numpy(labels[i:i + 20]))
                 for i in range(0, 120, 20)]
    batches_c = [(tc.tensor(images[i:i + 20]), tc.tensor(labels[i:i + 20])) for i in range(0, 120, 20)]
    np.testing.assert_allclose(ours.train(net_c, batches_c), pt.train(net_t, batches_t), atol=LOSS_ATOL)
    _assert_same_weights(net_t, net_c)
