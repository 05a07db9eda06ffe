"""Module and Parameter: registration, traversal, modes, grads, devices, containers."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 3)
        self.scale = nn.Parameter(np.ones(1))

    def forward(self, x):
        return self.head(self.drop(self.features(x).flatten(1))) * self.scale


def test_parameter_is_a_float_tensor_that_requires_grad():
    p = nn.Parameter(np.arange(3))
    assert isinstance(p, tc.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32
    assert nn.Parameter(np.zeros(2, np.float64)).dtype == np.float32  # Tensor's default
    assert nn.Parameter(tc.Tensor(np.zeros(2), dtype=np.float64)).dtype == np.float64
    assert all(p.dtype == np.float64 for p in nn.Linear(2, 3, dtype=np.float64).parameters())
    assert nn.Conv2d(1, 2, 3, dtype=np.float64).weight.dtype == np.float64
    t = tc.Tensor([1.0, 2.0])
    shared = nn.Parameter(t)
    assert shared._array is t._array  # shares storage like torch.nn.Parameter(tensor)
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\n")


def test_named_parameters_use_dotted_torch_names():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.1.weight",
                     "features.1.bias", "head.weight", "head.bias"]
    assert len(list(Net().parameters())) == 7


def test_buffers_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["features", "drop", "head"]
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Dropout", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1",
                                                   "features.2", "drop", "head"]
    assert len(list(net.modules())) == 7


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_train_and_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode must be a bool"):
        net.train("yes")


def test_zero_grad_sets_grads_to_none():
    net = Net()
    net(tc.Tensor.randn(2, 1, 4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_set_to_none_false_keeps_zero_arrays():
    lin = nn.Linear(2, 1)
    lin(tc.Tensor.ones(1, 2)).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert all(np.array_equal(p.grad.numpy(), np.zeros(p.shape)) for p in lin.parameters())


def test_to_cpu_moves_in_place_and_keeps_objects():
    net = Net()
    params = list(net.parameters())
    assert net.to("cpu") is net
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(t.device == "cpu" for t in net.state_dict().values())
    with pytest.raises((RuntimeError, ValueError)):
        net.to("tpu")


def test_apply_visits_children_before_parent():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "BatchNorm2d", "ReLU", "Sequential", "Dropout", "Linear", "Net"]


def test_apply_can_reinitialise_weights():
    net = Net()
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not net.head.weight.numpy().any()


def test_double_and_float_convert_floats_only():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64
    net.float()
    assert all(t.dtype == np.float32 for n, t in net.state_dict().items()
               if not n.endswith("num_batches_tracked"))


def test_attribute_assignment_rules():
    lin = nn.Linear(2, 2)
    lin.bias = None
    assert "bias" not in dict(lin.named_parameters())
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        lin.weight = tc.Tensor.zeros(2, 2)
    del lin.weight
    assert not list(lin.parameters())
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nothing'"):
        lin.nothing


def test_assigning_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_forward_not_implemented_names_the_class():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty has no forward"):
        Empty()(tc.Tensor.zeros(1))


def test_sequential_indexing_len_iteration_and_slicing():
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3
    assert list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        seq[3]
    x = tc.Tensor.randn(5, 3)
    np.testing.assert_allclose(seq(x).numpy(), layers[2](layers[1](layers[0](x))).numpy(),
                               rtol=0, atol=0)
    seq[1] = nn.Tanh()
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    assert isinstance(seq[1], nn.Tanh)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)


def test_module_list_registers_children():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(blocks) == 3
    assert [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert len(list(blocks.parameters())) == 6
    assert isinstance(blocks[1:], nn.ModuleList) and len(blocks[1:]) == 2


def test_repr_of_a_custom_model_nests_children():
    text = repr(Net())
    assert text.startswith("Net(\n  (features): Sequential(\n    (0): Conv2d(1, 2, kernel_size=")
    assert "  (head): Linear(in_features=8, out_features=3, bias=True)\n)" in text


def test_gradient_flows_to_every_parameter_in_train_mode():
    net = Net()
    tc.manual_seed(0)
    loss = net(tc.Tensor.randn(4, 1, 4, 4)).sum()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


def test_conv_channel_mismatch_error_names_the_numbers():
    with pytest.raises(ValueError, match=r"Conv2d expected 3 input channels, got 1 \(input shape "
                                         r"\(8, 1, 28, 28\)\)"):
        nn.Conv2d(3, 4, 3)(tc.Tensor.zeros(8, 1, 28, 28))


def test_layer_constructor_errors():
    with pytest.raises(ValueError, match=r"groups=3 must divide in_channels \(4\)"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.CrossEntropyLoss(reduction="avg")


def test_softmax_without_dim_uses_torch_legacy_choice():
    x = tc.Tensor.randn(2, 3)
    with pytest.warns(UserWarning, match="implicit dimension"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(1), np.ones(2), rtol=1e-6)


def test_forward_hook_sees_output_and_can_be_removed():
    lin = nn.Linear(3, 2)
    seen = []
    handle = lin.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs[0].shape,
                                                                           out.shape)))
    lin(tc.Tensor.ones(4, 3))
    assert seen == [(lin, (4, 3), (4, 2))]
    handle.remove()
    lin(tc.Tensor.ones(4, 3))
    assert len(seen) == 1
    lin.register_forward_hook(lambda m, inputs, out: out * 0)
    assert not lin(tc.Tensor.ones(1, 3)).numpy().any()  # a returned value replaces the output
