"""Training workflow (MindSpore's ``mindspore.train``): ``Model``, callbacks, metrics and checkpoints.

>>> from mindlab.train import Model, LossMonitor, ModelCheckpoint, CheckpointConfig, History, EarlyStopping
"""
from .metrics import (Metric, Accuracy, Loss, MAE, MSE, TopKCategoricalAccuracy, Top1CategoricalAccuracy,
                      Top5CategoricalAccuracy, get_metric_fn, names)
from .callback import (Callback, CallbackManager, RunContext, InternalCallbackParam, LossMonitor, TimeMonitor,
                       History, ProgressBar, CheckpointConfig, ModelCheckpoint, EarlyStopping)
from .serialization import save_checkpoint, load_checkpoint, load_param_into_net, CheckpointError
from .model import Model, WithEvalCell
from ..amp import (LossScaleManager, FixedLossScaleManager, DynamicLossScaleManager, build_train_network)
from . import callback, metrics, serialization

__all__ = ["Model", "WithEvalCell", "Metric", "Accuracy", "Loss", "MAE", "MSE", "TopKCategoricalAccuracy",
           "Top1CategoricalAccuracy", "Top5CategoricalAccuracy", "get_metric_fn", "names", "Callback",
           "CallbackManager", "RunContext", "InternalCallbackParam", "LossMonitor", "TimeMonitor", "History",
           "ProgressBar", "CheckpointConfig", "ModelCheckpoint", "EarlyStopping", "save_checkpoint",
           "load_checkpoint", "load_param_into_net", "CheckpointError", "LossScaleManager", "FixedLossScaleManager",
           "DynamicLossScaleManager", "build_train_network"]
