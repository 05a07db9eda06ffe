"""One converter per op: the ONNX nodes for a traced step, every attribute written explicitly.

A converter is ``convert(g, step, i)``: ``g`` the GraphBuilder, ``step`` the traced Step,
``i`` its index. ``CONVERTERS`` maps each ``ops`` Function to its converter; an op missing
from it cannot be exported and export names it. Conventions that differ between
tinygrad_cnn and ONNX are settled here: ONNX pads list every begin then every end
(``[top, left, bottom, right]``), MaxPool/AveragePool strides default to 1 in ONNX (so they
are always written), and Linear's (out, in) weight is used by Gemm with ``transB=1``.
"""
import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.ops.batchnorm import BatchNorm

from tinygrad_cnn.ops.conv_transpose import ConvTranspose2d
from tinygrad_cnn.ops.gelu import GELU
from tinygrad_cnn.ops.log_sigmoid import LogSigmoid
from tinygrad_cnn.onnx.tracer import ExportError


def _shape(g, src):
    """The traced shape of an input: the model input, a step's output or a constant."""
    kind, k = src
    if kind == "input":
        return g.trace.input_shape
    if kind == "step":
        return g.trace.steps[k].shape
    return g.trace.constants[k].shape


def _names(g, step):
    return [g.name(src) for src in step.sources]


# ---- convolution and pooling ---------------------------------------------------------
def conv2d(g, step, i):
    if step.kwargs.get("relu"):       # nn/fusion.py runs modules unfused while tracing
        raise ValueError("a conv with its ReLU fused was traced; export traces unfused convs")
    c = step.kwargs["geometry"]
    g.node("Conv", _names(g, step), i, kernel_shape=[c.KH, c.KW],
           strides=[c.stride_h, c.stride_w],
           pads=[c.pad_top, c.pad_left, c.pad_bottom, c.pad_right],
           dilations=[c.dilation_h, c.dilation_w], group=int(c.groups))


def conv_transpose2d(g, step, i):
    """ConvTranspose with output_padding recovered from the traced output size (the
    geometry is the equivalent conv's, whose input is the transposed conv's output)."""
    c = step.kwargs["geometry"]
    H, W = _shape(g, step.sources[0])[2:]
    extra = [out - ((size - 1) * s - p + d * (k - 1) + 1) for out, size, s, p, d, k in (
        (c.H, H, c.stride_h, c.pad_top + c.pad_bottom, c.dilation_h, c.KH),
        (c.W, W, c.stride_w, c.pad_left + c.pad_right, c.dilation_w, c.KW))]
    g.node("ConvTranspose", _names(g, step), i, kernel_shape=[c.KH, c.KW],
           strides=[c.stride_h, c.stride_w],
           pads=[c.pad_top, c.pad_left, c.pad_bottom, c.pad_right],
           dilations=[c.dilation_h, c.dilation_w], group=int(c.groups), output_padding=extra)


def max_pool2d(g, step, i):
    p = step.kwargs["geometry"]
    g.node("MaxPool", _names(g, step), i, kernel_shape=[p.kernel_h, p.kernel_w],
           strides=[p.stride_h, p.stride_w], pads=[p.pad_h, p.pad_w, p.pad_h, p.pad_w],
           dilations=[p.dilation_h, p.dilation_w], ceil_mode=int(p.ceil_mode))


def avg_pool2d(g, step, i):
    p = step.kwargs["geometry"]
    g.node("AveragePool", _names(g, step), i, kernel_shape=[p.kernel_h, p.kernel_w],
           strides=[p.stride_h, p.stride_w], pads=[p.pad_h, p.pad_w, p.pad_h, p.pad_w],
           ceil_mode=int(p.ceil_mode), count_include_pad=int(p.count_include_pad))


def _pool_matrix(size, out, dtype):
    """(out, size) matrix whose row r averages adaptive window r (PyTorch's floor/ceil bounds)."""
    m = np.zeros((out, size), dtype=dtype)
    for r in range(out):
        start, end = (r * size) // out, -((-(r + 1) * size) // out)
        m[r, start:end] = 1 / (end - start)
    return m


