"""The kernel side of the mindlab Inspector: while it is on (``%mindlab inspect on``), every compile, gradient
transform and pass pipeline run is recorded as it happens.

Each event becomes a record — a plain-JSON summary (what was compiled, its inputs, node counts, the pass table)
plus the ``Compiled`` it describes — and is

* sent to the JupyterLab Inspector panel when one is connected, and
* otherwise printed as one line into the output of the cell that caused it.

The connection is a comm with target ``mindlab.inspector``, opened by the kernel (``%mindlab inspect on``). The
panel answers ``{"request": "ready"}`` (from then on records go to it instead of the cell output); it can ask for a
record's graph JSON (``{"request": "graph", "seq": k, "stage": "graph" | "optimized"}``), ``clear`` the records,
or turn the inspector ``on`` / ``off``. A front end without the panel closes the comm, and printing goes on.
"""
import itertools

from . import events

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


def describe(record):
    """One line of text for a record (what ``%mindlab inspect on`` prints without a panel)."""
    s = record["summary"]
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

    # -------------------------------------------------------------------------------------------- on / off
    def start(self):
        events.subscribe(self._on_event)
        self.on = True
        self._send({"type": "status", "on": True})

    def stop(self):
        events.unsubscribe(self._on_event)
        self.on = False
        self._send({"type": "status", "on": False})

    # -------------------------------------------------------------------------------------------- events
    def _on_event(self, event):
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
        """The JSON part of a record (everything but the Compiled)."""
        return {k: v for k, v in record.items() if k != "compiled"}

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
        comm.send({"type": "hello", "protocol": PROTOCOL, "on": self.on,
                   "records": [self.public(r) for r in self.records]})

    def _forget(self, comm):
        for group in (self.comms, self.ready):
            if comm in group:
                group.remove(comm)

    def handle(self, comm, data):
        """Answer a panel's request: ``graph`` (a record's graph JSON), ``clear``, ``on`` / ``off``."""
        req = data.get("request") if isinstance(data, dict) else None
        if req == "ready":
            self._hello(comm)
        elif req == "graph":
            record = self.find(data.get("seq"))
            stage = data.get("stage", "optimized")
            if record is None or stage not in ("graph", "optimized"):
                comm.send({"type": "error", "request": data,
                           "message": f"no record {data.get('seq')!r} / stage {stage!r}"})
                return
            view = record["compiled"].views()[stage]
            comm.send({"type": "graph", "seq": record["seq"], "stage": stage, "doc": view.json()})
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
