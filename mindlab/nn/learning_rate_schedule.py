"""``LearningRateSchedule``: the base of learning-rate schedules that optimizers call once per step."""
from ..errors import where
from .cell import Cell

__all__ = ["LearningRateSchedule"]


class LearningRateSchedule(Cell):
    """A learning rate that depends on the step: subclasses define ``construct(global_step)`` (an int32 Tensor of
    shape (1,)) returning the rate (a Tensor or a float). Pass an instance as an optimizer's ``learning_rate``."""

    def construct(self, global_step):
        raise NotImplementedError(f"{type(self).__name__} must define construct(global_step).{where()}")
