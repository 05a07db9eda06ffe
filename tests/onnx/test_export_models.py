"""Every model that models.get_model knows: exported, checked, and equal in onnxruntime."""
import pytest

from tinygrad_cnn import models

from onnx_helpers import check_model, randomise


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_exports_and_matches_onnxruntime(name, tmp_path):
    """Batches of 7 and 1 (the graph was traced on 2): outputs within 1e-4 of ours, and
    every parameter and buffer stored under its (first) state_dict name."""
    model = randomise(models.get_model(name))
    proto = check_model(model, (1, 28, 28), tmp_path)
    graph_input = proto.graph.input[0].type.tensor_type.shape.dim
    assert graph_input[0].dim_param == "N" and [d.dim_value for d in graph_input[1:]] == [1, 28, 28]
    stored = {init.name for init in proto.graph.initializer}
    first_names = {}
    for key, t in model.state_dict(keep_vars=True).items():
        first_names.setdefault(id(t), key)
    needed = {k for k in first_names.values() if not k.endswith("num_batches_tracked")}
    assert needed <= stored
