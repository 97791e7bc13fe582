"""``Callback`` (the hooks Model.train / eval / fit call), ``RunContext`` and the manager that runs a list of them.

Every hook receives a ``RunContext``; ``run_context.original_args()`` is the ``InternalCallbackParam`` (a dict
with attribute access) holding the run's state: ``train_network``, ``network``, ``optimizer``, ``loss_fn``,
``epoch_num``, ``batch_num``, ``cur_epoch_num``, ``cur_step_num``, ``net_outputs``, ``train_dataset``,
``train_dataset_element``, ``mode`` ("train" / "eval"), ``eval_results``, ... . ``run_context.request_stop()``
ends training after the current step.
"""
from contextlib import ExitStack

__all__ = ["Callback", "CallbackManager", "RunContext", "InternalCallbackParam"]

_HOOKS = ("on_train_begin", "on_train_epoch_begin", "on_train_step_begin", "on_train_step_end", "on_train_epoch_end",
          "on_train_end", "on_eval_begin", "on_eval_epoch_begin", "on_eval_step_begin", "on_eval_step_end",
          "on_eval_epoch_end", "on_eval_end")


class Callback:
    """Base of callbacks. Override the ``on_train_*`` / ``on_eval_*`` hooks; the older names ``begin``,
    ``epoch_begin``, ``epoch_end``, ``step_begin``, ``step_end`` and ``end`` are called by both the training and
    the evaluation hooks of the same stage (as in MindSpore). Callbacks are context managers entered for the run.
    """

    def __enter__(self):
        return self

    def __exit__(self, *err):
        """Release resources here if any."""

    # the older hooks, shared by training and evaluation
    def begin(self, run_context):
        """Called once before the run (training or evaluation)."""

    def epoch_begin(self, run_context):
        """Called before each epoch."""

    def epoch_end(self, run_context):
        """Called after each epoch."""

    def step_begin(self, run_context):
        """Called before each step."""

    def step_end(self, run_context):
        """Called after each step."""

    def end(self, run_context):
        """Called once after the run."""

    # training
    def on_train_begin(self, run_context):
        self.begin(run_context)

    def on_train_epoch_begin(self, run_context):
        self.epoch_begin(run_context)

    def on_train_epoch_end(self, run_context):
        self.epoch_end(run_context)

    def on_train_step_begin(self, run_context):
        self.step_begin(run_context)

    def on_train_step_end(self, run_context):
        self.step_end(run_context)

    def on_train_end(self, run_context):
        self.end(run_context)

    # evaluation
    def on_eval_begin(self, run_context):
        self.begin(run_context)

    def on_eval_epoch_begin(self, run_context):
        self.epoch_begin(run_context)

    def on_eval_epoch_end(self, run_context):
        self.epoch_end(run_context)

    def on_eval_step_begin(self, run_context):
        self.step_begin(run_context)

    def on_eval_step_end(self, run_context):
        self.step_end(run_context)

    def on_eval_end(self, run_context):
        self.end(run_context)


def _make_dispatch(hook):
    def dispatch(self, run_context):
        for cb in self._callbacks:
            getattr(cb, hook)(run_context)
    dispatch.__name__ = hook
    dispatch.__doc__ = f"Calls ``{hook}`` of every callback, in order."
    return dispatch


class CallbackManager(Callback):
    """Runs a list of callbacks in order (``callbacks``: None, a Callback or a list of them). Entering it enters
    each callback's context."""

    def __init__(self, callbacks):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        elif isinstance(callbacks, (list, tuple)):
            for cb in callbacks:
                if not isinstance(cb, Callback):
                    raise TypeError(f"callbacks: every element must be a Callback, got {type(cb).__name__}")
            callbacks = list(callbacks)
        else:
            raise TypeError(f"callbacks must be a Callback or a list of Callbacks, got {type(callbacks).__name__}")
        self._callbacks = callbacks
        self._stack = None

    def __enter__(self):
        if self._stack is None:
            self._stack = ExitStack().__enter__()
            entered = []
            for cb in self._callbacks:
                target = self._stack.enter_context(cb)
                entered.append(target if isinstance(target, Callback) else cb)
            self._callbacks = entered
        return self

    def __exit__(self, *err):
        stack, self._stack = self._stack, None
        return stack.__exit__(*err) if stack is not None else False

    for _hook in ("begin", "epoch_begin", "epoch_end", "step_begin", "step_end", "end") + _HOOKS:
        locals()[_hook] = _make_dispatch(_hook)
    del _hook


class InternalCallbackParam(dict):
    """The run's state handed to callbacks: a dict whose keys are also attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"the callback parameters have no {key!r}; available: {sorted(self)}") from None

    def __setattr__(self, key, value):
        self[key] = value


class RunContext:
    """What callbacks receive: ``original_args()`` (the run's state) and ``request_stop()``."""

    def __init__(self, original_args):
        if not isinstance(original_args, dict):
            raise TypeError(f"RunContext: original_args must be a dict, got {type(original_args).__name__}")
        self._original_args = original_args
        self._stop_requested = False

    def original_args(self):
        """The run's state (``InternalCallbackParam``): cur_epoch_num, cur_step_num, net_outputs, ..."""
        return self._original_args

    def request_stop(self):
        """Stop training after the current step (the end hooks still run)."""
        self._stop_requested = True

    def get_stop_requested(self):
        return self._stop_requested
