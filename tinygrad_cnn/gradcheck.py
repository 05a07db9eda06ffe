"""tc.gradcheck: autograd against float64 central differences, for every input element."""
import numpy as np

from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.tensor import Tensor


def _scalarize(out, weights):
    """A fixed random projection of the output, so one backward checks every output."""
    return (out * weights).sum()


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """True when autograd matches central differences; otherwise AssertionError with the worst entry.

    ``fn(*inputs)`` must return a Tensor. Inputs that require grad must be float64. The
    output is projected on fixed random weights w, so the check compares
    d(sum(w * fn))/dx from backward with (L(x + eps) - L(x - eps)) / (2 eps) per element.
    """
    inputs = list(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck needs at least one input with requires_grad=True")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, got {t.dtype} (shape {t.shape})")
    out = fn(*inputs)
    rng = np.random.default_rng(seed)
    weights = Tensor(rng.standard_normal(out.shape), dtype=np.float64, device=out.device)
    for t in checked:
        t.grad = None
    _scalarize(out, weights).backward()
    for k, t in enumerate(checked):
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.numpy().copy()
        numeric = _numeric_grad(fn, inputs, t, weights, eps)
        _compare(k, t.shape, analytic, numeric, atol, rtol)
    return True


def _numeric_grad(fn, inputs, t, weights, eps):
    """Central differences of sum(w * fn) over every element of ``t``.

    The perturbed values are written into t's storage (a host copy re-uploaded on a
    device), and the original values are restored afterwards.
    """
    backend = t.backend
    original = t._array
    flat = np.array(backend.to_numpy(original), dtype=np.float64).reshape(-1)
    numeric = np.zeros(flat.size)

    def evaluate(values):
        t._array = backend.from_numpy(values.reshape(t.shape))
        return _scalarize(fn(*inputs), weights).item()

    with no_grad():
        try:
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                plus = evaluate(flat)
                flat[i] = orig - eps
                minus = evaluate(flat)
                flat[i] = orig
                numeric[i] = (plus - minus) / (2 * eps)
        finally:
            t._array = original
    return numeric.reshape(t.shape)


def _compare(k, shape, analytic, numeric, atol, rtol):
    err = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    if np.all(err <= bound):
        return
    worst = np.unravel_index(np.argmax(err - bound), shape)
    raise AssertionError(
        f"gradcheck failed for input {k} (shape {shape}) at index {tuple(int(i) for i in worst)}: "
        f"autograd {analytic[worst]:.8g}, finite differences {numeric[worst]:.8g}, "
        f"|diff| {err[worst]:.3g} > atol {atol} + rtol {rtol} * |numeric|")
