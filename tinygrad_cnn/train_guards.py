"""What keeps a training run honest: errors that say what to do, non-finite checks, the
checkpoint list in epoch order, and the word about kernels compiling on first use."""
import contextlib
import re
import threading
from pathlib import Path

import numpy as np

_CHECKPOINT = re.compile(r"checkpoint_epoch(\d+)\.tgc")
COMPILING = "compiling kernels (first run only)..."


class TrainError(ValueError):
    """A run cannot start or go on; the message says why and what to do."""


class NonFiniteError(TrainError):
    """A loss, gradient or weight became NaN or infinite at (epoch, step); no checkpoint was
    written for it. `last` (set by the loop) is the last good checkpoint."""

    def __init__(self, epoch, step, what, skip_hint=True, last=None):
        super().__init__(epoch, step, what)
        self.epoch, self.step, self.what, self.skip_hint, self.last = epoch, step, what, skip_hint, last

    def __str__(self):
        where = (f"epoch {self.epoch}, step {self.step}" if self.step is not None
                 else f"the end of epoch {self.epoch}")
        good = (f"the last good checkpoint is {self.last} (continue from it with --resume, "
                f"after lowering --lr)" if self.last else
                "no checkpoint was written yet (lower --lr and start again)")
        hint = "; or pass --nonfinite skip to skip such steps" if self.skip_hint else ""
        return f"non-finite value at {where}: {self.what}; the run stopped and {good}{hint}"


class NonFiniteStep(Exception):
    """Raised inside a step: `what` (the loss, a gradient) holds `value`."""

    def __init__(self, what, value):
        super().__init__(f"{what} is {value}")
        self.what, self.value = what, value


def checkpoints(out):
    """(epoch, path) of every checkpoint_epochN.tgc in `out`, by epoch number (1000 after 999)."""
    found = []
    for p in Path(out).glob("checkpoint_epoch*.tgc"):
        m = _CHECKPOINT.fullmatch(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def first_nonfinite_grad(named_parameters):
    """(name, a bad value) of the first parameter whose gradient holds NaN or inf, else None."""
    for name, p in named_parameters:
        if p.grad is None:
            continue
        g = p.grad.numpy()
        if not np.isfinite(g).all():
            return name, g[~np.isfinite(g)].flat[0]
    return None


def first_nonfinite_weight(state):
    """(name, a bad value) of the first float array/tensor in a state dict holding NaN or inf."""
    for name, v in state.items():
        a = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            return name, a[~np.isfinite(a)].flat[0]
    return None


class CompileNotice:
    """Says COMPILING when the first step of a run takes longer than `after` seconds: numba
    compiles each kernel on its first call (cached afterwards), which takes tens of seconds."""

    def __init__(self, log, after=1.5):
        self.log, self.after, self.done = log, after, False

    @contextlib.contextmanager
    def around(self, bar=None):
        """Time the block; past `after` seconds, show the notice on the bar (or log it)."""
        if self.done:
            yield
            return
        timer = threading.Timer(self.after, self._say, args=(bar,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self.done = True

    def _say(self, bar):
        if bar is not None and hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(COMPILING)
        else:
            self.log(COMPILING)
