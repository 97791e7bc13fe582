"""Native programs: a straight-line CPU graph compiled as *one* numba function.

The executor (runtime/executor.py) runs a graph as generated Python, one kernel call per node. Between two kernels
that costs Python: measured on the GRAPH_MODE MLP train step, the 26 calls' Python ran 3-4x slower inside the step
than in a loop (after each GEMM the interpreter's code and data are out of the caches), about a quarter of the
step. When every node of a graph has a ``native`` rule (``ops.registry``), this module writes the graph as the
source of one ``@njit`` function instead — the same straight-line program, each line the expression the node's
rule emits (calls of kernels/cpu/native.py, the fused loops of kernels/cpu/fused.py, MKL's GEMM) — so a step is
one call from Python.

Scope: CPU; nodes are primitives with a native rule, ``make_tuple`` and ``tuple_getitem``; no control flow, no
print, no debug_nans checks; values are arrays, or scalars for 0-d values. ``build`` returns None otherwise and
the executor runs the graph. The source is cached on disk like fused kernels (kernels/cpu/kernel_cache.py), so
another process loads the machine code; the cache folder's salt hashes every source file the program calls into.

At run time the wrapper checks what numba cannot (the arrays an effect writes must be writeable and C-contiguous)
and otherwise runs the Python program. A kernel check that fails inside (a label out of range) stops the native
call; when no effect node ran before that node, the step runs again through the Python program, which raises the
full error (naming the op, the shapes and the user's line); otherwise a MindlabError names the node.
``MINDLAB_NATIVE=0`` turns native programs off.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numba
import numpy as np

from ..errors import MindlabError
from ..ir.anf import Constant, Param, MAKE_TUPLE, TUPLE_GETITEM, AbstractTuple
from ..ops.registry import Primitive
from ..kernels.cpu import fused as _fused
from ..kernels.cpu import kernel_cache as _kernel_cache
from ..kernels.cpu import mkl as _mkl

__all__ = ["build", "explain", "settle", "NativeProgram", "NativeProgramWarning", "Emit", "enabled"]


class NativeProgramWarning(UserWarning):
    """A graph that looked compilable as a native program was not; it runs through the executor."""

_KERNEL_DIR = Path(_kernel_cache.__file__).parent


def enabled():
    return os.environ.get("MINDLAB_NATIVE", "1") not in ("0", "")


def _salt():
    files = sorted(_KERNEL_DIR.glob("*.py")) + [Path(__file__)]
    return "native-" + hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


_SALT = []


class Emit:
    """What a native rule writes with: ``use(fn)`` makes a compiled function callable by a local name (it must be
    importable by ``fn.__module__`` / ``fn.__name__``); ``line(text)`` adds a statement before the node's value;
    ``fresh()`` names a temporary."""

    def __init__(self):
        self.imports = {}       # local name -> (module, attribute)
        self.lines = []
        self.node_id = None     # the node whose rule runs now
        self._n = 0

    def use(self, fn):
        module, attr = fn.__module__, getattr(fn, "__name__", None) or fn.py_func.__name__
        local = f"_{module.rsplit('.', 1)[-1]}_{attr}"
        self.imports[local] = (module, attr)
        return local

    def line(self, text):
        self.lines.append(text)

    def fresh(self):
        self._n += 1
        return f"t{self._n}"


def _literal(value):
    """Numba source for a scalar (0-d) constant of a kernel dtype, exactly; None for anything else. Scalars are
    written into the program (fewer arguments to dispatch per call)."""
    v = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None
    if v is None or v.shape != () or v.dtype not in _fused.SUPPORTED_DTYPES:
        return None
    name = _fused.scalar_type_name(v.dtype)
    if v.dtype.kind == "f":
        x = float(v)
        if not np.isfinite(x):
            return f"np.{name}({'np.nan' if np.isnan(x) else ('np.inf' if x > 0 else '-np.inf')})"
        return f"np.{name}({x!r})"
    if v.dtype.kind == "b":
        return f"np.bool_({bool(v)})"
    return f"np.{name}({int(v)})"


def _scalar_value(value):
    """A constant as the program takes it: a 0-d one as a scalar (numpy scalar keeps the dtype), an array one
    C-contiguous (a folded transpose is a strided view, and the generated code reshapes its operands)."""
    if not isinstance(value, np.ndarray):
        return value
    return value[()] if value.ndim == 0 else np.ascontiguousarray(value)


def build(graph):
    """A NativeProgram for ``graph``, or None when some node has no native rule for its operands."""
    return _build(graph)[0]


def explain(graph):
    """Why ``graph`` does not run as a native program (None when it does)."""
    return _build(graph, dry=True)[1]


def _build(graph, dry=False):
    """(NativeProgram or None, the reason when None)."""
    if not enabled():
        return None, "MINDLAB_NATIVE=0"
    if _mkl.jit_callers() is None:     # the rules call MKL's GEMM from compiled code
        return None, "MKL's compiled callers are not available (kernels/cpu/mkl_jit.py)"
    names, consts, em = {}, [], Emit()
    written = set()              # params an effect writes in place: checked writeable / contiguous per call
    first_effect = None
    for k, p in enumerate(graph.params):
        names[id(p)] = f"a{k}"

    def ref(node):
        literal = _literal(node.value)
        if literal is None:           # an array constant: an argument of the program
            literal = f"c{len(consts)}"
            consts.append(_scalar_value(node.value))
        names[id(node)] = literal

    for idx, n in enumerate(graph.nodes):
        op = n.op
        for i in n.inputs:
            if isinstance(i, Constant) and id(i) not in names:
                ref(i)
        try:
            args = [names[id(i)] for i in n.inputs]
        except KeyError:
            return None, f"node %{n.id} uses a free variable"   # the executor reports it
        var = f"v{idx}"                 # by position: the same graph built again has the same source
        if op is MAKE_TUPLE:
            em.line(f"{var} = ({', '.join(args)}{',' if len(args) == 1 else ''})")
        elif op is TUPLE_GETITEM:
            em.line(f"{var} = {args[0]}[{int(n.attrs['index'])}]")
        elif isinstance(op, Primitive) and (op.native is not None or op.fuse is not None):
            avals = [i.abstract for i in n.inputs]
            if any(isinstance(a, AbstractTuple) for a in avals):
                return None, f"{op.name} (node %{n.id}) takes a tuple"
            em.node_id = idx                # what a failing check reports (NativeStop)
            expr = None
            if _dtypes_ok(avals, n.abstract):
                for rule in (op.native, _elementwise(op) if op.fuse is not None else None):
                    expr = rule(em, args, avals, n.abstract, **n.attrs) if rule is not None else None
                    if expr is not None:    # the op's own rule, else (an elementwise op) a loop over its fuse rule
                        break
            if expr is None:
                return None, f"{op.name} (node %{n.id}): its native rule does not take {_describe(avals, n.attrs)}"
            em.line(f"{var} = {expr}")
            if op.effect:
                first_effect = idx if first_effect is None else first_effect
                positions = getattr(op, "writes", None) or (0,)
                for pos in positions:
                    src = n.inputs[pos]
                    if not isinstance(src, Param) or src.abstract.shape == ():   # the executor handles those
                        return None, f"{op.name} (node %{n.id}) writes an intermediate or 0-d value"
                    written.add(graph.params.index(src))
        elif isinstance(op, Primitive):
            return None, f"{op.name} (node %{n.id}) has no native rule"
        else:
            return None, f"node %{n.id} is {getattr(op, 'name', op)!s} (control flow, a call or print)"
        names[id(n)] = var
    if graph.output is None or id(graph.output) not in names:
        return None, "the graph has no computed output"
    if dry:
        return None, None
    params = ", ".join([f"a{k}" for k in range(len(graph.params))] + [f"c{k}" for k in range(len(consts))])
    imports = "".join(f"from {m} import {a} as {local}\n" for local, (m, a) in sorted(em.imports.items()))
    body = "".join(f"    {l}\n" for l in em.lines)
    source = (f"# mindlab native program\nimport numpy as np\nimport numba\n"
              f"from mindlab.kernels.cpu.fused import NAMESPACE as _NAMESPACE\nglobals().update(_NAMESPACE)\n"
              f"{imports}\n\n"
              f"def program({params}):\n{body}    return {names[id(graph.output)]}\n\n\n"
              f"program = numba.njit(nogil=True, cache=True, error_model='numpy')(program)\n")
    scalars = [k for k, p in enumerate(graph.params) if p.abstract.shape == ()]
    return NativeProgram(graph, source, consts, sorted(written), _safe_stops(graph, first_effect), scalars), None


def _elementwise(op):
    """The native rule of an elementwise op without its own: a loop over the output computing the op's ``fuse``
    expression (the scalar code fused kernels use); operands of the output's shape or 0-d."""
    def rule(em, args, avals, out, **attrs):
        if isinstance(out, AbstractTuple) or any(a.shape not in (out.shape, ()) for a in avals):
            return None
        dts = [a.dtype.np for a in avals]
        if any(dt not in _fused.SUPPORTED_DTYPES for dt in dts + [out.dtype.np]):
            return None
        cast = _fused.scalar_type_name(out.dtype.np)
        if out.shape == ():               # scalars: the expression itself
            expr = _fused.render(op, [_fused.FuseArg(a, dt) for a, dt in zip(args, dts)], out.dtype.np, attrs)
            return None if expr is None else f"{cast}({expr})"
        t = em.fresh()
        operands = []
        for k, (a, aval, dt) in enumerate(zip(args, avals, dts)):
            if aval.shape == ():
                operands.append(_fused.FuseArg(a, dt))
            else:
                em.line(f"{t}_in{k} = {a}.reshape(-1)")
                operands.append(_fused.FuseArg(f"{t}_in{k}[_i]", dt))
        expr = _fused.render(op, operands, out.dtype.np, attrs)
        if expr is None:
            return None
        em.line(f"{t} = np.empty({tuple(out.shape)!r}, np.{cast})")
        em.line(f"{t}_flat = {t}.reshape(-1)")
        em.line(f"for _i in range({t}_flat.size):")
        em.line(f"    {t}_flat[_i] = {cast}({expr})")
        return t
    return rule


