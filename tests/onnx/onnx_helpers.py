"""Export a model, check the file with onnx's full checker, run it in onnxruntime, compare."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.onnx as tonnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def randomise(model, seed=0):
    """Every parameter and buffer drawn at random (running variances positive), so that no
    term of the graph hides behind a zero or a one."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, t in model.state_dict().items():
        a = t.numpy()
        if a.dtype.kind != "f":
            state[key] = a
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, a.shape).astype(a.dtype)
        else:
            state[key] = (rng.standard_normal(a.shape) * 0.3).astype(a.dtype)
    model.load_state_dict(state)
    return model


def export_and_load(model, example, path, opset=13):
    """Export, run onnx.checker with full_check, and open an onnxruntime session."""
    tonnx.export(model, example, path, opset=opset)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return proto, session


def assert_matches(model, session, x, atol=1e-4):
    """onnxruntime's outputs on x equal the model's (eval mode), element by element."""
    with tc.no_grad():
        ours = model(tc.Tensor(x))
    ours = ours if isinstance(ours, (tuple, list)) else [ours]
    theirs = session.run(None, {"input": x})
    assert len(theirs) == len(ours)
    for a, b in zip(ours, theirs):
        assert b.shape == a.shape
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-4, atol=atol)


def check_model(model, input_shape, tmp_path, batches=(7, 1), opset=13, seed=0):
    """The whole proof for one model: export on a batch of 2, then batches 7 and 1 agree."""
    model.eval()
    rng = np.random.default_rng(seed + 1)
    example = rng.standard_normal((2,) + tuple(input_shape)).astype(np.float32)
    proto, session = export_and_load(model, tc.Tensor(example), tmp_path / "model.onnx", opset)
    for n in batches:
        assert_matches(model, session, rng.standard_normal((n,) + tuple(input_shape))
                       .astype(np.float32))
    return proto


def nodes(proto, op_type):
    return [n for n in proto.graph.node if n.op_type == op_type]


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
