"""Optimizers: Optimizer (the base), SGD, Momentum, Adam, AdamWeightDecay."""
from .optimizer import Optimizer
from .sgd import SGD
from .momentum import Momentum
from .adam import Adam, AdamWeightDecay

__all__ = ["Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay"]
