"""Loss functions."""
from .loss import LossBase, SoftmaxCrossEntropyWithLogits, MSELoss, L1Loss

__all__ = ["LossBase", "SoftmaxCrossEntropyWithLogits", "MSELoss", "L1Loss"]
