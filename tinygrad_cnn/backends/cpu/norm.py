"""CPU backend, batch normalisation: per-channel (axis 1) sums and affine maps in one pass
each (kernels/cpu/norm.py), on the backend's threads, keeping the input's memory layout.

A channels-last activation (a conv's output) is seen as (N*H*W, C) rows, a contiguous NCHW
one as (N, C, H*W) planes; any other layout is copied to contiguous NCHW first.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import layout, threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import norm as norm_kernels


class _ChannelView:
    """x seen as rows (M, r*C: r pixels of C channels each, self.repeat = r) or planes
    (N, C, S), and how to hand out an array like x."""

    def __init__(self, x):
        N, C = x.shape[:2]
        self.shape, self.order, self.repeat = x.shape, None, 1
        last = np.moveaxis(x, 1, -1)
        if x.ndim > 2 and last.flags.c_contiguous and not x.flags.c_contiguous:
            self.kind, self.order = "rows", last.shape
            self.view = self._joined(last.reshape(-1, C))
            return
        x = np.ascontiguousarray(x)
        if x.ndim == 2 or x.size == N * C:              # (N, C), or (N, C, 1, ...): rows
            self.kind, self.view = "rows", self._joined(x.reshape(N, C))
        else:
            self.kind, self.view = "planes", x.reshape(N, C, -1)

    def _joined(self, rows):
        """rows (M, C) joined into rows of about 256 values (layout.joined_rows)."""
        view, self.repeat = layout.joined_rows(rows)
        return view

    def vector(self, v, dtype):
        """A per-channel (C,) vector as the view's kernels take it (repeated r times)."""
        v = np.ascontiguousarray(v, dtype=dtype)
        return np.tile(v, self.repeat) if self.repeat > 1 else v

    def kernel(self, name):
        """The kernels/cpu/norm.py kernel ``name`` for this view: name_rows or name_planes."""
        return getattr(norm_kernels, f"{name}_{self.kind}")

    def fold(self, sums):
        """(C,) per-channel totals of a kernel's (r*C,) sums."""
        return sums.reshape(self.repeat, -1).sum(axis=0) if self.repeat > 1 else sums

    def like(self, a):
        """``a``'s values in this view's layout (a copy only when a's layout differs)."""
        if self.order is not None:                          # channels-last rows
            a = np.moveaxis(a, 1, -1)
        return np.ascontiguousarray(a).reshape(self.view.shape)

    def empty(self):
        """(view-shaped empty array, the same memory shaped as x)."""
        out = np.empty(self.view.shape, dtype=self.view.dtype)
        if self.order is not None:
            return out, np.moveaxis(out.reshape(self.order), -1, 1)
        return out, out.reshape(self.shape)

    def split(self, kernel):
        """kernel(lo, hi) over the view's first axis, on the threads, a share each."""
        n = self.view.shape[0]
        per = max(1, self.view.size // max(n, 1))
        threads.run(kernel, n, grain=-(-settings.part_elements // per))

    def parts(self):
        """How many threads' partial sums a pass over the view is worth."""
        return max(1, min(threads.thread_count(), self.view.size // settings.part_elements,
                          self.view.shape[0]))


def _f64(v):
    return np.ascontiguousarray(v, dtype=np.float64)


def _shifted_sums64(x, shift64):
    """float64 (C,) sums per channel of x's deviations d from shift64 (float64 (C,)), and of
    d * d: one pass of the shifted_sums kernel."""
    cv = _ChannelView(x)
    kernel, v, k = cv.kernel("shifted_sums"), cv.view, cv.vector(shift64, np.float64)
    sd, sdd = threads.summed(lambda lo, hi, a, b: kernel(v[lo:hi], k, a, b), v.shape[0],
                             ((k.shape[0],), (k.shape[0],)), np.float64, cv.parts())
    return cv.fold(sd), cv.fold(sdd)


def channel_sums(x, mean=None):
    """Per-channel (axis 1) sum of x over every other axis, or of (x - mean) ** 2 when
    ``mean`` (C,) is given; (C,) in x's dtype."""
    if mean is None:
        return _shifted_sums64(x, np.zeros(x.shape[1]))[0].astype(x.dtype)
    return _shifted_sums64(x, _f64(mean))[1].astype(x.dtype)


def batch_norm_stats(x):
    """Per-channel mean and biased variance of x, each (C,) in x's dtype.

    float32: one pass in float64 over the deviations d from each channel's first value and
    their squares, var = mean(d*d) - mean(d)**2. The subtraction costs float64's 1e-16
    times mean(d)**2 / var of the variance, so where that ratio passes 1e6 (a first value
    a thousand standard deviations out), or the sums are not finite, the two-pass form
    runs instead. float64: always two passes, the second over deviations from the mean
    (float64 sums of float64 values have no spare precision for the one-pass form).
    """
    count = max(x.size // max(x.shape[1], 1), 1)
    if x.dtype == np.float32 and x.size:
        shift = _f64(x[(0, slice(None)) + (0,) * (x.ndim - 2)])
        sd, sdd = _shifted_sums64(x, shift)
        d = sd / count
        var = sdd / count - d * d
        if np.all(d * d <= _ONE_PASS_MAX_RATIO * var):
            return (shift + d).astype(x.dtype), var.astype(x.dtype)
    mean = _shifted_sums64(x, np.zeros(x.shape[1]))[0] / count
    var = _shifted_sums64(x, mean)[1] / count
    return mean.astype(x.dtype), var.astype(x.dtype)


_ONE_PASS_MAX_RATIO = 1e6
"""Largest mean(d)**2 / var of batch_norm_stats' one-pass form (see there)."""


def channel_grad_sums(grad, x, mean, relu_of=None):
    """(sum of grad, sum of grad * (x - mean)) per channel, each (C,) in x's dtype. With
    ``relu_of`` = (scale, shift), grad is the gradient of relu((x - mean) * scale + shift)
    (channel_affine's values, as forward computed them): it counts only where that affine
    value is above 0, the ReLU's gradient, in the same pass."""
    cv = _ChannelView(x)
    g, v, mean64 = cv.like(grad), cv.view, cv.vector(mean, np.float64)
    relu, (x_mean, scale, shift) = _relu_vectors(cv, x, mean, relu_of)
    kernel = cv.kernel("grad_sums")
    n = mean64.shape[0]
    sg, sgx = threads.summed(lambda lo, hi, a, b: kernel(g[lo:hi], v[lo:hi], mean64, relu,
                                                         x_mean, scale, shift, a, b),
                             v.shape[0], ((n,), (n,)), np.float64, cv.parts())
    return cv.fold(sg).astype(x.dtype), cv.fold(sgx).astype(x.dtype)


def _relu_vectors(cv, x, mean, relu_of):
    """(relu, (mean, scale, shift)) as the kernels take them: the affine map a ReLU
    follows, in x's dtype, or (False, three empty vectors)."""
    if relu_of is None:
        empty = np.zeros(0, dtype=x.dtype)
        return False, (empty, empty, empty)
    return True, tuple(cv.vector(u, x.dtype) for u in (mean, *relu_of))


def channel_affine(x, mean, scale, shift, relu=False):
    """(x - mean) * scale + shift per channel (axis 1; each vector (C,)), in x's layout; with
    ``relu`` its ReLU in the same pass."""
    cv = _ChannelView(x)
    mean, scale, shift = (cv.vector(u, x.dtype) for u in (mean, scale, shift))
    kernel, v = cv.kernel("affine"), cv.view
    out, shaped = cv.empty()
    cv.split(lambda lo, hi: kernel(v[lo:hi], mean, scale, shift, bool(relu), out[lo:hi]))
    return shaped


def batch_norm_input_grad(grad, x, mean, a, b, d, relu_of=None):
    """grad * a + (x - mean) * b + d per channel (axis 1; each vector (C,)), in x's layout:
    batch norm's input gradient with the coefficients ops/batchnorm.py derives. With
    ``relu_of``, grad counts only where the ReLU passed it (channel_grad_sums)."""
    cv = _ChannelView(x)
    relu, (_, scale, shift) = _relu_vectors(cv, x, mean, relu_of)
    mean, a, b, d = (cv.vector(u, x.dtype) for u in (mean, a, b, d))
    kernel = cv.kernel("input_grad")
    g, v = cv.like(grad), cv.view
    out, shaped = cv.empty()
    cv.split(lambda lo, hi: kernel(g[lo:hi], v[lo:hi], mean, a, b, d, relu, scale, shift,
                                   out[lo:hi]))
    return shaped
