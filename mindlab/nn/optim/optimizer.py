"""``Optimizer``: the base of the optimizers. It owns the parameter list (or parameter groups), the learning rate
(constant, per-step list, or a schedule), weight decay, loss scaling and the step counter; subclasses keep their
state (moments, accumulators) as Parameters named like MindSpore's (``moment1.fc1.weight``) so checkpoints hold them.
"""
import numbers

import numpy as np

from ... import ops
from ...errors import where
from ...tensor import Tensor, Parameter, ParameterTuple, _wrap
from ...common.initializer import initializer
from ..cell import Cell

__all__ = ["Optimizer"]


def _decay_filter(param):
    """Without parameter groups, weight decay skips normalization scales and shifts (names with beta / gamma)."""
    return "beta" not in param.name and "gamma" not in param.name


def _f32(value):
    return _wrap(np.array(value, dtype=np.float32))


class Optimizer(Cell):
    """Base class of optimizers. ``construct(gradients)`` updates the parameters in place, given one gradient per
    parameter in ``self.parameters`` order; it returns the parameters.

    ``parameters``: a list of Parameters (e.g. ``net.trainable_params()``) or of group dicts
    ``{"params": [...], "lr": ..., "weight_decay": ...}`` (plus optionally ``{"order_params": [...]}`` giving the
    order). ``learning_rate``: a float, a 0-d Tensor, a list / 1-D Tensor (one value per step; the last one repeats),
    or a callable / ``LearningRateSchedule`` taking the step (int32 Tensor) and returning the rate.
    ``weight_decay``: L2 penalty added to the gradients (without groups, not to parameters whose names contain
    'beta' or 'gamma'). ``loss_scale``: gradients are divided by it.
    """

    def __init__(self, learning_rate, parameters, weight_decay=0.0, loss_scale=1.0):
        super().__init__(auto_prefix=False)
        self._check_number(weight_decay, "weight_decay", low=0.0)
        self._check_number(loss_scale, "loss_scale", low=0.0, open_low=True)
        params, lrs, wds, self.is_group = self._parse(parameters, learning_rate, float(weight_decay))
        self.parameters = ParameterTuple(params)
        self.loss_scale = float(loss_scale)
        self.reciprocal_scale = 1.0 / self.loss_scale
        self.need_scale = self.loss_scale != 1.0
        self.weight_decay = float(weight_decay)
        self.global_step = Parameter(_wrap(np.zeros((1,), np.int32)), name="global_step", requires_grad=False)
        # one learning-rate object per distinct rate: a Parameter (constant or per-step values) or a schedule
        distinct, index = [], {}
        for lr in lrs:
            if id(lr) not in index:
                index[id(lr)] = len(distinct)
                distinct.append(lr)
        objs = [self._lr_object(lr, "learning_rate" if len(distinct) == 1 else f"learning_rate_group_{i}")
                for i, lr in enumerate(distinct)]
        self.is_group_lr = len(distinct) > 1
        self.dynamic_lr = any(not (isinstance(o, Parameter) and o.ndim == 0) for o in objs)
        self._lr_objs = objs
        self._param_lr_index = tuple(index[id(lr)] for lr in lrs)
        if self.is_group_lr:   # rates are Parameters (checkpointed) or schedule cells of the optimizer
            for i, o in enumerate(objs):
                if isinstance(o, Parameter):
                    self.insert_param_to_cell(o.name, o)
                elif isinstance(o, Cell):
                    self.insert_child_to_cell(f"learning_rate_group_{i}", o)
            self.learning_rate = tuple(objs)
        else:
            self.learning_rate = objs[0]
        self._wd = tuple(wds)

    # ------------------------------------------------------------------ argument handling
    def _check_number(self, value, arg, low=None, high=None, open_low=False, open_high=False):
        cls = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"For '{cls}', '{arg}' must be a float, but got {type(value).__name__}.{where()}")
        bad = (low is not None and (value <= low if open_low else value < low)) or \
              (high is not None and (value >= high if open_high else value > high))
        if bad:
            lo = "" if low is None else ("(" if open_low else "[") + str(low)
            hi = "" if high is None else str(high) + (")" if open_high else "]")
            raise ValueError(f"For '{cls}', '{arg}' must be in {lo or '(-inf'}, {hi or 'inf)'}, but got "
                             f"{value}.{where()}")
        return float(value)

    def _parse(self, parameters, learning_rate, weight_decay):
        """(params, lr per param, weight decay per param, is_group)."""
        cls = type(self).__name__
        if isinstance(parameters, (Parameter, dict)):
            parameters = [parameters]
        try:
            items = list(parameters)
        except TypeError:
            raise TypeError(f"For '{cls}', 'params' must be a list of Parameters or of group dicts, but got "
                            f"{type(parameters).__name__}.{where()}") from None
        if not items:
            raise ValueError(f"For '{cls}', 'params' must not be empty.{where()}")
        if all(isinstance(p, Parameter) for p in items):
            self._check_unique(items)
            return items, [learning_rate] * len(items), \
                [weight_decay if _decay_filter(p) else 0.0 for p in items], False
        if not all(isinstance(g, dict) for g in items):
            raise TypeError(f"For '{cls}', 'params' must be all Parameters or all group dicts, but got "
                            f"{[type(p).__name__ for p in items]}.{where()}")
        settings, order = {}, None
        for g in items:
            if "order_params" in g:
                order = list(g["order_params"])
                continue
            unknown = set(g) - {"params", "lr", "weight_decay"}
            if "params" not in g or unknown:
                raise ValueError(f"For '{cls}', a parameter group needs the key 'params' and may have 'lr' and "
                                 f"'weight_decay', but got keys {sorted(g)}.{where()}")
            lr = g.get("lr", learning_rate)
            wd = self._check_number(g.get("weight_decay", weight_decay), "weight_decay", low=0.0)
            for p in g["params"]:
                if not isinstance(p, Parameter):
                    raise TypeError(f"For '{cls}', group 'params' must be Parameters, got {type(p).__name__}."
                                    f"{where()}")
                if id(p) in settings:
                    raise ValueError(f"For '{cls}', parameter {p.name!r} is in more than one group.{where()}")
                settings[id(p)] = (p, lr, wd)
        if order is None:
            params = [s[0] for s in settings.values()]
        else:
            self._check_unique(order)
            params = order
            for p in params:   # parameters only listed in order_params take the defaults
                settings.setdefault(id(p), (p, learning_rate, weight_decay if _decay_filter(p) else 0.0))
        if not params:
            raise ValueError(f"For '{cls}', the parameter groups hold no parameters.{where()}")
        self._check_unique(params)
        return params, [settings[id(p)][1] for p in params], [settings[id(p)][2] for p in params], True

    def _check_unique(self, params):
        seen = set()
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"For '{type(self).__name__}', expected Parameters, got {type(p).__name__}."
                                f"{where()}")
            if id(p) in seen:
                raise ValueError(f"For '{type(self).__name__}', parameter {p.name!r} is given more than once."
                                 f"{where()}")
            seen.add(id(p))

    def _lr_object(self, lr, name):
        cls = type(self).__name__
        if isinstance(lr, bool):
            raise TypeError(f"For '{cls}', 'learning_rate' must be a float, Tensor, list or schedule, got a bool."
                            f"{where()}")
        if isinstance(lr, (numbers.Real, np.floating, np.integer)):
            values = np.array(lr, dtype=np.float32)
        elif isinstance(lr, Tensor) and not isinstance(lr, Parameter) or isinstance(lr, (list, tuple)):
            values = np.array(lr.asnumpy() if isinstance(lr, Tensor) else lr, dtype=np.float32)
            if values.size == 1:
                values = values.reshape(())
            elif values.ndim != 1:
                raise ValueError(f"For '{cls}', a Tensor / list 'learning_rate' must be a scalar or 1-D (one value "
                                 f"per step), but got shape {list(values.shape)}.{where()}")
        elif isinstance(lr, Parameter):   # used as is, so changing its data changes the rate
            if lr.dtype.kind != "f" or lr.ndim > 1:
                raise TypeError(f"For '{cls}', a Parameter 'learning_rate' must be a float scalar or 1-D, but got "
                                f"{lr.dtype}{list(lr.shape)}.{where()}")
            if (lr.asnumpy() < 0).any():
                raise ValueError(f"For '{cls}', 'learning_rate' must be >= 0.{where()}")
            return lr
        elif callable(lr):
            return lr
        else:
            raise TypeError(f"For '{cls}', 'learning_rate' must be a float, Tensor, list or schedule, but got "
                            f"{type(lr).__name__}.{where()}")
        if (values < 0).any():
            raise ValueError(f"For '{cls}', 'learning_rate' must be >= 0, but got {lr}.{where()}")
        return Parameter(_wrap(values), name=name, requires_grad=False)

    # ------------------------------------------------------------------ what subclasses call in construct
    def _lr_at(self, obj, step):
        """The rate of ``obj`` at ``step`` (an int32 tensor of shape (1,)), computed with ops so that a compiled
        training step reads the step counter when it runs, not when it is compiled."""
        if isinstance(obj, Parameter):
            if obj.ndim == 0:
                return obj
            index = ops.minimum(step, obj.shape[0] - 1)
            return ops.reshape(ops.gather(obj, index, 0), ())
        value = obj(step)
        return value if isinstance(value, Tensor) else _f32(value)

    def get_lr(self):
        """The learning rate of the current step (a tuple, one per parameter, with per-group rates); advances the
        step counter. Optimizers call it once per update."""
        step = ops.identity(self.global_step) + 0   # the step's value now (a copy: the counter is updated below)
        rates = [self._lr_at(o, step) for o in self._lr_objs]
        ops.assign(self.global_step, self.global_step + 1)
        if self.is_group_lr:
            return tuple(rates[i] for i in self._param_lr_index)
        return rates[0]

    def _lrs_per_param(self):
        lr = self.get_lr()
        return lr if self.is_group_lr else (lr,) * len(self.parameters)

    def check_gradients(self, gradients):
        """One gradient per parameter, each of its parameter's shape."""
        if not isinstance(gradients, (tuple, list)) or len(gradients) != len(self.parameters):
            n = len(gradients) if isinstance(gradients, (tuple, list)) else type(gradients).__name__
            raise ValueError(f"{type(self).__name__}: expected a tuple of {len(self.parameters)} gradients (one per "
                             f"parameter), got {n}.{where()}")
        for p, g in zip(self.parameters, gradients):
            if not isinstance(g, Tensor) or g.shape != p.shape:
                got = f"{g.dtype}{list(g.shape)}" if isinstance(g, Tensor) else type(g).__name__
                raise ValueError(f"{type(self).__name__}: the gradient of {p.name!r} {p.dtype}{list(p.shape)} is "
                                 f"{got}.{where()}")
        return tuple(gradients)

    def scale_grad(self, gradients):
        """Undo loss scaling: gradients / loss_scale."""
        if not self.need_scale:
            return gradients
        return tuple(g * self.reciprocal_scale for g in gradients)

    def decay_weight(self, gradients):
        """L2 weight decay: gradient + weight_decay * parameter (for parameters with a non-zero decay)."""
        return tuple(g + p * wd if wd > 0.0 else g for p, g, wd in zip(self.parameters, gradients, self._wd))

    def _clone_state(self, prefix, init="zeros"):
        """One state Parameter per parameter, named ``prefix.<parameter name>``, of its shape and dtype."""
        return ParameterTuple(Parameter(initializer(init, p.shape, p.dtype), name=f"{prefix}.{p.name}",
                                        requires_grad=False) for p in self.parameters)

    def construct(self, gradients):
        raise NotImplementedError(f"{type(self).__name__} must define construct(gradients).{where()}")

    def extend_repr(self):
        return f"learning_rate={self.learning_rate!r}, weight_decay={self.weight_decay}"
