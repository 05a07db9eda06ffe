"""backends/cuda/ against backends/cpu.py: reductions, softmax and losses, movement,
getitem / index_add for the index patterns the ops use, concatenate."""
import numpy as np
import pytest

from cuda_helpers import backend, dev, host
from strategies import arrays
from test_backend_elementwise import check
from tinygrad_cnn.backends import cpu
from tinygrad_cnn.backends.cuda import settings as cuda_settings

AXES = [None, 0, 1, 2, (0, 2), (1, 2), (0, 1, 2), ()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_max(axis, keepdims, dtype):
    be = backend()
    a = arrays((3, 4, 5), 0, dtype)
    check(be.sum(dev(a), axis=axis, keepdims=keepdims), np.asarray(cpu.sum(a, axis, keepdims)))
    if axis != ():
        check(be.max(dev(a), axis=axis, keepdims=keepdims), np.asarray(cpu.max(a, axis, keepdims)))


def test_long_reductions_use_every_kernel_shape():
    """Rows (block tree), long columns (transposed to rows) and short columns (per thread)."""
    be = backend()
    a = arrays((2, 300, 3), 1, np.float32)
    for axis in (1, 2, (0, 1), None):     # float32 sums of 600 terms, in another order
        check(be.sum(dev(a), axis=axis), np.asarray(a.sum(axis=axis)), rtol=1e-5, atol=1e-4)
    b = arrays((130, 40), 2, np.float64)
    check(be.sum(dev(b), axis=0), b.sum(axis=0))
    check(be.max(dev(b), axis=0), b.max(axis=0))


def test_sums_of_bools_and_ints_as_numpy():
    be = backend()
    m = np.array([[True, False, True], [True, True, False]])
    check(be.sum(dev(m)), np.asarray(m.sum()))
    check(be.sum(dev(m), axis=1), m.sum(axis=1))
    i = np.arange(12).reshape(3, 4)
    check(be.sum(dev(i), axis=0), i.sum(axis=0))
    check(be.max(dev(i), axis=1), i.max(axis=1))


def test_max_and_argmax_with_nan_and_ties():
    be = backend()
    a = np.array([[1.0, 3.0, 3.0, 0.0], [np.nan, 2.0, 5.0, np.nan], [-1.0, -1.0, -2.0, -3.0]])
    check(be.max(dev(a), axis=1), a.max(axis=1))
    check(be.argmax(dev(a), axis=1), a.argmax(axis=1))
    check(be.argmax(dev(a), axis=0), a.argmax(axis=0))
    check(be.argmax(dev(a)), np.asarray(a.argmax()))
    check(be.argmax(dev(a), axis=1, keepdims=True), a.argmax(axis=1, keepdims=True))


def test_reductions_are_bit_identical_run_to_run():
    be = backend()
    a = dev(arrays((5, 257), 3, np.float32) * np.float32(1e4))
    first, second = host(be.sum(a, axis=1)), host(be.sum(a, axis=1))
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_and_log_softmax(axis, dtype):
    be = backend()
    a = arrays((2, 3, 4), 4, dtype) * dtype(5)
    check(be.softmax(dev(a), axis), cpu.softmax(a, axis))
    check(be.log_softmax(dev(a), axis), cpu.log_softmax(a, axis))


def test_log_softmax_is_finite_for_huge_logits():
    be = backend()
    a = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], np.float32)
    check(be.log_softmax(dev(a), 1), cpu.log_softmax(a, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_forward_backward(smoothing, dtype):
    be = backend()
    logits, target = arrays((5, 4), 5, dtype) * dtype(3), np.array([0, 3, 1, 1, 2])
    loss, logp = be.cross_entropy_forward(dev(logits), dev(target), smoothing)
    want_loss, want_logp = cpu.cross_entropy_forward(logits, target, smoothing)
    check(loss, want_loss)
    check(logp, want_logp)
    rows = arrays((5,), 6, dtype)
    check(be.cross_entropy_backward(dev(rows), logp, dev(target), smoothing),
          cpu.cross_entropy_backward(rows, want_logp, target, smoothing))
    # a host target (a constant, e.g. a NumPy label array) is accepted as well
    check(be.cross_entropy_forward(dev(logits), target, smoothing)[0], want_loss)


def test_reshape_transpose_broadcast():
    be = backend()
    a = arrays((2, 3, 4), 7, np.float32)
    check(be.reshape(dev(a), (6, 4)), a.reshape(6, 4))
    check(be.reshape(dev(a), (4, -1)), a.reshape(4, -1))
    check(be.reshape(dev(a[0, 0, :1]), ()), a[0, 0, :1].reshape(()))
    for perm in [(1, 0, 2), (2, 1, 0), (0, 2, 1), (0, 1, 2)]:
        check(be.transpose(dev(a), perm), np.ascontiguousarray(a.transpose(perm)))
    check(be.broadcast_to(dev(a[:, :1]), (2, 3, 4)), np.broadcast_to(a[:, :1], (2, 3, 4)))
    check(be.broadcast_to(dev(a[0]), (5, 3, 4)), np.broadcast_to(a[0], (5, 3, 4)))


def test_concatenate():
    be = backend()
    a, b = arrays((2, 3, 2), 8, np.float32), arrays((2, 1, 2), 9, np.float32)
    check(be.concatenate([dev(a), dev(b), dev(a)], 1), np.concatenate([a, b, a], 1))
    check(be.concatenate([dev(a), dev(a)], 0), np.concatenate([a, a], 0))
    check(be.concatenate([dev(a), dev(a)], -1), np.concatenate([a, a], -1))


BASIC = [0, -1, (slice(None), slice(1, 3)), (Ellipsis, 1), (slice(None, None, -1),),
         (1, slice(None), None), (slice(0, 3, 2), 2, slice(1, None)), (0, 1, 1)]


@pytest.mark.parametrize("index", BASIC)
def test_getitem_and_index_add_basic(index):
    be = backend()
    a = arrays((3, 4, 2), 10, np.float64)
    got = be.getitem(dev(a), index)
    check(got, np.array(a[index]))
    g = arrays(a[index].shape, 11, np.float64)
    check(be.index_add(a.shape, index, dev(g)), cpu.index_add(a.shape, index, g))


def _index_cases(be):
    idx = np.array([2, 0, 2, 1])
    return [
        (lambda: np.array([2, 0, 2, 1]), lambda: idx),                     # host int array
        (lambda: dev(idx), lambda: idx),                                   # device int array
        (lambda: (be.arange(3), dev(np.array([1, 0, 3]))),                # NLLLoss's pattern
         lambda: (np.arange(3), np.array([1, 0, 3]))),
        (lambda: (dev(np.array([-1, 0])),), lambda: (np.array([-1, 0]),)),  # negatives wrap
        (lambda: np.array([True, False, True]), lambda: np.array([True, False, True])),
        (lambda: (slice(None), np.array([1, 1, 0])),                      # not leading: slow path
         lambda: (slice(None), np.array([1, 1, 0]))),
    ]


@pytest.mark.parametrize("case", range(6))
def test_getitem_and_index_add_with_arrays(case):
    be = backend()
    a = arrays((3, 4), 12, np.float32)
    ours, theirs = _index_cases(be)[case]
    check(be.getitem(dev(a), ours()), a[theirs()])
    g = arrays(a[theirs()].shape, 13, np.float32)
    check(be.index_add(a.shape, ours(), dev(g)), cpu.index_add(a.shape, theirs(), g))


def test_index_add_sums_repeats_deterministically():
    be = backend()
    idx = np.array([1, 1, 1, 0, 1])
    g = (arrays((5, 3), 14, np.float32) * np.float32(1e3))
    first = host(be.index_add((2, 3), dev(idx), dev(g)))
    np.testing.assert_allclose(first, cpu.index_add((2, 3), idx, g), rtol=1e-6)
    assert first.tobytes() == host(be.index_add((2, 3), dev(idx), dev(g))).tobytes()


def test_out_of_range_host_index_raises_like_numpy():
    be = backend()
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 3"):
        be.getitem(dev(np.zeros((3, 2))), np.array([0, 3]))


def test_launch_settings_do_not_change_results():
    """The same reduction and GEMM with other block sizes give the same values."""
    be = backend()
    a, b = arrays((9, 33), 15, np.float64), arrays((33, 7), 16, np.float64)
    with cuda_settings.override(threads_per_block=16, max_blocks=2, reduce_threads=4,
                              gemm_threads=4, max_gemm_blocks=1):
        s, m = host(be.sum(dev(a), axis=1)), host(be.matmul(dev(a), dev(b)))
    np.testing.assert_allclose(s, a.sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(m, a @ b, rtol=1e-12)
