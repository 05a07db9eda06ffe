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


class Generator:
    """A random generator of its own, as torch.Generator: pass it as ``generator=`` to
    DataLoader, RandomSampler or random_split for a stream independent of tc.manual_seed.

    It wraps a numpy.random.Generator (``.numpy``); its numbers are not torch's.
    """

    def __init__(self, device="cpu"):
        if str(device) not in ("cpu", "cuda"):
            raise ValueError(f"Generator device must be 'cpu' or 'cuda', got {device!r}")
        self.device = str(device)
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self.numpy = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        """Reseed; returns the generator itself, as torch's: Generator().manual_seed(0) works."""
        self._seed = int(seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def seed(self):
        """Reseed from fresh OS entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))
        return self._seed

    def initial_seed(self):
        """The seed this generator was last seeded with."""
        return self._seed

    def get_state(self):
        """A JSON-safe dict of the state (torch returns a byte tensor instead)."""
        return self.numpy.bit_generator.state

    def set_state(self, state):
        """Restore a state returned by get_state()."""
        self.numpy.bit_generator.state = state
        return self


def numpy_generator(generator=None):
    """The numpy Generator behind ``generator``: a tc.Generator's, a numpy Generator itself,
    or (None) the global one that tc.manual_seed seeds."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a tinygrad_cnn.Generator (or a numpy Generator), got "
                    f"{type(generator).__name__}")
