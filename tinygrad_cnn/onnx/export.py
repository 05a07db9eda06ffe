"""tinygrad_cnn.onnx.export: write a model as an ONNX graph that onnxruntime runs.

The graph is traced from a forward pass in eval mode (tracer.py), each op converted by
converters.py; parameters and buffers become initializers under their state_dict names,
and the batch dimension of the input and outputs is dynamic ("N").
"""
import os
import warnings

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.atomic_file import atomic_write
from tinygrad_cnn.onnx.converters import CONVERTERS
from tinygrad_cnn.onnx.graph import Folded, GraphBuilder
from tinygrad_cnn.onnx.tracer import ExportError, trace
from tinygrad_cnn.tensor import Tensor

OPSETS = range(13, 18)   # ReduceMax's axes move to an input at 18; tested at 13 and 17


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'tinygrad-cnn[onnx]'") from None
    return onnx, helper, numpy_helper


def _example_tensor(example_input):
    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"export needs an example batch with at least one item in dim 0, got "
                         f"shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"export needs a float example input, got {x.dtype}")
    return x


def _in_eval_mode(model):
    """Every module's training flag, to restore after a trace in eval mode."""
    modes = [(m, m.training) for m in model.modules()]
    if any(flag for _, flag in modes):
        warnings.warn("export: the model is in training mode; it is exported as in eval mode "
                      "(dropout off, batch norm with running statistics) and left in "
                      "training mode", stacklevel=3)
    model.eval()
    return modes


def _fold(step):
    """A step computed only from constants: its value, remembering W.T for Gemm."""
    perm = step.kwargs.get("perm")
    kind, k = step.sources[0]
    transposed = k if step.fn is ops.Permute and tuple(perm or ()) == (1, 0) and \
        kind == "const" else None
    return Folded(step.value, transpose_of=transposed)


def build_graph(model, example, opset=13):
    """The ModelProto of ``model`` traced on ``example`` (a Tensor), not yet written."""
    onnx, helper, numpy_helper = _import_onnx()
    modes = _in_eval_mode(model)
    try:
        traced = trace(model, example)
    finally:
        for m, flag in modes:
            object.__setattr__(m, "training", flag)
    state = model.state_dict(keep_vars=True)
    by_id = {}
    for key, t in state.items():
        by_id.setdefault(id(t), key)           # a layer registered twice: its first name
    names = {k: by_id[id(t)] for k, t in enumerate(traced.constant_tensors) if id(t) in by_id}
    buffers = [(key, t.numpy()) for key, t in state.items() if t.device == "cpu"]
    g = GraphBuilder(helper, numpy_helper, traced, names, buffers, opset)
    g.values[("input", 0)] = g.unique("input")
    for i, step in enumerate(traced.steps):
        if step.value is not None:           # computed from constants only: fold it
            g.folded[i] = _fold(step)
            continue
        convert = CONVERTERS.get(step.fn)
        if convert is None:
            raise ExportError(f"op {i} ({step.fn.__name__}, output shape {step.shape}) has no "
                              f"ONNX converter in tinygrad_cnn.onnx; it cannot be exported")
        convert(g, step, i)
    return _model_proto(onnx, helper, g, traced, opset)


def _model_proto(onnx, helper, g, traced, opset):
    elem = helper.np_dtype_to_tensor_dtype(traced.input_dtype)
    inputs = [helper.make_tensor_value_info("input", elem, ["N", *traced.input_shape[1:]])]
    outputs = []
    for k, (src, shape) in enumerate(zip(traced.outputs, traced.output_shapes)):
        name = "output" if k == 0 else f"output_{k}"
        g.nodes.append(helper.make_node("Identity", [g.name(src)], [name], name=f"{name}_id"))
        out_elem = helper.np_dtype_to_tensor_dtype(
            traced.steps[src[1]].dtype if src[0] == "step" else traced.input_dtype)
        outputs.append(helper.make_tensor_value_info(name, out_elem, ["N", *shape[1:]]))
    graph = helper.make_graph(g.nodes, "tinygrad_cnn", inputs, outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tinygrad_cnn")
    proto.ir_version = 8      # the IR of opsets 13-17, which older onnxruntimes also read
    return proto


def export(model, example_input, path, opset=13):
    """Write ``model`` as ONNX to ``path``, traced on ``example_input`` (N, ...) in eval mode.

    The batch dimension is dynamic; parameters keep their state_dict names. The model's
    mode and state are left as they were. Raises ExportError naming an op that has no ONNX
    form. Returns the path.
    """
    if opset not in OPSETS:
        raise ValueError(f"opset {opset} is not supported; choose {OPSETS.start} to "
                         f"{OPSETS.stop - 1}")
    proto = build_graph(model, _example_tensor(example_input), opset)
    data = proto.SerializeToString()
    with atomic_write(os.fspath(path)) as f:
        f.write(data)
    return path


__all__ = ["export", "build_graph", "ExportError"]
