"""Whether operations record the graph: tc.no_grad() turns it off."""
import functools
import threading

_state = threading.local()
_last = [True]


def is_enabled():
    """True when new operations are recorded for backward."""
    return getattr(_state, "enabled", True)


def last_set():
    """The grad mode most recently set on any thread (True when none has been): a
    process-wide hint, which kernels/warmup.py reads to guess whether a first step trains
    (its kernels compile on worker threads, which do not see the caller's mode). Recording
    never depends on it."""
    return _last[0]


def _set(enabled):
    _state.enabled = _last[0] = enabled


class no_grad:
    """Context manager and decorator that stops graph recording, as torch.no_grad."""

    def __enter__(self):
        self._prev = is_enabled()
        _set(False)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Turn recording back on inside a no_grad block."""

    def __enter__(self):
        self._prev = is_enabled()
        _set(True)
        return self


class set_grad_enabled:
    """Turn recording on or off: at once when called, and back when used as a ``with`` block
    ends (as torch.set_grad_enabled)."""

    def __init__(self, mode):
        self._prev = is_enabled()
        _set(bool(mode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False


class inference_mode(no_grad):
    """As torch.inference_mode: no recording inside (here the same as no_grad);
    inference_mode(False) leaves recording as it is."""

    def __init__(self, mode=True):
        self._mode = bool(mode)

    def __enter__(self):
        self._prev = is_enabled()
        if self._mode:
            _set(False)
        return self

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper
