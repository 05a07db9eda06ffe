"""The handle every register_*_hook returns (module and tensor hooks), as torch.utils.hooks."""


class RemovableHandle:
    """Registers ``hook`` in ``hooks`` under a fresh id; remove() unregisters it."""

    _next_id = 0

    def __init__(self, hooks, hook):
        RemovableHandle._next_id += 1
        self.hooks, self.id = hooks, RemovableHandle._next_id
        hooks[self.id] = hook

    def remove(self):
        """Unregister the hook (again is a no-op)."""
        self.hooks.pop(self.id, None)
