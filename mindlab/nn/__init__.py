"""Neural-network building blocks (MindSpore's ``mindspore.nn``): ``Cell`` and its containers, layers, losses,
optimizers and the training wrappers.

>>> from mindlab import nn
>>> net = nn.SequentialCell([nn.Dense(64, 128), nn.ReLU(), nn.Dense(128, 10)])
>>> loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
>>> train = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), nn.Adam(net.trainable_params(), 1e-3))
"""
from .cell import Cell, SequentialCell, CellList
from .layer import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .optim import Optimizer, SGD, Momentum, Adam, AdamWeightDecay
from .learning_rate_schedule import LearningRateSchedule
from .wrap import WithLossCell, TrainOneStepCell
from . import layer, loss, optim, wrap

__all__ = ["Cell", "SequentialCell", "CellList"] + layer.__all__ + loss.__all__ + [
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "LearningRateSchedule", "WithLossCell",
    "TrainOneStepCell"]


# Metrics, the evaluation cell and the loss-scale training cells live in mindlab.train / mindlab.amp (which import
# nn); MindSpore also offers them as nn.Accuracy, nn.TrainOneStepWithLossScaleCell, ..., so they resolve lazily here.
_LAZY = {name: "mindlab.train.metrics" for name in ("Metric", "Accuracy", "Loss", "MAE", "MSE",
                                                     "TopKCategoricalAccuracy", "Top1CategoricalAccuracy",
                                                     "Top5CategoricalAccuracy", "get_metric_fn")}
_LAZY.update({name: "mindlab.amp" for name in ("TrainOneStepWithLossScaleCell", "DynamicLossScaleUpdateCell",
                                               "FixedLossScaleUpdateCell")})
_LAZY["WithEvalCell"] = "mindlab.train.model"


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mindlab.nn' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)
