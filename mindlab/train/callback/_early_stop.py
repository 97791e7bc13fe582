"""``EarlyStopping``: stop training when a monitored quantity has stopped improving."""
import math
import numbers
import warnings

import numpy as np

from ...tensor import Tensor
from ..serialization import load_param_into_net
from ._callback import Callback

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stops training after ``patience`` epochs without an improvement of ``monitor`` by more than ``min_delta``.

    ``monitor``: "loss" (the epoch's mean training loss) or the name of an evaluation result of ``Model.fit``
    ("acc", "loss" as "eval_loss", ...). ``mode``: "min", "max" or "auto" (max for names containing "acc",
    otherwise min). ``baseline``: the value must also beat this to count as an improvement.
    ``restore_best_weights``: when stopping, load back the weights (and optimizer state) of the best epoch.
    ``best`` and ``stopped_epoch`` (0 when it did not stop) are kept.
    """

    def __init__(self, monitor="eval_loss", min_delta=0.0, patience=0, verbose=False, mode="auto", baseline=None,
                 restore_best_weights=False):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"EarlyStopping: monitor must be a metric name, got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not isinstance(min_delta, numbers.Real) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.verbose = monitor, patience, bool(verbose)
        self.min_delta = float(min_delta)
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self._best_weights = None
        self._warned = False

    def _improves(self, value, reference):
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _value(self, cb_params):
        if self.monitor == "loss":
            return cb_params.get("epoch_loss")
        results = cb_params.get("eval_results") or {}
        value = results.get(self.monitor)
        if value is None and self.monitor.startswith("eval_"):
            value = results.get(self.monitor[len("eval_"):])
        if value is None and not self._warned:
            self._warned = True
            warnings.warn(f"EarlyStopping: monitor {self.monitor!r} is not available (evaluation results: "
                          f"{sorted(results)}; 'loss' is the training loss); it will not stop training. Use "
                          f"Model.fit(..., valid_dataset=...) for evaluation metrics.", stacklevel=2)
        if isinstance(value, Tensor):
            value = value.asnumpy()
        return None if value is None else float(np.mean(value))

    def on_train_begin(self, run_context):
        self._reset()

    def on_train_epoch_end(self, run_context):
        cb_params = run_context.original_args()
        value = self._value(cb_params)
        if value is None:
            return
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, cb_params.cur_epoch_num
            if self.restore_best_weights:
                self._best_weights = {p.name: Tensor(p.asnumpy())
                                      for p in cb_params.train_network.get_parameters()}
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience:
            self.stopped_epoch = cb_params.cur_epoch_num
            run_context.request_stop()
            if self.restore_best_weights and self._best_weights is not None:
                if self.verbose:
                    print(f"Restoring model weights from the end of the best epoch ({self.best_epoch}).")
                load_param_into_net(cb_params.train_network, self._best_weights, strict_load=True)

    def on_train_end(self, run_context):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch:05d}: early stopping")
