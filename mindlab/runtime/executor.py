"""The executor: a closed, optimized graph becomes a *linear kernel program* — straight-line Python generated
from the graph (one line per node calling its kernel), compiled once with ``compile()``. Control flow nodes call
the programs of their branch / loop graphs (the small VM). Buffers are released as soon as their last user has
run (``del``), so peak memory follows liveness rather than graph size.
"""
import functools
import linecache
import os

import numpy as np

from .. import context as _context
from .. import device as _device
from .. import debug_nans as _debug_nans
from .. import errors as _errors
from ..errors import MindlabError
from ..ir.anf import Constant, Param, Graph, MAKE_TUPLE, TUPLE_GETITEM, IF, WHILE, PRINT, AbstractTuple
from ..ops.registry import Primitive
from ..autodiff.graph_grad import WHILE_GRAD, WHILE_GRAD_GRAD

_ndarray = np.ndarray


def _fix(value, dt):
    """Kernel results to the inferred dtype (numpy's promotion sometimes differs from MindSpore's)."""
    if value.__class__ is _ndarray and value.dtype is dt:
        return value
    return np.asarray(value, dtype=dt)


def _fix_gpu(value, dt):
    """GPU kernel results to the inferred dtype, as device arrays (never copied to the host)."""
    return _device.coerce(value, dt)


class Program:
    """An executable for one closed graph: ``program(*arrays) -> tuple/array``."""

    def __init__(self, graph, device=None):
        self.graph = graph
        self.device = device or _context.get_context("device_target")
        self.debug_nans = _debug_nans.ENABLED   # checks are generated in (the compile cache keys on the flag)
        self.source, self.fn = self._generate()

    def __call__(self, *args):
        try:
            return self.fn(*args)
        except Exception as exc:
            _locate_in_graph(exc, self)
            raise

    # ------------------------------------------------------------------ code generation
    def _generate(self):
        g = self.graph
        names = {}
        gpu = self.device == "GPU"
        consts = {"_fix": _fix_gpu if gpu else _fix}
        lines = []
        for k, p in enumerate(g.params):
            names[id(p)] = f"a{k}"
        last_use = {}
        for idx, n in enumerate(g.nodes):
            for i in n.inputs:
                last_use[id(i)] = idx
        out_ids = {id(g.output)} if g.output is not None else set()

        def ref(node):
            if isinstance(node, Constant):
                key = f"c{node.id}"
                value = node.value
                if gpu and isinstance(value, np.ndarray):   # constants move to the device once, at build
                    value = _device.to_device(value)
                consts[key] = value
                return key
            try:
                return names[id(node)]
            except KeyError:
                raise MindlabError(f"executor: graph {g.name} uses node %{node.id} that is neither its parameter "
                                   f"nor computed in it (free variables must be lifted first)") from None

        self.node_at_line = {}     # line of the generated source -> the node it runs (for errors: the user's line)
        for idx, n in enumerate(g.nodes):
            first = len(lines)
            var = f"v{n.id}"
            names[id(n)] = var
            args = ", ".join(ref(i) for i in n.inputs)
            op = n.op
            if isinstance(op, Primitive):
                impl = op.impl.get(self.device)
                if impl is None:
                    raise MindlabError(f"{op.name}: no kernel for device_target={self.device!r}")
                kname = f"k{n.id}"
                consts[kname] = functools.partial(impl, **n.attrs) if n.attrs else impl
                if isinstance(n.abstract, AbstractTuple):
                    consts[f"d{n.id}"] = tuple(a.dtype.np for a in n.abstract.elements)
                    lines.append(f"{var} = tuple(_fix(o, d) for o, d in zip({kname}({args}), d{n.id}))"
                                 f"{_note(n)}")
                else:
                    consts[f"d{n.id}"] = n.abstract.dtype.np
                    lines.append(f"{var} = _fix({kname}({args}), d{n.id}){_note(n)}")
                if self.debug_nans:   # name the first node whose output has a NaN (or inf from finite inputs)
                    consts[f"nan{n.id}"] = _debug_nans.NodeCheck(n, isinstance(n.abstract, AbstractTuple))
                    lines.append(f"nan{n.id}({var}{', ' if args else ''}{args})")
            elif op is MAKE_TUPLE:
                lines.append(f"{var} = ({args}{',' if len(n.inputs) == 1 else ''})")
            elif op is TUPLE_GETITEM:
                lines.append(f"{var} = {args}[{n.attrs['index']}]")
            elif op is IF:
                then_p, else_p = Program(n.attrs["then_graph"], self.device), Program(n.attrs["else_graph"],
                                                                                     self.device)
                consts[f"t{n.id}"], consts[f"e{n.id}"] = then_p, else_p
                cond, rest = ref(n.inputs[0]), ", ".join(ref(i) for i in n.inputs[1:])
                lines.append(f"{var} = t{n.id}({rest}) if {cond} else e{n.id}({rest}){_note(n)}")
            elif op is WHILE:
                consts[f"w{n.id}"] = _While(n, self.device)
                lines.append(f"{var} = w{n.id}({args}){_note(n)}")
            elif op is WHILE_GRAD:
                consts[f"w{n.id}"] = _WhileGrad(n, self.device)
                lines.append(f"{var} = w{n.id}({args}){_note(n)}")
            elif op is WHILE_GRAD_GRAD:
                consts[f"w{n.id}"] = _WhileGradGrad(n, self.device)
                lines.append(f"{var} = w{n.id}({args}){_note(n)}")
            elif op is PRINT:
                consts[f"p{n.id}"] = _Print(n.attrs["template"], n.attrs.get("sep", " "))
                lines.append(f"{var} = p{n.id}({args})")
            elif isinstance(op, Graph):
                consts[f"g{n.id}"] = Program(op, self.device)
                lines.append(f"{var} = g{n.id}({args}){_note(n)}")
            else:
                raise MindlabError(f"executor: unknown operation {op!r}")
            dead = [names[id(i)] for i in n.inputs if not isinstance(i, Constant) and last_use.get(id(i)) == idx
                    and id(i) not in out_ids and not isinstance(i, Param)]
            if dead:
                lines.append("del " + ", ".join(dict.fromkeys(dead)))
            for k in range(first, len(lines)):
                self.node_at_line[k + 2] = n       # line 1 is the def
        lines.append(f"return {ref(g.output)}")
        params = ", ".join(f"a{k}" for k in range(len(g.params)))
        src = f"def program({params}):\n" + "\n".join("    " + l for l in lines) + "\n"
        self.filename = f"<mindlab program {g.name}>"
        # tracebacks and numpy's warnings quote the generated line, whose comment names the op and the user's line
        linecache.cache[self.filename] = (len(src), None, src.splitlines(True), self.filename)
        code = compile(src, self.filename, "exec")
        ns = dict(consts)
        exec(code, ns)   # our own generated code: kernel calls between the graph's values
        return src, ns["program"]


