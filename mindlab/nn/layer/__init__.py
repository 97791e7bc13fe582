"""Layers: dense, convolution, pooling, normalization, embedding, activations, dropout."""
from .activation import ReLU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax, get_activation
from .basic import Dense, Flatten, Dropout
from .conv import Conv2d
from .pooling import MaxPool2d, AvgPool2d
from .normalization import BatchNorm2d, LayerNorm
from .embedding import Embedding

__all__ = ["ReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "get_activation", "Dense", "Flatten",
           "Dropout", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "LayerNorm", "Embedding"]
