"""IPython magics for mindlab (``%load_ext mindlab``).

Line magic ``%mindlab``::

    %mindlab graph | pynative      switch the global mode (GRAPH_MODE / PYNATIVE_MODE)
    %mindlab                       show the mode and whether the inspector is on
    %mindlab ir F [-o] [-s K]      F's compiled graph (as parsed; -o: after the passes)
    %mindlab grad F [-o] [-s K]    the gradient graph of F
    %mindlab passes F [-p NAME] [-s K]   the pass pipeline: a table, and the graph before/after each pass
    %mindlab code F [-s K]         what F runs: the generated program(s) and every fused kernel's source
    %mindlab plan NET              a parallel plan (a Plan, a planner result, a ParallelProgram, plan JSON)
    %mindlab inspect on | off      report every compile / gradient transform as it happens
    %mindlab toggle                a PyNative / Graph mode toggle (ipywidgets)
    %mindlab --help

Cell magics ``%%graph`` and ``%%pynative`` run one cell in that mode and restore the previous mode afterwards.

``F`` is any expression: a ``mindlab.jit`` function, a ``Cell`` (its ``construct``), a gradient function
(``ms.grad(...)`` / ``value_and_grad`` / ``GradOperation``) or a ``Compiled``. Graphs are displayed as
``GraphView``s: the JupyterLab extension draws their graph JSON; other front ends get SVG (with Graphviz) or text.
"""
import html
import json
import re
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from .. import context

HELP = __doc__[__doc__.index("Line magic"):__doc__.index("``F`` is any")].strip() + """

F is a mindlab.jit function, a Cell, a gradient function (ms.grad / value_and_grad / GradOperation) or a
Compiled, and must have been called (compiled) first. When F was compiled for several input signatures the
last one compiled is shown; -s K picks signature K (0 = first compiled)."""

MODES = {"graph": context.GRAPH_MODE, "pynative": context.PYNATIVE_MODE}


_OPTIONS = {   # option -> (destination, value pattern or None for a flag)
    "-o": ("optimized", None), "--optimized": ("optimized", None),
    "-s": ("signature", r"-?\d+"), "--signature": ("signature", r"-?\d+"),
    "-p": ("pass_name", r"[A-Za-z_][\w.]*"), "--pass": ("pass_name", r"[A-Za-z_][\w.]*"),
}


def parse_args(cmd, rest, allowed):
    """Split ``rest`` into options (from ``allowed``, at its start or end) and the expression in between, kept
    exactly as typed (quotes, brackets and spaces included). Returns (expression, {destination: value})."""
    opts = {}
    names = "|".join(re.escape(o) for o in sorted(_OPTIONS, key=len, reverse=True))
    text = rest.strip()
    while True:
        m = (re.match(rf"^({names})(?:(?:\s+|=)(\S+))?(?=\s|$)", text) or
             re.search(rf"(?:^|\s)({names})(?:(?:\s+|=)(\S+))?$", text))
        if m is None:
            break
        opt, value = m.group(1), m.group(2)
        dest, pattern = _OPTIONS[opt]
        if dest not in allowed:
            raise UsageError(f"%mindlab {cmd}: option {opt} does not apply here\n\n{HELP}")
        if pattern is None:
            if value is not None and m.start() == 0:       # a flag followed by the expression: keep that
                text = text[m.start(1) + len(opt):].strip()
            elif value is not None:
                raise UsageError(f"%mindlab {cmd}: {opt} takes no value, got {value!r}")
            else:
                text = (text[:m.start()] + text[m.end():]).strip()
            opts[dest] = True
            continue
        if value is None or not re.fullmatch(pattern, value):
            raise UsageError(f"%mindlab {cmd}: {opt} needs a value{' (an integer)' if dest == 'signature' else ''}")
        opts[dest] = int(value) if dest == "signature" else value
        text = (text[:m.start()] + text[m.end():]).strip()
    stray = re.match(r"^(--?[A-Za-z][\w-]*)(?=\s|$)", text) or re.search(r"(?:^|\s)(--?[A-Za-z][\w-]*)$", text)
    if stray:
        raise UsageError(f"%mindlab {cmd}: unknown option {stray.group(1)}\n\n{HELP}")
    if not text:
        raise UsageError(f"%mindlab {cmd} needs an expression (a jit function, Cell, gradient function...)"
                         f"\n\n{HELP}")
    for dest in allowed:
        opts.setdefault(dest, False if dest == "optimized" else None)
    return text, opts


