"""``mindlab.jit``: compile a function (or a Cell's construct) to a graph once per input signature and run the
compiled program. The compile cache is keyed by (function, self object, input signature); ``cache_info()`` counts
hits and misses. Under a parallel ``set_auto_parallel_context`` a call is planned and run on the device mesh
instead (``mindlab.parallel.auto``); those programs are cached here too (``parallel_info()``)."""
import functools
import hashlib
import types

import numpy as np

from .. import context as _context
from .. import device as _device
from ..tensor import Tensor, Parameter, _wrap
from .parser import Compiler, flatten, NAMES_READ
from ..ir.builder import _captured
from ..nn.cell import STRUCTURE as _STRUCTURE, MODES as _MODES, compiled_cells as _compiled_cells, \
    modes_of as _modes_of
from ..jupyter import events as _events


def signature(args, kwargs):
    """Hashable description of a call: tensors by shape/dtype, Parameters by identity, the rest by value."""
    def key(v):
        if isinstance(v, Parameter):
            return ("P", id(v))
        if isinstance(v, Tensor):
            return ("T", v.shape, v.dtype.name)
        if isinstance(v, (tuple, list)):
            return (type(v).__name__,) + tuple(key(x) for x in v)
        if isinstance(v, dict):
            return ("dict",) + tuple((k, key(x)) for k, x in v.items())   # in order: the order its leaves bind
        if isinstance(v, np.ndarray):   # a compile-time constant: keyed by its values (an id would go stale when
            a = np.ascontiguousarray(v)  # the array is changed in place or freed and its id reused)
            return ("nd", a.shape, a.dtype.str, hashlib.blake2b(a.view(np.uint8).data, digest_size=16).digest()) \
                if a.dtype.kind != "O" else ("id", id(v))
        try:
            hash(v)
            return ("S", type(v).__name__, v)
        except TypeError:
            return ("id", id(v))
    # (and the version of the compiled Cells' structure: a Parameter or sub-Cell replaced since means a new program)
    return tuple(key(a) for a in args) + tuple((k, key(v)) for k, v in sorted(kwargs.items())) + (_STRUCTURE[0],)


_UNSET = object()
_SCALARS = (bool, int, float, complex, str, bytes)


class CompileCache(dict):
    """Compiled programs by (call key, id): ``find(key)`` returns the first one for ``key`` still valid — its cells'
    modes hold (a network compiled in training and in evaluation mode keeps both programs) and the tensors it took
    as constants are unchanged (a stale program is dropped)."""

    def __init__(self):
        super().__init__()
        self._by_key = {}

    def find(self, key):
        entries = self._by_key.get(key)
        if entries:
            for entry in list(entries):
                state = entry.state()
                if state is True:
                    return entry
                if state == "stale":
                    entries.remove(entry)
                    del self[(key, id(entry))]
        return None

    def add(self, key, entry):
        """Store ``entry`` for ``key``, dropping programs built before a Cell's structure changed (no key of
        theirs can come again)."""
        for old_key, old in list(self.items()):
            if old.structure != _STRUCTURE[0]:
                del self[old_key]
                self._by_key[old_key[0]].remove(old)
        self._by_key.setdefault(key, []).append(entry)
        self[(key, id(entry))] = entry
        return entry


