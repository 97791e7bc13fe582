"""Layers: dense, convolution, pooling, normalization, embedding, activations, dropout."""
from . import activation
from .activation import *  # noqa: F401,F403
from .basic import Dense, Flatten, Dropout
from .conv import Conv2d
from .pooling import MaxPool2d, AvgPool2d
from .normalization import BatchNorm2d, LayerNorm
from .embedding import Embedding

__all__ = activation.__all__ + ["Dense", "Flatten", "Dropout", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d",
                                "LayerNorm", "Embedding"]
