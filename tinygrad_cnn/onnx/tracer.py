"""Trace a model's forward pass into a list of op applications, checked for export.

The forward runs twice under ``tracing.recording``: on the example batch (N images) and on
a batch of 2N with other values. Comparing the two traces proves what a single trace cannot:
  - the op sequence does not depend on the batch or the values (no data-dependent Python
    control flow between the ops that were recorded);
  - every tensor that is not computed from the input by a recorded op (a parameter, a
    buffer, a constant) is the same in both runs, so it can be stored in the graph. A value
    that came from the input through an unrecorded path (``.numpy()``, ``.astype()``)
    differs and is refused, where it would otherwise be frozen into the graph silently;
  - every computed tensor keeps the batch in dim 0 (its size is N in one run and 2N in the
    other, every other dim equal), which is what the dynamic batch dimension of the
    exported graph relies on.
"""
from dataclasses import dataclass, field

import numpy as np

from tinygrad_cnn import grad_mode, tracing
from tinygrad_cnn.tensor import Tensor


class ExportError(RuntimeError):
    """A model (or one of its ops) cannot be written as an ONNX graph."""


@dataclass
class Step:
    """One op application: the Function class, where each input comes from, the settings.

    ``sources`` holds, per input, ("input", 0), ("step", j) for the output of step j, or
    ("const", k) for constant k of the trace. ``shape`` and ``shape2`` are the output's
    shapes in the N and 2N runs.
    """
    fn: type
    sources: list
    kwargs: dict
    shape: tuple
    dtype: np.dtype
    shape2: tuple = None
    value: np.ndarray = None               # the output, when computed from constants only


@dataclass
class Trace:
    """The checked steps of one forward pass, its constants and where its outputs come from."""
    steps: list
    constants: list                       # host arrays, in order of first use
    constant_tensors: list                # the Tensors they came from (for naming)
    outputs: list                         # sources of the model's outputs
    input_shape: tuple
    input_dtype: np.dtype
    to_numpy: object = None               # backend array -> host array, for kwargs arrays
    output_shapes: list = field(default_factory=list)
    fills: dict = field(default_factory=dict)   # constant k -> (value, shape after the batch)


class _Recorder:
    """Collects the steps of one forward pass (the callback ``Function.apply`` calls).

    Values are identified by their array (on the CPU ``Tensor.numpy()`` is the array itself)
    and its version. An in-place op (``out += x``) applies an op and then writes its result
    into the tensor's own array, bumping the version; so when the first input of the last
    step has a new version, that array now holds the last step's value. Any other change of
    version (a write outside the ops) is refused when the tensor is read again.
    """

    def __init__(self, example):
        self.origin, self.versions, self.keep = {}, {}, []
        self.steps, self.constants, self.constant_tensors = [], [], []
        self.to_numpy = example.backend.to_numpy
        self.last_input = None                # (tensor, array) of the last step's first input
        self._bind(example, ("input", 0))

    def _bind(self, t, src, read=True):
        array = t.numpy()
        self.origin[id(array)] = src
        self.versions[id(array)] = ("read", getattr(t, "_version", None)) if read else None
        self.keep.append(array)                # keep arrays alive so their ids stay unique

    def _catch_up(self):
        """Rebind the last step's first input if an in-place op just wrote the step into it."""
        if self.last_input is None:
            return
        t, array = self.last_input
        self.last_input = None
        if ("read", getattr(t, "_version", None)) != self.versions.get(id(array)) and \
                t.numpy() is array:
            self._bind(t, ("step", len(self.steps) - 1), read=False)

    def source(self, t):
        array = t.numpy()
        found = self.origin.get(id(array))
        if found is None:
            found = ("const", len(self.constants))
            self.constants.append(np.array(array, copy=True))
            self.constant_tensors.append(t)
            self._bind(t, found)
        elif self.versions[id(array)] is None:
            self.versions[id(array)] = ("read", getattr(t, "_version", None))
        elif self.versions[id(array)] != ("read", getattr(t, "_version", None)):
            raise ExportError(f"a tensor of shape {tuple(t.shape)} was changed in place by "
                              f"something other than the op just before (a write through a "
                              f"view, normal_(), ...): the graph cannot follow it; use "
                              f"out-of-place ops in forward")
        return found

    def __call__(self, fn, tensors, kwargs, result):
        self._catch_up()
        sources = [self.source(t) for t in tensors]
        step = Step(fn, sources, dict(kwargs), tuple(result.shape), np.dtype(result.dtype))
        if all(kind == "const" or (kind == "step" and self.steps[k].value is not None)
               for kind, k in sources):
            step.value = np.array(result.numpy(), copy=True)
        self.steps.append(step)
        self._bind(result, ("step", len(self.steps) - 1), read=False)
        self.last_input = (tensors[0], tensors[0].numpy()) if tensors else None

    def finish(self, outputs):
        """The sources of the model's outputs, after a last in-place write."""
        self._catch_up()
        return [self.source(t) for t in outputs]


