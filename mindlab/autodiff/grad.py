"""Gradient transforms with MindSpore's signatures: ``grad``, ``value_and_grad`` and ``GradOperation``.

Each call opens a *level* on the tape, watches the requested inputs and weights, runs the function, and walks the
recorded graph backwards with the registry's bprop rules. Levels nest, which gives grad of grad.
"""
from ..errors import where
from ..frontend.values import flatten
from ..tensor import Tensor, Parameter, _wrap
from .tape import STATE, watch, backward, snapshot


def _as_positions(grad_position, nargs):
    if grad_position is None:
        return None
    single = isinstance(grad_position, int)
    positions = (grad_position,) if single else tuple(grad_position)
    for p in positions:
        if not isinstance(p, int) or not -nargs <= p < nargs:
            raise ValueError(f"grad: grad_position {grad_position!r} is out of range for a function called with "
                             f"{nargs} positional argument(s).{where()}")
    return single, tuple(p % nargs for p in positions)


def arg_leaves(a, p):
    """The Tensors of differentiated argument ``p`` — a Tensor, or a (nested) tuple / list / dict of Tensors, whose
    gradient has the same structure — and a function regrouping their gradients (None for a Tensor)."""
    if isinstance(a, Tensor):
        return [a], None
    if isinstance(a, (tuple, list, dict)):
        leaves, rebuild = flatten(a)
        if leaves and all(isinstance(leaf, Tensor) for leaf in leaves):
            return leaves, rebuild
    raise TypeError(f"grad: argument {p} is a {type(a).__name__}, not a Tensor (or a tuple / list / dict of "
                    f"Tensors), so "
                    f"it has no gradient; leave it out of grad_position.{where()}")


def regroup(flat, groups):
    """Gradients per differentiated argument from the flat list of leaf gradients (``groups``: (count, rebuild))."""
    out, i = [], 0
    for n, rebuild in groups:
        out.append(flat[i] if rebuild is None else rebuild(list(flat[i:i + n])))
        i += n
    return out


def _as_weights(weights):
    if weights is None:
        return None
    if isinstance(weights, Parameter):
        return (weights,)
    weights = tuple(weights)
    for w in weights:
        if not isinstance(w, Parameter):
            raise TypeError(f"grad: weights must be Parameters (e.g. net.trainable_params()), got "
                            f"{type(w).__name__}.{where()}")
    return weights


def _outputs_of(out, has_aux):
    """(tensors to differentiate, the value to return)."""
    if has_aux:
        if not isinstance(out, (tuple, list)) or len(out) < 1:
            raise TypeError(f"grad: has_aux=True needs the function to return a tuple (loss, aux...), got "
                            f"{type(out).__name__}.{where()}")
        return [out[0]], tuple(out)
    if isinstance(out, (tuple, list)):
        return list(out), tuple(out)
    return [out], out


def _run(fn, args, positions, weights, has_aux, sens=None):
    """Run ``fn(*args)`` under a new tape level; return (value, position grads, weight grads)."""
    args = list(args)
    targets, groups = [], []
    for p in positions:
        leaves, rebuild = arg_leaves(args[p], p)
        watched = [watch(a, _wrap(a._data)) for a in leaves]
        args[p] = watched[0] if rebuild is None else rebuild(watched)
        targets.extend(watched)
        groups.append((len(watched), rebuild))
    n_pos = len(targets)
    saved = [(w, w._node) for w in weights]
    STATE.levels.append(len(STATE.levels))
    prev_recording = STATE.recording
    STATE.recording = True
    try:
        for w in weights:
            watch(w, w)
            targets.append(w)
        targets = [snapshot(t) for t in targets]   # as watched (fn may write into an input in place)
        out = fn(*args)
        outs, value = _outputs_of(out, has_aux)
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(f"grad: the function must return Tensors, got {type(o).__name__}.{where()}")
        if sens is None:
            senses = [_ones(o) for o in outs]
        else:
            senses = list(sens) if isinstance(sens, (tuple, list)) else [sens]
            if len(senses) != len(outs) or any(s.shape != o.shape for s, o in zip(senses, outs)):
                raise ValueError(f"GradOperation: sens shapes {[list(s.shape) for s in senses]} do not match "
                                 f"the outputs' shapes {[list(o.shape) for o in outs]}.{where()}")
        STATE.recording = len(STATE.levels) > 1   # only an outer level needs the backward pass recorded
        grads = backward(outs, senses, targets)
    finally:
        STATE.levels.pop()
        STATE.recording = prev_recording
        for w, node in saved:
            w._node = node
    if not STATE.levels:   # back at top level: hand back plain tensors, free the recorded graph
        for t in (value if isinstance(value, tuple) else (value,)):
            if isinstance(t, Tensor):
                t._node = None
        for g in grads:
            g._node = None
    return value, regroup(grads[:n_pos], groups), grads[n_pos:]


def _ones(t):
    import numpy as np
    return _wrap(np.ones_like(t._data))


def _pack(single, pos_grads, weight_grads, positions, weights):
    pg = None
    if positions is not None:
        pg = pos_grads[0] if single else tuple(pos_grads)
    if weights is None:
        return pg
    if positions is None:
        return tuple(weight_grads)
    return pg, tuple(weight_grads)


