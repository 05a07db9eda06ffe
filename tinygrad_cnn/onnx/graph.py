"""GraphBuilder: the ONNX nodes, initializers and value names of one export.

Converters (converters.py) ask it for the name of each step's inputs and add nodes. Values
computed only from constants (a weight's transpose, say) are folded into initializers here,
and remember where they came from, so a converter can write ``Gemm(x, W, transB=1)`` with
the stored (out, in) weight instead of a transposed copy.
"""
import numpy as np


class Folded:
    """A constant computed during the trace: its value and, for W.T, the original tensor."""

    def __init__(self, value, transpose_of=None):
        self.value = value
        self.transpose_of = transpose_of      # constant index k of W when this is W.T


class GraphBuilder:
    def __init__(self, helper, numpy_helper, trace, names, buffers, opset):
        self.helper, self.numpy_helper, self.trace = helper, numpy_helper, trace
        self.names = names                    # constant index -> state_dict key (when known)
        self.buffers = buffers                # [(state_dict key, host array of the buffer)]
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.values = {}                      # source tuple -> ONNX value name
        self.folded = {}                      # step index -> Folded
        self.gemm = {}                        # step index -> Gemm node that produced it
        self.uses = self._count_uses()
        self._taken = set()

    def _count_uses(self):
        uses = {}
        for step in self.trace.steps:
            for src in step.sources:
                uses[src] = uses.get(src, 0) + 1
        for src in self.trace.outputs:
            uses[src] = uses.get(src, 0) + 1
        return uses

    # ---- names ---------------------------------------------------------------------
    def unique(self, hint):
        name, k = hint, 1
        while name in self._taken:
            name, k = f"{hint}_{k}", k + 1
        self._taken.add(name)
        return name

    def name(self, src):
        """The ONNX value name of an input, a step's output or a constant (stored on first use)."""
        if src in self.values:
            return self.values[src]
        kind, k = src
        if kind == "const" and k in self.trace.fills:
            name = self._fill(k)
        elif kind == "const":
            name = self.initializer(self.trace.constants[k], self.names.get(k, f"const_{k}"))
        elif kind == "step" and k in self.folded:
            name = self.initializer(self.folded[k].value, f"folded_{k}")
        else:
            raise KeyError(f"no value yet for {src}")
        self.values[src] = name
        return name

    def _fill(self, k):
        """A constant of one value whose first dim is the batch: ConstantOfShape of the
        input's batch size and the traced other dims."""
        value, rest = self.trace.fills[k]
        shape = self.inner("Shape", [self.values[("input", 0)]], f"fill_{k}_input_shape")
        batch = self.inner("Slice", [shape, self.ints([0], f"fill_{k}_0"),
                                     self.ints([1], f"fill_{k}_1")], f"fill_{k}_batch")
        full = self.inner("Concat", [batch, self.ints(list(rest), f"fill_{k}_rest")],
                          f"fill_{k}_shape", axis=0)
        return self.inner("ConstantOfShape", [full], f"fill_{k}",
                          value=self.numpy_helper.from_array(np.array([value])))

    def initializer(self, array, hint):
        name = self.unique(hint)
        self.initializers.append(self.numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def array_name(self, array):
        """The state_dict key of a model buffer whose array is ``array`` (BN statistics), or None."""
        host = self.trace.to_numpy(array)
        for key, buf in self.buffers:
            if buf is host:
                return key
        return None

    def ints(self, values, hint):
        """An int64 initializer (shapes, axes)."""
        return self.initializer(np.asarray(values, dtype=np.int64), hint)

    def scalar(self, value, dtype, hint):
        return self.initializer(np.asarray(value, dtype=dtype), hint)

    # ---- constants -----------------------------------------------------------------
    def constant_value(self, src):
        """The host value of a constant or folded source, or None for a computed one."""
        kind, k = src
        if kind == "const" and k in self.trace.fills:
            return None                       # sized by the batch: not a stored value
        if kind == "const":
            return self.trace.constants[k]
        if kind == "step" and k in self.folded:
            return self.folded[k].value
        return None

    # ---- nodes ---------------------------------------------------------------------
    def node(self, op_type, inputs, index, **attrs):
        """Add a node whose output is step ``index``'s value; returns the NodeProto."""
        out = self.unique(f"{op_type.lower()}_{index}")
        node = self.helper.make_node(op_type, inputs, [out], name=f"{op_type}_{index}", **attrs)
        self.nodes.append(node)
        self.values[("step", index)] = out
        return node

    def inner(self, op_type, inputs, hint, **attrs):
        """A node inside one step's conversion (its output is not a step's value)."""
        out = self.unique(hint)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def alias(self, index, src):
        """Step ``index`` passes its input through unchanged (an Identity in ONNX)."""
        self.node("Identity", [self.name(src)], index)
