"""The backend contract: every name a backend module provides (backends/cpu/, backends/cuda.py),
with its parameters and one line of meaning. Arrays are the backend's own (NumPy on the CPU,
device arrays on CUDA); shapes are NCHW; ``geometry`` is a kernels/geometry.ConvGeometry or
PoolGeometry; ``workspace`` is what the backend's conv2d_forward returned beside the output (a
ConvWorkspace with a ``route`` string naming the kernels it chose). tests/backends/
test_contract.py checks every available backend against CONTRACT.
"""

CONTRACT = {
    # ---- arrays: creation, copies, views, indexing
    "name": ((), "the device name, a str: 'cpu' or 'cuda' (not a function)"),
    "empty": (("shape", "dtype"), "an uninitialised array"),
    "zeros": (("shape", "dtype"), "an array of zeros"),
    "full": (("shape", "value", "dtype"), "an array filled with one value"),
    "arange": (("n",), "int64 positions 0..n-1"),
    "from_numpy": (("a",), "the backend's array holding a NumPy array's values"),
    "to_numpy": (("a",), "a NumPy array of the values"),
    "astype": (("a", "dtype"), "a converted to dtype (a copy)"),
    "copy": (("a",), "a contiguous copy"),
    "clone": (("a",), "a copy in a's memory layout (a channels-last array stays channels-last)"),
    "copy_into": (("dst", "src"), "dst[...] = src in place (broadcast, cast to dst's dtype)"),
    "assign": (("dst", "src"), "dst[...] = src in place (broadcast, cast to dst's dtype)"),
    "reshape": (("a", "shape"), "a with a new shape (a view when the memory allows)"),
    "transpose": (("a", "perm"), "a view with axes permuted"),
    "broadcast_to": (("a", "shape"), "a read-only view of a broadcast to shape"),
    "concatenate": (("arrays", "axis"), "the arrays joined along axis"),
    "getitem": (("a", "index"), "a[index], NumPy's basic and advanced indexing"),
    "split": (("a", "sizes", "axis"), "the pieces of a along axis, of these sizes in order "
                                      "(views or copies)"),
    "setitem": (("a", "index", "values"), "a[index] = values, in place"),
    "index_add": (("shape", "index", "values"), "zeros(shape) with values added at index "
                                                "(repeated indices summed): getitem's adjoint"),
    "argsort": (("a", "axis", "descending"), "stable sort order of a along axis; NaN largest"),
    "shares_memory": (("a", "b"), "True when the two arrays may share memory"),
    "matmul": (("a", "b"), "the matrix product, batched as NumPy's"),
    # ---- elementwise (the CPU's are NumPy's ufuncs: their arity counts, not their names)
    "add": (("a", "b"), "a + b"),
    "sub": (("a", "b"), "a - b"),
    "mul": (("a", "b"), "a * b"),
    "div": (("a", "b"), "a / b"),
    "power": (("a", "b"), "a ** b"),
    "maximum": (("a", "b"), "elementwise max (NaN propagates)"),
    "minimum": (("a", "b"), "elementwise min (NaN propagates)"),
    "equal": (("a", "b"), "a == b, bool"),
    "not_equal": (("a", "b"), "a != b, bool"),
    "greater": (("a", "b"), "a > b, bool"),
    "greater_equal": (("a", "b"), "a >= b, bool"),
    "less": (("a", "b"), "a < b, bool"),
    "less_equal": (("a", "b"), "a <= b, bool"),
    "neg": (("a",), "-a"),
    "abs": (("a",), "|a|"),
    "sign": (("a",), "-1, 0 or 1 by the sign of a"),
    "exp": (("a",), "e ** a"),
    "log": (("a",), "natural log"),
    "sqrt": (("a",), "square root"),
    "tanh": (("a",), "hyperbolic tangent"),
    "where": (("cond", "a", "b"), "a where cond, else b"),
    "clip": (("a", "lo", "hi"), "a clamped to [lo, hi]"),
    "erf": (("x",), "the error function"),
    "sigmoid": (("x",), "1 / (1 + e ** -x), without overflow"),
    "relu": (("x",), "max(x, 0)"),
    "relu_in_place": (("x",), "x = max(x, 0), overwriting x (Tensor.relu_)"),
    "relu_backward": (("grad", "x"), "grad where x > 0, else 0"),
    "leaky_relu": (("x", "slope"), "x, or slope * x where x < 0"),
    "leaky_relu_backward": (("grad", "x", "slope"), "leaky_relu's gradient"),
    "elu": (("x", "alpha"), "x, or alpha * (e ** x - 1) where x < 0"),
    "elu_backward": (("grad", "x", "alpha"), "elu's gradient"),
    # ---- reductions, softmax, loss
    "sum": (("a", "axis", "keepdims"), "sum over axis (all when None)"),
    "max": (("a", "axis", "keepdims"), "max over axis (all when None)"),
    "argmax": (("a", "axis", "keepdims"), "int64 position of the first max over axis"),
    "softmax": (("x", "axis"), "softmax along axis"),
    "log_softmax": (("x", "axis"), "log of softmax along axis, computed stably"),
    "cross_entropy_forward": (("logits", "target", "label_smoothing"),
                              "(per-row loss, log-probabilities) of (N, K) logits"),
    "cross_entropy_backward": (("grad_rows", "logp", "target", "label_smoothing"),
                               "the logits' gradient from the per-row loss gradient"),
    # ---- convolution
    "conv2d_forward_max_pool": (("x", "w", "b", "geometry", "pool", "relu"),
                                "(out, route): inference's conv (with relu its ReLU) and the "
                                "2x2 stride-2 max pool of PoolGeometry pool after it"),
    "conv2d_forward": (("x", "w", "b", "geometry", "need_weight_grad", "relu"),
                       "(out, workspace): x (*) w + b (b may be None), its ReLU with relu "
                       "(inference only: not with need_weight_grad); the workspace keeps "
                       "what conv2d_weight_grad reuses only when need_weight_grad"),
    "conv2d_input_grad": (("grad", "w", "geometry", "workspace"),
                          "the input gradient of conv2d_forward; workspace None gives a "
                          "transposed conv's forward"),
    "conv2d_weight_grad": (("grad", "x", "geometry", "workspace", "need_weight", "need_bias"),
                           "(dw, db) of conv2d_forward, each None when not needed"),
    # ---- batch normalisation (per channel: axis 1; every vector is (C,))
    "batch_norm_stats": (("x",), "(mean, biased variance) of x's values per channel"),
    "channel_sums": (("x", "mean"), "the sum of x's values per channel, or of (x - mean) ** 2 "
                                    "when mean is not None"),
    "channel_grad_sums": (("grad", "x", "mean", "relu_of"),
                          "(sum of grad, sum of grad * (x - mean)) per channel; with relu_of = "
                          "(scale, shift), of grad where (x - mean) * scale + shift > 0"),
    "channel_affine": (("x", "mean", "scale", "shift", "relu"),
                       "(x - mean) * scale + shift per channel, in x's memory layout; with relu "
                       "its ReLU"),
    "batch_norm_input_grad": (("grad", "x", "mean", "a", "b", "d", "relu_of"),
                              "grad * a + (x - mean) * b + d per channel, in x's memory layout; "
                              "with relu_of, grad masked as channel_grad_sums masks it"),
    # ---- pooling
    "max_pool2d_forward": (("x", "geometry", "relu"),
                           "(out, argmax): max pooling, argmax int32 flat h*W+w per plane; with "
                           "relu, out's ReLU and argmax -1 where the max is not above 0"),
    "max_pool2d_backward": (("grad", "argmax", "geometry"), "grad sent to each window's argmax"),
    "max_pool2d_values": (("x", "geometry"), "max_pool2d_forward's output alone (no argmax), "
                                             "for a pass with no backward"),
    "avg_pool2d_forward": (("x", "geometry"), "average pooling"),
    "avg_pool2d_backward": (("grad", "geometry"), "average pooling's gradient"),
    "adaptive_avg_pool2d_forward": (("x", "output_size"), "average over PyTorch's adaptive "
                                                          "windows"),
    "adaptive_avg_pool2d_backward": (("grad", "x_shape"), "adaptive average pooling's "
                                                          "gradient"),
    # ---- optimizers, in place
    "sgd_update": (("param", "grad", "momentum_buf", "lr", "momentum", "dampening", "nesterov",
                    "weight_decay"), "one SGD step on param (and its momentum buffer)"),
    "adam_update": (("param", "grad", "exp_avg", "exp_avg_sq", "step", "lr", "beta1", "beta2",
                     "eps", "weight_decay", "decoupled"),
                    "one Adam (decoupled: AdamW) step on param and its moments"),
}
