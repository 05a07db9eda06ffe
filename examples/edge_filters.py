"""Convolution as image filtering (001): Sobel, Prewitt and Roberts masks on a real digit.

    python examples/edge_filters.py            # prints responses; writes edge_filters.png with matplotlib
"""
import numpy as np

import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor
from tinygrad_cnn.data import MNISTSample

MASKS = {
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt_x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt_y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "roberts_a": [[1, 0], [0, -1]],
    "roberts_b": [[0, 1], [-1, 0]],
}


def main():
    image, label = MNISTSample(train=True)[0]                 # (1, 28, 28) in [0, 1]
    x = Tensor(image[None])                                    # (1, 1, 28, 28)
    results = {}
    for name, mask in MASKS.items():
        w = Tensor(np.array(mask, np.float32)[None, None])    # (1, 1, k, k)
        edges = F.conv2d(x, w, padding="same").numpy()[0, 0]  # (28, 28)
        results[name] = edges
        print(f"{name:<10} kernel {w.shape[2]}x{w.shape[3]}: output {edges.shape}, "
              f"strongest response {np.abs(edges).max():.2f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(results) + 1, figsize=(2 * (len(results) + 1), 2.3))
    axes[0].imshow(image[0], cmap="gray")
    axes[0].set_title(f"digit {label}")
    for ax, (name, edges) in zip(axes[1:], results.items()):
        ax.imshow(np.abs(edges), cmap="gray")
        ax.set_title(name, fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig("edge_filters.png", dpi=100)
    print("wrote edge_filters.png")


if __name__ == "__main__":
    main()
