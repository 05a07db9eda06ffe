"""Recording of every op application, for exporters that turn a forward pass into a graph.

``Function.apply`` calls ``current()`` once per op; while a ``recording(fn)`` block is
active in this thread, ``fn(function_class, input_tensors, kwargs, output_tensor)`` sees each
application after its forward has run. Outside such a block nothing is recorded.
"""
import contextlib
import threading

class _State(threading.local):
    recorder = None      # a class default: asking a thread that never recorded is cheap


_state = _State()


def current():
    """The active recorder of this thread, or None."""
    return _state.recorder


@contextlib.contextmanager
def recording(recorder):
    """Send every op applied in this thread inside the block to ``recorder``."""
    if current() is not None:
        raise RuntimeError("an op recording is already active in this thread (nested export?)")
    _state.recorder = recorder
    try:
        yield recorder
    finally:
        _state.recorder = None
