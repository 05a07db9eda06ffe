"""ONNX export: ``tinygrad_cnn.onnx.export(model, example_input, "model.onnx")``.

Needs the optional ``onnx`` package (``pip install 'tinygrad-cnn[onnx]'``), imported only
when export runs. tracer.py records a forward pass, converters.py maps each op to ONNX
nodes, graph.py holds the nodes and initializers, export.py writes the file.
"""
from tinygrad_cnn.onnx.export import build_graph, export  # noqa: F401
from tinygrad_cnn.onnx.tracer import ExportError  # noqa: F401
