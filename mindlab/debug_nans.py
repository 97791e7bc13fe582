"""NaN / overflow detection: ``set_context(debug_nans=True)``.

While on, every primitive's floating outputs are checked right after its kernel runs, in PyNative (the dispatcher)
and in GRAPH_MODE (the executor generates a check line after each node; fusion is skipped so each check names one
primitive). The first op that

* produces a NaN, or
* produces an inf from finite inputs (an overflow: ``exp(1000.0)``, ``1 / 0``),

raises ``FloatingPointError`` naming the op, its inputs' dtypes and shapes, its attributes and the user's source
line. An inf that came in (an inf input) is not reported again; a NaN is always reported, saying whether the
inputs already held one. Off (the default) costs nothing: the dispatcher tests one module flag, and compiled
programs carry no checks.
"""
import numpy as np

from . import context as _context

ENABLED = False   # mirrors context debug_nans (a module flag: the eager hot path reads one global)


def _on_context(state):
    global ENABLED
    ENABLED = bool(state.get("debug_nans", False))


_context._listeners.append(_on_context)
_on_context(_context._state)


def _host(a):
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "__cuda_array_interface__") or type(a).__module__.startswith("cupy"):
        from . import device
        return device.host(a)
    return np.asarray(a)


def _finite_state(a):
    """'nan', 'inf' or None (all finite, or not a floating array)."""
    a = _host(a)
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    if np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def _desc(a):
    a = _host(a)
    return f"{a.dtype}{list(a.shape)}"


def check(op_name, outs, ins, attrs, location):
    """Raise FloatingPointError when ``outs`` (arrays) hold a NaN, or an inf while every input in ``ins`` is finite.
    ``location`` is a callable giving the ' at FILE:LINE: TEXT' suffix (only evaluated on failure)."""
    bad = None
    for k, o in enumerate(outs):
        state = _finite_state(o)
        if state == "nan":
            bad = (k, state, o)
            break
        if state == "inf" and bad is None:
            bad = (k, state, o)
    if bad is None:
        return
    k, state, o = bad
    in_states = [_finite_state(i) for i in ins]
    if state == "inf" and any(s is not None for s in in_states):
        return   # an inf that came in: propagation, not an overflow here
    if "nan" in in_states:
        why = "from inputs that already contain NaN (they came from outside the program: data or a Parameter)"
    elif "inf" in in_states:
        why = "from inputs containing inf (no NaN among them)"
    else:
        why = "from finite inputs" + (" (an overflow)" if state == "inf" else "")
    what = "NaN" if state == "nan" else "inf"
    out_txt = f" output {k}" if len(outs) > 1 else ""
    attr_txt = (" with " + ", ".join(f"{a}={v!r}" for a, v in attrs.items())) if attrs else ""
    raise FloatingPointError(
        f"debug_nans: {op_name} produced {what} in its{out_txt or ' output'} ({_desc(o)}) {why}. "
        f"Inputs: ({', '.join(_desc(i) for i in ins)}){attr_txt}.{location()}")


def check_eager(prim, args, attrs, res):
    """The dispatcher's check after a kernel (``res``: a Tensor or a tuple of Tensors)."""
    from .errors import where
    outs = [r._data for r in res] if isinstance(res, tuple) else [res._data]
    check(prim.name, outs, [a._data for a in args], attrs, lambda: where())


class NodeCheck:
    """The executor's check after one graph node: ``chk(out, *inputs)``."""
    __slots__ = ("name", "attrs", "source", "multi")

    def __init__(self, node, multi):
        self.name, self.attrs, self.source, self.multi = node.op.name, node.attrs, node.source, multi

    def _where(self):
        s = self.source
        if s is None:
            return ""
        return f"\n  at {s.file}:{s.line}: {s.text}" if s.text else f"\n  at {s.file}:{s.line}"

    def __call__(self, out, *ins):
        check(self.name, list(out) if self.multi else [out], ins, self.attrs, self._where)
        return out
