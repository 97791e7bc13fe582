"""Monitoring callbacks: LossMonitor (prints the loss), TimeMonitor (epoch and step times), History (per-epoch
record with a plot) and ProgressBar (a tqdm bar, notebook-aware)."""
import math
import numbers
import time

import numpy as np

from ...tensor import Tensor
from ._callback import Callback

__all__ = ["LossMonitor", "TimeMonitor", "History", "ProgressBar", "loss_value"]


def loss_value(net_outputs):
    """The loss as a float from a training step's outputs (a Tensor, a number, or a tuple whose first element is
    the loss, as TrainOneStepWithLossScaleCell returns); None when there is none."""
    if isinstance(net_outputs, (tuple, list)):
        net_outputs = net_outputs[0] if net_outputs else None
    if isinstance(net_outputs, Tensor):
        arr = net_outputs.asnumpy()
        return float(arr) if arr.size == 1 else float(arr.mean())
    if isinstance(net_outputs, (numbers.Number, np.generic)):
        return float(net_outputs)
    return None


def _step_in_epoch(cb_params):
    return (cb_params.cur_step_num - 1) % max(cb_params.batch_num, 1) + 1


class LossMonitor(Callback):
    """Prints ``epoch: E step: S, loss is L`` every ``per_print_times`` steps (0: never) and, in ``Model.fit``,
    the evaluation results after each epoch. A NaN or infinite loss stops training with ValueError."""

    def __init__(self, per_print_times=1):
        super().__init__()
        if isinstance(per_print_times, bool) or not isinstance(per_print_times, int) or per_print_times < 0:
            raise ValueError(f"LossMonitor: per_print_times must be an int >= 0, got {per_print_times!r}")
        self._per_print_times = per_print_times
        self._last_print_time = 0

    def on_train_begin(self, run_context):
        self._last_print_time = run_context.original_args().cur_step_num

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        loss = loss_value(cb_params.net_outputs)
        step = _step_in_epoch(cb_params)
        if loss is not None and not math.isfinite(loss):
            raise ValueError(f"epoch: {cb_params.cur_epoch_num} step: {step}. Invalid loss {loss}, terminating "
                             f"training.")
        if self._per_print_times and cb_params.cur_step_num - self._last_print_time >= self._per_print_times:
            self._last_print_time = cb_params.cur_step_num
            print(f"epoch: {cb_params.cur_epoch_num} step: {step}, loss is {loss}", flush=True)

    def on_train_epoch_end(self, run_context):
        cb_params = run_context.original_args()
        results = cb_params.get("eval_results")
        if results:
            print(f"Eval result: epoch {cb_params.cur_epoch_num}, metrics: {results}", flush=True)


class TimeMonitor(Callback):
    """Prints the time of each epoch and the mean time per step, for training and evaluation.
    ``data_size``: steps per epoch (default: the dataset's)."""

    def __init__(self, data_size=None):
        super().__init__()
        if data_size is not None and (isinstance(data_size, bool) or not isinstance(data_size, int)
                                      or data_size < 1):
            raise ValueError(f"TimeMonitor: data_size must be a positive int or None, got {data_size!r}")
        self.data_size = data_size
        self.epoch_time = None
        self.last_epoch_ms = None
        self.last_step_ms = None

    def _begin(self, run_context):
        self.epoch_time = time.perf_counter()

    def _end(self, run_context, mode):
        cb_params = run_context.original_args()
        ms = (time.perf_counter() - self.epoch_time) * 1000.0
        steps = self.data_size or cb_params.get("batch_num") or 1
        self.last_epoch_ms, self.last_step_ms = ms, ms / steps
        print(f"{mode} epoch time: {ms:5.3f} ms, per step time: {ms / steps:5.3f} ms", flush=True)

    def on_train_epoch_begin(self, run_context):
        self._begin(run_context)

    def on_train_epoch_end(self, run_context):
        self._end(run_context, "Train")

    def on_eval_epoch_begin(self, run_context):
        self._begin(run_context)

    def on_eval_epoch_end(self, run_context):
        self._end(run_context, "Eval")


