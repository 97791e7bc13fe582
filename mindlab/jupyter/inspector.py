"""The kernel side of the mindlab Inspector: while it is on (``%mindlab inspect on``), every compile, gradient
transform, pass pipeline run and auto-parallel plan choice is recorded as it happens.

Each event becomes a record — a plain-JSON summary (what was compiled, its inputs, node counts, the pass table)
plus the ``Compiled`` it describes — and is

* sent to the JupyterLab Inspector panel when one is connected, and
* otherwise printed as one line into the output of the cell that caused it.

Records are of four kinds: ``compile`` / ``grad`` (a ``Compiled``: its graphs and pass table), ``plan`` (an
auto-parallel plan chosen for a call: mesh, search mode, costs; its plan JSON on request), ``error`` (GRAPH_MODE
could not compile a function: the error and the user's source line — the "why didn't it compile" question) and
``profile`` (the Ascend ops a cell ran on the simulated AI core: cycles per op, busy cycles per pipe; one record
per cell, made when the cell ends).

The connection is a comm with target ``mindlab.inspector``, opened by the kernel (``%mindlab inspect on``). The
panel answers ``{"request": "ready"}`` (from then on records go to it instead of the cell output); it can ask for a
record's graph JSON (``{"request": "graph", "seq": k, "stage": "graph" | "optimized"}``; for a plan record
``"stage": "planned"``, the graph whose node ids its ops' ``node`` fields name) or plan JSON
(``{"request": "plan", "seq": k}``), ``clear`` the records, or turn the inspector ``on`` / ``off``. The kernel also
tells the panel the execution mode (``{"type": "mode", "mode": "GRAPH_MODE"}``) at hello and on every change. A
front end without the panel closes the comm, and printing goes on.
"""
import itertools

from . import events
from .. import context as _context

COMM_TARGET = "mindlab.inspector"
PROTOCOL = 1


def _type_text(abstract):
    from ..ir.graph_json import abstract_json
    from ..ir.dot import _type_text as text
    shape, dtype = abstract_json(abstract)
    return text(shape, dtype)


def summarize(compiled):
    """A plain-JSON summary of a ``Compiled``: name, inputs (name and type), weight count, node counts as
    parsed and optimized, and the pass table."""
    from ..passes.pipeline import count_nodes
    params = compiled.graph.params
    inputs = [{"name": str(p.name), "type": _type_text(p.abstract)} for p in params if p.default is None]
    return {
        "name": str(compiled.graph.name),
        "inputs": inputs,
        "weights": sum(1 for p in params if p.default is not None),
        "nodes": count_nodes(compiled.graph),
        "optimized_nodes": count_nodes(compiled.optimized),
        "passes": [{"name": r.name, "nodes_before": r.nodes_before, "nodes_after": r.nodes_after,
                    "changed": bool(r.changed)} for r in compiled.pass_log],
    }


def error_summary(function, exc):
    """A plain-JSON summary of a compile failure: the function, the error type and message (without its
    ``at FILE:LINE`` tail), and the user's source line — the ``source`` (``errors.Source``) that mindlab's errors
    carry; None when the error has none."""
    message = str(exc)
    src = getattr(exc, "source", None)
    source = None
    if src is not None:
        source = {"file": str(src.file), "line": int(src.line), "text": str(src.text or "")}
        for tail in (f"\n  at {src.file}:{src.line}: {src.text or ''}", f"\n  at {src.file}:{src.line}"):
            if tail in message:
                message = message.replace(tail, "", 1)
                break
    return {"name": str(function), "error": type(exc).__name__, "message": message.strip(), "source": source}


def plan_summary(plan, target):
    """A plain-JSON summary of an auto-parallel plan: what was planned, mode, search, mesh and modelled costs."""
    cost = getattr(plan, "cost", None) or {}
    mesh = getattr(plan, "mesh", None)
    return {"name": str(target), "parallel_mode": str(getattr(plan, "parallel_mode", "")),
            "search_mode": str(getattr(plan, "search_mode", "") or ""),
            "mesh": [int(n) for n in getattr(mesh, "shape", ())],
            "cost": {k: float(v) for k, v in cost.items() if isinstance(v, (int, float))},
            "ops": len(getattr(getattr(plan, "problem", None), "ops", ()) or ()),
            "choices": _plan_choices(plan)}


def _plan_choices(plan):
    """Every op's chosen strategy, why, and how many alternatives were weighed (a ParallelPlan; [] otherwise)."""
    if not hasattr(plan, "to_plan"):
        return []
    from ..parallel.plan_json import _strategy
    return [{"op": op.name, "id": op.id, "strategy": [list(d) for d in _strategy(op.strategy)], "why": op.reason,
             "alternatives": len(op.alternatives), "node": op.node} for op in plan.to_plan().ops.values()]


