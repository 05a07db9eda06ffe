"""The framework's random number generator: tc.manual_seed(n) makes runs repeatable.

Initialisation, rand/randn, dropout masks and shuffles draw from this one NumPy
Generator. Its state can be saved and restored, which checkpoints use to resume runs.
"""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Reseed the global generator (as torch.manual_seed)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator():
    """The current global numpy.random.Generator."""
    return _generator


def get_rng_state():
    """A JSON-safe dict describing the generator state."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by get_rng_state()."""
    _generator.bit_generator.state = state
