"""Train the notes' SimpleCNN on MNIST: the same run as ``python -m tinygrad_cnn train``.

    python examples/train_mnist.py --epochs 15            # full MNIST, or the bundled sample offline
    python examples/train_mnist.py --dataset mnist-sample --epochs 3
"""
import sys

from tinygrad_cnn.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
