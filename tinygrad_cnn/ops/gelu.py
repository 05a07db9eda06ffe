"""GELU: x * Phi(x), exactly (through erf) or by torch's tanh approximation."""
import math

from tinygrad_cnn.function import Function

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715


class GELU(Function):
    """approximate="none": x * (1 + erf(x / sqrt 2)) / 2; "tanh": x * (1 + tanh(u)) / 2 with
    u = sqrt(2/pi) * (x + 0.044715 x^3). Backward is the derivative of the same formula."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        be, dt = ctx.backend, x.dtype.type
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = be.mul(be.add(x, be.mul(dt(_TANH_CUBIC), be.mul(x, be.mul(x, x)))),
                           dt(_SQRT_2_OVER_PI))
            phi = be.mul(be.add(be.tanh(inner), dt(1)), dt(0.5))       # (1 + tanh u) / 2
        else:
            phi = be.mul(be.add(be.erf(be.mul(x, dt(1 / math.sqrt(2.0)))), dt(1)), dt(0.5))
        ctx.save_for_backward(x, phi)
        return be.mul(x, phi)

    @staticmethod
    def backward(ctx, grad):
        be, (x, phi) = ctx.backend, ctx.saved
        dt = x.dtype.type
        x2 = be.mul(x, x)
        if ctx.approximate == "tanh":
            t = be.sub(be.mul(phi, dt(2)), dt(1))                       # tanh u
            du = be.mul(be.add(be.mul(x2, dt(3 * _TANH_CUBIC)), dt(1)), dt(_SQRT_2_OVER_PI))
            slope = be.mul(be.mul(be.mul(x, dt(0.5)), be.sub(dt(1), be.mul(t, t))), du)
        else:                                                           # x * N(x; 0, 1)
            density = be.mul(be.exp(be.mul(x2, dt(-0.5))), dt(1 / math.sqrt(2 * math.pi)))
            slope = be.mul(x, density)
        return (be.mul(grad, be.add(phi, slope)),)
