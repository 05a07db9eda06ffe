"""@cuda.jit elementwise kernels: fill, unary, binary and compare with broadcasting, where,
and one strided copy that does every data movement (transpose, broadcast, slice, cast,
concatenate).

Broadcasting is done by strides: arrays are passed flat, with the (collapsed) output
shape and, per operand, element strides that are 0 along broadcast axes. The op is an
integer code (the constants below) tested in a chain of ``if``s; every branch stores
into ``out`` directly, so the store casts and no branch promotes float32 to float64.
"""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_jit
from tinygrad_cnn.kernels.cuda.device_functions import offset_of, smaller

# unary op codes: out = f(a; p0, p1)
NEG, EXP, LOG, SQRT, ABS, TANH, SIGN, SIGMOID, RELU, LEAKY_RELU, ELU, CLIP = range(12)
# binary op codes: out = f(a, b; p)
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, RELU_BACKWARD, LEAKY_RELU_BACKWARD, ELU_BACKWARD = \
    range(10)
# comparison op codes: bool out
EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL = range(6)


@cuda_jit
def fill(out, value):
    """out[:] = value (out flat)."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[t] = value


@cuda_jit
def iota(out):
    """out[i] = i (out flat)."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[t] = t


@cuda_jit
def strided_copy(src, src_off, src_strides, dst, dst_off, dst_strides, shape):
    """dst[dst_off + idx . dst_strides] = src[src_off + idx . src_strides] for idx < shape.

    src and dst are flat; the store casts to dst's dtype.
    """
    total = 1
    for n in shape:
        total *= n
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        dst[dst_off + offset_of(t, shape, dst_strides)] = \
            src[src_off + offset_of(t, shape, src_strides)]


@cuda_jit
def unary(op, a, p0, p1, out):
    """out = op(a) elementwise over flat, equally sized a and out; p0/p1 are op parameters.

    LOG and SQRT branch on the domain so that log(0) = -inf and sqrt(-1) = nan, as on the
    GPU, also in the CUDA simulator (where Python's math would raise).
    """
    zero, one = a.dtype.type(0), a.dtype.type(1)
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        x = a[t]
        if op == NEG:
            out[t] = -x
        elif op == EXP:
            out[t] = math.exp(x)
        elif op == LOG:
            if x > 0:
                out[t] = math.log(x)
            elif x == 0:
                out[t] = -math.inf
            else:
                out[t] = math.nan
        elif op == SQRT:
            if x >= 0:
                out[t] = math.sqrt(x)
            else:
                out[t] = math.nan
        elif op == ABS:
            out[t] = abs(x)
        elif op == TANH:
            out[t] = math.tanh(x)
        elif op == SIGN:
            if x > 0:
                out[t] = 1
            elif x < 0:
                out[t] = -1
            else:
                out[t] = x                      # 0 stays 0, nan stays nan
        elif op == SIGMOID:                     # 1 / (1 + exp(-|x|)) without overflow
            e = math.exp(-abs(x))
            if x >= 0:
                out[t] = one / (one + e)
            else:
                out[t] = e / (one + e)
        elif op == RELU:
            out[t] = x if (x > 0 or math.isnan(x)) else zero
        elif op == LEAKY_RELU:
            out[t] = x if x > 0 else x * p0
        elif op == ELU:
            out[t] = x if x > 0 else p0 * math.expm1(smaller(x, zero))
        elif op == CLIP:                        # nan stays nan: both tests are false
            v = x
            if v < p0:
                v = p0
            if v > p1:
                v = p1
            out[t] = v


@cuda_jit
def binary(op, a, b, p, out, shape, a_strides, b_strides):
    """out (flat, C order over ``shape``) = op(a, b) with a and b read through strides."""
    zero = b.dtype.type(0)
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        x = a[offset_of(t, shape, a_strides)]
        y = b[offset_of(t, shape, b_strides)]
        if op == ADD:
            out[t] = x + y
        elif op == SUB:
            out[t] = x - y
        elif op == MUL:
            out[t] = x * y
        elif op == DIV:
            out[t] = x / y
        elif op == POW:
            out[t] = x ** y
        elif op == MAXIMUM:                     # nan propagates, as np.maximum
            out[t] = x if (x >= y or math.isnan(x)) else y
        elif op == MINIMUM:
            out[t] = x if (x <= y or math.isnan(x)) else y
        elif op == RELU_BACKWARD:               # a = grad, b = x
            if y > 0:
                out[t] = x
            else:
                out[t] = 0
        elif op == LEAKY_RELU_BACKWARD:
            out[t] = x if y > 0 else x * p
        elif op == ELU_BACKWARD:
            out[t] = x if y > 0 else x * p * math.exp(smaller(y, zero))


@cuda_jit
def compare(op, a, b, out, shape, a_strides, b_strides):
    """out (bool, flat) = a <op> b with broadcasting by strides."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        x = a[offset_of(t, shape, a_strides)]
        y = b[offset_of(t, shape, b_strides)]
        if op == EQUAL:
            out[t] = x == y
        elif op == NOT_EQUAL:
            out[t] = x != y
        elif op == LESS:
            out[t] = x < y
        elif op == LESS_EQUAL:
            out[t] = x <= y
        elif op == GREATER:
            out[t] = x > y
        elif op == GREATER_EQUAL:
            out[t] = x >= y


@cuda_jit
def where(cond, a, b, out, shape, c_strides, a_strides, b_strides):
    """out = a where cond else b, all three read through broadcasting strides."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        if cond[offset_of(t, shape, c_strides)]:
            out[t] = a[offset_of(t, shape, a_strides)]
        else:
            out[t] = b[offset_of(t, shape, b_strides)]