def mode_text():
    mode = context.get_context("mode")
    what = ("Cells and jit functions compile to graphs" if mode == context.GRAPH_MODE
            else "ops run eagerly, one by one")
    return f"mindlab: {context.mode_name(mode)} ({what})"


# --------------------------------------------------------------------------------------------- finding graphs
def compiled_entries(obj, name="F"):
    """The ``Compiled`` specializations of ``obj``, oldest first; raises UsageError when ``obj`` cannot have
    any, or has none yet."""
    from ..autodiff.grad import GradFunction
    from ..frontend.jit import Compiled, JitFunction
    from ..nn.cell import Cell
    if isinstance(obj, Compiled):
        return [obj]
    if isinstance(obj, JitFunction):
        entries, how = list(obj.cache.values()), f"call {name}(...) once"
    elif isinstance(obj, Cell):
        fn = obj.__dict__.get("_jit_construct")
        entries = list(fn.cache.values()) if fn is not None else []
        how = f"call {name}(...) in GRAPH_MODE (%mindlab graph) or use {name}.compiled(...)"
    elif isinstance(obj, GradFunction):
        entries = list(obj.graph_cache.values())
        how = f"call {name}(...) once in GRAPH_MODE (%mindlab graph)"
    else:
        raise UsageError(f"%mindlab: {name} is a {type(obj).__name__}, not a mindlab.jit function, a Cell or a "
                         f"gradient function (ms.grad / value_and_grad / GradOperation)")
    if not entries:
        raise UsageError(f"%mindlab: {name} has not been compiled yet, so it has no graph: {how} first")
    return entries


def pick(entries, index, name):
    """Entry ``index`` (default: the last compiled)."""
    if index is None:
        return entries[-1]
    if not -len(entries) <= index < len(entries):
        raise UsageError(f"%mindlab: {name} has {len(entries)} compiled signature(s) (0..{len(entries) - 1}); "
                         f"-s {index} is not one of them")
    return entries[index]


def signature_text(compiled):
    """``x: Float32[2, 4], y: Float32[]`` — the non-weight inputs of a compiled graph."""
    from .inspector import _type_text
    return ", ".join(f"{p.name}: {_type_text(p.abstract)}" for p in compiled.graph.params if p.default is None)


def gradient_view(compiled, optimized=False):
    """A GraphView of the gradient of a (forward) compiled graph with respect to all its float inputs and
    weights: the graph is closed (free variables lifted, calls inlined), then differentiated by source
    transformation (what GRAPH_MODE's ``ms.grad`` does inside a compile)."""
    from ..autodiff.graph_grad import differentiate
    from ..ir.clone import clone
    from ..ir.views import GraphView
    from ..passes.closure import lift_free_variables
    from ..passes.dce import dce
    from ..passes.inline import inline
    from ..passes.pipeline import optimize
    closed = dce(inline(lift_free_variables(clone(compiled.graph))))
    G = differentiate(closed)
    if optimized:
        G, _ = optimize(G, record=False)
        return GraphView(G, "optimized", f"{G.name} (optimized)")
    return GraphView(G, "grad", G.name)


class PassTable:
    """The pass log as a table: text, and HTML (every string escaped)."""

    def __init__(self, title, log):
        self.title = title
        self.rows = [(r.name, r.nodes_before, r.nodes_after, r.changed) for r in log]

    def text(self):
        lines = [self.title, f"{'pass':22s} {'before':>6s} {'after':>6s}  changed"]
        lines += [f"{n:22s} {b:6d} {a:6d}  {'yes' if c else '-'}" for n, b, a, c in self.rows]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        cells = "".join(f"<tr><td>{html.escape(n)}</td><td>{b}</td><td>{a}</td><td>{'yes' if c else '&ndash;'}"
                        f"</td></tr>" for n, b, a, c in self.rows)
        table = (f"<b>{html.escape(self.title)}</b><table class='mindlab-pass-table'><thead><tr><th>pass</th>"
                 f"<th>nodes before</th><th>nodes after</th><th>changed</th></tr></thead><tbody>{cells}"
                 f"</tbody></table>")
        return {"text/plain": self.text(), "text/html": table}


