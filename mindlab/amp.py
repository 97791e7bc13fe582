"""Mixed precision (MindSpore's ``mindspore.amp``): float16 compute with float32 master weights, and loss scaling.

Levels: "O0" keeps float32. "O2" runs the network in float16 (``Cell.to_float``: inputs and weights are cast when
each cell runs; the Parameters stay float32, and the casts' gradients bring float32 gradients back to them),
keeps BatchNorm in float32, casts the output to float32 before the loss, and trains with a dynamic loss scale.
"O3" is O2 with BatchNorm in float16 too and no loss scale.

Loss scaling multiplies the loss by a scale S before the backward pass, so small float16 gradients do not flush
to zero, and divides the gradients by S before the update. When a gradient is Inf/NaN (overflow) the step is
skipped (weights and optimizer state unchanged) and a dynamic scale is divided by ``scale_factor``; after
``scale_window`` steps without overflow it is multiplied by it.

>>> from mindlab import amp, nn
>>> train = amp.build_train_network(net, nn.Momentum(net.trainable_params(), 0.1, 0.9),
...                                 nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), level="O2")
>>> loss, overflow, scale = train(x, y)
"""
import numbers

import numpy as np

from . import dtype as mdt
from . import ops
from .errors import where
from .tensor import Tensor, Parameter, _wrap
from .nn.cell import Cell
from .nn.wrap.cell_wrapper import WithLossCell, TrainOneStepCell
from .autodiff.grad import value_and_grad

__all__ = ["auto_mixed_precision", "build_train_network", "LossScaleManager", "FixedLossScaleManager",
           "DynamicLossScaleManager", "DynamicLossScaleUpdateCell", "FixedLossScaleUpdateCell",
           "TrainOneStepWithLossScaleCell", "all_finite", "LossScaler", "StaticLossScaler", "DynamicLossScaler"]

_LEVELS = ("O0", "O2", "O3", "auto")


# ---------------------------------------------------------------------------------------------------- casting
class _OutputTo32(Cell):
    """Runs a (float16) network and casts its floating outputs to float32."""

    def __init__(self, backbone):
        super().__init__(auto_prefix=False)   # keep the backbone's parameter names
        self._backbone = backbone

    def construct(self, *inputs):
        out = self._backbone(*inputs)
        if isinstance(out, tuple):
            return tuple([ops.cast(o, mdt.float32) if o.dtype == mdt.float16 else o for o in out])
        return ops.cast(out, mdt.float32) if out.dtype == mdt.float16 else out


def _check_level(level, what):
    if level == "O1":
        raise ValueError(f"{what}: amp level 'O1' (per-operator casting lists) is not supported; use 'O2' (float16 "
                         f"network, float32 BatchNorm and loss, dynamic loss scale) or 'O3'.{where()}")
    if level not in _LEVELS:
        raise ValueError(f"{what}: level must be one of {list(_LEVELS)}, got {level!r}.{where()}")
    return "O0" if level == "auto" else level   # auto: float32 on CPU, as MindSpore chooses for CPU


def _cast_network(network, cast_model_type, keep_batchnorm_fp32):
    """``network`` set to run in ``cast_model_type`` (in place), wrapped to return float32; or unchanged."""
    if mdt.to_np(cast_model_type) != np.float16:
        return network
    network.to_float(mdt.float16)
    if keep_batchnorm_fp32:   # every BatchNorm variant (by class name, so new ones are covered too)
        for _, cell in network.cells_and_names():
            if any(k.__name__.startswith("BatchNorm") for k in type(cell).__mro__):
                cell.to_float(mdt.float32)
    return _OutputTo32(network)


def auto_mixed_precision(network, amp_level="O0"):
    """``network`` prepared for ``amp_level``: unchanged for O0; for O2 / O3 set to run in float16 (in place) and
    returned wrapped so that its outputs are float32."""
    if not isinstance(network, Cell):
        raise TypeError(f"auto_mixed_precision: network must be a Cell, got {type(network).__name__}.{where()}")
    level = _check_level(amp_level, "auto_mixed_precision")
    if level == "O0":
        return network
    return _cast_network(network, mdt.float16, keep_batchnorm_fp32=level == "O2")


