"""NumPy reference of Winograd's minimal filtering F(2x2, 3x3): the spec of
kernels/cpu/conv_winograd.py (one more kernel of kernels/reference.py, in a file of its own).

The algorithm as Lavin and Gray write it ("Fast Algorithms for Convolutional Neural
Networks", 2016), one einsum a step: cut the zero-padded input into 4x4 tiles d that
overlap by 2 (each gives a 2x2 block of the output), transform every tile and every 3x3
kernel g, multiply the transforms position by position summing over the input channels, and
transform the 4x4 products back to 2x2 blocks::

    V = B^T d B         (per tile and input channel)
    U = G g G^T         (per output and input channel)
    M = sum over c of U * V   (elementwise in the 16 positions: a matrix product per position)
    Y = A^T M A         (the 2x2 block)

which equals the direct sum of the 3x3 window at each of the block's four pixels. The 36
multiplications of four pixels' direct sums become the 16 of M.
"""
import numpy as np

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def conv2d_forward_winograd(x, w, bias, ph, pw, relu, out):
    """out (N, OH, OW, O) = the 3x3 stride-1 convolution of x (N, H, W, C), zero-padded ph
    rows on top and pw columns on the left (and as far as out needs elsewhere), by w
    (O, C, 3, 3) plus bias (O,), with ``relu`` its ReLU; by F(2x2, 3x3) in x's dtype."""
    N, H, W, C = x.shape
    _, OH, OW, O = out.shape
    th, tw = -(-OH // 2), -(-OW // 2)                  # 2x2 blocks, the last ones partial
    xp = np.zeros((N, 2 * th + 2, 2 * tw + 2, C), dtype=x.dtype)
    rows, cols = min(H, xp.shape[1] - ph), min(W, xp.shape[2] - pw)
    xp[:, ph:ph + rows, pw:pw + cols] = x[:, :rows, :cols]
    d = np.empty((N, th, tw, 4, 4, C), dtype=x.dtype)  # the overlapping 4x4 tiles
    for i in range(4):
        for j in range(4):
            d[:, :, :, i, j] = xp[:, i:i + 2 * th:2, j:j + 2 * tw:2]
    dtype = x.dtype
    V = np.einsum("ai,ntwijc,bj->ntwabc", B_T.astype(dtype), d, B_T.astype(dtype))
    U = np.einsum("ai,ocij,bj->abco", G.astype(dtype), w, G.astype(dtype))
    M = np.einsum("ntwabc,abco->ntwabo", V, U)         # the 16 products over the channels
    Y = np.einsum("ai,ntwijo,bj->ntwabo", A_T.astype(dtype), M, A_T.astype(dtype))
    blocks = Y.transpose(0, 1, 3, 2, 4, 5).reshape(N, 2 * th, 2 * tw, O)
    result = blocks[:, :OH, :OW] + bias
    out[...] = np.maximum(result, 0) if relu else result
