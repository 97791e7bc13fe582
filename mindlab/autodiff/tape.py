"""The PyNative tape: while a gradient transform runs, every primitive applied to a watched tensor is recorded
as a ``Node``; ``backward`` walks the recorded graph in reverse, calling each primitive's registry ``bprop``.

Because bprops are written with mindlab ops, the backward pass is itself recorded whenever an outer gradient
transform is active, which is how grad-of-grad works without any special case.
"""
from ..ops.registry import REGISTRY
from ..tensor import Tensor as _TENSOR


class _State:
    __slots__ = ("levels", "recording")

    def __init__(self):
        self.levels = []        # active gradient transforms, innermost last
        self.recording = True   # switched off while the outermost level runs its backward pass


STATE = _State()


class Node:
    """One recorded primitive application (``prim`` None marks a leaf: a watched input)."""
    __slots__ = ("prim", "attrs", "inputs", "outputs")

    def __init__(self, prim, attrs, inputs, outputs):
        self.prim, self.attrs, self.inputs, self.outputs = prim, attrs, inputs, outputs


def snapshot(t, _new=object.__new__):
    """``t`` as it is now: a new Tensor object sharing its data and its place on the tape. Nodes hold snapshots
    of their inputs, so a later in-place write to the tensor (``t[i] = v``, which gives ``t`` new data and a new
    node) changes neither the values a recorded bprop reads nor the edges of the recorded graph."""
    s = _new(_TENSOR)
    s._data, s._node = t._data, t._node
    return s


def record(prim, args, attrs, result):
    """Record ``prim(*args, **attrs) -> result`` (called by the dispatcher when an input is watched)."""
    if not STATE.recording:
        return
    outs = result if isinstance(result, tuple) else (result,)
    node = Node(prim, attrs, tuple(snapshot(a) for a in args), outs)
    for i, r in enumerate(outs):
        r._node = (node, i)


def watch(tensor, target):
    """Make ``target`` (a Tensor sharing ``tensor``'s data) a leaf of the innermost level. When ``tensor`` is
    itself watched by an outer level, the leaf is an identity node on it, so outer levels see through."""
    if tensor._node is None:
        target._node = (Node(None, None, (), (target,)), 0)
    else:
        from ..tensor import _wrap
        shadow = _wrap(tensor._data)
        shadow._node = tensor._node
        target._node = (Node(REGISTRY["identity"], {}, (shadow,), (target,)), 0)
    return target


def _topo_order(outputs):
    """Nodes reachable from ``outputs``, every node after all nodes it consumes."""
    order, seen = [], set()
    stack = [(t._node[0], False) for t in outputs if t._node is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for inp in node.inputs:
            if inp._node is not None and id(inp._node[0]) not in seen:
                stack.append((inp._node[0], False))
    return order


def backward(outputs, senses, targets):
    """Gradients of ``outputs`` (weighted by ``senses``) with respect to ``targets`` (watched tensors).
    A target the outputs do not depend on gets zeros."""
    from ..ops import functional as F
    add = REGISTRY["add"]
    from ..ops.dispatch import bind

    target_ids = {id(t._node[0]) for t in targets}
    order = _topo_order(outputs)
    relevant = set()
    for node in order:   # a node matters when it is a target or consumes something that depends on one
        if id(node) in target_ids or any(i._node is not None and id(i._node[0]) in relevant for i in node.inputs):
            relevant.add(id(node))

    grads = {}

    def accumulate(node, index, g):
        slot = grads.setdefault(id(node), [None] * len(node.outputs))
        slot[index] = g if slot[index] is None else bind(add, slot[index], g)

    for t, s in zip(outputs, senses):
        if t._node is not None and id(t._node[0]) in relevant:
            accumulate(t._node[0], t._node[1], s)

    for node in reversed(order):
        if node.prim is None or id(node) not in relevant or id(node) not in grads:
            continue
        slot = grads[id(node)]
        if not any(i._node is not None and id(i._node[0]) in relevant for i in node.inputs):
            continue
        douts = [g if g is not None else F.zeros_like(o) for g, o in zip(slot, node.outputs)]
        prim = node.prim
        if not prim.differentiable:
            continue
        out = node.outputs[0] if prim.outputs == 1 else node.outputs
        dout = douts[0] if prim.outputs == 1 else tuple(douts)
        if prim.bprop_needs:   # skip gradients of inputs nothing downstream of a target uses
            needs = tuple(i._node is not None and id(i._node[0]) in relevant for i in node.inputs)
            in_grads = prim.bprop(node.inputs, out, dout, needs=needs, **node.attrs)
        else:
            in_grads = prim.bprop(node.inputs, out, dout, **node.attrs)
        if len(in_grads) != len(node.inputs):
            raise RuntimeError(f"bprop of {prim.name} returned {len(in_grads)} gradients for "
                               f"{len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if g is None or inp._node is None or id(inp._node[0]) not in relevant:
                continue
            if g.shape != inp.shape:
                raise RuntimeError(f"bprop of {prim.name} returned a gradient of shape {list(g.shape)} for an "
                                   f"input of shape {list(inp.shape)}")
            accumulate(inp._node[0], inp._node[1], g)

    result = []
    for t in targets:
        slot = grads.get(id(t._node[0]))
        g = slot[0] if slot is not None else None
        result.append(g if g is not None else F.zeros_like(t))
    return result
