"""What the CPU and CUDA settings objects share: one dataclass instance per device, changed in
place for good (configure) or inside a ``with`` block (override), checked before it changes."""
import contextlib
import dataclasses


class Settings:
    """Base of CpuSettings and CudaSettings (both dataclasses); subclasses may add check()."""

    def check(self):
        """Raise ValueError for values the backend cannot run with (none by default)."""

    def configure(self, **changes):
        """Change fields in place; returns their old values. Unknown names raise TypeError,
        values check() refuses raise ValueError, and nothing changes then."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown {type(self).__name__} field(s) {unknown}; "
                            f"known: {sorted(names)}")
        dataclasses.replace(self, **changes).check()
        old = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        return old

    @contextlib.contextmanager
    def override(self, **changes):
        """Fields changed inside a ``with`` block only."""
        old = self.configure(**changes)
        try:
            yield self
        finally:
            self.configure(**old)
