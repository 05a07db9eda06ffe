"""default_collate / default_convert: samples to batched Tensors, by torch's rules.

Tensors and NumPy arrays are stacked (dtype kept), Python floats become float64 and ints
int64 tensors, strings stay lists, mappings and sequences are collated field by field
(tuples come back as lists, namedtuples as their own type), as torch does.
"""
import collections.abc

import numpy as np

from tinygrad_cnn.tensor import Tensor, stack


def _stack_tensors(batch):
    first = batch[0]
    other = next((t.shape for t in batch if t.shape != first.shape), None)
    if other is not None:
        raise RuntimeError(f"stack expects each tensor to be equal size, but got {first.shape} "
                           f"and {other}")
    if first.device == "cpu" and not any(t.requires_grad for t in batch):
        return Tensor(np.stack([t.numpy() for t in batch]), dtype=first.dtype)
    return stack(batch)


def default_collate(batch):
    """Merge a list of samples into a batch."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, "
                            f"numbers, dicts or lists; found array of dtype {elem.dtype}")
        return Tensor(np.stack(batch), dtype=elem.dtype)
    if isinstance(elem, (np.generic, bool)) and not isinstance(elem, (str, bytes)):
        return Tensor(np.array(batch), dtype=np.asarray(elem).dtype)
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64), dtype=np.float64)
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):            # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem).__name__} (a PIL image? add "
                    f"transforms.ToTensor() to the dataset's transform)")


def default_convert(data):
    """One sample with NumPy arrays and scalars turned into Tensors (the batch_size=None
    path); tuples come back as lists, namedtuples as their own type, as torch."""
    if isinstance(data, (np.ndarray, np.generic)) and np.asarray(data).dtype.kind in "biuf":
        return Tensor(np.asarray(data), dtype=np.asarray(data).dtype)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(v) for key, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data
