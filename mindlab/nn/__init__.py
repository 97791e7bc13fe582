"""Neural-network building blocks (MindSpore's ``mindspore.nn``): ``Cell`` and its containers, layers, losses,
optimizers and the training wrappers.

>>> from mindlab import nn
>>> net = nn.SequentialCell([nn.Dense(64, 128), nn.ReLU(), nn.Dense(128, 10)])
>>> loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
>>> train = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), nn.Adam(net.trainable_params(), 1e-3))
"""
from .cell import Cell, SequentialCell, CellList
from .layer import (ReLU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax, get_activation, Dense, Flatten, Dropout, Conv2d,
                    MaxPool2d, AvgPool2d, BatchNorm2d, LayerNorm, Embedding)
from .loss import LossBase, SoftmaxCrossEntropyWithLogits, MSELoss, L1Loss
from .optim import Optimizer, SGD, Momentum, Adam, AdamWeightDecay
from .learning_rate_schedule import LearningRateSchedule
from .wrap import WithLossCell, TrainOneStepCell
from . import layer, loss, optim, wrap

__all__ = ["Cell", "SequentialCell", "CellList", "ReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "get_activation", "Dense", "Flatten", "Dropout", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d",
           "LayerNorm", "Embedding", "LossBase", "SoftmaxCrossEntropyWithLogits", "MSELoss", "L1Loss", "Optimizer",
           "SGD", "Momentum", "Adam", "AdamWeightDecay", "LearningRateSchedule", "WithLossCell", "TrainOneStepCell"]