def _level_config(level):
    return {"O0": {"cast_model_type": mdt.float32, "keep_batchnorm_fp32": False, "loss_scale_manager": None},
            "O2": {"cast_model_type": mdt.float16, "keep_batchnorm_fp32": True,
                   "loss_scale_manager": DynamicLossScaleManager()},
            "O3": {"cast_model_type": mdt.float16, "keep_batchnorm_fp32": False, "loss_scale_manager": None}}[level]


def _build(network, optimizer, loss_fn=None, level="O0", loss_scale_manager=None, keep_batchnorm_fp32=None,
           cast_model_type=None, what="build_train_network"):
    """(training cell, the network as cast for ``level`` — what evaluation and prediction run)."""
    from .nn.optim.optimizer import Optimizer
    if not isinstance(network, Cell):
        raise TypeError(f"{what}: network must be a Cell, got {type(network).__name__}.{where()}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{what}: optimizer must be an nn.Optimizer, got {type(optimizer).__name__}.{where()}")
    if loss_fn is not None and not isinstance(loss_fn, Cell):
        raise TypeError(f"{what}: loss_fn must be a Cell, got {type(loss_fn).__name__}.{where()}")
    config = _level_config(_check_level(level, what))
    if loss_scale_manager is not None:
        if not isinstance(loss_scale_manager, LossScaleManager):
            raise TypeError(f"{what}: loss_scale_manager must be a LossScaleManager, got "
                            f"{type(loss_scale_manager).__name__}.{where()}")
        config["loss_scale_manager"] = loss_scale_manager
    if keep_batchnorm_fp32 is not None:
        config["keep_batchnorm_fp32"] = bool(keep_batchnorm_fp32)
    if cast_model_type is not None:
        config["cast_model_type"] = mdt.from_np(mdt.to_np(cast_model_type))
    backbone = _cast_network(network, config["cast_model_type"], config["keep_batchnorm_fp32"])
    net = WithLossCell(backbone, loss_fn) if loss_fn is not None else backbone
    manager = config["loss_scale_manager"]
    if manager is None:
        return TrainOneStepCell(net, optimizer), backbone
    update_cell = manager.get_update_cell()
    if update_cell is None:   # a fixed scale without overflow checks: the optimizer's loss_scale undoes it
        return TrainOneStepCell(net, optimizer, sens=manager.get_loss_scale()), backbone
    return TrainOneStepWithLossScaleCell(net, optimizer, scale_sense=update_cell), backbone


def build_train_network(network, optimizer, loss_fn=None, level="O0", boost_level="O0", loss_scale_manager=None,
                        keep_batchnorm_fp32=None, cast_model_type=None):
    """A training cell for ``network`` at mixed-precision ``level`` ("O0", "O2", "O3" or "auto").

    ``loss_fn``: when given, the network is wrapped with it (``WithLossCell``); otherwise ``network`` must return
    the loss. ``loss_scale_manager`` (default for O2: ``DynamicLossScaleManager()``): with one that checks
    overflow, the result is a ``TrainOneStepWithLossScaleCell`` returning ``(loss, overflow, loss_scale)``;
    otherwise a ``TrainOneStepCell`` returning the loss. ``keep_batchnorm_fp32`` / ``cast_model_type`` override
    the level's settings. ``boost_level`` is accepted for compatibility (no boost algorithms here).
    """
    return _build(network, optimizer, loss_fn, level, loss_scale_manager, keep_batchnorm_fp32, cast_model_type)[0]


