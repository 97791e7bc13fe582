"""The auto-parallel context applied to GRAPH_MODE calls.

With ``set_auto_parallel_context(parallel_mode="data_parallel" | "semi_auto_parallel" | "auto_parallel",
device_num=N)`` a Cell called in GRAPH_MODE (or a ``mindlab.jit`` function) is planned, lowered and run on N
devices instead of one: ``frontend.jit.JitFunction.__call__`` asks ``active()`` whether a parallel context applies
and hands the call to ``call()``.

* The ``ParallelProgram`` (plan + SPMD program) is cached in the JitFunction next to its compiled graphs, keyed by
  the call's signature and the context options that shape a plan; a second call with the same signature runs the
  cached program (``JitFunction.parallel_info()`` counts plans made and reused).
* Outside an SPMD job the N devices are the in-process ``sim`` backend (a notebook); inside one (``python -m
  mindlab.run -n N script.py`` after ``communication.init()``) this process runs its rank over MPI, and
  ``device_num`` must then equal the group size.
* The network's Parameters stay the source of truth: every call gives each device its slices of their current
  values, and a program that updates state (a training step) writes the updated weights and optimizer state back
  afterwards, so the network reads, saves and resumes like single-device training.
* Each new plan is published as a ``"plan"`` event (``mindlab.jupyter.events``) for the Inspector, and kept as
  ``Compiled.plan`` (``cell.compiled(...).plan``) and ``cell.parallel_plan``.

``parallel_mode="stand_alone"`` (the default), ``device_num=1`` and PYNATIVE_MODE run as before on one device.
"""
from .context import get_auto_parallel_context

__all__ = ["active", "call", "context_key"]

_KEYS = ("parallel_mode", "device_num", "search_mode", "gradients_mean", "memory_limit", "mesh_shape",
         "mesh_axis_names", "device_target_profile")


def context_key():
    """The context options a plan depends on, as a hashable tuple."""
    out = []
    for k in _KEYS:
        v = get_auto_parallel_context(k)
        if k == "device_target_profile" and v is not None and not isinstance(v, str):
            v = ("profile", id(v))
        out.append(v)
    return tuple(out)


def active():
    """The context key when calls should run distributed (a parallel mode on more than one device), else None.
    Under an initialized multi-rank communicator ``device_num`` must equal its size."""
    mode = get_auto_parallel_context("parallel_mode")
    if mode == "stand_alone":
        return None
    from .. import communication
    n = get_auto_parallel_context("device_num")
    if communication.is_initialized():
        size = communication.get_group_size()
        if size > 1 and n != size:
            raise ValueError(f"auto-parallel: device_num={n} but this job has {size} ranks "
                             f"(python -m mindlab.run -n {size}); set device_num={size} or leave it unset")
    if n <= 1:
        return None
    return context_key()


def _target(jitfn):
    from ..nn.cell import Cell
    return jitfn.self_obj if isinstance(jitfn.self_obj, Cell) else jitfn


def _updates_state(prog):
    return any(getattr(n.op, "effect", False) is True for n in prog.spmd.graph.nodes)


def program_for(jitfn, key, args, kwargs):
    """The cached ``ParallelProgram`` of this call (planned, lowered and published on a miss)."""
    from ..frontend.jit import signature
    from .execute import ParallelProgram
    from ..jupyter import events
    ckey = (signature(args, kwargs), key)
    prog = jitfn.parallel_cache.get(ckey)
    if prog is not None:
        jitfn.parallel_hits += 1
        return prog
    jitfn.plans += 1
    target = _target(jitfn)
    prog = ParallelProgram(target, *args, **kwargs)
    prog.updates_state = _updates_state(prog)
    jitfn.parallel_cache[ckey] = prog
    prog.plan.compiled.plan = prog.plan
    prog.plan.compiled.parallel = prog
    owner = jitfn.self_obj
    if owner is not None:
        owner.__dict__["_parallel_program"] = prog
    name = type(target).__name__ if target is not jitfn else jitfn.fn.__name__
    events.publish("plan", plan=prog.plan, program=prog, target=name)
    return prog


def call(jitfn, key, args, kwargs):
    """Run one call of ``jitfn`` distributed under the context ``key`` (from ``active()``)."""
    prog = program_for(jitfn, key, args, kwargs)
    prog._state.clear()                 # each device takes its slices of the Parameters' current values
    out = prog(*args, **kwargs)
    if prog.updates_state:
        prog.sync_parameters()
    return out