class GradFunction:
    """What a gradient transform returns: call it with the function's inputs.

    In PYNATIVE_MODE it runs the function on the tape; in GRAPH_MODE (or inside compiled code) it compiles the
    function to a graph and differentiates the graph by source transformation (``autodiff.graph_grad``)."""

    def __init__(self, fn, style, grad_position=0, weights=None, has_aux=False, sens_param=False,
                 get_all=False, get_by_list=False):
        self.fn, self.style, self.grad_position = fn, style, grad_position
        self.weights, self.has_aux, self.sens_param = weights, has_aux, sens_param
        self.get_all, self.get_by_list = get_all, get_by_list
        from ..frontend.jit import CompileCache
        self.graph_cache = CompileCache()
        self.__wrapped__ = fn
        self.__name__ = self.__qualname__ = f"{getattr(fn, '__name__', type(fn).__name__)}_grad"

    @property
    def __mindlab_grad__(self):
        return self

    def resolve(self, args):
        """(args without sens, positions to differentiate, whether a single gradient is returned, sens)."""
        sens = None
        if self.sens_param:
            if not args:
                raise ValueError(f"GradOperation(sens_param=True): the last argument must be the "
                                 f"sensitivity.{where()}")
            args, sens = tuple(args[:-1]), args[-1]
        if self.style == "gradop":
            if self.get_all:
                positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
            elif self.get_by_list:
                positions = ()
            else:
                if not args:
                    raise ValueError(f"GradOperation: the function has no input to differentiate.{where()}")
                positions = (0,)
            return tuple(args), positions, False, sens
        pos = _as_positions(self.grad_position, len(args))
        single, positions = pos if pos is not None else (False, ())
        for p in positions:
            arg_leaves(args[p], p)
        return tuple(args), positions, single, sens

    def package(self, value, pg, wg, single):
        if self.style == "gradop":
            if self.get_all and self.get_by_list:
                return tuple(pg), tuple(wg)
            if self.get_by_list:
                return tuple(wg)
            return tuple(pg) if self.get_all else pg[0]
        positions = None if self.grad_position is None else True
        grads = _pack(single, pg, wg, positions, self.weights)
        if self.style == "value_and_grad":
            return value, grads
        return (grads, value[1:]) if self.has_aux else grads

    def __call__(self, *args):
        from .. import context
        from ..ir.builder import _stack
        args, positions, single, sens = self.resolve(args)
        if context.get_context("mode") == context.GRAPH_MODE and not _stack:
            from .graph_grad import run_graph_grad
            value, pg, wg = run_graph_grad(self, args, positions, sens)
        else:
            value, pg, wg = _run(self.fn, args, positions, self.weights or (), self.has_aux, sens)
        return self.package(value, pg, wg, single)


def value_and_grad(fn, grad_position=0, weights=None, has_aux=False):
    """A function returning ``(fn(*args), gradients)``.

    ``grad_position``: int or tuple of ints (positional inputs to differentiate), or None for weights only. An
    input is a Tensor or a (nested) tuple / list / dict of Tensors (a parameter tree, as in JAX): its gradient has
    the same structure.
    ``weights``: a Parameter, ParameterTuple or list (e.g. ``net.trainable_params()``). With both, gradients are
    ``(input_grads, weight_grads)``. ``has_aux``: ``fn`` returns ``(loss, aux...)`` and only ``loss`` is
    differentiated. A non-scalar output is differentiated with a sensitivity of ones.
    """
    wts = _as_weights(weights)
    if grad_position is None and wts is None:
        raise ValueError(f"value_and_grad: grad_position and weights cannot both be None.{where()}")
    return GradFunction(fn, "value_and_grad", grad_position, wts, has_aux)


def grad(fn, grad_position=0, weights=None, has_aux=False):
    """A function returning the gradients of ``fn`` (see ``value_and_grad`` for the arguments). With
    ``has_aux=True`` it returns ``(gradients, aux)``."""
    wts = _as_weights(weights)
    if grad_position is None and wts is None:
        raise ValueError(f"grad: grad_position and weights cannot both be None.{where()}")
    return GradFunction(fn, "grad", grad_position, wts, has_aux)


class GradOperation:
    """MindSpore's ``GradOperation(get_all=False, get_by_list=False, sens_param=False)``.

    ``GradOperation()(net)(*inputs)`` is the gradient w.r.t. the first input; ``get_all`` gives all inputs';
    ``get_by_list`` with ``(net, weights)`` gives the weights'; both give ``(inputs', weights')``;
    ``sens_param`` takes the output sensitivity as an extra last argument.
    """

    def __init__(self, get_all=False, get_by_list=False, sens_param=False):
        self.get_all, self.get_by_list, self.sens_param = get_all, get_by_list, sens_param

    def __call__(self, fn, weights=None):
        if self.get_by_list and weights is None:
            raise ValueError(f"GradOperation(get_by_list=True) needs weights: grad_op(net, weights).{where()}")
        wts = _as_weights(weights) if self.get_by_list else None
        return GradFunction(fn, "gradop", None, wts, False, self.sens_param, self.get_all, self.get_by_list)
