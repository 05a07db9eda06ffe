"""The backward pass: topological order over graph nodes, seed the output gradient, run each
node's backward once, accumulate into leaves.

The walk follows each node's ``parent_nodes`` (what every input's graph node was when the
op ran), not the input tensors' current ``_ctx``, so that an in-place op, which gives a
tensor a new node, never reroutes the gradient of ops that used the old value.
"""
import numpy as np


def _topological_order(root_node):
    """Nodes, each after all the nodes it feeds from (iterative DFS, no recursion)."""
    order, visited, stack = [], set(), [(root_node, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p, need in zip(node.parent_nodes, node.needs)
                     if need and p is not None)
    return order


def _seed(root, gradient):
    """The gradient of the root: ones for a scalar, else the one the caller gave."""
    from tinygrad_cnn.tensor import Tensor

    be = root.backend
    if gradient is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                               f"{root.shape}; pass gradient= of that shape")
        return be.full(root.shape, 1, root.dtype)
    g = gradient._array if isinstance(gradient, Tensor) else be.from_numpy(np.asarray(gradient))
    if tuple(g.shape) != root.shape:
        raise ValueError(f"gradient shape {tuple(g.shape)} does not match output shape {root.shape}")
    return be.astype(g, root.dtype)


def run_backward(root, gradient=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no graph "
                           "(were its inputs created with requires_grad=True, outside no_grad?)")
    seed = _seed(root, gradient)
    if root._ctx is None:
        _accumulate(root, seed)
        return
    grads, leaves = {id(root._ctx): seed}, {}
    for node in reversed(_topological_order(root._ctx)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node.ctx is None:
            raise RuntimeError("backward() through a graph that was already freed: call the "
                               "first backward(retain_graph=True) to run it twice")
        node.check_versions()
        parent_grads = node.fn.backward(node.ctx, g)
        if not isinstance(parent_grads, tuple):
            parent_grads = (parent_grads,)
        for parent, pnode, need, pg in zip(node.parents, node.parent_nodes, node.needs,
                                           parent_grads):
            if pg is None or not need:
                continue
            if tuple(pg.shape) != parent.shape:
                raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {parent.shape}")
            if pnode is None:
                prev = leaves.get(id(parent))
                leaves[id(parent)] = (parent, pg if prev is None else parent.backend.add(prev[1], pg))
            else:
                prev = grads.get(id(pnode))
                grads[id(pnode)] = pg if prev is None else parent.backend.add(prev, pg)
        if not retain_graph:
            node.ctx = None
    for leaf, g in leaves.values():
        _accumulate(leaf, g)


def _accumulate(leaf, g):
    """leaf.grad += g, as a fresh array the leaf owns."""
    from tinygrad_cnn.tensor import Tensor

    be = leaf.backend
    g = be.astype(g, leaf.dtype)
    if leaf.grad is None:
        leaf.grad = Tensor._wrap(be.copy(g), leaf.device)
    else:
        leaf.grad = Tensor._wrap(be.add(leaf.grad._array, g), leaf.device)