class Compiled:
    """One specialization: the graph as parsed, the optimized graph, the program, and how to call it."""

    def __init__(self, name, build):
        from ..passes.pipeline import optimize
        from ..runtime.executor import Program
        compiler = Compiler(name)
        _captured.append([])
        NAMES_READ.append({})
        try:
            with _compiled_cells() as cells:
                self.graph, self.leaves, self.rebuild = build(compiler)
        finally:
            captured = _captured.pop()
            self.names_read = list(NAMES_READ.pop().values())   # checked before each reuse
        self.cells = list(cells.values())       # the Cells it read: their modes are checked before reuse
        self.modes, self._checked, self._valid = _modes_of(self.cells), (_MODES[0], _STRUCTURE[0]), True
        self.captured = captured                # tensors it took as constants: checked before each reuse
        self.structure = _STRUCTURE[0]
        self.optimized, self.pass_log = optimize(self.graph)
        self.program = _native_program(self.optimized) or Program(self.optimized)
        self.weights = [p.default for p in self.optimized.params]
        self.plan = None        # the latest auto-parallel plan made for this specialization (mindlab.parallel.auto)
        _events.publish("compile", compiled=self)     # for notebook tools (mindlab.jupyter); free when unheard

    def state(self):
        """True when this program may run the call. "stale" when a global or a plain Cell attribute it read has been
        rebound since (a notebook cell redefined a helper function or a constant, ``net.scale = 0.5``), or a tensor
        it took as a constant (a global's, an attribute's) has been changed in place or replaced; "modes" when the
        Cells it read no longer have the modes it was built with (a sub-cell's ``set_train`` or ``to_float``;
        checked again only after some cell's mode changed)."""
        for namespace, name, value in self.names_read:   # a notebook cell redefined a helper or a constant
            now = namespace.get(name, _UNSET)
            if now is not value and not (type(now) is type(value) and type(value) in _SCALARS and now == value):
                return "stale"
        if self.captured:
            live = []
            for ref, arr in self.captured:
                t = ref()
                if t is not None:   # (tensors made while compiling and gone since cannot change)
                    if t._data is not arr:
                        return "stale"
                    live.append((ref, arr))
            self.captured = live
        version = (_MODES[0], _STRUCTURE[0])
        if self._checked != version:
            self._valid = _modes_of(self.cells) == self.modes
            self._checked = version
        return True if self._valid else "modes"

    @property
    def runs_as(self):
        """How calls run: as one native function (runtime/native.py, with its state and call counts) or through the
        executor, and why."""
        from ..runtime import native
        p = self.program
        if isinstance(p, native.NativeProgram):
            return (f"native program ({p.state}; {p.calls['native']} calls native, {p.calls['python']} through the "
                    f"executor)")
        if _context.get_context("device_target") != "CPU":
            return "executor (native programs are CPU only)"
        return f"executor ({native.explain(self.optimized) or 'debug_nans checks'})"

    def code(self):
        """What runs, as text (a ``ProgramListing``): how calls run, the generated program(s) — the executor's, one
        line a node, or the native program's numba source — and every fused kernel's source."""
        from ..runtime.listing import listing
        return listing(self)

    def views(self):
        """GraphViews (text / DOT / SVG / graph JSON, and a Jupyter mimebundle) of the parsed and optimized graphs."""
        from ..ir.views import views_of
        return views_of(self)

    def run(self, args, kwargs):
        tensors = iter(_tensor_args(args, kwargs))
        arrays = _device.adopt([w if w is not None else next(tensors) for w in self.weights],
                               _context.get_context("device_target"))
        outs = self.program(*arrays)
        it = iter(_wrap(o) for o in outs)
        return self.rebuild([next(it) if isinstance(leaf, Tensor) else leaf for leaf in self.leaves])


def _native_program(graph):
    """The graph as one compiled function (runtime/native.py) when every node can be, on the CPU; else None."""
    from .. import debug_nans
    if _context.get_context("device_target") != "CPU" or debug_nans.ENABLED:
        return None
    from ..runtime import native
    return native.build(graph)


def _tensor_args(args, kwargs):
    if not kwargs and all(type(a) is Tensor for a in args):   # the common call: tensors only, no nesting
        return args
    leaves = flatten([list(args), dict(sorted(kwargs.items()))])[0]
    return [l for l in leaves if isinstance(l, Tensor) and not isinstance(l, Parameter)]