# --------------------------------------------------------------------------------------------- plans
def plan_document(obj, name):
    """A validated plan JSON document from a Plan, a plan JSON dict, a path to a plan JSON file, a planner result
    (anything with ``to_plan()``), or an object carrying one of those (``obj.plan`` / ``obj.parallel_plan``, as a
    ``ParallelProgram`` does)."""
    from ..parallel.plan_json import Plan, PlanJSONError, validate_plan_json
    from ..nn.cell import Cell
    if isinstance(obj, Plan):
        return obj.to_json()
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if not path.is_file():
            raise UsageError(f"%mindlab plan: {name}: no plan JSON file at {str(path)!r}")
        try:
            obj = json.loads(path.read_text())
        except ValueError as err:
            raise UsageError(f"%mindlab plan: {path} is not JSON: {err}") from None
    if isinstance(obj, dict):
        try:
            return validate_plan_json(obj)
        except PlanJSONError as err:
            raise UsageError(f"%mindlab plan: {name} is not a valid plan: {err}") from None
    to_plan = getattr(obj, "to_plan", None)        # a planner result (mindlab.parallel.planner's ParallelPlan)
    if callable(to_plan):
        return plan_document(to_plan(), f"{name}.to_plan()")
    for attr in ("plan", "parallel_plan"):          # something that carries one (a ParallelProgram)
        carried = getattr(obj, attr, None)
        if isinstance(carried, (Plan, dict)) or callable(getattr(carried, "to_plan", None)):
            return plan_document(carried, f"{name}.{attr}")
    if isinstance(obj, Cell):
        raise UsageError(f"%mindlab plan: {name} has no parallel plan: pass a Plan, a planner result "
                         f"(mindlab.parallel.planner.plan({name}, inputs...)), a ParallelProgram, a plan JSON dict "
                         f"or a .json file")
    raise UsageError(f"%mindlab plan: {name} is a {type(obj).__name__}, not a Plan, a plan JSON dict or file, "
                     f"or a Cell with a plan")


class PlanView:
    """A plan JSON document for display: the JupyterLab extension draws it; other front ends get the text."""

    def __init__(self, doc):
        self.doc = doc

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..parallel.plan_json import MIME, Plan
        return {MIME: self.doc, "text/plain": Plan.from_json(self.doc).summary()}


