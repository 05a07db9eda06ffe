"""Every model that models.get_model knows: exported, checked, and equal in onnxruntime."""
import numpy as np
import pytest

import tinygrad_cnn as tc

from tinygrad_cnn import models
from tinygrad_cnn.onnx.tracer import trace

from onnx_helpers import check_model, randomise


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_exports_and_matches_onnxruntime(name, tmp_path):
    """Batches of 7 and 1 (the graph was traced on 2): outputs within 1e-4 of ours, and
    every parameter and buffer the eval forward uses stored under its (first) state_dict
    name (GoogLeNet's auxiliary heads run only in training)."""
    model = randomise(models.get_model(name))
    proto = check_model(model, (1, 28, 28), tmp_path)
    graph_input = proto.graph.input[0].type.tensor_type.shape.dim
    assert graph_input[0].dim_param == "N" and [d.dim_value for d in graph_input[1:]] == [1, 28, 28]
    stored = {init.name for init in proto.graph.initializer}
    first_names = {}
    for key, t in model.state_dict(keep_vars=True).items():
        first_names.setdefault(id(t), key)
    used = trace(model, tc.Tensor(np.zeros((1, 1, 28, 28), np.float32))).constant_tensors
    needed = {first_names[id(t)] for t in used if id(t) in first_names}
    assert needed and needed <= stored
