"""mindlab: a notebook-first deep-learning framework in the spirit of MindSpore.

>>> import mindlab as ms
>>> from mindlab import nn, ops, Tensor, Parameter, context
"""
from . import dtype, errors
from .dtype import (bool_, int8, uint8, int16, int32, int64, float16, float32, float64)
from . import context
from .context import GRAPH_MODE, PYNATIVE_MODE, set_context, get_context
from .tensor import Tensor, Parameter, ParameterTuple
from . import ops
from .autodiff.grad import grad, value_and_grad, GradOperation
from .common.seed import set_seed, get_seed
from . import nn
from .frontend.jit import jit
from .parallel.context import (ParallelMode, set_auto_parallel_context, get_auto_parallel_context,
                               reset_auto_parallel_context)
from . import communication
from . import dataset, amp, train
from .train import Model, save_checkpoint, load_checkpoint, load_param_into_net

__version__ = "0.1.0"

# The GRAPH_MODE compiler's own modules (passes, executor, graph autodiff, fusion code generator) are loaded here
# rather than by the first compiled call, which should be parse + compile + run (measured: ~0.09 s of imports where
# Python compiles sources, PYTHONDONTWRITEBYTECODE being set on the machines this runs on).
from .passes import pipeline as _pipeline           # noqa: E402,F401
from .runtime import executor as _executor          # noqa: E402,F401
from .autodiff import graph_grad as _graph_grad     # noqa: E402,F401
from .parallel import auto as _parallel_auto        # noqa: E402,F401
from .kernels.cpu import warmup as _warmup   # noqa: E402
_warmup.start()     # numba's and MKL's one-time set-up, here rather than in the first compiled call


def load_ipython_extension(ipython):
    """``%load_ext mindlab``: the ``%mindlab`` line magic and ``%%graph`` / ``%%pynative`` cell magics
    (``mindlab.jupyter.magics``)."""
    from .jupyter import load_ipython_extension as load
    load(ipython)


__all__ = ["Tensor", "Parameter", "ParameterTuple", "context", "set_context", "get_context", "GRAPH_MODE",
           "PYNATIVE_MODE", "ops", "nn", "jit", "errors", "grad", "value_and_grad", "GradOperation", "set_seed", "get_seed",
           "dtype", "dataset", "amp", "train", "Model", "save_checkpoint", "load_checkpoint",
           "load_param_into_net", "set_auto_parallel_context", "get_auto_parallel_context",
           "reset_auto_parallel_context", "ParallelMode", "communication", "bool_", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64"]