def adaptive_avg_pool2d(g, step, i):
    """GlobalAveragePool for (1, 1); AveragePool when the map divides evenly; otherwise two
    MatMuls with constant averaging matrices (exact for any output size)."""
    H, W = _shape(g, step.sources[0])[2:]
    oh, ow = step.kwargs["output_size"]
    x = g.name(step.sources[0])
    if (oh, ow) == (1, 1):
        g.node("GlobalAveragePool", [x], i)
    elif H % oh == 0 and W % ow == 0:
        kernel = [H // oh, W // ow]
        g.node("AveragePool", [x], i, kernel_shape=kernel, strides=kernel, pads=[0, 0, 0, 0],
               ceil_mode=0, count_include_pad=0)
    else:
        cols = g.initializer(_pool_matrix(W, ow, step.dtype).T, f"adaptive_pool_cols_{i}")
        rows = g.initializer(_pool_matrix(H, oh, step.dtype), f"adaptive_pool_rows_{i}")
        half = g.inner("MatMul", [x, cols], f"adaptive_pool_{i}_w")      # (N, C, H, ow)
        g.node("MatMul", [rows, half], i)                                # (N, C, oh, ow)


def batch_norm(g, step, i):
    kw = step.kwargs
    if kw.get("batch_stats"):
        raise ExportError(f"op {i} (BatchNorm) normalises with batch statistics (training "
                          f"mode); export a model in eval mode")
    x = g.name(step.sources[0])
    C = _shape(g, step.sources[0])[1]
    mean, var = (np.asarray(g.trace.to_numpy(kw[k])).astype(step.dtype) for k in ("mean", "var"))
    if len(step.sources) == 3:
        scale, bias = g.name(step.sources[1]), g.name(step.sources[2])
    else:
        scale = g.initializer(np.ones(C, step.dtype), f"bn_{i}_scale")
        bias = g.initializer(np.zeros(C, step.dtype), f"bn_{i}_bias")
    mean_name = g.initializer(mean, g.array_name(kw["mean"]) or f"bn_{i}_mean")
    var_name = g.initializer(var, g.array_name(kw["var"]) or f"bn_{i}_var")
    g.node("BatchNormalization", [x, scale, bias, mean_name, var_name], i,
           epsilon=float(kw["eps"]), momentum=0.9)


# ---- dense ---------------------------------------------------------------------------
def matmul(g, step, i):
    """x @ W.T with W a stored 2-D weight becomes Gemm(x, W, transB=1); else MatMul."""
    a, b = step.sources
    folded = g.folded.get(b[1]) if b[0] == "step" else None
    if folded is not None and folded.transpose_of is not None and len(_shape(g, a)) == 2:
        g.gemm[i] = g.node("Gemm", [g.name(a), g.name(("const", folded.transpose_of))], i,
                           alpha=1.0, beta=1.0, transA=0, transB=1)
    else:
        g.node("MatMul", _names(g, step), i)


def add(g, step, i):
    """Adding a bias vector to a Gemm's only use becomes that Gemm's C input."""
    for this, other in (step.sources, reversed(step.sources)):
        node = g.gemm.get(this[1]) if this[0] == "step" else None
        bias = g.constant_value(other)
        if node is not None and len(node.input) == 2 and g.uses.get(this) == 1 and \
                bias is not None and bias.shape == step.shape[1:]:
            node.input.append(g.name(other))
            g.values[("step", i)] = node.output[0]
            return
    g.node("Add", _names(g, step), i)


def _binary(op_type):
    def convert(g, step, i):
        g.node(op_type, _names(g, step), i)
    return convert


def _unary(op_type):
    def convert(g, step, i):
        g.node(op_type, _names(g, step), i)
    return convert


def gelu(g, step, i):
    """x * (1 + erf(x / sqrt 2)) / 2, or torch's tanh form (ONNX has Gelu only from opset 20)."""
    x, dt = g.name(step.sources[0]), step.dtype
    c = lambda v, n: g.scalar(v, dt, f"gelu_{i}_{n}")  # noqa: E731
    if step.kwargs.get("approximate", "none") == "tanh":
        cube = g.inner("Mul", [g.inner("Mul", [x, x], f"gelu_{i}_x2"), x], f"gelu_{i}_x3")
        inner = g.inner("Add", [x, g.inner("Mul", [cube, c(0.044715, "k")], f"gelu_{i}_kx3")],
                        f"gelu_{i}_sum")
        phi = g.inner("Tanh", [g.inner("Mul", [inner, c(np.sqrt(2 / np.pi), "s")],
                                       f"gelu_{i}_u")], f"gelu_{i}_tanh")
    else:
        phi = g.inner("Erf", [g.inner("Mul", [x, c(1 / np.sqrt(2), "s")], f"gelu_{i}_u")],
                      f"gelu_{i}_erf")
    half = g.inner("Mul", [g.inner("Add", [phi, c(1, "one")], f"gelu_{i}_1p"), c(0.5, "half")],
                   f"gelu_{i}_phi")
    g.node("Mul", [x, half], i)


def log_sigmoid(g, step, i):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    neg = g.inner("Neg", [g.name(step.sources[0])], f"logsigmoid_{i}_neg")
    g.node("Neg", [g.inner("Softplus", [neg], f"logsigmoid_{i}_softplus")], i)


def where(g, step, i):
    cond = g.initializer(np.asarray(g.trace.to_numpy(step.kwargs["cond"]), dtype=bool),
                         f"where_{i}_cond")
    g.node("Where", [cond] + _names(g, step), i)


def clip(g, step, i):
    lo, hi = step.kwargs.get("lo"), step.kwargs.get("hi")
    bounds = ["" if v is None else g.scalar(v, step.dtype, f"clip_{i}_{which}")
              for v, which in ((lo, "min"), (hi, "max"))]
    g.node("Clip", _names(g, step) + bounds, i)


def leaky_relu(g, step, i):
    g.node("LeakyRelu", _names(g, step), i, alpha=float(step.kwargs["slope"]))


def elu(g, step, i):
    g.node("Elu", _names(g, step), i, alpha=float(step.kwargs["alpha"]))


def softmax(g, step, i):
    g.node("Softmax", _names(g, step), i, axis=int(step.kwargs["axis"]))


def log_softmax(g, step, i):
    g.node("LogSoftmax", _names(g, step), i, axis=int(step.kwargs["axis"]))


# ---- shape ---------------------------------------------------------------------------
def reshape(g, step, i):
    """flatten(1) becomes Flatten(axis=1); other reshapes keep the batch with a 0 in dim 0."""
    src = step.sources[0]
    in_shape = _shape(g, src)
    if len(in_shape) > 2 and step.shape == (in_shape[0], int(np.prod(in_shape[1:]))):
        g.node("Flatten", [g.name(src)], i, axis=1)
        return
    shape = g.ints([0] + list(step.shape[1:]), f"reshape_{i}_shape")
    g.node("Reshape", [g.name(src), shape], i)


def clone(g, step, i):
    g.alias(i, step.sources[0])


def copy_from(g, step, i):
    """a.copy_(b)'s value is b (what inplace=True layers write back): b itself when it has
    a's shape and dtype, else refused."""
    dst, src = step.sources
    if tuple(_shape(g, src)) != step.shape or src[0] != "step" or \
            g.trace.steps[src[1]].dtype != step.dtype:
        raise ExportError(f"op {i} (CopyFrom) cannot be exported: it broadcasts or converts "
                          f"{tuple(_shape(g, src))} into {step.shape} {step.dtype}")
    g.alias(i, src)


def permute(g, step, i):
    g.node("Transpose", _names(g, step), i, perm=list(step.kwargs["perm"]))


def expand(g, step, i):
    shape = g.ints([1] + list(step.shape[1:]), f"expand_{i}_shape")  # 1: broadcast the batch
    g.node("Expand", _names(g, step) + [shape], i)


def cat(g, step, i):
    g.node("Concat", _names(g, step), i, axis=int(step.kwargs["axis"]))


def _axes(step):
    axis = step.kwargs["axis"]
    return [int(a) for a in ((axis,) if isinstance(axis, int) else axis)]


def reduce_sum(g, step, i):
    axes = g.ints(_axes(step), f"sum_{i}_axes")
    g.node("ReduceSum", _names(g, step) + [axes], i, keepdims=int(bool(step.kwargs["keepdims"])))


def reduce_max(g, step, i):
    keep = int(bool(step.kwargs["keepdims"]))
    if g.opset >= 18:
        g.node("ReduceMax", _names(g, step) + [g.ints(_axes(step), f"max_{i}_axes")], i,
               keepdims=keep)
    else:
        g.node("ReduceMax", _names(g, step), i, axes=_axes(step), keepdims=keep)


def _basic_index(index, ndim, to_numpy):
    """``x[index]`` as one entry per axis: slice, int, or a 1-D integer host array."""
    index = index if isinstance(index, tuple) else (index,)
    if any(ix is None for ix in index):
        return None, "None (a new axis) in an index"
    if sum(ix is Ellipsis for ix in index) > 1:
        return None, "more than one Ellipsis"
    if any(ix is Ellipsis for ix in index):
        at = [k for k, ix in enumerate(index) if ix is Ellipsis][0]
        index = index[:at] + (slice(None),) * (ndim - len(index) + 1) + index[at + 1:]
    if len(index) > ndim:
        return None, f"{len(index)} indices for {ndim} dims"
    index = tuple(index) + (slice(None),) * (ndim - len(index))
    out = []
    for ix in index:
        if isinstance(ix, (slice, int, np.integer)):
            out.append(ix)
            continue
        arr = np.asarray(to_numpy(ix))
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            return None, f"an index array of dtype {arr.dtype} and shape {arr.shape}"
        out.append(arr.astype(np.int64))
    arrays = sum(isinstance(ix, np.ndarray) for ix in out)
    ints = sum(isinstance(ix, (int, np.integer)) for ix in out)
    if arrays > 1 or (arrays and ints):
        return None, "several advanced (array) indices"
    if not (isinstance(out[0], slice) and out[0] == slice(None)):
        return None, "indexing the batch dimension"
    return out, None


def getitem(g, step, i):
    """Slices become one Slice node; ints and one integer array become Gathers (last axis
    first, so the axis numbers of the others stay valid)."""
    src = step.sources[0]
    in_shape = _shape(g, src)
    index, problem = _basic_index(step.kwargs["index"], len(in_shape), g.trace.to_numpy)
    if problem:
        raise ExportError(f"op {i} (GetItem) cannot be exported: the index uses {problem}; "
                          f"ONNX export supports slices with a positive step, ints and one "
                          f"1-D integer array, none of them on the batch dimension")
    plan = []
    cut = [(axis, ix.indices(in_shape[axis])) for axis, ix in enumerate(index)
           if isinstance(ix, slice) and ix != slice(None)]
    if any(stride < 1 for _, (_, _, stride) in cut):
        raise ExportError(f"op {i} (GetItem) cannot be exported: a slice with a negative step")
    if cut:
        plan.append(("Slice", [g.ints([c[1][0] for c in cut], f"slice_{i}_starts"),
                               g.ints([c[1][1] for c in cut], f"slice_{i}_ends"),
                               g.ints([c[0] for c in cut], f"slice_{i}_axes"),
                               g.ints([c[1][2] for c in cut], f"slice_{i}_steps")], {}))
    for axis in reversed(range(len(index))):
        ix = index[axis]
        if not isinstance(ix, slice):
            plan.append(("Gather", [g.ints(ix, f"gather_{i}_{axis}")], {"axis": axis}))
    if not plan:
        g.alias(i, src)
        return
    x = g.name(src)
    for op_type, extra, attrs in plan[:-1]:
        x = g.inner(op_type, [x] + extra, f"{op_type.lower()}_{i}_{len(g.nodes)}", **attrs)
    op_type, extra, attrs = plan[-1]
    g.node(op_type, [x] + extra, i, **attrs)


def _refuse(why):
    def convert(g, step, i):
        raise ExportError(f"op {i} ({step.fn.__name__}) cannot be exported: {why}")
    return convert


CONVERTERS = {
    ops.Conv2d: conv2d,
    ops.MaxPool2d: max_pool2d,
    ops.AvgPool2d: avg_pool2d,
    ops.AdaptiveAvgPool2d: adaptive_avg_pool2d,
    BatchNorm: batch_norm,
    ops.MatMul: matmul,
    ops.Add: add,
    ops.Sub: _binary("Sub"),
    ops.Mul: _binary("Mul"),
    ops.Div: _binary("Div"),
    ops.Pow: _binary("Pow"),
    ops.Where: where,
    ops.Neg: _unary("Neg"),
    ops.Exp: _unary("Exp"),
    ops.Log: _unary("Log"),
    ops.Sqrt: _unary("Sqrt"),
    ops.Abs: _unary("Abs"),
    ops.ReLU: _unary("Relu"),
    ops.ReLUInPlace: _unary("Relu"),
    ops.Sigmoid: _unary("Sigmoid"),
    ops.Tanh: _unary("Tanh"),
    ops.Clip: clip,
    ops.LeakyReLU: leaky_relu,
    ops.ELU: elu,
    ops.Softmax: softmax,
    ops.LogSoftmax: log_softmax,
    ops.Reshape: reshape,
    ops.Permute: permute,
    ops.Expand: expand,
    ops.Cat: cat,
    ops.Sum: reduce_sum,
    ops.Max: reduce_max,
    ops.GetItem: getitem,
    ops.CrossEntropy: _refuse("a loss is not part of an inference graph; export the model "
                              "that produces the logits"),
    ops.NLLLoss: _refuse("a loss is not part of an inference graph; export the model that "
                         "produces the log-probabilities"),
    ops.Clone: clone,
    ops.CopyFrom: copy_from,
    ConvTranspose2d: conv_transpose2d,
    GELU: gelu,
    LogSigmoid: log_sigmoid,
}
