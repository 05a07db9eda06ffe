"""A from-scratch NumPy CNN trainer in the style of the course notes and deep-learning-from-scratch.

Layer classes with forward/backward (Convolution, Pooling, AvgPooling, Relu, Affine,
SoftmaxWithLoss) built on the book's im2col/col2im, Adam in NumPy, and the SimpleCNN and
LeNet-5 architectures. bench_train.py times it as the "what the notes' code costs" reference;
it is not part of the package. Everything stays float32, as in tinygrad_cnn and torch.

Run from the repo root:  python bench/numpy_reference.py  (trains SimpleCNN for one epoch on
the bundled MNIST sample and prints the held-out accuracy, to show the trainer is sound).
"""
from pathlib import Path

import numpy as np


# ---- the book's im2col / col2im (common/util.py), typed to the input's dtype -------------
def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N*out_h*out_w, C*filter_h*filter_w) patch matrix."""
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Adjoint of im2col: patches summed back into an (N, C, H, W) array."""
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad:H + pad, pad:W + pad]


# ---- layers ------------------------------------------------------------------------
class Convolution:
    """im2col + one GEMM; params W (FN, C, FH, FW) and b (FN,)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.stride, self.pad = stride, pad

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        FN, C, FH, FW = W.shape
        N, C, H, W_ = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W_ + 2 * self.pad - FW) // self.stride + 1
        self.x_shape = x.shape
        self.col = im2col(x, FH, FW, self.stride, self.pad)             # (N*out_h*out_w, C*FH*FW)
        self.col_W = W.reshape(FN, -1).T                                # (C*FH*FW, FN)
        out = self.col @ self.col_W + b                                 # (N*out_h*out_w, FN)
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.params["W"].shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)               # (N*out_h*out_w, FN)
        self.grads["b"] = dout.sum(axis=0)
        self.grads["W"] = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T                                      # (N*out_h*out_w, C*FH*FW)
        return col2im(dcol, self.x_shape, FH, FW, self.stride, self.pad)


class Pooling:
    """Max pooling through im2col, remembering each window's argmax."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H - self.pool_h) // self.stride + 1
        out_w = (W - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)                # (N*out_h*out_w*C, ph*pw)
        self.x_shape = x.shape
        self.arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)                               # (N, out_h, out_w, C)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max] = dout.reshape(-1)
        dcol = dmax.reshape(-1, self.x_shape[1] * pool_size)            # (N*out_h*out_w, C*ph*pw)
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


