"""Optimizer primitives: assign and the fused parameter updates (ApplyMomentum, SGD, Adam, AdamWeightDecay).

These ops change their inputs in place: ``assign`` writes into ``variable``; the updates write the parameter and
its optimizer state (accumulators, moments). In-place is safe because an optimizer runs after the backward pass
has finished with the parameters' values. None of them is differentiable (they are the end of a training step,
not part of the function being differentiated). The updates are one-pass numba kernels
(``mindlab.kernels.cpu.optim``), the hot path of a training step.
"""
import numpy as np

from ...errors import ShapeError, DTypeError
from ..abstract import AbstractTensor, broadcast_shapes
from ..registry import defprim, not_differentiable, Cost
from ..shard import elementwise_spec
from ..dispatch import bind
from .._api import Primitive, as_tensor
from ...kernels.cpu import optim as _k
from . import native_rules as _native

__all__ = ["assign", "apply_momentum", "sgd", "adam", "adam_weight_decay"]
__operations__ = ["Assign", "ApplyMomentum", "SGD", "Adam", "AdamWeightDecay"]

_UPDATE = not_differentiable("an optimizer update changes parameters in place after the backward pass; "
                             "it is not part of the differentiated function")


# ---------------------------------------------------------------- shared checks and kernel plumbing
def _check_state(names, avals):
    """Parameter, state and gradient tensors: one float dtype, one shape."""
    ref_name, ref = names[0], avals[0]
    if ref.dtype.kind != "f":
        raise DTypeError(f"{ref_name} must be a float tensor, got {ref.dtype}")
    for n, a in zip(names[1:], avals[1:]):
        if a.shape != ref.shape:
            raise ShapeError(f"{n} has shape {list(a.shape)} but {ref_name} has shape {list(ref.shape)}")
        if a.dtype is not ref.dtype:
            raise DTypeError(f"{n} has dtype {a.dtype} but {ref_name} has dtype {ref.dtype}")


def _check_scalars(names, avals):
    """Hyper-parameters: one-element float tensors."""
    for n, a in zip(names, avals):
        if a.size != 1:
            raise ShapeError(f"{n} must be a scalar (one element), got shape {list(a.shape)}")
        if a.dtype.kind != "f":
            raise DTypeError(f"{n} must be a float, got {a.dtype}")


def _work(arrays):
    """Flat contiguous views the kernels can update in place, plus the write-backs needed for arrays that are not
    (non-contiguous, or float16, which the kernels compute in float32)."""
    flats, writebacks = [], []
    for a in arrays:
        if a.dtype.kind == "f" and a.dtype.itemsize >= 4 and a.flags.c_contiguous and a.flags.writeable:
            flats.append(a.reshape(-1))
        else:
            w = np.array(a, dtype=np.float32 if a.dtype.itemsize < 4 else a.dtype, order="C").reshape(-1)
            flats.append(w)
            writebacks.append((a, w))
    return flats, writebacks


def _grad(g, like):
    """The gradient as a flat contiguous array of the working dtype (read only, so no write-back)."""
    return np.ascontiguousarray(g, dtype=like.dtype).reshape(-1)


def _finish(writebacks):
    for a, w in writebacks:
        np.copyto(a, w.reshape(a.shape), casting="unsafe")


def _update_cost(flops_per_element, n_state):
    """Each element: read the gradient and the state tensors, write the state tensors back."""
    def cost(var, *avals, **attrs):
        return Cost(flops_per_element * var.size, (2 * n_state + 1) * var.nbytes)
    return cost


def _update_shard(inplace, gradients, outputs=1):
    """Optimizer updates are elementwise over the parameter (hyper-parameters are read whole); the parameter and
    its state are written in place, so they must arrive in their stored layout."""
    def shard(var, *avals, **attrs):
        return elementwise_spec((var,) + avals, [var.shape] * outputs, inplace, gradients)
    return shard


# ---------------------------------------------------------------- assign
def _assign_infer(variable, value):
    if broadcast_shapes(variable.shape, value.shape) != variable.shape:
        raise ShapeError(f"value of shape {list(value.shape)} cannot be written into a variable of shape "
                         f"{list(variable.shape)}")
    if value.dtype.kind == "f" and variable.dtype.kind != "f":
        raise DTypeError(f"cannot write a {value.dtype} value into a {variable.dtype} variable")
    return AbstractTensor(variable.shape, variable.dtype)


def _assign_cpu(variable, value):
    if variable.flags.writeable:
        np.copyto(variable, value, casting="unsafe")
        return variable
    return np.array(np.broadcast_to(value, variable.shape), dtype=variable.dtype)   # read-only: a replacement


assign_p = defprim("assign", infer=_assign_infer, cpu=_assign_cpu, bprop=_UPDATE, effect=True, native=_native.assign,
                   shard=_update_shard((0,), ()),
                   cost=lambda variable, value: Cost(0, variable.nbytes + value.nbytes))


