"""Evaluation metrics (MindSpore's ``mindspore.train`` metrics): ``Metric`` (clear / update / eval) and Accuracy,
Loss, MAE, MSE, Top-k accuracy. ``Model(metrics={"acc", "loss"})`` builds them by name (``get_metric_fn``).

Metrics accumulate on the host in float64 from Tensors, numpy arrays or lists, batch by batch.
"""
import numbers

import numpy as np

from ..tensor import Tensor

__all__ = ["Metric", "Accuracy", "Loss", "MAE", "MSE", "TopKCategoricalAccuracy", "Top1CategoricalAccuracy",
           "Top5CategoricalAccuracy", "get_metric_fn", "names"]


def _as_numpy(x, metric, what):
    if isinstance(x, Tensor):
        return x.asnumpy()
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number, np.generic)):
        return np.asarray(x)
    raise TypeError(f"{metric}.update: {what} must be a Tensor, numpy array or list, got {type(x).__name__}")


class Metric:
    """Base of the metrics: ``clear()`` resets, ``update(*inputs)`` adds a batch, ``eval()`` gives the value."""

    def __init__(self):
        self._indexes = None

    def clear(self):
        raise NotImplementedError

    def update(self, *inputs):
        raise NotImplementedError

    def eval(self):
        raise NotImplementedError

    def set_indexes(self, indexes):
        """Which of the evaluation network's outputs ``update`` receives, e.g. ``[1, 2]`` for (logits, label) out
        of (loss, logits, label). Returns the metric."""
        if not isinstance(indexes, (list, tuple)) or not all(isinstance(i, int) for i in indexes):
            raise ValueError(f"{type(self).__name__}.set_indexes: indexes must be a list of ints, got {indexes!r}")
        self._indexes = list(indexes)
        return self

    @property
    def indexes(self):
        return self._indexes

    def _check_inputs(self, inputs, n):
        if len(inputs) != n:
            raise ValueError(f"{type(self).__name__}.update needs {n} inputs (predictions, labels), got "
                             f"{len(inputs)}")
        return [_as_numpy(x, type(self).__name__, w) for x, w in zip(inputs, ("predictions", "labels"))]

    def __call__(self, *inputs):
        """clear, update with ``inputs``, eval."""
        self.clear()
        self.update(*inputs)
        return self.eval()


class Accuracy(Metric):
    """Fraction of correct predictions. ``eval_type="classification"``: the prediction is the argmax of the
    scores (N, C); labels are class indices (N,) or one-hot (N, C). ``"multilabel"``: scores rounded to 0/1, a
    sample is correct when all its labels match."""

    def __init__(self, eval_type="classification"):
        super().__init__()
        if eval_type not in ("classification", "multilabel"):
            raise ValueError(f"Accuracy: eval_type must be 'classification' or 'multilabel', got {eval_type!r}")
        self.eval_type = eval_type
        self.clear()

    def clear(self):
        self._correct_num = 0
        self._total_num = 0

    def update(self, *inputs):
        y_pred, y = self._check_inputs(inputs, 2)
        if self.eval_type == "classification":
            if y_pred.ndim < 2:
                raise ValueError(f"Accuracy.update: predictions must be scores of shape (N, C), got shape "
                                 f"{list(y_pred.shape)}")
            if y.ndim == y_pred.ndim:   # one-hot labels
                y = y.argmax(axis=-1)
            if y.shape != y_pred.shape[:-1]:
                raise ValueError(f"Accuracy.update: labels of shape {list(y.shape)} do not match predictions of "
                                 f"shape {list(y_pred.shape)}")
            correct = (y_pred.argmax(axis=-1) == y).reshape(-1)
        else:
            if y.shape != y_pred.shape:
                raise ValueError(f"Accuracy.update: multilabel labels {list(y.shape)} and predictions "
                                 f"{list(y_pred.shape)} must have the same shape")
            correct = (np.round(y_pred) == y).reshape(len(y), -1).all(axis=1)
        self._correct_num += int(correct.sum())
        self._total_num += int(correct.size)

    def eval(self):
        if self._total_num == 0:
            raise RuntimeError("Accuracy.eval: no samples; call update first")
        return self._correct_num / self._total_num