class _AscendTally:
    """Ascend op records (``kernels/ascend/sim.py`` OpRecords) summed per op and per pipe, for a profile record."""
    TOP = 25

    def __init__(self, time):
        self.time, self.ops, self.pipes, self.profile, self.kernels = time, {}, {}, "", 0

    def add(self, rec):
        calls, cycles, seconds = self.ops.get(rec.op, (0, 0.0, 0.0))
        self.ops[rec.op] = (calls + 1, cycles + float(rec.cycles), seconds + float(rec.seconds))
        for k in rec.kernels:
            self.kernels += 1
            self.profile = str(k.profile)
            for pipe, busy in k.busy.items():
                self.pipes[pipe] = self.pipes.get(pipe, 0.0) + float(busy)

    def summary(self):
        ranked = sorted(self.ops.items(), key=lambda kv: -kv[1][1])
        return {"name": f"Ascend ({self.profile})" if self.profile else "Ascend", "profile": self.profile,
                "ops": [{"op": op, "calls": n, "cycles": c, "seconds": t} for op, (n, c, t) in ranked[:self.TOP]],
                "more_ops": max(0, len(ranked) - self.TOP), "kernels": self.kernels,
                "calls": sum(n for n, _, _ in self.ops.values()),
                "cycles": sum(c for _, c, _ in self.ops.values()),
                "seconds": sum(t for _, _, t in self.ops.values()), "pipes": dict(self.pipes)}


def describe(record):
    """One line of text for a record (what ``%mindlab inspect on`` prints without a panel)."""
    s = record["summary"]
    if record["kind"] == "profile":
        return (f"[mindlab] #{record['seq']} {s['name']}: {s['calls']} op(s), {s['kernels']} kernel(s), "
                f"{s['cycles']:.0f} cycles = {s['seconds'] * 1e6:.1f} us simulated")
    if record["kind"] == "error":
        at = f" at {s['source']['file']}:{s['source']['line']}: {s['source']['text']}" if s["source"] else ""
        return f"[mindlab] #{record['seq']} could not compile {s['name']}: {s['error']}: {s['message']}{at}"
    if record["kind"] == "plan":
        c = s["cost"]
        return (f"[mindlab] #{record['seq']} planned {s['name']} on mesh {tuple(s['mesh'])} "
                f"({s['parallel_mode']}{', ' + s['search_mode'] if s['search_mode'] else ''}): modelled "
                f"{c.get('total', 0) * 1e6:.1f} us per step")
    args = ", ".join(f"{i['name']}: {i['type']}" for i in s["inputs"])
    what = (f"gradient of {record['function']}" if record["kind"] == "grad" else "compiled") + f" {s['name']}({args})"
    changed = [p["name"] for p in s["passes"] if p["changed"]]
    return (f"[mindlab] #{record['seq']} {what}: {s['nodes']} nodes as parsed -> {s['optimized_nodes']} after "
            f"{len(s['passes'])} passes" + (f" (changed: {', '.join(changed)})" if changed else " (none changed)"))