def assign(variable, value):
    """Writes ``value`` (broadcast, cast to ``variable``'s dtype) into ``variable`` and returns ``variable``. The
    variable's data is updated in place (replaced when it is read-only)."""
    out = bind(assign_p, variable, as_tensor(value, variable))
    if out._data is not None:   # (None while compiling a graph: there the assign node does the write)
        variable._data = out._data
    return variable


class Assign(Primitive):
    """``P.Assign()(variable, value)``."""

    def __call__(self, variable, value):
        return assign(variable, value)


# ---------------------------------------------------------------- apply_momentum
def _apply_momentum_infer(variable, accumulation, learning_rate, gradient, momentum, use_nesterov):
    _check_state(("variable", "accumulation", "gradient"), (variable, accumulation, gradient))
    _check_scalars(("learning_rate", "momentum"), (learning_rate, momentum))
    return AbstractTensor(variable.shape, variable.dtype)


def _apply_momentum_cpu(variable, accumulation, learning_rate, gradient, momentum, use_nesterov):
    (var, acc), wb = _work((variable, accumulation))
    _k.apply_momentum(var, acc, _grad(gradient, var), learning_rate.item(), momentum.item(), use_nesterov)
    _finish(wb)
    return variable


apply_momentum_p = defprim("apply_momentum", infer=_apply_momentum_infer, cpu=_apply_momentum_cpu, bprop=_UPDATE,
                           effect=True, shard=_update_shard((0, 1), (3,)), native=_native.momentum,
                           cost=_update_cost(4, 2))


def apply_momentum(variable, accumulation, learning_rate, gradient, momentum, use_nesterov=False):
    """Momentum update in place: ``accumulation = momentum * accumulation + gradient``, then
    ``variable -= learning_rate * accumulation`` (Nesterov: ``variable -= learning_rate * (gradient + momentum *
    accumulation)``). Returns ``variable``."""
    bind(apply_momentum_p, variable, accumulation, as_tensor(learning_rate, variable), gradient,
         as_tensor(momentum, variable), use_nesterov=bool(use_nesterov))
    return variable


class ApplyMomentum(Primitive):
    """``P.ApplyMomentum(use_locking=False, use_nesterov=False)(variable, accumulation, learning_rate, gradient,
    momentum)``."""

    def __init__(self, use_locking=False, use_nesterov=False, gradient_scale=1.0):
        super().__init__()
        self.use_locking, self.use_nesterov, self.gradient_scale = use_locking, bool(use_nesterov), gradient_scale

    def __call__(self, variable, accumulation, learning_rate, gradient, momentum):
        if self.gradient_scale != 1.0:
            gradient = gradient * self.gradient_scale
        return apply_momentum(variable, accumulation, learning_rate, gradient, momentum, self.use_nesterov)


# ---------------------------------------------------------------- sgd
def _sgd_infer(parameters, gradient, learning_rate, accum, momentum, stat, dampening, weight_decay, nesterov):
    _check_state(("parameters", "gradient", "accum", "stat"), (parameters, gradient, accum, stat))
    _check_scalars(("learning_rate", "momentum"), (learning_rate, momentum))
    return AbstractTensor(parameters.shape, parameters.dtype)


def _sgd_cpu(parameters, gradient, learning_rate, accum, momentum, stat, dampening, weight_decay, nesterov):
    (p, acc, st), wb = _work((parameters, accum, stat))
    _k.sgd(p, _grad(gradient, p), acc, st, learning_rate.item(), momentum.item(), float(dampening),
           float(weight_decay), nesterov)
    _finish(wb)
    return parameters


sgd_p = defprim("sgd", infer=_sgd_infer, cpu=_sgd_cpu, bprop=_UPDATE, effect=True, cost=_update_cost(6, 3),
                shard=_update_shard((0, 3, 5), (1,)))


def sgd(parameters, gradient, learning_rate, accum, momentum, stat, dampening=0.0, weight_decay=0.0,
        nesterov=False):
    """Stochastic gradient descent with momentum, in place (MindSpore's SGD): ``g = gradient + weight_decay *
    parameters``; with ``momentum > 0``, ``accum = g`` on an element's first step (``stat > 0``, then cleared), else
    ``accum = momentum * accum + (1 - dampening) * g``, and ``g = accum`` (Nesterov: ``g + momentum * accum``);
    finally ``parameters -= learning_rate * g``. Returns ``parameters``."""
    bind(sgd_p, parameters, gradient, as_tensor(learning_rate, parameters), accum, as_tensor(momentum, parameters),
         stat, dampening=float(dampening), weight_decay=float(weight_decay), nesterov=bool(nesterov))
    return parameters