def _note(node):
    """The comment closing a node's line in the generated source: its op and the user's line it came from."""
    src = node.source
    where = f" <- {os.path.basename(str(src.file))}:{src.line}" if src is not None else ""
    name = getattr(node.op, "name", type(node.op).__name__)
    return f"   # {name}{where}".replace("\n", " ").replace("\r", " ")


def _locate_in_graph(exc, program):
    """An error raised while ``program`` ran a node: point it at the node's line in the user's function. Kernels word
    their errors with ``where()``, which names the caller of the compiled function (generated programs are not the
    user's code); this replaces that line with the node's own source line when the node comes from the user's code
    (not from mindlab's layers) and sets ``exc.source``. Nested programs (branches, loop bodies) see the error
    first, so the innermost node's line wins."""
    if getattr(exc, "_graph_located", False):
        return
    try:
        exc._graph_located = True
    except AttributeError:       # an exception type without an instance dict: leave it as it is
        return
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == program.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    info = getattr(program.node_at_line.get(line), "source", None)
    fr = _errors.user_frame(3)
    caller = _errors.Source(*fr) if fr is not None else None
    if info is None or not _errors.is_user_file(str(info.file)):
        if getattr(exc, "source", None) is None:
            exc.source = caller
        return
    src = _errors.Source.of(info)
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        msg = exc.args[0]
        if caller is not None and msg.endswith(caller.tail):
            msg = msg[:-len(caller.tail)]
        called = (f"\n  (in the compiled {info.function or program.graph.name}, called at {caller.file}:{caller.line})"
                  if caller is not None else "")
        exc.args = (msg + src.tail + called,)
    if getattr(exc, "source", None) in (None, caller):
        exc.source = src


