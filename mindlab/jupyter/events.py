"""A tiny publish/subscribe channel for what the framework does, for notebook tools (``%mindlab inspect``, the
JupyterLab Inspector panel).

The framework calls ``publish(kind, **payload)`` at a few points:

* ``"compile"`` — at the end of ``frontend.jit.Compiled.__init__``: ``compiled`` (the ``Compiled``: graph as
  parsed, optimized graph, pass log, program).
* ``"grad"`` — in ``autodiff.graph_grad.run_graph_grad`` after compiling a gradient transform: ``compiled`` and
  ``function`` (the ``GradFunction``).
* ``"plan"`` — in ``parallel.auto`` when a GRAPH_MODE call under a parallel auto-parallel context made a new plan:
  ``plan`` (the ``ParallelPlan``: every op's strategy, its alternatives and why), ``program`` (the
  ``ParallelProgram``) and ``target`` (the name of the Cell or function).

``publish`` returns at once when no one subscribed, so the hooks cost one list check. A subscriber that raises is
reported with a warning and does not break the compile that published the event.
"""
import time
import warnings
from dataclasses import dataclass, field

__all__ = ["Event", "publish", "subscribe", "unsubscribe", "subscribers"]

_subscribers = []


@dataclass
class Event:
    kind: str
    payload: dict = field(default_factory=dict)
    time: float = 0.0      # time.time() when published


def subscribe(fn):
    """Call ``fn(event)`` for every published event (from now on); returns ``fn``."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn):
    """Stop calling ``fn``; no error when it was not subscribed."""
    if fn in _subscribers:
        _subscribers.remove(fn)


def subscribers():
    return list(_subscribers)


def publish(kind, **payload):
    """Send an event to every subscriber; nothing happens (and nothing is built) when there is none."""
    if not _subscribers:
        return
    event = Event(kind, payload, time.time())
    for fn in list(_subscribers):
        try:
            fn(event)
        except Exception as err:   # a tool's bug must not break the user's program
            warnings.warn(f"mindlab event subscriber {getattr(fn, '__qualname__', fn)!r} failed on {kind!r}: "
                          f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=2)
