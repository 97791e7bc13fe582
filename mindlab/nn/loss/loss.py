"""Losses: LossBase (the reduction), SoftmaxCrossEntropyWithLogits, MSELoss, L1Loss."""
from ... import ops
from ...errors import where
from ..cell import Cell

__all__ = ["LossBase", "SoftmaxCrossEntropyWithLogits", "MSELoss", "L1Loss"]

_REDUCTIONS = ("mean", "sum", "none")


class LossBase(Cell):
    """Base of the losses: ``get_loss(x, weights=1.0)`` applies ``reduction`` ('mean' | 'sum' | 'none') to the
    elementwise loss ``x`` (times ``weights``)."""

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"For '{type(self).__name__}', the 'reduction' must be in {list(_REDUCTIONS)}, but got "
                             f"{reduction!r}.{where()}")
        self.reduction = reduction
        self.average = reduction == "mean"
        self.reduce = reduction != "none"

    def get_axis(self, x):
        """All axes of ``x``."""
        return tuple(range(x.ndim))

    def get_loss(self, x, weights=1.0):
        if not (isinstance(weights, float) and weights == 1.0):
            x = x * weights
        if self.reduction == "mean":
            return ops.mean(x)
        if self.reduction == "sum":
            return ops.sum(x)
        return x

    def construct(self, logits, labels):
        raise NotImplementedError(f"{type(self).__name__} must define construct(logits, labels).{where()}")

    def extend_repr(self):
        return f"reduction={self.reduction}"


class SoftmaxCrossEntropyWithLogits(LossBase):
    """Cross entropy between softmax(logits) and the labels, per sample: ``-sum(labels * log_softmax(logits), -1)``.

    ``sparse=True``: labels are class indices of shape (N,) (int32/int64) instead of (N, C) distributions.
    ``reduction`` defaults to 'none' (a loss per sample).
    """

    def __init__(self, sparse=False, reduction="none"):
        super().__init__(reduction)
        self.sparse = bool(sparse)

    def construct(self, logits, labels):
        if self.sparse:
            loss = ops.sparse_softmax_cross_entropy(logits, labels)
        else:
            if labels.shape != logits.shape:
                raise ValueError(f"SoftmaxCrossEntropyWithLogits: labels {labels.dtype}{list(labels.shape)} must "
                                 f"have the shape of logits {logits.dtype}{list(logits.shape)} when sparse=False."
                                 f"{where()}")
            loss = ops.neg(ops.sum(labels * ops.log_softmax(logits, -1), -1))
        return self.get_loss(loss)

    def extend_repr(self):
        return f"sparse={self.sparse}, reduction={self.reduction}"


class MSELoss(LossBase):
    """Mean squared error: reduction of ``(logits - labels)²`` (broadcasting)."""

    def construct(self, logits, labels):
        return self.get_loss(ops.square(logits - labels))


class L1Loss(LossBase):
    """Mean absolute error: reduction of ``|logits - labels|`` (broadcasting)."""

    def construct(self, logits, labels):
        return self.get_loss(ops.abs(logits - labels))