# ---------------------------------------------------------------------------------------------------- managers
def _check_scale(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 1.0 or \
            not np.isfinite(value):
        raise ValueError(f"{what}: the loss scale must be a finite number >= 1, got {value!r}.{where()}")
    return float(value)


class LossScaleManager:
    """Base of the loss-scale managers: ``get_loss_scale()``, ``update_loss_scale(overflow)``,
    ``get_update_cell()`` (the cell a training cell calls each step; None for none)."""

    def get_loss_scale(self):
        raise NotImplementedError

    def update_loss_scale(self, overflow):
        raise NotImplementedError

    def get_update_cell(self):
        raise NotImplementedError


class FixedLossScaleManager(LossScaleManager):
    """A constant loss scale. ``drop_overflow_update=True`` (default): overflowing steps are skipped (the training
    cell checks gradients). False: no check; give the optimizer ``loss_scale=`` the same value so it divides the
    gradients back."""

    def __init__(self, loss_scale=128.0, drop_overflow_update=True):
        self._loss_scale = _check_scale(loss_scale, "FixedLossScaleManager")
        self._drop_overflow_update = bool(drop_overflow_update)

    def get_loss_scale(self):
        return self._loss_scale

    def get_drop_overflow_update(self):
        return self._drop_overflow_update

    def update_loss_scale(self, overflow):
        """A fixed scale does not change."""

    def get_update_cell(self):
        if not self._drop_overflow_update:
            return None
        return FixedLossScaleUpdateCell(self._loss_scale)


class DynamicLossScaleManager(LossScaleManager):
    """A loss scale that adapts: divided by ``scale_factor`` (not below 1) on every overflow, multiplied by it
    after ``scale_window`` consecutive steps without overflow. Overflowing steps are skipped."""

    def __init__(self, init_loss_scale=2 ** 16, scale_factor=2, scale_window=2000):
        self.loss_scale = _check_scale(init_loss_scale, "DynamicLossScaleManager")
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, numbers.Real) or scale_factor <= 1:
            raise ValueError(f"DynamicLossScaleManager: scale_factor must be > 1, got {scale_factor!r}.{where()}")
        if isinstance(scale_window, bool) or not isinstance(scale_window, int) or scale_window < 1:
            raise ValueError(f"DynamicLossScaleManager: scale_window must be a positive int, got "
                             f"{scale_window!r}.{where()}")
        self.scale_factor, self.scale_window = float(scale_factor), scale_window
        self.increase_ratio = self.decrease_ratio = self.scale_factor
        self.cur_iter = 1
        self.last_overflow_iter = 0

    def get_loss_scale(self):
        return self.loss_scale

    def get_drop_overflow_update(self):
        return True

    def update_loss_scale(self, overflow):
        """The same rule as the update cell, on the manager's own Python state (for hand-written loops)."""
        if overflow:
            self.loss_scale = max(self.loss_scale / self.scale_factor, 1.0)
            self.last_overflow_iter = self.cur_iter
        elif self.cur_iter - self.last_overflow_iter >= self.scale_window:
            self.loss_scale *= self.scale_factor
            self.last_overflow_iter = self.cur_iter
        self.cur_iter += 1

    def get_update_cell(self):
        return DynamicLossScaleUpdateCell(self.loss_scale, self.scale_factor, self.scale_window)


def _f32(value):
    return _wrap(np.array(value, dtype=np.float32))