def _describe(avals, attrs):
    shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in avals)
    return f"({shapes})" + (f" with {attrs}" if attrs else "")


def _dtypes_ok(avals, out):
    outs = out.elements if isinstance(out, AbstractTuple) else (out,)
    return all(a.dtype.np.char != "e" for a in list(avals) + list(outs))    # no float16 arithmetic in numba


def _safe_stops(graph, first_effect):
    """Positions of the nodes before the first effect: a check failing there may re-run the step through the
    executor."""
    return set(range(len(graph.nodes) if first_effect is None else first_effect))


_COMPILING = []      # threads compiling native programs now
CHILD_TIMEOUT_S = 1800
_CACHE_IMPORT = re.compile(r"^from (" + re.escape(_kernel_cache._PACKAGE) + r"\.\w+) import ", re.M)


def _type_spec(t):
    """A numba argument type as JSON for the child (arrays and scalars: all a program takes), or None."""
    if isinstance(t, numba.types.Array):
        return ["array", str(t.dtype), t.ndim, t.layout, not t.mutable]
    if isinstance(t, (numba.types.Number, numba.types.Boolean)):
        return ["scalar", str(t)]
    return None


def _build_in_child(source, sig):
    """Compile the program module ``source`` for argument types ``sig`` in a child process
    (``python -m mindlab.runtime.native_build``), which leaves the machine code in the disk cache. Returns whether it
    did, and why not (compile here instead): the cache is off, a type cannot be described, or the child failed
    (the end of what it printed)."""
    specs = [_type_spec(t) for t in sig]
    path = _kernel_cache.write_source(source, _SALT[0])
    if path is None or any(s is None for s in specs):
        return False, "disk cache off" if path is None else f"argument types {sig}"
    try:      # the cache modules it imports (fused kernels), by file: the child registers them first
        deps = [sys.modules[m].__file__ for m in _CACHE_IMPORT.findall(source)]
    except (KeyError, AttributeError) as exc:
        return False, f"a kernel module it imports is not loaded here ({exc})"
    env = dict(os.environ, MINDLAB_NUMBA_WARMUP="0", MINDLAB_NATIVE_AFTER="0")
    cmd = [sys.executable, "-m", "mindlab.runtime.native_build", str(path), _SALT[0], json.dumps(specs), *deps]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return done.returncode == 0, (done.stdout + done.stderr)[-2000:]