# --------------------------------------------------------------------------------------------- magics
@magics_class
class MindlabMagics(Magics):
    """``%mindlab`` and the ``%%graph`` / ``%%pynative`` cell magics."""

    @line_magic("mindlab")
    def mindlab(self, line):
        words = line.split(None, 1)
        if not words:
            from .inspector import get_inspector
            print(mode_text() + f"; inspector {'on' if get_inspector().on else 'off'}")
            return None
        cmd, rest = words[0], (words[1] if len(words) > 1 else "")
        if cmd in ("-h", "--help", "help"):
            print(HELP)
            return None
        if cmd in MODES:
            if rest:
                raise UsageError(f"%mindlab {cmd} takes no arguments, got {rest.strip()!r}")
            context.set_context(mode=MODES[cmd])
            print(mode_text())
            return None
        handler = {"ir": self._ir, "grad": self._grad, "passes": self._passes, "code": self._code, "plan": self._plan,
                   "inspect": self._inspect, "toggle": self._toggle}.get(cmd)
        if handler is None:
            raise UsageError(f"%mindlab: unknown command {cmd!r}\n\n{HELP}")
        return handler(rest)

    def _eval(self, expr, cmd):
        try:
            return self.shell.ev(expr), expr
        except Exception as err:
            raise UsageError(f"%mindlab {cmd}: cannot evaluate {expr!r}: {type(err).__name__}: {err}") from None

    def _entry(self, expr, signature, cmd):
        obj, expr = self._eval(expr, cmd)
        entries = compiled_entries(obj, expr)
        entry = pick(entries, signature, expr)
        if len(entries) > 1 and signature is None:
            print(f"{expr} was compiled for {len(entries)} input signatures; showing the last one "
                  f"({signature_text(entry)}); -s K picks another")
        return obj, expr, entry

    def _ir(self, words):
        expr, opts = parse_args("ir", words, ("optimized", "signature"))
        _, _, entry = self._entry(expr, opts["signature"], "ir")
        display(entry.views()["optimized" if opts["optimized"] else "graph"])

    def _code(self, words):
        expr, opts = parse_args("code", words, ("signature",))
        _, _, entry = self._entry(expr, opts["signature"], "code")
        display(entry.code())

    def _grad(self, words):
        from ..autodiff.grad import GradFunction
        from ..ir.views import GraphView, stage_kind
        expr, opts = parse_args("grad", words, ("optimized", "signature"))
        obj, _, entry = self._entry(expr, opts["signature"], "grad")
        optimized = opts["optimized"]
        if isinstance(obj, GradFunction) or stage_kind(entry.graph) == "grad":
            # already a gradient computation: its compiled graph is the gradient graph
            view = entry.views()["optimized"] if optimized else GraphView(entry.graph, "grad", entry.graph.name)
        else:
            view = gradient_view(entry, optimized)
        display(view)

    def _passes(self, words):
        from ..ir.views import pass_views
        expr, opts = parse_args("passes", words, ("pass_name", "signature"))
        pass_name = opts["pass_name"]
        _, expr, entry = self._entry(expr, opts["signature"], "passes")
        log = entry.pass_log
        names = [r.name for r in log]
        if pass_name is not None and pass_name not in names:
            raise UsageError(f"%mindlab passes: no pass {pass_name!r}; the pipeline ran: {', '.join(names)}")
        display(PassTable(f"Passes run on {entry.graph.name}({signature_text(entry)})", log))
        views = pass_views(log)
        if pass_name is not None:
            # one pass: its graph before and after
            k = names.index(pass_name)
            name, before, after = views[k]
            print(f"{name}: {log[k].nodes_before} -> {log[k].nodes_after} nodes"
                  + ("" if log[k].changed else " (no change)"))
            display(before)
            display(after)
            return
        # the whole pipeline: the graph before the first pass, then after each pass that changed it (the graph
        # after one pass is the graph before the next, so nothing is shown twice)
        changed = [k for k, r in enumerate(log) if r.changed]
        if not log:
            print("no passes ran")
            return
        print(f"before the passes: {log[0].nodes_before} nodes")
        display(views[0][1])
        if not changed:
            print("no pass changed the graph")
        for k in changed:
            print(f"after {log[k].name}: {log[k].nodes_before} -> {log[k].nodes_after} nodes")
            display(views[k][2])

    def _plan(self, words):
        expr, _ = parse_args("plan", words, ())
        obj, expr = self._eval(expr, "plan")
        display(PlanView(plan_document(obj, expr)))

    def _inspect(self, words):
        from .inspector import get_inspector
        if words.strip() not in ("on", "off"):
            raise UsageError("%mindlab inspect takes one argument: on or off")
        ins = get_inspector()
        if words.strip() == "on":
            ins.start()
            if not ins.ready:
                ins.open_comm()    # in JupyterLab with mindlab's extension, its Inspector panel takes the comm
            print("mindlab inspector on: every compile and gradient transform is reported in the mindlab "
                  "Inspector panel (JupyterLab, right sidebar) when it is open, else here in the cell output")
        else:
            ins.stop()
            print("mindlab inspector off")

    def _toggle(self, words):
        if words.strip():
            raise UsageError(f"%mindlab toggle takes no arguments, got {words.strip()!r}")
        from .widgets import mode_toggle
        display(mode_toggle())

    # ----------------------------------------------------------------------------------------- cell magics
    def _run_in(self, mode, cell):
        previous = context.get_context("mode")
        context.set_context(mode=mode)
        try:
            result = self.shell.run_cell(cell, store_history=False)
        finally:
            context.set_context(mode=previous)
        err = result.error_before_exec or result.error_in_exec
        if err is not None:    # shown above by the inner run; fail this cell too so "run all" stops here
            raise UsageError(f"the cell raised {type(err).__name__} (see above); the mode is back to "
                             f"{context.mode_name(previous)}")

    @cell_magic("graph")
    def graph(self, line, cell):
        """Run this cell in GRAPH_MODE, then restore the previous mode."""
        self._run_in(context.GRAPH_MODE, cell)

    @cell_magic("pynative")
    def pynative(self, line, cell):
        """Run this cell in PYNATIVE_MODE, then restore the previous mode."""
        self._run_in(context.PYNATIVE_MODE, cell)


def load_ipython_extension(ipython):
    ipython.register_magics(MindlabMagics)


def unload_ipython_extension(ipython):
    from .inspector import get_inspector
    get_inspector().stop()
