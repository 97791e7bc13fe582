"""Training wrappers: WithLossCell, TrainOneStepCell."""
from .cell_wrapper import WithLossCell, TrainOneStepCell

__all__ = ["WithLossCell", "TrainOneStepCell"]
