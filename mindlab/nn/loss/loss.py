"""Losses: LossBase (the reduction), SoftmaxCrossEntropyWithLogits, MSELoss, L1Loss, and cells around the
``ops`` functional losses with MindSpore's names (SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, NLLLoss,
CrossEntropyLoss, KLDivLoss, SoftMarginLoss, MarginRankingLoss, PoissonNLLLoss, TripletMarginLoss)."""
from ... import ops
from ...errors import where
from ..cell import Cell

__all__ = ["LossBase", "SoftmaxCrossEntropyWithLogits", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss", "KLDivLoss", "SoftMarginLoss", "MarginRankingLoss",
           "PoissonNLLLoss", "TripletMarginLoss"]

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


class _Functional(LossBase):
    """A loss cell around the ``ops`` function ``fn``: ``construct(*inputs)`` is ``fn(*inputs, **kwargs,
    reduction=reduction)``."""
    fn = None

    def __init__(self, reduction="mean", **kwargs):
        super().__init__(reduction)
        self.kwargs = kwargs

    def construct(self, *inputs):
        return self.fn(*inputs, reduction=self.reduction, **self.kwargs)

    def extend_repr(self):
        return ", ".join([f"reduction={self.reduction}"] + [f"{k}={v!r}" for k, v in self.kwargs.items()
                                                            if not hasattr(v, "shape")])


class SmoothL1Loss(_Functional):
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (``d = logits - labels``). MindSpore's
    default reduction is 'none'."""
    fn = staticmethod(ops.smooth_l1_loss)

    def __init__(self, beta=1.0, reduction="none"):
        super().__init__(reduction, beta=beta)


class HuberLoss(_Functional):
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``."""
    fn = staticmethod(ops.huber_loss)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction, delta=delta)


class BCELoss(_Functional):
    """Binary cross entropy of probabilities ``logits`` against ``labels`` (``weight`` rescales each element)."""
    fn = staticmethod(ops.binary_cross_entropy)

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction, weight=weight)


class BCEWithLogitsLoss(_Functional):
    """Binary cross entropy of ``sigmoid(logits)``, computed stably; ``pos_weight`` weighs the positives."""
    fn = staticmethod(ops.binary_cross_entropy_with_logits)

    def __init__(self, reduction="mean", weight=None, pos_weight=None):
        super().__init__(reduction, weight=weight, pos_weight=pos_weight)


class NLLLoss(_Functional):
    """Negative log likelihood of log-probabilities (N, C) at integer labels (N,), with class ``weight`` and
    ``ignore_index``."""
    fn = staticmethod(ops.nll_loss)

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index)


class CrossEntropyLoss(_Functional):
    """Cross entropy of logits (N, C) against class indices (N,) or probabilities (N, C), with class ``weight``,
    ``ignore_index`` and ``label_smoothing``."""
    fn = staticmethod(ops.cross_entropy)

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)


class KLDivLoss(_Functional):
    """Kullback-Leibler divergence of log-probabilities ``logits`` from ``labels`` (reduction 'batchmean' too)."""
    fn = staticmethod(ops.kl_div)

    def __init__(self, reduction="mean", log_target=False):
        if reduction == "batchmean":   # (LossBase checks the three common reductions)
            super().__init__("mean", log_target=log_target)
            self.reduction = "batchmean"
        else:
            super().__init__(reduction, log_target=log_target)


class SoftMarginLoss(_Functional):
    """``log(1 + exp(-labels * logits))`` for labels in {-1, 1}."""
    fn = staticmethod(ops.soft_margin_loss)


class MarginRankingLoss(_Functional):
    """``max(0, -target * (input1 - input2) + margin)``."""
    fn = staticmethod(ops.margin_ranking_loss)

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction, margin=margin)


class PoissonNLLLoss(_Functional):
    """Poisson negative log likelihood (``log_input``: the input is the log-rate; ``full``: Stirling's term)."""
    fn = staticmethod(ops.poisson_nll_loss)

    def __init__(self, log_input=True, full=False, eps=1e-8, reduction="mean"):
        super().__init__(reduction, log_input=log_input, full=full, eps=eps)


class TripletMarginLoss(_Functional):
    """``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` with the ``p``-norm distance."""
    fn = staticmethod(ops.triplet_margin_loss)

    def __init__(self, p=2, swap=False, eps=1e-6, reduction="mean", margin=1.0):
        super().__init__(reduction, margin=margin, p=p, eps=eps, swap=swap)
