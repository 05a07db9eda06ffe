"""PNG plots of a run: loss/accuracy curves, first-layer filters, feature maps of one digit.

Needs matplotlib (the ``train`` extra); importing this module without it raises ImportError.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn import nn  # noqa: E402


def plot_curves(history, path):
    """Train/test loss and accuracy per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("test_loss", "test")):
        ax_loss.plot(epochs, [h[key] for h in history], marker="o", label=label)
    for key, label in (("train_acc", "train"), ("test_acc", "test")):
        ax_acc.plot(epochs, [h[key] for h in history], marker="o", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def _grid(images, path, title, cmap):
    """Images (K, H, W) in a near-square grid, each scaled on its own."""
    k = len(images)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(images[i], cmap=cmap)
            ax.set_title(str(i), fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def first_conv(model):
    """The model's first Conv2d layer."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("the model has no Conv2d layer")


def plot_filters(model, path):
    """Every first-layer filter (input channel 0) as a small image."""
    conv = first_conv(model)
    w = conv.weight.numpy()[:, 0]                                  # (O, KH, KW)
    return _grid(w, path, f"first-layer filters {tuple(conv.weight.shape)}", "coolwarm")


@tc.no_grad()
def plot_feature_maps(model, image, path):
    """The first conv layer's ReLU feature maps for one (1, 28, 28) digit."""
    conv = first_conv(model)
    x = tc.Tensor(np.asarray(image, np.float32)[None]).to(conv.weight.device)   # (1, 1, H, W)
    maps = conv(x).relu().numpy()[0]                               # (O, H, W)
    return _grid(maps, path, "feature maps of the first conv layer", "viridis")


def save_run_plots(out, model, dataset, history):
    """curves.png, filters.png and feature_maps.png in ``out``; returns their paths."""
    out = Path(out)
    image, label = dataset[0]
    return [plot_curves(history, out / "curves.png"),
            plot_filters(model, out / "filters.png"),
            plot_feature_maps(model, image, out / f"feature_maps_digit{label}.png")]


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
