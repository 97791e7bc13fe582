"""Training callbacks (MindSpore's ``mindspore.train`` callbacks)."""
from ._callback import Callback, CallbackManager, RunContext, InternalCallbackParam
from ._monitor import LossMonitor, TimeMonitor, History, ProgressBar
from ._checkpoint import CheckpointConfig, ModelCheckpoint
from ._early_stop import EarlyStopping

__all__ = ["Callback", "CallbackManager", "RunContext", "InternalCallbackParam", "LossMonitor", "TimeMonitor",
           "History", "ProgressBar", "CheckpointConfig", "ModelCheckpoint", "EarlyStopping"]
