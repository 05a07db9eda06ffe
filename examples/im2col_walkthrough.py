"""The im2col and pooling walk-through of the notes (000), printing the shapes they print.

    python examples/im2col_walkthrough.py
"""
import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor


def main():
    x1 = np.random.rand(1, 3, 7, 7)
    col1 = tc.im2col(x1, 5, 5, stride=1, pad=0)
    print("im2col (1, 3, 7, 7), 5x5 filters:", col1.shape)                 # (9, 75)
    x2 = np.random.rand(10, 3, 7, 7)
    col2 = tc.im2col(x2, 5, 5, stride=1, pad=0)
    print("im2col (10, 3, 7, 7), 5x5 filters:", col2.shape)                # (90, 75)

    # convolution = im2col, a matrix product with the filters laid out as columns, reshape
    w = np.random.rand(2, 3, 5, 5)
    out = (col1 @ w.reshape(2, -1).T).reshape(1, 3, 3, 2).transpose(0, 3, 1, 2)
    ours = F.conv2d(Tensor(x1, dtype=np.float64), Tensor(w, dtype=np.float64)).numpy()
    print("conv via im2col equals F.conv2d:", np.allclose(out, ours))

    for name, pool in (("Max", F.max_pool2d), ("Average", F.avg_pool2d)):
        for x in (x1, x2):
            y = pool(Tensor(x), 2, 2)
            print(f"{name} Pooling Output Shape:", y.shape)                  # (1|10, 3, 3, 3)

    t = Tensor(x1)
    print("global average pooling:", F.avg_pool2d(t, t.shape[2:]).shape,    # (1, 3, 1, 1)
          F.adaptive_avg_pool2d(t, (1, 1)).shape,                           # (1, 3, 1, 1)
          t.view(t.shape[0], t.shape[1], -1).mean(dim=2).shape)             # (1, 3)


if __name__ == "__main__":
    main()
