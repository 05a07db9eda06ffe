"""Tensor methods and functions that change shape: reshape/view, permute, expand, squeeze,
indexing, cat and stack. Reshapes, permutes, expands and basic indexing return views: the
result shares the version counter of its base tensor, as torch's views do."""
import numpy as np

from tinygrad_cnn import ops


class ShapeMethods:
    """Mixin of Tensor: the shape ops."""

    __slots__ = ()

    def reshape(self, *shape):
        shape = _resolve_shape(_shape(shape), self.numel(), self.shape)
        return ops.Reshape.apply(self, shape=shape)._as_view_of(self)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = self._dim(start_dim), self._dim(end_dim)
        shape = self.shape[:s] + (int(np.prod(self.shape[s:e + 1])),) + self.shape[e + 1:]
        return self.reshape(shape)

    def permute(self, *dims):
        dims = _shape(dims)
        perm = tuple(self._dim(d) for d in dims)
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(f"permute dims {dims} are not a permutation of {self.ndim} axes")
        return ops.Permute.apply(self, perm=perm)._as_view_of(self)

    def transpose(self, dim0, dim1):
        perm = list(range(self.ndim))
        a, b = self._dim(dim0), self._dim(dim1)
        perm[a], perm[b] = perm[b], perm[a]
        return ops.Permute.apply(self, perm=tuple(perm))._as_view_of(self)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def expand(self, *sizes):
        """Broadcast to ``sizes`` (-1 keeps a dim; new dims go in front), as a view."""
        sizes = _shape(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                             f"tensor's dimensions ({self.ndim}), shape {self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and shape[i + lead] != n:
                raise ValueError(f"expand: size {shape[i + lead]} does not match the existing "
                                 f"size {n} at dim {i} (shape {self.shape} to {sizes})")
        return ops.Expand.apply(self, shape=shape)._as_view_of(self)

    def unsqueeze(self, dim):
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = self._dim(dim)
        if self.shape[d] != 1:
            return self
        return self.reshape(self.shape[:d] + self.shape[d + 1:])

    def __getitem__(self, index):
        """x[index]; a basic index (ints, slices, None, ...) gives a view, as torch."""
        out = ops.GetItem.apply(self, index=_index_arrays(index, self.backend))
        return out._as_view_of(self) if _is_basic_index(index) else out


def _shape(shape):
    """(2, 3) from either zeros(2, 3) or zeros((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _is_basic_index(index):
    """True for ints, slices, None and Ellipsis (no arrays, lists or Tensors)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, slice)
               or (isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)))
               for p in parts)


def _index_arrays(index, backend):
    """Tensors inside an index become backend arrays (x[idx_tensor] as in torch)."""
    if hasattr(index, "_array"):
        return index._array
    if isinstance(index, tuple):
        return tuple(i._array if hasattr(i, "_array") else i for i in index)
    if isinstance(index, list):
        return backend.from_numpy(np.asarray(index))
    return index


def _resolve_shape(shape, numel, old_shape):
    """``shape`` with a single -1 filled in; an error when it cannot hold ``numel``."""
    shape = tuple(int(n) for n in shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    known = int(np.prod([n for n in shape if n != -1]))
    bad = len(unknown) > 1 or any(n < -1 for n in shape)
    if unknown and not bad:
        bad = known == 0 or numel % known != 0
        shape = shape[:unknown[0]] + (numel // max(known, 1),) + shape[unknown[0] + 1:]
    if bad or int(np.prod(shape)) != numel:
        raise ValueError(f"cannot reshape tensor of shape {old_shape} ({numel} elements) "
                         f"into {shape}")
    return shape


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    first = tensors[0]
    d = first._dim(dim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise ValueError(f"cat along dim {dim}: shapes {first.shape} and {t.shape} differ "
                             f"outside that dim")
        if t.dtype != first.dtype:
            raise TypeError(f"cat: dtype mismatch, {first.dtype} and {t.dtype}")
    return ops.Cat.apply(*tensors, axis=d)


def stack(tensors, dim=0):
    """Stack equal-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shape = tensors[0].shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(f"stack needs equal shapes, got {shape} and {t.shape}")
    d = dim % (len(shape) + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