class DynamicLossScaleUpdateCell(Cell):
    """``cell(loss_scale, overflow)`` updates the ``loss_scale`` Parameter in place for this step's ``overflow``
    (a bool tensor) and returns ``overflow``. Its step counters are Parameters, so checkpoints keep them."""

    def __init__(self, loss_scale_value, scale_factor, scale_window):
        super().__init__()
        self.loss_scale_value = _check_scale(loss_scale_value, "DynamicLossScaleUpdateCell")
        if not scale_factor > 1:
            raise ValueError(f"DynamicLossScaleUpdateCell: scale_factor must be > 1, got {scale_factor!r}.{where()}")
        if isinstance(scale_window, bool) or not isinstance(scale_window, int) or scale_window < 1:
            raise ValueError(f"DynamicLossScaleUpdateCell: scale_window must be a positive int, got "
                             f"{scale_window!r}.{where()}")
        self.scale_factor, self.scale_window = float(scale_factor), int(scale_window)
        self._factor = _f32(self.scale_factor)
        self._window = _wrap(np.array(self.scale_window, dtype=np.int32))
        self.cur_iter = Parameter(_wrap(np.array(1, dtype=np.int32)), name="current_iterator_step",
                                  requires_grad=False)
        self.last_overflow_iter = Parameter(_wrap(np.array(0, dtype=np.int32)), name="last_overflow_iterator_step",
                                            requires_grad=False)

    def get_loss_scale(self):
        return self.loss_scale_value

    def construct(self, loss_scale, overflow):
        shrunk = ops.select(overflow, ops.maximum(loss_scale / self._factor, 1.0), loss_scale)
        should_inc = ops.greater_equal(self.cur_iter - self.last_overflow_iter, self._window)
        reset = ops.logical_or(overflow, should_inc)
        ops.assign(self.last_overflow_iter, ops.select(reset, self.cur_iter, self.last_overflow_iter))
        grow = ops.logical_and(should_inc, ops.logical_not(overflow))
        ops.assign(loss_scale, ops.select(grow, shrunk * self._factor, shrunk))
        ops.assign(self.cur_iter, self.cur_iter + 1)
        return overflow


class FixedLossScaleUpdateCell(Cell):
    """``cell(loss_scale, overflow)`` leaves the scale as it is and returns ``overflow``."""

    def __init__(self, loss_scale_value):
        super().__init__()
        self.loss_scale_value = _check_scale(loss_scale_value, "FixedLossScaleUpdateCell")

    def get_loss_scale(self):
        return self.loss_scale_value

    def construct(self, loss_scale, overflow):
        return overflow