class TopKCategoricalAccuracy(Metric):
    """Fraction of samples whose label is among the ``k`` highest scores."""

    def __init__(self, k):
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"TopKCategoricalAccuracy: k must be a positive int, got {k!r}")
        self.k = k
        self.clear()

    def clear(self):
        self._correct_num = 0
        self._samples_num = 0

    def update(self, *inputs):
        y_pred, y = self._check_inputs(inputs, 2)
        if y.ndim == y_pred.ndim:
            y = y.argmax(axis=-1)
        top = np.argsort(-y_pred, axis=-1, kind="stable")[..., :self.k]
        self._correct_num += int((top == y[..., None]).any(axis=-1).sum())
        self._samples_num += int(y.size)

    def eval(self):
        if self._samples_num == 0:
            raise RuntimeError(f"{type(self).__name__}.eval: no samples; call update first")
        return self._correct_num / self._samples_num


class Top1CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(1)


class Top5CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(5)


class Loss(Metric):
    """The mean of the loss values passed to ``update`` (one per batch)."""

    def __init__(self):
        super().__init__()
        self.clear()

    def clear(self):
        self._sum_loss = 0.0
        self._total_num = 0

    def update(self, *inputs):
        if len(inputs) != 1:
            raise ValueError(f"Loss.update needs 1 input (the loss), got {len(inputs)}")
        loss = _as_numpy(inputs[0], "Loss", "loss")
        if loss.ndim > 1 or (loss.ndim == 1 and loss.size != 1):
            loss = loss.mean()
        self._sum_loss += float(loss)
        self._total_num += 1

    def eval(self):
        if self._total_num == 0:
            raise RuntimeError("Loss.eval: no loss values; call update first")
        return self._sum_loss / self._total_num


class _ErrorMetric(Metric):
    def __init__(self):
        super().__init__()
        self.clear()

    def clear(self):
        self._error_sum = 0.0
        self._samples_num = 0

    def update(self, *inputs):
        y_pred, y = self._check_inputs(inputs, 2)
        if y.size != y_pred.size:
            raise ValueError(f"{type(self).__name__}.update: labels {list(y.shape)} and predictions "
                             f"{list(y_pred.shape)} have different sizes")
        diff = y.reshape(y_pred.shape).astype(np.float64) - y_pred.astype(np.float64)
        self._error_sum += float(self._error(diff).sum())
        self._samples_num += int(y.shape[0]) if y.ndim else 1

    def eval(self):
        if self._samples_num == 0:
            raise RuntimeError(f"{type(self).__name__}.eval: no samples; call update first")
        return self._error_sum / self._samples_num


class MAE(_ErrorMetric):
    """Mean absolute error: the sum of |label - prediction| over each sample's elements, averaged over samples."""

    @staticmethod
    def _error(diff):
        return np.abs(diff)


class MSE(_ErrorMetric):
    """Mean squared error: the sum of (label - prediction)² over each sample's elements, averaged over samples."""

    @staticmethod
    def _error(diff):
        return diff * diff


_METRICS = {
    "accuracy": Accuracy, "acc": Accuracy, "loss": Loss, "mae": MAE, "mse": MSE,
    "top_1_accuracy": Top1CategoricalAccuracy, "top_5_accuracy": Top5CategoricalAccuracy,
}


def names():
    """The metric names ``get_metric_fn`` and ``Model(metrics={...})`` accept."""
    return sorted(_METRICS)


def get_metric_fn(name, *args, **kwargs):
    """A new metric by name ("acc" / "accuracy", "loss", "mae", "mse", "top_1_accuracy", "top_5_accuracy")."""
    if name not in _METRICS:
        raise KeyError(f"Unknown metric {name!r}; known: {names()}")
    return _METRICS[name](*args, **kwargs)