class History(Callback):
    """Records, after every training epoch, ``history["loss"]`` (the epoch's mean training loss),
    ``history["net_output"]`` (the last step's loss, MindSpore's record) and each evaluation result of
    ``Model.fit`` under its metric name. ``epoch`` lists the epoch numbers. ``plot()`` draws them."""

    def __init__(self):
        super().__init__()
        self.epoch = []
        self.history = {}

    def on_train_begin(self, run_context):
        self.epoch = []
        self.history = {}

    def on_train_epoch_end(self, run_context):
        cb_params = run_context.original_args()
        self.epoch.append(cb_params.cur_epoch_num)
        record = {}
        if cb_params.get("epoch_loss") is not None:
            record["loss"] = cb_params.epoch_loss
        last = loss_value(cb_params.get("net_outputs"))
        if last is not None:
            record["net_output"] = last
        for name, value in (cb_params.get("eval_results") or {}).items():
            record[name if name not in record else f"eval_{name}"] = float(value)
        for name, value in record.items():   # keys that appear late are padded with NaN, so lists stay aligned
            self.history.setdefault(name, [math.nan] * (len(self.epoch) - 1)).append(value)
        for name, values in self.history.items():
            if len(values) < len(self.epoch):
                values.append(math.nan)

    def plot(self, keys=None, title=None):
        """A matplotlib Figure with the recorded curves against the epoch: losses (keys containing "loss",
        plus "net_output") on the left, other metrics on the right. ``keys`` picks which to draw. The figure is
        not registered with pyplot, so a notebook shows it once (as the cell's value)."""
        from matplotlib.figure import Figure
        keys = [k for k in self.history if k != "net_output"] if keys is None else list(keys)
        unknown = [k for k in keys if k not in self.history]
        if unknown:
            raise KeyError(f"History.plot: no record named {unknown}; recorded: {sorted(self.history)}")
        if not keys:
            raise ValueError("History.plot: nothing recorded yet; train with History() in the callbacks first")
        losses = [k for k in keys if "loss" in k or k == "net_output"]
        others = [k for k in keys if k not in losses]
        groups = [g for g in (losses, others) if g]
        fig = Figure(figsize=(5.5 * len(groups), 3.8), layout="constrained")
        axes = fig.subplots(1, len(groups), squeeze=False)[0]
        for ax, group, label in zip(axes, groups, ["loss" if g is losses else "metric" for g in groups]):
            for k in group:
                ax.plot(self.epoch, self.history[k], marker="o", markersize=3, label=k)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        return fig


class ProgressBar(Callback):
    """A tqdm progress bar over the training steps (``tqdm.auto``: a widget in notebooks, text in a terminal),
    showing the epoch and the running mean loss. ``Model.train(progress_bar=True)`` adds one."""

    def __init__(self, leave=True, **tqdm_kwargs):
        super().__init__()
        self.leave = leave
        self.tqdm_kwargs = tqdm_kwargs
        self.bar = None
        self._losses = []

    def on_train_begin(self, run_context):
        from tqdm.auto import tqdm
        cb_params = run_context.original_args()
        steps = cb_params.batch_num
        epochs = cb_params.epoch_num - cb_params.get("initial_epoch", 0)
        total = steps * epochs if steps and steps > 0 else None
        self.bar = tqdm(total=total, leave=self.leave, unit="step", **self.tqdm_kwargs)

    def on_train_epoch_begin(self, run_context):
        cb_params = run_context.original_args()
        self._losses = []
        if self.bar is not None:
            self.bar.set_description(f"epoch {cb_params.cur_epoch_num}/{cb_params.epoch_num}")

    def on_train_step_end(self, run_context):
        loss = loss_value(run_context.original_args().net_outputs)
        if loss is not None:
            self._losses.append(loss)
        if self.bar is not None:
            self.bar.update(1)
            if self._losses:
                self.bar.set_postfix(loss=f"{sum(self._losses) / len(self._losses):.4f}", refresh=False)

    def on_train_epoch_end(self, run_context):
        results = run_context.original_args().get("eval_results")
        if results and self.bar is not None:
            shown = {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in results.items()}
            if self._losses:
                shown = {"loss": f"{sum(self._losses) / len(self._losses):.4f}", **shown}
            self.bar.set_postfix(shown)

    def on_train_end(self, run_context):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *err):
        self.close()