class _ScaledLoss(Cell):
    """``(loss * scale, loss)`` for ``network(*inputs)``: differentiated with has_aux, so the gradients are of the
    scaled loss while the plain loss comes back alongside."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, *inputs):
        loss = self.network(*inputs[:-1])
        scale = inputs[-1]
        return loss * ops.cast(scale, loss.dtype), loss


class TrainOneStepWithLossScaleCell(TrainOneStepCell):
    """A training step with loss scaling (MindSpore's ``nn.TrainOneStepWithLossScaleCell``).

    ``scale_sense``: an update cell (``DynamicLossScaleUpdateCell`` / ``FixedLossScaleUpdateCell``, e.g. from a
    manager's ``get_update_cell()``) or a Tensor holding a fixed scale. The scale lives in the Parameter
    ``scale_sense`` (saved in checkpoints). Each call returns ``(loss, overflow, loss_scale)``: the unscaled loss,
    whether a gradient was Inf/NaN (then the optimizer step was skipped), and the scale this step used.
    """

    def __init__(self, network, optimizer, scale_sense):
        super().__init__(network, optimizer)
        if isinstance(scale_sense, Cell):
            if not hasattr(scale_sense, "get_loss_scale"):
                raise TypeError(f"TrainOneStepWithLossScaleCell: a Cell scale_sense must be a loss-scale update "
                                f"cell (DynamicLossScaleUpdateCell / FixedLossScaleUpdateCell).{where()}")
            self.loss_scaling_manager = scale_sense
            value = scale_sense.get_loss_scale()
        elif isinstance(scale_sense, Tensor):
            if scale_sense.size != 1:
                raise ValueError(f"TrainOneStepWithLossScaleCell: a Tensor scale_sense must hold one value, got "
                                 f"shape {list(scale_sense.shape)}.{where()}")
            self.loss_scaling_manager = None
            value = float(scale_sense.asnumpy().reshape(()))
        else:
            raise TypeError(f"TrainOneStepWithLossScaleCell: scale_sense must be an update Cell or a Tensor, got "
                            f"{type(scale_sense).__name__}.{where()}")
        self.scale_sense = Parameter(_f32(_check_scale(value, "TrainOneStepWithLossScaleCell")),
                                     name="scale_sense", requires_grad=False)
        self.scaled_loss = _ScaledLoss(network)
        self.grad_fn = value_and_grad(self.scaled_loss, grad_position=None, weights=self.weights, has_aux=True)

    def __call__(self, *args, **kwargs):
        # float16 overflow is expected here and reported by the overflow flag: no numpy RuntimeWarnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return super().__call__(*args, **kwargs)

    def set_sense_scale(self, sens):
        """Set the loss scale (a number or one-element Tensor)."""
        value = float(sens.asnumpy().reshape(())) if isinstance(sens, Tensor) else sens
        self.scale_sense.set_data(_f32(_check_scale(value, "set_sense_scale")))

    def get_overflow_status(self, gradients):
        """A bool tensor: True when any gradient holds Inf or NaN (``g * 0`` is 0 exactly when ``g`` is finite,
        so the sum of those products is 0 exactly when every gradient is)."""
        total = None
        for g in gradients:
            s = ops.sum(ops.cast(g * 0.0, mdt.float32))
            total = s if total is None else total + s
        return ops.logical_not(ops.equal(total, 0.0))

    def process_loss_scale(self, overflow):
        """Update the scale for this step's overflow (with an update cell) and return the overflow flag."""
        if self.loss_scaling_manager is None:
            return overflow
        return self.loss_scaling_manager(self.scale_sense, overflow)

    def construct(self, *inputs):
        scale = self.scale_sense * 1.0            # this step's scale (a copy: the Parameter is updated below)
        outputs, grads = self.grad_fn(*inputs, scale)
        loss = outputs[1]
        inv = ops.reciprocal(scale)
        grads = tuple([g * ops.cast(inv, g.dtype) for g in grads])
        cond = self.get_overflow_status(grads)
        overflow = self.process_loss_scale(cond)
        if not overflow:
            self.optimizer(grads)
        return loss, cond, scale


def all_finite(inputs):
    """A bool tensor: True when every tensor of ``inputs`` (a tuple / list) holds only finite values."""
    total = None
    with np.errstate(over="ignore", invalid="ignore"):   # Inf * 0 = NaN is how non-finite values are found
        for x in inputs:
            s = ops.sum(ops.cast(x * 0.0, mdt.float32))
            total = s if total is None else total + s
    if total is None:
        return Tensor(True)
    return ops.equal(total, 0.0)


# ---------------------------------------------------------------------------------------------------- functional scalers
class LossScaler:
    """Base of the loss scalers for hand-written steps (``value_and_grad`` loops): ``scale(x)``, ``unscale(x)``,
    ``adjust(grads_finite)``."""

    def scale(self, inputs):
        raise NotImplementedError

    def unscale(self, inputs):
        raise NotImplementedError

    def adjust(self, grads_finite):
        raise NotImplementedError

    def _map(self, inputs, fn):
        if isinstance(inputs, (tuple, list)):
            return type(inputs)(fn(x) for x in inputs)
        return fn(inputs)


class StaticLossScaler(LossScaler):
    """A constant ``scale_value``."""

    def __init__(self, scale_value):
        self.scale_value = Parameter(_f32(_check_scale(scale_value, "StaticLossScaler")), name="scale_value",
                                     requires_grad=False)

    def scale(self, inputs):
        return self._map(inputs, lambda x: x * ops.cast(self.scale_value, x.dtype))

    def unscale(self, inputs):
        return self._map(inputs, lambda x: x * ops.cast(ops.reciprocal(self.scale_value), x.dtype))

    def adjust(self, grads_finite):
        """A static scale does not change."""
        return False


class DynamicLossScaler(StaticLossScaler):
    """A scale divided by ``scale_factor`` when gradients overflow and multiplied by it after ``scale_window``
    finite steps; ``adjust(all_finite(grads))`` updates it after each step."""

    def __init__(self, scale_value, scale_factor, scale_window):
        super().__init__(scale_value)
        self._cell = DynamicLossScaleUpdateCell(scale_value, scale_factor, scale_window)
        self.scale_factor, self.scale_window = self._cell.scale_factor, self._cell.scale_window

    def adjust(self, grads_finite):
        overflow = ops.logical_not(grads_finite if isinstance(grads_finite, Tensor) else Tensor(bool(grads_finite)))
        self._cell(self.scale_value, overflow)
        return True