def _outputs(out):
    """The model's output tensors as a list (a tensor, or a tuple/list of them)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)) and out and all(isinstance(t, Tensor) for t in out):
        return list(out)
    raise ExportError(f"the model's forward returned {type(out).__name__}; export needs a "
                      f"Tensor or a tuple of Tensors")


def _run(model, example):
    recorder = _Recorder(example)
    with grad_mode.no_grad(), tracing.recording(recorder):
        outs = _outputs(model(example))
    return recorder, recorder.finish(outs), [tuple(t.shape) for t in outs]


def _same_value(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a, b, equal_nan=a.dtype.kind == "f")


def _kwarg_arrays_equal(step, kw2, to_numpy):
    """Array-valued settings (batch norm statistics, masks) must not depend on the input."""
    for key, value in step.kwargs.items():
        if hasattr(value, "shape") and not isinstance(value, (int, float, tuple)):
            a, b = np.asarray(to_numpy(value)), np.asarray(to_numpy(kw2[key]))
            if not _same_value(a, b):
                return key
    return None


def _check_batch(step, where):
    s1, s2 = step.shape, step.shape2
    if len(s1) == 0 or len(s1) != len(s2) or s2[0] != 2 * s1[0] or s1[1:] != s2[1:]:
        raise ExportError(f"{where} ({step.fn.__name__}) gives shape {s1} for a batch of "
                          f"{s1[0] if s1 else '?'} and {s2} for twice that: the exported graph "
                          f"needs the batch in dim 0 of every computed tensor, so ops that "
                          f"reduce, move or mix the batch dimension cannot be exported")


def _check_on_cpu(model, example):
    devices = {t.device for t in model.state_dict(keep_vars=True).values()} | {example.device}
    if devices != {"cpu"}:
        raise ExportError(f"export traces on the CPU, but the model or the example input is on "
                          f"{sorted(devices - {'cpu'})}; move them with .to('cpu') first (the "
                          f"exported graph runs on any device)")


def trace(model, example):
    """Trace ``model(example)`` and a 2N batch built from it; returns the checked Trace."""
    _check_on_cpu(model, example)
    host = np.asarray(example.numpy())
    other = (host * 0.75 + 0.125).astype(host.dtype)       # other values, the same range
    doubled = Tensor._wrap(example.backend.from_numpy(np.concatenate([other, host[::-1]])),
                           example.device)
    first, outs, out_shapes = _run(model, example)
    second, outs2, _ = _run(model, doubled)
    if [s.fn for s in first.steps] != [s.fn for s in second.steps] or \
            [s.sources for s in first.steps] != [s.sources for s in second.steps] or \
            outs != outs2:
        raise ExportError("the model's forward runs different ops for a batch of "
                          f"{host.shape[0]} and one of {2 * host.shape[0]}: a graph traced "
                          f"from one pass cannot represent it")
    fills = _batch_sized_fills(first.constants, second.constants)
    _unfold_fill_users(first.steps, fills)
    for i, (s1, s2) in enumerate(zip(first.steps, second.steps)):
        s1.shape2 = s2.shape
        bad = _kwarg_arrays_equal(s1, s2.kwargs, first.to_numpy)
        if bad is not None:
            raise ExportError(f"op {i} ({s1.fn.__name__}) has a setting {bad!r} that depends "
                              f"on the input; it cannot be stored in a graph")
        if s1.value is None:                 # computed from the input
            _check_batch(s1, f"op {i}")
    return Trace(first.steps, first.constants, first.constant_tensors, outs,
                 tuple(host.shape), np.dtype(host.dtype), first.to_numpy, out_shapes, fills)


def _batch_sized_fills(constants, constants2):
    """Constants equal in both traces, or filled with one value and sized by the batch
    (the zeros that padding concatenates): {k: (value, shape after the batch)}."""
    fills = {}
    for k, (a, b) in enumerate(zip(constants, constants2)):
        if _same_value(a, b):
            continue
        if a.ndim and b.ndim == a.ndim and b.shape[0] == 2 * a.shape[0] and \
                a.shape[1:] == b.shape[1:] and a.size and a.dtype == b.dtype and \
                (a == a.flat[0]).all() and (b == a.flat[0]).all():
            fills[k] = (a.flat[0], a.shape[1:])
            continue
        raise ExportError(f"a constant of shape {a.shape} used by the forward differs between "
                          f"the two traces: it is computed from the input (or its batch size) "
                          f"outside the op graph (.numpy(), .astype(), argmax, a comparison, "
                          f"...): its value would be frozen into the exported graph; compute "
                          f"it with differentiable Tensor ops")
    return fills


def _unfold_fill_users(steps, fills):
    """A step computed from a batch-sized fill depends on the batch: it is not folded."""
    for step in steps:
        if step.value is not None and any(
                (kind == "const" and k in fills) or (kind == "step" and steps[k].value is None)
                for kind, k in step.sources):
            step.value = None