class Inspector:
    """Records framework events while on; feeds the panel (a comm) or prints a line per event."""

    def __init__(self, echo=print):
        self.on = False
        self.records = []            # newest last
        self._by_compiled = {}       # id(Compiled) -> record (a grad event refines the compile record before it)
        self._seq = itertools.count(1)
        self.comms = []              # open comms to front ends
        self.ready = []              # those of them with a panel that asked for the records
        self.echo = echo
        self._errors = set()         # ids of errors reported (a nested compile re-raises the same one)
        self._ascend = None          # Ascend ops run since the last profile record (an _AscendTally)
        _context._listeners.append(self._on_context)

    # -------------------------------------------------------------------------------------------- on / off
    def start(self):
        events.subscribe(self._on_event)
        self.on = True
        self._hook_cells(True)
        self._send({"type": "status", "on": True})

    def stop(self):
        events.unsubscribe(self._on_event)
        self.on = False
        self._hook_cells(False)
        self._send({"type": "status", "on": False})

    def _hook_cells(self, on):
        """In IPython, report the Ascend ops a cell ran as one profile record when the cell ends."""
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        registered = self.flush_profile in shell.events.callbacks.get("post_run_cell", [])
        if on and not registered:
            shell.events.register("post_run_cell", self.flush_profile)
        elif not on and registered:
            shell.events.unregister("post_run_cell", self.flush_profile)

    def flush_profile(self, *result):
        """Turn the Ascend ops recorded since the last flush into one ``profile`` record (simulated cycles per
        op and busy cycles per pipe); nothing when there were none."""
        pending, self._ascend = self._ascend, None
        if pending is not None:
            self._add("profile", pending.summary(), None, time=pending.time)

    def _on_context(self, state):
        """The execution mode changed (``%mindlab graph`` / ``set_context``): tell the panels."""
        self._send({"type": "mode", "mode": _context.mode_name(state["mode"])})

    # -------------------------------------------------------------------------------------------- events
    def _add(self, kind, summary, obj, function=None, time=0.0):
        record = {"seq": next(self._seq), "kind": kind, "function": function, "time": time, "summary": summary,
                  "compiled": obj}
        self.records.append(record)
        self._emit(record)
        return record

    def _on_event(self, event):
        if event.kind == "compile_error":
            exc = event.payload.get("error")
            if exc is None or id(exc) in self._errors:
                return
            self._errors.add(id(exc))
            self._add("error", error_summary(event.payload.get("function", "?"), exc), None, time=event.time)
            return
        if event.kind == "ascend_op":
            rec = event.payload.get("record")
            if rec is not None:
                if self._ascend is None:
                    self._ascend = _AscendTally(event.time)
                self._ascend.add(rec)
            return
        if event.kind == "plan":
            plan = event.payload.get("plan")
            if plan is not None:
                self._add("plan", plan_summary(plan, event.payload.get("target", "?")), plan, time=event.time)
            return
        compiled = event.payload.get("compiled")
        if compiled is None:
            return
        record = self._by_compiled.get(id(compiled))
        if event.kind == "grad" and record is not None and record["compiled"] is compiled:
            # the compile of a gradient transform was just reported: say what it was
            fn = event.payload.get("function")
            record["kind"] = "grad"
            target = getattr(fn, "fn", fn)      # what was differentiated: a function or a Cell
            record["function"] = str(getattr(target, "__name__", type(target).__name__))
            self._emit(record, update=True)
            return
        record = {"seq": next(self._seq), "kind": event.kind, "function": None, "time": event.time,
                  "summary": summarize(compiled), "compiled": compiled}
        self.records.append(record)
        self._by_compiled[id(compiled)] = record
        self._emit(record)

    def _emit(self, record, update=False):
        if self.ready:
            self._send({"type": "update" if update else "event", "record": self.public(record)})
        elif self.echo is not None:
            self.echo(f"[mindlab] #{record['seq']} was the gradient transform of {record['function']}" if update
                      else describe(record))

    @staticmethod
    def public(record):
        """The JSON part of a record (everything but the Compiled and the ParallelPlan)."""
        return {k: v for k, v in record.items() if k not in ("compiled", "parallel_plan")}

    def find(self, seq):
        for r in self.records:
            if r["seq"] == seq:
                return r
        return None

    # -------------------------------------------------------------------------------------------- comm
    def open_comm(self):
        """Open a comm to the front end (inside a Jupyter kernel only; a plain IPython shell has no front end).
        Returns the comm, or None."""
        try:
            from IPython import get_ipython
            from comm import create_comm
        except ImportError:
            return None
        shell = get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return None
        comm = create_comm(target_name=COMM_TARGET, data={"type": "open", "protocol": PROTOCOL})
        self.attach(comm, hello=False)
        return comm

    def attach(self, comm, hello=True):
        """Serve a comm: answer its requests; once its panel says ``ready``, send it the records so far and
        every new one."""
        self.comms.append(comm)

        @comm.on_msg
        def _recv(msg):
            self.handle(comm, msg["content"]["data"])

        @comm.on_close
        def _closed(msg):
            self._forget(comm)

        if hello:
            self._hello(comm)

    def _hello(self, comm):
        if comm not in self.ready:
            self.ready.append(comm)
        comm.send({"type": "hello", "protocol": PROTOCOL, "on": self.on, "mode": _context.mode_name(),
                   "records": [self.public(r) for r in self.records]})

    def _forget(self, comm):
        for group in (self.comms, self.ready):
            if comm in group:
                group.remove(comm)

    def handle(self, comm, data):
        """Answer a panel's request: ``graph`` (a record's graph JSON), ``plan`` (a plan record's plan JSON),
        ``clear``, ``on`` / ``off``."""
        req = data.get("request") if isinstance(data, dict) else None
        if req == "ready":
            self._hello(comm)
        elif req == "graph":
            record = self.find(data.get("seq"))
            stage = data.get("stage", "optimized")
            if record is not None and record["kind"] == "plan" and stage == "planned" and \
                    hasattr(record["compiled"], "graph_view"):
                # the graph a plan splits: its node ids are the plan JSON ops' "node" fields
                comm.send({"type": "graph", "seq": record["seq"], "stage": stage,
                           "doc": record["compiled"].graph_view().json()})
                return
            if record is None or record["kind"] not in ("compile", "grad") or stage not in ("graph", "optimized"):
                comm.send({"type": "error", "request": data,
                           "message": f"no record {data.get('seq')!r} / stage {stage!r}"})
                return
            view = record["compiled"].views()[stage]
            comm.send({"type": "graph", "seq": record["seq"], "stage": stage, "doc": view.json()})
        elif req == "plan":
            record = self.find(data.get("seq"))
            if record is None or record["kind"] != "plan":
                comm.send({"type": "error", "request": data, "message": f"no plan record {data.get('seq')!r}"})
                return
            comm.send({"type": "plan", "seq": record["seq"], "doc": record["compiled"].to_json()})
        elif req == "clear":
            self.records.clear()
            self._by_compiled.clear()
            comm.send({"type": "cleared"})
        elif req in ("on", "off"):
            self.start() if req == "on" else self.stop()
        else:
            comm.send({"type": "error", "request": data, "message": f"unknown request {req!r}"})

    def _send(self, msg):
        for comm in list(self.ready):
            try:
                comm.send(msg)
            except Exception:       # a closed front end: forget it
                self._forget(comm)


_INSPECTOR = []


def get_inspector():
    """The kernel's one Inspector."""
    if not _INSPECTOR:
        _INSPECTOR.append(Inspector())
    return _INSPECTOR[0]