class AvgPooling(Pooling):
    """Average pooling (LeNet-5's subsampling): the window mean, its gradient shared evenly."""

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H - self.pool_h) // self.stride + 1
        out_w = (W - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x_shape = x.shape
        out = np.mean(col, axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        pool_size = self.pool_h * self.pool_w
        share = dout.transpose(0, 2, 3, 1).reshape(-1, 1) / dout.dtype.type(pool_size)
        dcol = np.broadcast_to(share, (share.shape[0], pool_size))
        dcol = dcol.reshape(-1, self.x_shape[1] * pool_size)
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()               # the book writes into dout; we leave the caller's grad alone
        dx[self.mask] = 0
        return dx


class Affine:
    """Fully connected layer on flattened input; params W (in, out) and b (out,)."""

    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)                              # (N, in)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax and mean cross-entropy against integer labels."""

    def forward(self, x, t):
        self.t = t
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.y = e / e.sum(axis=1, keepdims=True)
        logp = shifted - np.log(e.sum(axis=1, keepdims=True))
        return -logp[np.arange(len(t)), t].mean()

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx * (self.y.dtype.type(dout) / self.y.dtype.type(batch_size))


# ---- optimiser ---------------------------------------------------------------------
class Adam:
    """Adam with the book's bias-corrected step size (common/optimizer.py), eps 1e-8 as torch."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(p) for k, p in params.items()}
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for k, p in params.items():
            dt = p.dtype.type
            self.m[k] += dt(1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += dt(1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            p -= dt(lr_t) * self.m[k] / (np.sqrt(self.v[k]) + dt(self.eps))


# ---- networks ----------------------------------------------------------------------
class Net:
    """A stack of layers ending in SoftmaxWithLoss; params and grads keyed 'i.W' / 'i.b'."""

    def __init__(self, layers):
        self.layers = layers
        self.last_layer = SoftmaxWithLoss()
        self.params = {f"{i}.{k}": v for i, layer in enumerate(layers)
                       for k, v in getattr(layer, "params", {}).items()}

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        """Loss, with every layer's grads filled by one forward and one backward pass."""
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        self.grads = {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                      for k, v in getattr(layer, "grads", {}).items()}
        return loss

    def accuracy(self, x, t, batch_size=1000):
        hits = sum(int((self.predict(x[i:i + batch_size]).argmax(axis=1)
                        == t[i:i + batch_size]).sum()) for i in range(0, len(t), batch_size))
        return hits / len(t)


def _conv(rng, fn, c, k, pad=0, dtype=np.float32):
    """He-initialised conv (ReLU follows every conv here), zero bias."""
    scale = np.sqrt(2.0 / (c * k * k))
    return Convolution((scale * rng.standard_normal((fn, c, k, k))).astype(dtype),
                       np.zeros(fn, dtype), stride=1, pad=pad)


def _affine(rng, n_in, n_out, dtype=np.float32):
    """Xavier-uniform weights (as the notes' fc), zero bias."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return Affine(rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype), np.zeros(n_out, dtype))


def simple_cnn(seed=777, dtype=np.float32):
    """The notes' SimpleCNN: [conv 3x3 p1, ReLU, max pool 2] x 2 (1->32->64), fc 3136 -> 10."""
    rng = np.random.default_rng(seed)
    return Net([_conv(rng, 32, 1, 3, pad=1, dtype=dtype), Relu(), Pooling(2, 2, stride=2),
                _conv(rng, 64, 32, 3, pad=1, dtype=dtype), Relu(), Pooling(2, 2, stride=2),
                _affine(rng, 7 * 7 * 64, 10, dtype)])


def lenet5(seed=777, dtype=np.float32):
    """LeNet-5 with ReLU as in the notes: conv 6@5x5 p2, avg pool, conv 16@5x5, avg pool,
    400 -> 120 -> 84 -> 10."""
    rng = np.random.default_rng(seed)
    return Net([_conv(rng, 6, 1, 5, pad=2, dtype=dtype), Relu(), AvgPooling(2, 2, stride=2),
                _conv(rng, 16, 6, 5, dtype=dtype), Relu(), AvgPooling(2, 2, stride=2),
                _affine(rng, 400, 120, dtype), Relu(), _affine(rng, 120, 84, dtype), Relu(),
                _affine(rng, 84, 10, dtype)])


MODELS = {"simple-cnn": simple_cnn, "lenet5": lenet5}


def main():
    sample = Path(__file__).resolve().parent.parent / "tinygrad_cnn" / "data" / "mnist_sample.npz"
    with np.load(sample) as z:
        x = z["images"].astype(np.float32)[:, None] / np.float32(255)   # (5000, 1, 28, 28)
        t, train = z["labels"].astype(np.int64), z["train"]
    net, opt = simple_cnn(), Adam(lr=1e-3)
    order = np.random.default_rng(777).permutation(np.flatnonzero(train))
    for i in range(0, len(order), 100):
        idx = order[i:i + 100]
        loss = net.gradient(x[idx], t[idx])
        opt.update(net.params, net.grads)
    print(f"one epoch on the 4,000-digit sample: last batch loss {loss:.4f}, held-out accuracy "
          f"{net.accuracy(x[~train], t[~train]):.4f}")


if __name__ == "__main__":
    main()
