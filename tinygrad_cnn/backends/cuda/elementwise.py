"""CUDA elementwise ops: arithmetic, comparisons, where, clip, activations and erf.

Operands may be device arrays or scalars; they broadcast as NumPy's do, by strides inside
one kernel launch (kernels/cuda/elementwise.py). Scalars become cached one-element
device arrays read with stride 0, and the result dtype follows NumPy's promotion rules,
so a float32 array times a Python float stays float32.
"""
import math

import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.cuda import special


def _host_value(x):
    """A scalar operand as a NumPy/Python scalar; a host array here means mixed devices."""
    if isinstance(x, np.ndarray):
        if x.ndim:
            raise RuntimeError(f"the CUDA backend got a host (NumPy) array of shape {x.shape}: "
                               f"an op mixes devices 'cuda' and 'cpu'; move tensors with "
                               f".to(device) first")
        return x[()]
    return x


def _operands(*xs):
    """(device arrays, shapes, common dtype) of arrays and scalars, NumPy's promotion rules."""
    values = [x if rt.is_device_array(x) else _host_value(x) for x in xs]
    dtype = np.result_type(*[v.dtype if rt.is_device_array(v) else v for v in values])
    arrays = [v if rt.is_device_array(v) else rt.scalar(v, dtype) for v in values]
    shapes = [tuple(v.shape) if rt.is_device_array(v) else () for v in values]
    return arrays, shapes, dtype


def _broadcast(arrays, shapes, out_dtype):
    """The output array and the collapsed (shape, strides per operand) of a broadcast op."""
    shape = np.broadcast_shapes(*shapes)
    out = rt.empty(shape, out_dtype)
    geo = rt.collapse(shape, *[rt.broadcast_strides(s, shape) for s in shapes])
    return out, geo


def _binary(op, a, b, p=0.0):
    (xa, xb), shapes, dtype = _operands(a, b)
    if op == ew.DIV and dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    out, (shape, sa, sb) = _broadcast((xa, xb), shapes, dtype)
    param = dtype.type(p) if dtype.kind == "f" else np.float64(p)
    rt.launch(ew.binary, out.size, op, rt.flat(xa), rt.flat(xb), param, rt.flat(out), shape,
              sa, sb)
    return out


def _compare(op, a, b):
    (xa, xb), shapes, _ = _operands(a, b)
    out, (shape, sa, sb) = _broadcast((xa, xb), shapes, np.bool_)
    rt.launch(ew.compare, out.size, op, rt.flat(xa), rt.flat(xb), rt.flat(out), shape, sa, sb)
    return out


_FLOAT_RESULT = (ew.EXP, ew.LOG, ew.SQRT, ew.TANH, ew.SIGMOID, ew.ELU)


def _unary(op, a, p0=0.0, p1=0.0):
    dtype = a.dtype
    if op in _FLOAT_RESULT and dtype.kind != "f":
        a, dtype = rt.cast(a, np.float64), np.dtype(np.float64)
    out = rt.empty(a.shape, dtype)
    cast = dtype.type if dtype.kind == "f" else np.float64
    rt.launch(ew.unary, out.size, op, rt.flat(a), cast(p0), cast(p1), rt.flat(out))
    return out


def add(a, b):
    return _binary(ew.ADD, a, b)


def sub(a, b):
    return _binary(ew.SUB, a, b)


def mul(a, b):
    return _binary(ew.MUL, a, b)


def div(a, b):
    return _binary(ew.DIV, a, b)


def power(a, b):
    return _binary(ew.POW, a, b)


def maximum(a, b):
    return _binary(ew.MAXIMUM, a, b)


def minimum(a, b):
    return _binary(ew.MINIMUM, a, b)


def neg(a):
    return _unary(ew.NEG, a)


def exp(a):
    return _unary(ew.EXP, a)


def log(a):
    return _unary(ew.LOG, a)


def sqrt(a):
    return _unary(ew.SQRT, a)


def abs(a):
    return _unary(ew.ABS, a)


def tanh(a):
    return _unary(ew.TANH, a)


def sign(a):
    return _unary(ew.SIGN, a)


def equal(a, b):
    return _compare(ew.EQUAL, a, b)


def not_equal(a, b):
    return _compare(ew.NOT_EQUAL, a, b)


def less(a, b):
    return _compare(ew.LESS, a, b)


def less_equal(a, b):
    return _compare(ew.LESS_EQUAL, a, b)


def greater(a, b):
    return _compare(ew.GREATER, a, b)


def greater_equal(a, b):
    return _compare(ew.GREATER_EQUAL, a, b)


def where(cond, a, b):
    """a where cond else b, broadcasting all three (a host cond is uploaded: a constant)."""
    if isinstance(cond, np.ndarray) and cond.ndim:
        cond = rt.upload(cond)
    (xc,), (sc,), _ = _operands(cond)
    (xa, xb), shapes, dtype = _operands(a, b)
    out, (shape, stc, sta, stb) = _broadcast((xc, xa, xb), [sc] + shapes, dtype)
    rt.launch(ew.where, out.size, rt.flat(xc), rt.flat(xa), rt.flat(xb), rt.flat(out), shape,
              stc, sta, stb)
    return out


def clip(a, lo, hi):
    if a.dtype.kind == "f":
        lo = -math.inf if lo is None else lo
        hi = math.inf if hi is None else hi
    else:
        info = np.iinfo(a.dtype) if a.dtype.kind in "iu" else np.iinfo(np.int8)
        lo = info.min if lo is None else lo
        hi = info.max if hi is None else hi
    return _unary(ew.CLIP, a, lo, hi)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _unary(ew.SIGMOID, x)


def relu(x):
    return _unary(ew.RELU, x)


def relu_in_place(x):
    """x = relu(x), overwriting x: each thread reads and writes its own element."""
    rt.launch(ew.unary, x.size, ew.RELU, rt.flat(x), x.dtype.type(0), x.dtype.type(0),
              rt.flat(x))


def relu_backward(grad, x):
    """grad where x > 0, else 0."""
    return _binary(ew.RELU_BACKWARD, grad, x)


def leaky_relu(x, slope):
    return _unary(ew.LEAKY_RELU, x, slope)


def leaky_relu_backward(grad, x, slope):
    return _binary(ew.LEAKY_RELU_BACKWARD, grad, x, slope)


def elu(x, alpha):
    return _unary(ew.ELU, x, alpha)


def elu_backward(grad, x, alpha):
    return _binary(ew.ELU_BACKWARD, grad, x, alpha)


def erf(x):
    """Elementwise error function (float input; float32 stays float32)."""
    out = rt.empty(x.shape, x.dtype)
    rt.launch(special.erf, out.size, rt.flat(x), rt.flat(out))
    return out