def settle(timeout=None):
    """Wait for the native programs being compiled in the background (a benchmark's steady state); returns True
    when none is left."""
    for t in list(_COMPILING):
        t.join(timeout)
    return not any(t.is_alive() for t in _COMPILING)


def after():
    """Calls a graph makes through the executor before its native program, not yet in the disk cache, is compiled
    (``MINDLAB_NATIVE_AFTER``, default 100; 0 compiles at the first call, in the calling thread)."""
    return int(os.environ.get("MINDLAB_NATIVE_AFTER", "100"))


class NativeProgram:
    """``program(*arrays)`` like executor.Program, running the graph as one compiled function.

    Compiling costs seconds (5-13 s measured for an MLP / LeNet train step from a cold cache: LLVM optimises the
    program with every kernel it calls linked in), loading it from the disk cache tens of milliseconds. So a program
    whose machine code is cached runs natively from its first call; any other runs through the executor until it
    has been called ``after()`` times — most graphs (tests, one-off cells) never get there — and is then compiled
    aside while the executor keeps serving calls: in a child process when the disk cache is usable (see
    ``_compile_aside``), else in a thread here; the next call after that uses it, and every later process loads it
    from the cache."""

    def __init__(self, graph, source, consts, written, safe_stops, scalars):
        from .executor import Program
        self.graph, self.source, self.consts, self.written = graph, source, tuple(consts), written
        self.scalars = scalars              # 0-d parameters, passed as scalars
        self.safe_stops = safe_stops
        self.fallback = Program(graph)     # runs calls the native function cannot take, and reports errors
        out = graph.output.abstract
        self._dtypes = tuple(a.dtype.np for a in out.elements) if isinstance(out, AbstractTuple) else out.dtype.np
        self.calls = {"native": 0, "python": 0}
        self.state = "waiting"             # waiting | compiling | ready | failed
        self._last_arrays, self._last_args = None, None
        self.fn = None
        self.compiled_in = "here"          # here (at a call) | child (a child process) | thread (a thread here)
        self.child_said = None
        if not _SALT:
            _SALT.append(_salt())
        self._cached = _kernel_cache.has_machine_code(source, "program", _SALT[0])

    def _dispatcher(self):
        """The program's dispatcher: from the disk cache's module when usable (written there now), else in memory."""
        fn = _kernel_cache.load_kernel(self.source, "program", _SALT[0])
        if fn is None:
            ns = {}
            exec(compile(self.source.replace("cache=True", "cache=False"), f"<mindlab native {self.graph.name}>",
                         "exec"), ns)
            fn = ns["program"]
        return fn

    def _compile(self, sig):
        try:
            fn = self._dispatcher()
            fn.compile(sig)
        except Exception as exc:   # noqa: BLE001 (any failure leaves the executor in charge, said once)
            self.state = "failed"
            warnings.warn(f"mindlab native program {self.graph.name} could not be compiled ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); it runs through the executor", NativeProgramWarning, stacklevel=2)
            return
        self.fn = fn
        self.state = "ready"

    def _start(self, args):
        sig = tuple(numba.typeof(a) for a in args)
        if self._cached or after() <= 0:
            self._compile(sig)
        else:
            self.state = "compiling"
            t = threading.Thread(target=self._compile_aside, args=(sig,), name="mindlab-native-compile", daemon=True)
            _COMPILING[:] = [c for c in _COMPILING if c.is_alive()] + [t]
            t.start()

    def _compile_aside(self, sig):
        """The background compile: in a child process when it can (then loaded here from the disk cache, tens of
        ms), else here. Why a process: numba holds one compiler lock per process for a whole compile (5-13 s for a
        train step), so compiling in a thread here stalled every other numba compile this process needed meanwhile
        (a new shape's fused kernel in the user's next cell waited for it, up to a minute before native_rules'
        broadcast loops). The child has its own lock and
        runs at a lower CPU priority (nice 10), taking the time the training leaves."""
        ok, self.child_said = _build_in_child(self.source, sig)
        self.compiled_in = "child" if ok else "thread"
        self._compile(sig)

    def _unexpected(self, exc, arrays):
        """The native function failed in a way its checks do not know. When the program updates nothing in place,
        the executor runs this call and every later one (its result, or the op's own error), said once; otherwise
        parameters may be half updated, so the error says so."""
        if self.written:
            raise MindlabError(f"native program {self.graph.name} failed ({type(exc).__name__}: {exc}) and may have "
                               f"updated parameters in place; re-run with MINDLAB_NATIVE=0") from exc
        self.fn, self.state = None, "failed"
        warnings.warn(f"mindlab native program {self.graph.name} failed at run time ({type(exc).__name__}: "
                      f"{str(exc)[:200]}); it runs through the executor from now on", NativeProgramWarning,
                      stacklevel=3)
        return self._python(arrays)

    def _python(self, arrays):
        self.calls["python"] += 1
        return self.fallback(*arrays)

    def __call__(self, *arrays):
        last = self._last_arrays
        if last is not None and len(last) == len(arrays) and all(a is b for a, b in zip(arrays, last)):
            args = self._last_args   # the same array objects as the last call (a training loop's parameters)
        else:
            for k in self.written:
                a = arrays[k]
                if not (a.flags.writeable and a.flags.c_contiguous):
                    return self._python(arrays)
            args = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]
            for k in self.scalars:
                args[k] = args[k][()]
            args += self.consts
            if not self.scalars:               # a 0-d parameter's value is read each call
                self._last_arrays, self._last_args = arrays, args
        if self.fn is None:
            if self.state == "waiting" and (self._cached or self.calls["python"] >= after()):
                self._start(args)
            if self.fn is None:
                return self._python(arrays)
        try:
            out = self.fn(*args)
        except numba.core.errors.NumbaError:   # arrays numba will not take for this program (made read-only since)
            self._last_arrays = None
            return self._python(arrays)
        except ValueError as exc:
            if len(exc.args) != 2 or exc.args[0] != "NativeStop":
                return self._unexpected(exc, arrays)
            at = exc.args[1]
            if at in self.safe_stops:
                return self._python(arrays)     # raises the op's own error (nothing was written yet)
            node = self.graph.nodes[at]
            raise MindlabError(f"native program {self.graph.name}: {node.op.name} (node %{node.id}) stopped after "
                               f"parameters were updated in place (re-run with MINDLAB_NATIVE=0 for the op's full "
                               f"error)") from None
        except Exception as exc:     # noqa: BLE001 (a fault of the generated program, not of the user's input)
            return self._unexpected(exc, arrays)
        self.calls["native"] += 1
        if isinstance(self._dtypes, tuple):
            return tuple(_fix(o, d) for o, d in zip(out, self._dtypes))
        return _fix(out, self._dtypes)


def _fix(value, dt):
    if value.__class__ is np.ndarray and value.dtype is dt:
        return value
    return np.asarray(value, dtype=dt)
