"""``Model``: the high-level training and evaluation loop (MindSpore's ``mindspore.train.Model``).

>>> from mindlab import nn, dataset as ds
>>> from mindlab.train import Model, LossMonitor, History
>>> model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
...               nn.Adam(net.trainable_params(), 1e-3), metrics={"acc"})
>>> history = History()
>>> model.fit(10, ds.DigitsDataset("train").batch(64), ds.DigitsDataset("test").batch(256),
...           callbacks=[LossMonitor(20), history])
>>> model.eval(ds.DigitsDataset("test").batch(256))      # {'acc': 0.97...}
>>> history.plot()

The training network is built once: ``network`` + ``loss_fn`` (``WithLossCell``) + ``optimizer``
(``TrainOneStepCell``, or ``TrainOneStepWithLossScaleCell`` under a loss-scale manager), cast for ``amp_level``.
In GRAPH_MODE each step runs as one compiled graph (forward, backward and update).
"""
import logging
import sys

from .. import dtype as mdt
from .. import ops
from ..errors import where
from ..nn.cell import Cell
from ..nn.optim.optimizer import Optimizer
from ..dataset.engine import Dataset
from .. import amp as _amp
from .callback import CallbackManager, RunContext, InternalCallbackParam, ProgressBar
from .callback._monitor import loss_value
from .metrics import Metric, Loss, get_metric_fn

__all__ = ["Model", "WithEvalCell"]

_log = logging.getLogger("mindlab.train")


class WithEvalCell(Cell):
    """``(loss, outputs, label)`` for ``(data, label)``: what ``Model.eval`` runs when a loss function is given
    (MindSpore's ``nn.WithEvalCell``). ``add_cast_fp32`` casts the outputs to float32 before the loss."""

    def __init__(self, network, loss_fn, add_cast_fp32=False):
        super().__init__(auto_prefix=False)
        self._network = network
        self._loss_fn = loss_fn
        self.add_cast_fp32 = bool(add_cast_fp32)

    def construct(self, data, label):
        outputs = self._network(data)
        if self.add_cast_fp32:
            outputs = ops.cast(outputs, mdt.float32)
        loss = self._loss_fn(outputs, label)
        return loss, outputs, label


