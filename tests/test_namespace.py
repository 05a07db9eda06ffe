"""The torch namespace: tc.tensor and factories, dtypes, devices, grad modes, functional forms."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")

import tinygrad_cnn as tc


def same(ours, ref, rtol=1e-6):
    """Same shape, dtype name and values as the torch result."""
    assert ours.shape == tuple(ref.shape)
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch."), (ours.dtype, ref.dtype)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=rtol)


@pytest.mark.parametrize("data", [
    1, 2.5, True, [1, 2, 3], [1.0, 2], [[True, False]], [[1, 2], [3, 4]],
    np.array([1.0, 2.0]), np.array([1, 2], np.int32), np.float32(3.0), np.array([1, 2], np.uint8),
])
def test_tensor_infers_dtype_as_torch(data):
    same(tc.tensor(data), torch.tensor(data))


def test_tensor_copies_and_takes_dtype_device_requires_grad():
    a = np.zeros(3, np.float32)
    t = tc.tensor(a, dtype=tc.float64, requires_grad=True, device="cpu")
    assert t.dtype == tc.float64 and t.requires_grad and t.is_leaf
    u = tc.tensor(a)
    u.numpy()[0] = 5
    assert a[0] == 0
    v = tc.tensor([tc.tensor(1.0), tc.tensor(2.0)])
    same(v, torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="only floating point"):
        tc.tensor([1, 2], requires_grad=True)


def test_as_tensor_and_from_numpy_share_memory():
    a = np.arange(4.0)
    f = tc.from_numpy(a)
    assert f.dtype == tc.float64
    f.numpy()[0] = 7
    assert a[0] == 7
    s = tc.as_tensor(a)
    s.add_(1)
    assert a[0] == 8
    c = tc.as_tensor(a, dtype=tc.float32)
    c.add_(1)
    assert a[0] == 8
    t = tc.ones(2)
    assert tc.as_tensor(t) is t
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tc.from_numpy([1, 2])


FACTORIES = {
    "zeros": (lambda L: L.zeros(2, 3), None),
    "zeros_tuple": (lambda L: L.zeros((2, 3), dtype=L.float64), None),
    "ones": (lambda L: L.ones([4]), None),
    "ones_int": (lambda L: L.ones(2, dtype=L.int64), None),
    "full_int": (lambda L: L.full((2, 2), 7), None),
    "full_float": (lambda L: L.full((2,), 1.5), None),
    "full_bool": (lambda L: L.full((2,), True), None),
    "arange_int": (lambda L: L.arange(5), None),
    "arange_start_step": (lambda L: L.arange(1, 10, 3), None),
    "arange_float": (lambda L: L.arange(0, 1, 0.25), None),
    "arange_dtype": (lambda L: L.arange(4, dtype=L.float64), None),
    "linspace": (lambda L: L.linspace(-1, 1, 5), None),
    "eye": (lambda L: L.eye(3), None),
    "eye_rect": (lambda L: L.eye(2, 3, dtype=L.int32), None),
    "zeros_like": (lambda L: L.zeros_like(L.ones(2, 3, dtype=L.float64)), None),
    "ones_like_dtype": (lambda L: L.ones_like(L.ones(2), dtype=L.int64), None),
    "full_like": (lambda L: L.full_like(L.ones(2, dtype=L.int32), 3), None),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_match_torch(name):
    fn, _ = FACTORIES[name]
    same(fn(tc), fn(torch))


def test_random_factories_shapes_dtypes_ranges_and_seed():
    tc.manual_seed(0)
    a = tc.rand(3, 4)
    tc.manual_seed(0)
    assert np.array_equal(a.numpy(), tc.rand((3, 4)).numpy())
    assert a.dtype == tc.float32 and 0 <= a.numpy().min() and a.numpy().max() < 1
    assert tc.randn(2, 3, dtype=tc.float64).dtype == tc.float64
    r = tc.randint(3, 7, (500,))
    assert r.dtype == tc.int64 and r.numpy().min() == 3 and r.numpy().max() == 6
    assert tc.randint(5, size=(2, 2)).shape == (2, 2)
    assert tc.randn_like(a).shape == (3, 4) and tc.rand_like(a).dtype == tc.float32
    assert tc.randint_like(a, 10).dtype == tc.float32
    assert tc.empty(2, 3).shape == (2, 3) and tc.empty_like(a).shape == (3, 4)
    assert tc.randn(3, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="sizes must be ints"):
        tc.zeros(2.5)


def test_dtype_objects_compare_with_every_spelling():
    t = tc.ones(2)
    for spelling in (tc.float32, np.float32, np.dtype("float32"), "float32", tc.float):
        assert t.dtype == spelling
    assert tc.tensor([1]).dtype == tc.int64 == tc.long
    for d in (tc.float32, tc.float64, tc.float16, tc.int64, tc.int32, tc.uint8, tc.bool):
        assert tc.zeros(2, dtype=d).dtype == d
        assert tc.zeros(2, dtype=np.dtype(d).type).dtype == d
    assert tc.double == tc.float64 and tc.half == tc.float16 and tc.int == tc.int32
    with pytest.raises(TypeError, match="not a dtype"):
        tc.zeros(2, dtype="not-a-dtype")


def test_devices():
    d = tc.device("cuda:0")
    assert d == "cuda" and d.type == "cuda" and d.index == 0 and d == tc.device("cuda")
    assert tc.device("cpu") == "cpu" and tc.device("cpu").index is None
    assert repr(tc.device("cpu")) == "device(type='cpu')"
    assert tc.ones(1).device == tc.device("cpu") and tc.ones(1).device.type == "cpu"
    assert tc.ones(1, device=tc.device("cpu")).device == "cpu"
    with pytest.raises(ValueError, match="index 0"):
        tc.device("cuda:1")
    with pytest.raises(ValueError, match="unknown device"):
        tc.device("tpu")
    assert tc.cuda.device_count() == int(tc.cuda.is_available())
    assert tc.accelerator.is_available() == tc.cuda.is_available()
    acc = tc.accelerator.current_accelerator()
    assert (acc == "cuda") if tc.cuda.is_available() else acc is None
    # the official MNIST example's device choice runs
    device = acc if tc.accelerator.is_available() else tc.device("cpu")
    assert tc.zeros(1).to(device).device == device


def test_legacy_tensor_constructor_forms():
    t = tc.Tensor(1, 1, 28, 28)
    assert t.shape == (1, 1, 28, 28) and t.dtype == tc.float32
    assert tc.Tensor().shape == (0,) and tc.Tensor().dtype == tc.float32
    assert tc.Tensor(2, 3, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="ambiguous.*tc.empty\\(3\\).*tc.tensor\\(3\\)"):
        tc.Tensor(3)
    assert tc.Tensor([1.0, 2.0]).dtype == tc.float32        # data, as before
    assert tc.Tensor(np.float64(2.0)).shape == ()


def test_grad_modes():
    x = tc.ones(2, requires_grad=True)
    with tc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tc.set_grad_enabled(False)
    try:
        assert not tc.is_grad_enabled()
    finally:
        tc.set_grad_enabled(True)
    with tc.inference_mode():
        assert not (x * 2).requires_grad
    with tc.inference_mode(False):
        assert (x * 2).requires_grad

    @tc.inference_mode()
    def f():
        return x * 2

    assert not f().requires_grad


def test_small_helpers():
    t = tc.ones(2, 3)
    assert tc.is_tensor(t) and not tc.is_tensor(np.ones(2))
    assert tc.numel(t) == 6 and tc.is_floating_point(t)
    assert tc.allclose(t, tc.ones(2, 3) + 1e-9) and not tc.allclose(t, t * 2)
    assert tc.equal(t, tc.ones(2, 3)) and not tc.equal(t, tc.ones(3, 2))


rng = np.random.default_rng(0)
A = rng.permutation(24).reshape(2, 3, 4).astype(np.float64) / 7 - 1.5
M1, M2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

FUNCTIONS = {
    "flatten": lambda L, x: L.flatten(x, 1),
    "max": lambda L, x: L.max(x),
    "max_dim": lambda L, x: L.max(x, 1)[0],
    "max_dim_indices": lambda L, x: L.max(x, dim=2, keepdim=True).indices,
    "min_dim": lambda L, x: L.min(x, 0).values,
    "argmax": lambda L, x: L.argmax(x, 1),
    "argmin": lambda L, x: L.argmin(x),
    "mean": lambda L, x: L.mean(x, 1),
    "sum": lambda L, x: L.sum(x, (0, 2)),
    "exp": lambda L, x: L.exp(x),
    "log": lambda L, x: L.log(L.abs(x) + 1),
    "relu": lambda L, x: L.relu(x),
    "sigmoid": lambda L, x: L.sigmoid(x),
    "tanh": lambda L, x: L.tanh(x),
    "softmax": lambda L, x: L.softmax(x, 1),
    "log_softmax": lambda L, x: L.log_softmax(x, dim=-1),
    "where": lambda L, x: L.where(x > 0, x, x * 3),
    "where_scalar": lambda L, x: L.where(x > 0, x, 0.0),
    "clamp": lambda L, x: L.clamp(x, -0.5, 0.5),
    "clamp_min": lambda L, x: L.clamp(x, min=0.1),
    "matmul": lambda L, x: L.matmul(L.tensor(M1), L.tensor(M2)),
    "mm": lambda L, x: L.mm(L.tensor(M1), L.tensor(M2)),
    "eq": lambda L, x: L.eq(x, x * (x > 0)),
    "squeeze": lambda L, x: L.squeeze(x[:1]),
    "unsqueeze": lambda L, x: L.unsqueeze(x, -1),
    "cat": lambda L, x: L.cat([x, x * 2], 1),
    "stack": lambda L, x: L.stack([x, x * 2], dim=-1),
    "std": lambda L, x: L.std(x, 1),
    "topk": lambda L, x: L.topk(x, 2).values,
    "sort": lambda L, x: L.sort(x, 0, descending=True).indices,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functional_forms_match_torch(name):
    ours = FUNCTIONS[name](tc, tc.tensor(A))
    ref = FUNCTIONS[name](torch, torch.tensor(A))
    same(ours, ref, rtol=1e-10)


@pytest.mark.parametrize("name", ["where", "where_scalar", "clamp", "std", "max_dim", "topk",
                                  "cat", "stack"])
def test_functional_forms_gradcheck(name):
    x = tc.tensor(A + 0.01, requires_grad=True)
    assert tc.gradcheck(lambda t: FUNCTIONS[name](tc, t), [x])


def test_notes_004_code_runs_with_only_the_import_changed():
    """The course notes' 004 CNN code (shape walkthrough, training loop, evaluation), with
    `import tinygrad_cnn as torch` and a tiny in-memory batch list for MNIST."""
    import tinygrad_cnn as torch
    import tinygrad_cnn.nn as nn

    inputs = torch.Tensor(1, 1, 28, 28)
    conv1 = nn.Conv2d(1, 32, 3, padding=1)
    conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
    pool = nn.MaxPool2d(2)
    out = pool(conv2(pool(conv1(inputs.zero_()))))
    out = out.view(out.size(0), -1)
    assert out.shape == (1, 3136)
    assert nn.Linear(3136, 10)(out).shape == (1, 10)

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.manual_seed(777)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 14 * 14, 10)).to(device)
    torch.nn.init.xavier_uniform_(model[4].weight)
    criterion = torch.nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    data_loader = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(3)]
    total_batch = len(data_loader)
    for epoch in range(2):
        avg_cost = 0
        for X, Y in data_loader:
            X = X.to(device)
            Y = Y.to(device)
            optimizer.zero_grad()
            hypothesis = model(X)
            cost = criterion(hypothesis, Y)
            cost.backward()
            optimizer.step()
            avg_cost += cost / total_batch
        line = '[Epoch: {:>4}] cost = {:>.9}'.format(epoch + 1, avg_cost)
        assert line.startswith(f"[Epoch:    {epoch + 1}] cost = ")
    with torch.no_grad():
        X_test, Y_test = data_loader[0]
        prediction = model(X_test.view(len(X_test), 1, 28, 28).float().to(device))
        correct_prediction = torch.argmax(prediction, 1) == Y_test
        accuracy = correct_prediction.float().mean()
        assert 0.0 <= accuracy.item() <= 1.0