class SGD(Primitive):
    """``P.SGD(dampening=0.0, weight_decay=0.0, nesterov=False)(parameters, gradient, learning_rate, accum,
    momentum, stat)``."""

    def __init__(self, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__()
        if nesterov and dampening != 0:
            raise ValueError(f"SGD: nesterov momentum needs dampening == 0, got dampening={dampening}")
        self.dampening, self.weight_decay, self.nesterov = float(dampening), float(weight_decay), bool(nesterov)

    def __call__(self, parameters, gradient, learning_rate, accum, momentum, stat):
        return sgd(parameters, gradient, learning_rate, accum, momentum, stat, self.dampening, self.weight_decay,
                   self.nesterov)


# ---------------------------------------------------------------- adam
_ADAM_SCALARS = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")


def _adam_infer(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, use_locking,
                use_nesterov):
    _check_state(("var", "m", "v", "gradient"), (var, m, v, gradient))
    _check_scalars(_ADAM_SCALARS, (beta1_power, beta2_power, lr, beta1, beta2, epsilon))
    return (AbstractTensor(var.shape, var.dtype),) * 3


def _adam_cpu(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, use_locking, use_nesterov):
    (w, mm, vv), wb = _work((var, m, v))
    b1p, b2p = beta1_power.item(), beta2_power.item()
    lr_t = lr.item() * np.sqrt(1.0 - b2p) / (1.0 - b1p)   # bias correction folded into the step size
    _k.adam(w, mm, vv, _grad(gradient, w), lr_t, beta1.item(), beta2.item(), epsilon.item(), use_nesterov)
    _finish(wb)
    return var, m, v


adam_p = defprim("adam", infer=_adam_infer, cpu=_adam_cpu, bprop=_UPDATE, effect=True, cost=_update_cost(12, 3),
                 outputs=3, shard=_update_shard((0, 1, 2), (9,), 3))


def adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, use_locking=False,
         use_nesterov=False):
    """Adam update in place (MindSpore's P.Adam): ``m += (1 - beta1) * (gradient - m)``,
    ``v += (1 - beta2) * (gradient² - v)``, ``var -= lr * sqrt(1 - beta2_power) / (1 - beta1_power) * m /
    (sqrt(v) + epsilon)`` (Nesterov uses ``beta1 * m + (1 - beta1) * gradient`` for ``m``). ``beta1_power`` and
    ``beta2_power`` are beta1^t and beta2^t at step t. Returns ``(var, m, v)``."""
    s = [as_tensor(x, var) for x in (beta1_power, beta2_power, lr, beta1, beta2, epsilon)]
    bind(adam_p, var, m, v, *s, gradient, use_locking=bool(use_locking), use_nesterov=bool(use_nesterov))
    return var, m, v


class Adam(Primitive):
    """``P.Adam(use_locking=False, use_nesterov=False)(var, m, v, beta1_power, beta2_power, lr, beta1, beta2,
    epsilon, gradient)``."""

    def __init__(self, use_locking=False, use_nesterov=False):
        super().__init__()
        self.use_locking, self.use_nesterov = bool(use_locking), bool(use_nesterov)

    def __call__(self, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient):
        return adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, self.use_locking,
                    self.use_nesterov)


# ---------------------------------------------------------------- adam_weight_decay
def _adam_wd_infer(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, use_locking):
    _check_state(("var", "m", "v", "gradient"), (var, m, v, gradient))
    _check_scalars(("lr", "beta1", "beta2", "epsilon", "decay"), (lr, beta1, beta2, epsilon, decay))
    return (AbstractTensor(var.shape, var.dtype),) * 3


def _adam_wd_cpu(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, use_locking):
    (w, mm, vv), wb = _work((var, m, v))
    _k.adam_weight_decay(w, mm, vv, _grad(gradient, w), lr.item(), beta1.item(), beta2.item(), epsilon.item(),
                         decay.item())
    _finish(wb)
    return var, m, v


adam_weight_decay_p = defprim("adam_weight_decay", infer=_adam_wd_infer, cpu=_adam_wd_cpu, bprop=_UPDATE, effect=True,
                              cost=_update_cost(12, 3), outputs=3, shard=_update_shard((0, 1, 2), (8,), 3))


def adam_weight_decay(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, use_locking=False):
    """AdamWeightDecay update in place (MindSpore's P.AdamWeightDecay, no bias correction, decoupled decay):
    ``m = beta1 * m + (1 - beta1) * gradient``, ``v = beta2 * v + (1 - beta2) * gradient²``,
    ``var -= lr * (m / (sqrt(v) + epsilon) + decay * var)``. Returns ``(var, m, v)``."""
    s = [as_tensor(x, var) for x in (lr, beta1, beta2, epsilon, decay)]
    bind(adam_weight_decay_p, var, m, v, *s, gradient, use_locking=bool(use_locking))
    return var, m, v


class AdamWeightDecay(Primitive):
    """``P.AdamWeightDecay(use_locking=False)(var, m, v, lr, beta1, beta2, epsilon, decay, gradient)``."""

    def __init__(self, use_locking=False):
        super().__init__()
        self.use_locking = bool(use_locking)

    def __call__(self, var, m, v, lr, beta1, beta2, epsilon, decay, gradient):
        return adam_weight_decay(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, self.use_locking)