class _PredictWithLabel(Cell):
    """``(outputs, label)`` for ``(*data, label)``: evaluation without a loss function."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self._network = network

    def construct(self, *inputs):
        return self._network(*inputs[:-1]), inputs[-1]


def _interactive():
    """True inside IPython / Jupyter or when stderr is a terminal (where a progress bar is wanted)."""
    try:
        from IPython import get_ipython
        if get_ipython() is not None:
            return True
    except ImportError:
        pass
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Model:
    """Trains and evaluates a network.

    ``network``: the model (outputs from inputs). ``loss_fn``: a loss Cell; without it, ``network`` must return
    the loss itself when an optimizer is given. ``optimizer``: an ``nn.Optimizer``; without one, ``network`` is
    taken to be a complete training cell (returning the loss) and is called as is.
    ``metrics``: a set of names ({"acc", "loss"}) or a dict {name: Metric} for ``eval``.
    ``eval_network``: what ``eval`` runs instead of the default (``WithEvalCell(network, loss_fn)``);
    ``eval_indexes``: the positions of (loss, predictions, label) in its outputs.
    ``amp_level``: "O0" (float32), "O2" / "O3" (float16 compute; see ``mindlab.amp``). Keyword arguments
    ``loss_scale_manager`` and ``keep_batchnorm_fp32`` are passed to ``amp.build_train_network``.
    """

    def __init__(self, network, loss_fn=None, optimizer=None, metrics=None, eval_network=None, eval_indexes=None,
                 amp_level="O0", boost_level="O0", **kwargs):
        if not isinstance(network, Cell):
            raise TypeError(f"Model: network must be a Cell, got {type(network).__name__}.{where()}")
        if loss_fn is not None and not isinstance(loss_fn, Cell):
            raise TypeError(f"Model: loss_fn must be a Cell (e.g. nn.SoftmaxCrossEntropyWithLogits), got "
                            f"{type(loss_fn).__name__}.{where()}")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"Model: optimizer must be an nn.Optimizer, got {type(optimizer).__name__}.{where()}")
        if eval_network is not None and not isinstance(eval_network, Cell):
            raise TypeError(f"Model: eval_network must be a Cell, got {type(eval_network).__name__}.{where()}")
        unknown = set(kwargs) - {"loss_scale_manager", "keep_batchnorm_fp32"}
        if unknown:
            raise TypeError(f"Model: unexpected keyword arguments {sorted(unknown)}.{where()}")
        if eval_indexes is not None:
            if not isinstance(eval_indexes, (list, tuple)) or len(eval_indexes) != 3 or \
                    not all(isinstance(i, int) for i in eval_indexes):
                raise ValueError(f"Model: eval_indexes must be 3 ints (positions of loss, predictions, label), got "
                                 f"{eval_indexes!r}.{where()}")
        self._loss_fn = loss_fn
        self._optimizer = optimizer
        self._amp_level = amp_level
        self._metric_fns = self._build_metrics(metrics)
        if optimizer is not None:
            self._train_network, self._network = _amp._build(
                network, optimizer, loss_fn, amp_level, kwargs.get("loss_scale_manager"),
                kwargs.get("keep_batchnorm_fp32"), what="Model")
        else:
            _amp._check_level(amp_level, "Model")
            if loss_fn is not None:
                raise ValueError(f"Model: loss_fn was given without an optimizer; give both, or pass a complete "
                                 f"training cell as network.{where()}")
            self._train_network, self._network = network, network
        self._eval_network, self._eval_indexes = eval_network, eval_indexes
        if eval_network is None:
            if loss_fn is not None:
                self._eval_network = WithEvalCell(self._network, loss_fn)
                self._eval_indexes = [0, 1, 2]
            elif optimizer is not None:
                self._eval_network = _PredictWithLabel(self._network)
        self._predict_network = self._network

    # ------------------------------------------------------------------ properties
    @property
    def train_network(self):
        """The training cell (its parameters include the optimizer's state: checkpoint this to resume)."""
        return self._train_network

    @property
    def predict_network(self):
        return self._predict_network

    @property
    def eval_network(self):
        return self._eval_network

    # ------------------------------------------------------------------ metrics
    @staticmethod
    def _build_metrics(metrics):
        if metrics is None:
            return {}
        if isinstance(metrics, dict):
            out = {}
            for name, m in metrics.items():
                if not isinstance(m, Metric):
                    raise TypeError(f"Model: metrics values must be Metrics, got {type(m).__name__} for {name!r}."
                                    f"{where()}")
                out[name] = m
            return out
        if isinstance(metrics, str):
            metrics = [metrics]
        if isinstance(metrics, (set, list, tuple)):
            try:
                return {name: get_metric_fn(name) for name in sorted(metrics)}
            except KeyError as e:
                raise ValueError(f"Model: {e.args[0]}.{where()}") from None
        raise TypeError(f"Model: metrics must be a set of names or a dict of Metrics, got "
                        f"{type(metrics).__name__}.{where()}")

    def _update_metrics(self, outputs):
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        idx = self._eval_indexes
        for name, m in self._metric_fns.items():
            if m.indexes is not None:
                m.update(*[outputs[i] for i in m.indexes])
            elif idx is not None:
                if isinstance(m, Loss):
                    m.update(outputs[idx[0]])
                else:
                    m.update(outputs[idx[1]], outputs[idx[2]])
            else:
                if isinstance(m, Loss):
                    raise ValueError(f"Model.eval: the 'loss' metric needs the loss; give Model a loss_fn or "
                                     f"eval_indexes.{where()}")
                m.update(*outputs)

    # ------------------------------------------------------------------ training
    @staticmethod
    def _check_dataset(ds, what):
        if not isinstance(ds, Dataset):
            raise TypeError(f"Model.{what}: the dataset must be a mindlab.dataset Dataset (e.g. "
                            f"NumpySlicesDataset(...).batch(32)), got {type(ds).__name__}.{where()}")
        size = ds.get_dataset_size()
        if size == 0:
            raise ValueError(f"Model.{what}: the dataset is empty.{where()}")
        if size < 0:
            raise ValueError(f"Model.{what}: the dataset is endless (repeat()); give repeat a count.{where()}")
        return size

    def train(self, epoch, train_dataset, callbacks=None, dataset_sink_mode=False, sink_size=-1, initial_epoch=0,
              progress_bar="auto"):
        """Train for epochs ``initial_epoch + 1 .. epoch`` over ``train_dataset`` (one pass per epoch).

        ``callbacks``: a Callback or a list. ``initial_epoch``: resume numbering there (the dataset also continues
        its shuffling from that epoch, so a resumed run sees the batches the uninterrupted one would).
        ``progress_bar``: "auto" shows a tqdm bar in notebooks and terminals, True / False force it.
        ``dataset_sink_mode`` / ``sink_size``: sinking data to a device does not apply to the CPU; as on
        MindSpore's CPU backend, training runs in the normal (non-sink) mode.
        """
        self._fit(epoch, train_dataset, None, 1, callbacks, dataset_sink_mode, initial_epoch, progress_bar, "train")

    def fit(self, epoch, train_dataset, valid_dataset=None, valid_frequency=1, callbacks=None,
            dataset_sink_mode=False, valid_dataset_sink_mode=False, sink_size=-1, initial_epoch=0,
            progress_bar="auto"):
        """``train``, evaluating on ``valid_dataset`` after every ``valid_frequency``-th epoch (an int, or a list
        of epoch numbers). The results are ``cb_params.eval_results`` for the epoch-end callbacks (LossMonitor
        prints them, History records them, EarlyStopping can monitor them)."""
        if valid_dataset is not None:
            if not self._metric_fns:
                raise ValueError(f"Model.fit: a valid_dataset needs metrics, e.g. Model(..., metrics={{'acc'}})."
                                 f"{where()}")
            self._check_dataset(valid_dataset, "fit")
        if isinstance(valid_frequency, bool) or not (
                (isinstance(valid_frequency, int) and valid_frequency >= 1) or
                (isinstance(valid_frequency, (list, tuple)) and all(isinstance(e, int) for e in valid_frequency))):
            raise ValueError(f"Model.fit: valid_frequency must be a positive int or a list of epoch numbers, got "
                             f"{valid_frequency!r}.{where()}")
        self._fit(epoch, train_dataset, valid_dataset, valid_frequency, callbacks, dataset_sink_mode, initial_epoch,
                  progress_bar, "fit")

    def _fit(self, epoch, train_dataset, valid_dataset, valid_frequency, callbacks, sink, initial_epoch,
             progress_bar, what):
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ValueError(f"Model.{what}: epoch must be a positive int, got {epoch!r}.{where()}")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epoch:
            raise ValueError(f"Model.{what}: initial_epoch must be an int in [0, epoch), got {initial_epoch!r}."
                             f"{where()}")
        if self._optimizer is None and self._train_network is None:
            raise ValueError(f"Model.{what}: no optimizer and no training network.{where()}")
        steps = self._check_dataset(train_dataset, what)
        if sink:
            _log.info("dataset_sink_mode does not apply to the CPU backend; training in non-sink mode")
        cb_list = CallbackManager(callbacks)._callbacks
        show = _interactive() if progress_bar == "auto" else bool(progress_bar)
        if show and not any(isinstance(cb, ProgressBar) for cb in cb_list):
            cb_list = cb_list + [ProgressBar()]

        net = self._train_network
        cb_params = InternalCallbackParam(
            train_network=net, network=self._network, optimizer=self._optimizer, loss_fn=self._loss_fn,
            train_dataset=train_dataset, valid_dataset=valid_dataset, epoch_num=epoch, batch_num=steps,
            initial_epoch=initial_epoch, cur_epoch_num=initial_epoch, cur_step_num=initial_epoch * steps,
            net_outputs=None, epoch_loss=None, eval_results=None, mode="train", dataset_sink_mode=False,
            parallel_mode="stand_alone", device_number=1, train_dataset_element=None, list_callback=cb_list,
            metrics=None)
        run_context = RunContext(cb_params)
        # continue the dataset's shuffling at the resumed epoch, so a resumed run replays the same batches
        train_dataset._epochs_started = max(train_dataset._epochs_started, initial_epoch)
        iterator = train_dataset.create_tuple_iterator(num_epochs=epoch - initial_epoch)
        with CallbackManager(cb_list) as cbs:
            net.set_train(True)
            cbs.on_train_begin(run_context)
            for ep in range(initial_epoch + 1, epoch + 1):
                cb_params.cur_epoch_num = ep
                cb_params.epoch_loss, cb_params.eval_results = None, None
                cbs.on_train_epoch_begin(run_context)
                total, count = 0.0, 0
                for data in iterator:
                    cb_params.train_dataset_element = data
                    cbs.on_train_step_begin(run_context)
                    outputs = net(*data)
                    cb_params.cur_step_num += 1
                    cb_params.net_outputs = outputs
                    value = loss_value(outputs)
                    if value is not None:
                        total, count = total + value, count + 1
                    cbs.on_train_step_end(run_context)
                    if run_context.get_stop_requested():
                        iterator.stop()
                        break
                cb_params.epoch_loss = total / count if count else None
                if valid_dataset is not None and self._eval_due(ep, epoch, valid_frequency):
                    cb_params.eval_results = self._run_eval(valid_dataset, cbs, cb_params)
                    cb_params.metrics = cb_params.eval_results
                    net.set_train(True)
                cbs.on_train_epoch_end(run_context)
                if run_context.get_stop_requested():
                    break
            cbs.on_train_end(run_context)

    @staticmethod
    def _eval_due(ep, last, freq):
        if isinstance(freq, int):
            return ep % freq == 0 or ep == last
        return ep in freq

    # ------------------------------------------------------------------ evaluation and prediction
    def _run_eval(self, valid_dataset, cbs, outer_params=None):
        net = self._eval_network
        if net is None:
            raise ValueError(f"Model.eval: there is no evaluation network; give Model a loss_fn or an "
                             f"eval_network.{where()}")
        if not self._metric_fns:
            raise ValueError(f"Model.eval: no metrics; create the Model with metrics={{'acc'}} (or a dict of "
                             f"Metrics).{where()}")
        steps = self._check_dataset(valid_dataset, "eval")
        cb_params = InternalCallbackParam(
            eval_network=net, network=self._network, valid_dataset=valid_dataset, batch_num=steps, epoch_num=1,
            cur_epoch_num=outer_params.cur_epoch_num if outer_params else 1, cur_step_num=0, net_outputs=None,
            mode="eval", metrics=None, eval_results=None)
        run_context = RunContext(cb_params)
        for m in self._metric_fns.values():
            m.clear()
        net.set_train(False)
        cbs.on_eval_begin(run_context)
        cbs.on_eval_epoch_begin(run_context)
        for data in valid_dataset.create_tuple_iterator(num_epochs=1):
            cbs.on_eval_step_begin(run_context)
            outputs = net(*data)
            cb_params.cur_step_num += 1
            cb_params.net_outputs = outputs
            self._update_metrics(outputs)
            cbs.on_eval_step_end(run_context)
        results = {name: m.eval() for name, m in self._metric_fns.items()}
        cb_params.metrics = cb_params.eval_results = results
        cbs.on_eval_epoch_end(run_context)
        cbs.on_eval_end(run_context)
        return results

    def eval(self, valid_dataset, callbacks=None, dataset_sink_mode=False):
        """One pass over ``valid_dataset`` with the evaluation network; returns {metric name: value}."""
        with CallbackManager(callbacks) as cbs:
            return self._run_eval(valid_dataset, cbs)

    def predict(self, *predict_data):
        """The network's outputs for ``predict_data`` (in inference mode: no dropout, BatchNorm statistics)."""
        net = self._predict_network
        net.set_train(False)
        return net(*predict_data)