class _While:
    """``while`` node: carry = init; while cond(carry, captures): carry = body(carry, captures)."""

    def __init__(self, node, device):
        self.cond = Program(node.attrs["cond_graph"], device)
        self.body = Program(node.attrs["body_graph"], device)
        self.n_caps = node.attrs.get("captures", 0)
        self.record = node.attrs.get("record", False)

    def __call__(self, *values):
        n = len(values) - self.n_caps
        carry, caps = tuple(values[:n]), tuple(values[n:])
        if self.record:   # differentiated loop: keep every iteration's carried values for the backward loop
            stack = []
            while self.cond(*carry, *caps):
                stack.append(carry)
                carry = self.body(*carry, *caps)
            return carry + (stack,)
        while self.cond(*carry, *caps):
            carry = self.body(*carry, *caps)
        return carry


def _add(xs, ys):
    return tuple(a + b for a, b in zip(xs, ys))


class _WhileGrad:
    """Backward of a recorded ``while``: run the differentiated body over the iterations in reverse."""

    def __init__(self, node, device):
        self.body_grad = Program(node.attrs["body_grad"], device)
        self.n_carry, self.n_caps = node.attrs["n_carry"], node.attrs["n_caps"]
        self.stack_cot = node.attrs.get("stack_cot", False)

    def __call__(self, stack, *rest):
        if self.stack_cot:   # second order: each recorded state's own cotangent joins the carried gradient
            rest, cot = rest[:-1], rest[-1]
        caps, dcarry = rest[:self.n_caps], tuple(rest[self.n_caps:])
        dcaps = tuple(np.zeros_like(c) for c in caps)
        for i in range(len(stack) - 1, -1, -1):
            out = self.body_grad(*stack[i], *caps, *dcarry)
            dcarry = tuple(out[:self.n_carry])
            dcaps = _add(dcaps, out[self.n_carry:])
            if self.stack_cot:
                dcarry = _add(dcarry, cot[i])
        return dcarry + dcaps


class _WhileGradGrad:
    """The VJP of ``while_grad``: rerun the backward loop to recover each iteration's incoming carried gradient,
    then sweep the iterations forward through the twice-differentiated body, passing the carried gradients'
    cotangent from one iteration to the next and collecting the captures' cotangent and each recorded state's."""

    def __init__(self, node, device):
        self.body_grad = Program(node.attrs["body_grad"], device)
        self.body_grad_grad = Program(node.attrs["body_grad_grad"], device)
        self.n_carry, self.n_caps = node.attrs["n_carry"], node.attrs["n_caps"]

    def __call__(self, stack, *rest):
        nc, nk = self.n_carry, self.n_caps
        caps, dcarry, bars = rest[:nk], tuple(rest[nk:nk + nc]), rest[nk + nc:]
        abar, ebar = tuple(bars[:nc]), tuple(bars[nc:])
        incoming = [None] * len(stack)          # incoming[i]: the carried gradient iteration i received
        for i in range(len(stack) - 1, -1, -1):
            incoming[i] = dcarry
            dcarry = tuple(self.body_grad(*stack[i], *caps, *dcarry)[:nc])
        cbar = tuple(np.zeros_like(c) for c in caps)
        stack_cot = []
        for i in range(len(stack)):
            out = self.body_grad_grad(*stack[i], *caps, *incoming[i], *abar, *ebar)
            stack_cot.append(tuple(out[:nc]))
            cbar = _add(cbar, out[nc:nc + nk])
            abar = tuple(out[nc + nk:])
        return abar + cbar + (stack_cot,)


class _Print:
    def __init__(self, template, sep):
        self.template, self.sep = template, sep

    def __call__(self, *arrays):
        it = iter(arrays)
        print(self.sep.join(str(_device.host(next(it))) if t is None else t for t in self.template))
        return ()
