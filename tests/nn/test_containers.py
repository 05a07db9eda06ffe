"""ModuleList / ModuleDict and Module's traversal methods, named as torch names them."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

torch = pytest.importorskip("torch")


class Net(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.blocks = m.ModuleList([m.Linear(3, 3), m.ReLU(), m.Linear(3, 2)])
        self.heads = m.ModuleDict({"a": m.Linear(2, 1), "b": m.Sequential(m.Linear(2, 2))})


class TorchNet(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.blocks = m.ModuleList([m.Linear(3, 3), m.ReLU(), m.Linear(3, 2)])
        self.heads = m.ModuleDict({"a": m.Linear(2, 1), "b": m.Sequential(m.Linear(2, 2))})


def test_names_match_torch():
    ours, theirs = Net(nn), TorchNet(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.modules())) == len(list(theirs.modules()))


def test_module_dict_behaves_like_a_dict():
    d = nn.ModuleDict([("x", nn.ReLU())])
    d["y"] = nn.Linear(2, 2)
    d.update({"z": nn.Tanh()})
    assert list(d) == ["x", "y", "z"] and "y" in d and len(d) == 3
    assert list(d.keys()) == ["x", "y", "z"] and isinstance(d["z"], nn.Tanh)
    assert isinstance(d.pop("x"), nn.ReLU) and list(d) == ["y", "z"]
    assert len(list(d.parameters())) == 2
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(TypeError, match="keys must be strings"):
        d[1] = nn.ReLU()
    d.clear()
    assert len(d) == 0


def test_module_list_editing_renumbers_like_torch():
    ours = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    theirs = torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh()])
    for m in (ours, theirs):
        m.insert(1, type(m[0])())
    ours.append(nn.Sigmoid())
    theirs.append(torch.nn.Sigmoid())
    del ours[0]
    del theirs[0]
    ours[0] = nn.Identity()
    theirs[0] = torch.nn.Identity()
    ours += [nn.ReLU()]
    theirs += [torch.nn.ReLU()]
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours._modules) == list(theirs._modules)
    assert len(ours + ours) == 2 * len(ours)


def test_apply_buffers_and_requires_grad():
    net = Net(nn)
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    net.register_buffer("steps", tc.Tensor(np.zeros(1)))
    net.register_buffer("scratch", tc.Tensor(np.zeros(1)), persistent=False)
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert "steps" in net.state_dict() and "scratch" not in net.state_dict()
    assert len(list(net.buffers())) == 2
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.requires_grad_() is net and all(p.requires_grad for p in net.parameters())


def test_named_modules_duplicates_and_get_submodule_like_torch():
    shared = nn.Linear(2, 2)
    ours = nn.Sequential(shared, nn.ReLU(), shared)
    tshared = torch.nn.Linear(2, 2)
    theirs = torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    for dup in (True, False):
        assert [n for n, _ in ours.named_modules(remove_duplicate=dup)] == [
            n for n, _ in theirs.named_modules(remove_duplicate=dup)]
    net = Net(nn)
    assert net.get_submodule("heads.b.0") is net.heads["b"][0]
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="no submodule 'c'"):
        net.get_submodule("heads.c")
