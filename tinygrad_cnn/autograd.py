"""The backward pass: topological order, seed the output gradient, accumulate into leaves."""
import numpy as np


def _topological_order(root):
    """Tensors that need a gradient, each after all its inputs (iterative DFS, no recursion)."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            stack.extend((p, False) for p in t._ctx.parents if p.requires_grad)
    return order


def _seed(root, gradient):
    """The gradient of the root: ones for a scalar, else the one the caller gave."""
    be = root.backend
    if gradient is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                               f"{root.shape}; pass gradient= of that shape")
        return be.full(root.shape, 1, root.dtype)
    g = gradient._array if hasattr(gradient, "_array") else be.from_numpy(np.asarray(gradient))
    if tuple(g.shape) != root.shape:
        raise ValueError(f"gradient shape {tuple(g.shape)} does not match output shape {root.shape}")
    return be.astype(g, root.dtype)


def run_backward(root, gradient=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    from tinygrad_cnn.tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no graph "
                           "(were its inputs created with requires_grad=True, outside no_grad?)")
    grads = {id(root): _seed(root, gradient)}
    for t in reversed(_topological_order(root)):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        node = t._ctx
        if node is None:
            _accumulate(t, g, Tensor)
            continue
        if node.ctx is None:
            raise RuntimeError("backward() through a graph that was already freed: call the "
                               "first backward(retain_graph=True) to run it twice")
        parent_grads = node.fn.backward(node.ctx, g)
        if not isinstance(parent_grads, tuple):
            parent_grads = (parent_grads,)
        for parent, pg in zip(node.parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            if tuple(pg.shape) != parent.shape:
                raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {parent.shape}")
            prev = grads.get(id(parent))
            grads[id(parent)] = pg if prev is None else parent.backend.add(prev, pg)
        if not retain_graph:
            node.ctx = None


def _accumulate(leaf, g, Tensor):
    """leaf.grad += g, as a fresh array the leaf owns."""
    be = leaf.backend
    g = be.astype(g, leaf.dtype)
    if leaf.grad is None:
        leaf.grad = Tensor._wrap(be.copy(g), leaf.device)
    else:
        leaf.grad = Tensor._wrap(be.add(leaf.grad._array, g), leaf.device)
