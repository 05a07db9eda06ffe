"""The backward pass: topological order over graph nodes, seed the output gradient, run each
node's backward once, accumulate into leaves: a leaf's ``.grad`` is finished (and its
post-accumulate hooks run) as soon as every op that used it has run its backward.

The walk follows each node's ``parent_nodes`` (what every input's graph node was when the
op ran), not the input tensors' current ``_ctx``, so that an in-place op, which gives a
tensor a new node, never reroutes the gradient of ops that used the old value.
"""
from tinygrad_cnn import profiler
from tinygrad_cnn.hooks import RemovableHandle


def _topological_order(root_node):
    """Nodes, each after all the nodes it feeds from (iterative DFS, no recursion).

    Inputs are explored first to last, so a layer's later inputs (its weight, after the data
    path) sit right before the layer's node.
    """
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
        stack.extend((p, False) for p, need in reversed(list(zip(node.parent_nodes, node.needs)))
                     if need and p is not None)
    return order


def _seed(root, gradient):
    """The gradient of the root: ones for a scalar, else the array the caller gave."""
    be = root.backend
    if gradient is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                               f"{root.shape}; pass gradient= of that shape")
        return be.full(root.shape, 1, root.dtype)
    if tuple(gradient.shape) != root.shape:
        raise ValueError(f"gradient shape {tuple(gradient.shape)} does not match output shape "
                         f"{root.shape}")
    return be.astype(gradient, root.dtype)


def run_backward(root, gradient=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad;
    ``gradient`` is a backend array of root's shape (None for a scalar root)."""
    if not root.requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no graph "
                           "(were its inputs created with requires_grad=True, outside no_grad?)")
    seed = _seed(root, gradient)
    if root._ctx is None:
        _accumulate(root, seed)
        return
    order = _topological_order(root._ctx)
    pending = _leaf_uses(order)
    grads, leaves = {id(root._ctx): seed}, {}
    for node in reversed(order):
        g = grads.pop(id(node), None)
        parent_grads = () if g is None else _node_backward(node, g, retain_graph)
        for i, (parent, pnode, need) in enumerate(zip(node.parents, node.parent_nodes, node.needs)):
            pg = parent_grads[i] if i < len(parent_grads) else None
            if pg is not None and need and tuple(pg.shape) != parent.shape:
                raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {parent.shape}")
            if not need:
                continue
            if pnode is not None:
                if pg is not None:
                    prev = grads.get(id(pnode))
                    grads[id(pnode)] = pg if prev is None else parent.backend.add(prev, pg)
                continue
            if pg is not None:
                prev = leaves.get(id(parent))
                leaves[id(parent)] = pg if prev is None else parent.backend.add(prev, pg)
            pending[id(parent)] -= 1
            if pending[id(parent)] == 0 and id(parent) in leaves:
                # every use of this leaf is done: finish its .grad now (its hooks run now)
                _accumulate(parent, leaves.pop(id(parent)))


def _leaf_uses(order):
    """How many edges of the graph end at each leaf that needs a gradient."""
    uses = {}
    for node in order:
        for parent, pnode, need in zip(node.parents, node.parent_nodes, node.needs):
            if need and pnode is None:
                uses[id(parent)] = uses.get(id(parent), 0) + 1
    return uses


def _node_backward(node, g, retain_graph):
    """The node's gradients for its inputs, as a tuple; frees its context unless retained."""
    if node.ctx is None:
        raise RuntimeError("backward() through a graph that was already freed: call the "
                           "first backward(retain_graph=True) to run it twice")
    node.check_versions()
    if profiler.active:
        parent_grads = profiler.timed(node.fn, "backward", node.ctx, node.parents,
                                      lambda: node.fn.backward(node.ctx, g))
    else:
        parent_grads = node.fn.backward(node.ctx, g)
    if not isinstance(parent_grads, tuple):
        parent_grads = (parent_grads,)
    if not retain_graph:
        node.ctx = None
    return parent_grads


def _accumulate(leaf, g):
    """leaf.grad += g, as a fresh array the leaf owns."""
    be = leaf.backend
    g = be.astype(g, leaf.dtype)
    if leaf.grad is None:
        leaf.grad = leaf._wrap_plain(be.copy(g), leaf.device)
    else:
        leaf.grad = leaf._wrap_plain(be.add(leaf.grad._array, g), leaf.device)
    for hook in list((getattr(leaf, "_post_accumulate_hooks", None) or {}).values()):
        hook(leaf)


def add_post_accumulate_hook(leaf, hook):
    """Register hook(leaf) to run after each accumulation into leaf.grad; returns a handle."""
    if not leaf.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if leaf._ctx is not None:
        raise RuntimeError("post accumulate grad hooks can only be registered on leaf tensors "
                           "(tensors that no op produced)")
    if getattr(leaf, "_post_accumulate_hooks", None) is None:
        leaf._post_accumulate_hooks = {}
    return RemovableHandle(leaf._post_accumulate_hooks, hook)
