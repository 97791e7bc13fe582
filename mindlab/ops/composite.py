"""Composite operations (MindSpore's ``ops.composite``): GradOperation."""
from ..autodiff.grad import GradOperation

__all__ = ["GradOperation"]
