"""Whether operations record the graph: tc.no_grad() turns it off."""
import functools
import threading

_state = threading.local()


def is_enabled():
    """True when new operations are recorded for backward."""
    return getattr(_state, "enabled", True)


class no_grad:
    """Context manager and decorator that stops graph recording, as torch.no_grad."""

    def __enter__(self):
        self._prev = is_enabled()
        _state.enabled = False
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
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
        _state.enabled = True
        return self