class JitFunction:
    """A function compiled on first call per input signature (``mindlab.jit``)."""

    def __init__(self, fn, self_obj=None):
        from ..nn.cell import Cell, construct_function
        cell_name = type(fn).__name__ if isinstance(fn, Cell) else None
        if isinstance(fn, types.MethodType) and self_obj is None:   # jit(net.construct), jit(obj.method)
            fn, self_obj = fn.__func__, fn.__self__
        elif isinstance(fn, Cell):                                    # jit(net), like torch.compile(model)
            fn, self_obj = construct_function(fn), fn
        self.fn, self.self_obj = fn, self_obj
        self.cache = CompileCache()
        self.hits = self.misses = 0
        self.parallel_cache = {}          # (signature, auto-parallel context) -> ParallelProgram
        self.plans = self.parallel_hits = 0
        # (not fn's __dict__: a GradFunction's own `fn` would replace ours, and jit(grad(f)) compiled f itself)
        functools.update_wrapper(self, fn, updated=())
        if cell_name is not None or not hasattr(self, "__name__"):
            self.__name__ = self.__qualname__ = cell_name or type(fn).__name__

    def compiled(self, *args, **kwargs):
        key = (signature(args, kwargs), _context.get_context("device_target"), _context.get_context("debug_nans"))
        entry = self.cache.find(key)
        if entry is None:
            self.misses += 1
            entry = self.cache.add(key, Compiled(self.__name__, self._build(args, kwargs)))
        else:
            self.hits += 1
        return entry

    def target(self):
        """What this compiles, as a plain callable: the Cell, the bound method, the GradFunction or the function."""
        from ..nn.cell import Cell, construct_function
        if isinstance(self.self_obj, Cell) and self.fn is construct_function(self.self_obj):
            return self.self_obj
        if self.self_obj is not None:
            return types.MethodType(self.fn, self.self_obj)
        return self.fn

    def _build(self, args, kwargs):
        fn = self.fn
        if getattr(fn, "__mindlab_grad__", None) is not None:   # jit(grad(f)): the gradient program itself
            from ..autodiff.graph_grad import compile_grad_transform
            return lambda c: compile_grad_transform(c, fn, args, kwargs)
        return lambda c: c.compile(fn, args, kwargs, self.self_obj)

    def __call__(self, *args, **kwargs):
        from ..autodiff.tape import STATE as _tape
        if _tape.levels and _tape.recording:
            # inside a PyNative gradient transform (which watches the inputs, or weights the function may read):
            # run eagerly so that the tape records the ops (the compiled program would be invisible to the tape,
            # and grad(jit(f)) would be zero)
            eager = types.MethodType(self.fn, self.self_obj) if self.self_obj is not None else self.fn
            return eager(*args, **kwargs)
        from ..parallel import auto
        key = auto.active()
        if key is not None:
            return auto.call(self, key, args, kwargs)
        return self.compiled(*args, **kwargs).run(args, kwargs)

    def cache_info(self):
        return {"hits": self.hits, "misses": self.misses, "size": len(self.cache)}

    def parallel_info(self):
        """Plans made (``plans``) and reused (``hits``) for calls under a parallel auto-parallel context."""
        return {"plans": self.plans, "hits": self.parallel_hits, "size": len(self.parallel_cache)}

    def __get__(self, obj, objtype=None):   # @jit on a method: bind per instance
        if obj is None:
            return self
        bound = obj.__dict__.get(f"__jit_{self.fn.__name__}")
        if bound is None:
            bound = JitFunction(self.fn, obj)
            obj.__dict__[f"__jit_{self.fn.__name__}"] = bound
        return bound


def jit(fn=None, **options):
    """Compile ``fn`` to a graph (GRAPH_MODE semantics) on first call for each input signature.

    Usable as ``@mindlab.jit``, ``@mindlab.jit()`` or ``mindlab.jit(fn)``."""
    if fn is None:
        return lambda f: jit(f, **options)
    if not callable(fn):
        from ..errors import located, where
        raise located(TypeError(f"jit: expected a function or a Cell method to compile, got {type(fn).__name__} "
                                f"({fn!r:.60}).{where()}"))
    return JitFunction(fn)
