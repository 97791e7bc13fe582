"""Python source -> graph IR, for ``@jit`` functions and ``Cell.construct``.

The parser is a staged interpreter over the function's ``ast``. Every expression evaluates either to a *static*
Python value (ints, shapes, Cells, ops, tuples...) — computed right away, so static ``if``s fold and static
``for`` loops unroll — or to a ``Symbol``, a tensor that lives in the graph being built. Calls into mindlab's own
op functions simply run with Symbols (``bind`` adds nodes); user code (functions, methods, ``construct`` of
nested Cells) is parsed from its source and inlined. ``if`` on a tensor becomes an ``if`` node with a graph per
branch; ``while`` on a tensor becomes a ``while`` node with a condition graph and a body graph (not unrolled) —
both built by ``control_flow.TensorControlFlow``, which ``Compiler`` mixes in; ``values.py`` holds the control
signals and value trees the two share.

Anything else raises ``GraphModeSyntaxError`` naming the construct, quoting the user's file:line, and saying
what to do instead.
"""
import ast
import builtins
import linecache
import types

from ..errors import GraphModeSyntaxError, MindlabError, push_source, pop_source, current_source, located
from ..ir.anf import Graph, SourceInfo, AbstractTuple, PRINT
from ..ir.builder import Symbol, building, current_graph, to_node, make_tuple, weights_from, is_weight
from ..ops.abstract import AbstractTensor
from ..tensor import Tensor, Parameter
from .values import _Return, BREAK, CONTINUE, flatten, is_tensor  # noqa: F401  (flatten, is_tensor: used by jit)
from .control_flow import TensorControlFlow, _has_exit

_MINDLAB_PREFIX = __name__.split(".")[0] + "."
_MAX_UNROLL = 10000

# ---------------------------------------------------------------------------------------------- source access


class ParsedFunction:
    """A function's AST node inside its whole parsed file (or notebook cell), parsed once per code object.
    Parsing the whole file keeps line numbers exact and finds lambdas in the middle of multi-line expressions."""
    _cache = {}
    _files = {}

    def __init__(self, fn):
        code = fn.__code__
        self.file = code.co_filename
        lines = linecache.getlines(self.file, fn.__globals__ if hasattr(fn, "__globals__") else None)
        if not lines:
            raise GraphModeSyntaxError(
                f"GRAPH_MODE needs the source of {fn.__qualname__!r} to compile it, and Python cannot find it "
                f"(defined in an interactive prompt or exec?). Define it in a file or notebook cell, or use "
                f"PYNATIVE_MODE.")
        tree = self._parse(self.file, lines)
        self.node = self._find(tree, code, fn)
        self.offset = 0
        self.lines = [l.rstrip("\n") for l in lines]
        self.name = fn.__name__

    @classmethod
    def _parse(cls, file, lines):
        """The file's AST with an index of its functions and lambdas by first line (one walk per file: a network's
        layers live in a few large files, and walking each whole file per function cost ~8 ms a lookup)."""
        key = (file, len(lines), hash("".join(lines)))
        if key not in cls._files:
            tree = ast.parse("".join(lines))
            index = {}
            for n in ast.walk(tree):
                if isinstance(n, ast.Lambda):
                    index.setdefault(("<lambda>", n.lineno), []).append(n)
                elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = n.decorator_list[0].lineno if n.decorator_list else n.lineno
                    index.setdefault((n.name, first), []).append(n)
            cls._files[key] = (tree, index)
        return cls._files[key]

    @staticmethod
    def _find(parsed, code, fn):
        first = code.co_firstlineno
        _, index = parsed
        cands = list(index.get((code.co_name, first), ()))
        if code.co_name == "<lambda>":
            if len(cands) > 1:   # several lambdas on one line: the one whose body starts where its code starts
                starts = [(p[0], p[2]) for p in code.co_positions()
                          if p[0] is not None and p[2] is not None and (p[2], p[3]) != (0, 0)]
                if starts:
                    first_pos = min(starts)
                    before = [n for n in cands if (n.body.lineno, n.body.col_offset) <= first_pos]
                    if before:
                        cands = [max(before, key=lambda n: (n.body.lineno, n.body.col_offset))]
        if not cands:
            raise GraphModeSyntaxError(f"cannot find the source of {fn.__qualname__!r} in {code.co_filename}")
        if isinstance(cands[0], ast.AsyncFunctionDef):
            raise GraphModeSyntaxError(_unsupported(cands[0]))
        return cands[0]

    @classmethod
    def of(cls, fn):
        # (code objects compare equal across files when their text and first line match: key on the file too, or
        # a function would be compiled from, and its errors would point into, another file with the same code)
        key = (fn.__code__, fn.__code__.co_filename)
        if key not in cls._cache:
            cls._cache[key] = cls(fn)
        return cls._cache[key]

    def source(self, node):
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return SourceInfo(self.file, line + self.offset, text, self.name)


# ---------------------------------------------------------------------------------------------- control signals


class LocalFunction:
    """A ``def`` or ``lambda`` inside compiled code: a closure over the defining frame's variables."""

    def __init__(self, node, frame):
        self.node, self.frame = node, frame
        self.__name__ = getattr(node, "name", "<lambda>")


_PLAIN = (bool, int, float, complex, str, bytes, tuple, type(None))
NAMES_READ = []   # compiling: (namespace, name, value) of each user global and plain Cell attribute read


class Frame:
    """One function activation being compiled: its variables, globals, closure cells and source."""

    def __init__(self, parsed, globals_, closure=None, parent=None):
        self.parsed, self.globals, self.closure, self.parent = parsed, globals_, closure or {}, parent
        self.env = {}

    def lookup(self, name, node):
        f = self
        while f is not None:
            if name in f.env:
                return f.env[name]
            f = f.parent
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            value = self.globals[name]
            if NAMES_READ and not isinstance(value, types.ModuleType) and \
                    not str(self.globals.get("__name__", "")).startswith("mindlab."):
                NAMES_READ[-1][id(self.globals), name] = (self.globals, name, value)   # rebound: rebuilt
            return value
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise GraphModeSyntaxError(f"name {name!r} is not defined", self.parsed.source(node))


# ---------------------------------------------------------------------------------------------- value trees


# ---------------------------------------------------------------------------------------------- the compiler


class Compiler(TensorControlFlow):
    """Compiles one top-level function (or construct) into a Graph. Weights become graph Params with defaults."""

    def __init__(self, name):
        self.graph = Graph(name)
        self.weights = {}          # id(Parameter) -> Symbol of its Param in the top graph
        self.cf_depth = 0          # > 0 inside a tensor if/while subgraph
        self.local_lists = [set()]  # ids of lists created at each control-flow depth

    # ---------------------------------------------------------------- entry
    def compile(self, fn, args, kwargs=None, self_obj=None):
        """Build the graph of ``fn(*args, **kwargs)``; Tensors among args become graph inputs. Returns
        (graph, output leaves, rebuild) where ``rebuild(leaves)`` restores the output's structure. A failure is
        also published as a ``compile_error`` event (the Inspector explains it with the user's line)."""
        try:
            return self._compile(fn, args, kwargs, self_obj)
        except (MindlabError, ValueError, TypeError) as exc:
            from ..jupyter import events
            events.publish("compile_error", function=getattr(fn, "__qualname__", str(fn)), error=exc)
            raise

    def _compile(self, fn, args, kwargs, self_obj):
        from ..nn.cell import Cell, freeze_for_compile
        if isinstance(self_obj, Cell):   # a method of a Cell (construct, or any other) reads the cell's modes
            freeze_for_compile(self_obj)
        parsed = ParsedFunction.of(fn)
        self.graph.source = parsed.source(parsed.node)

        def body(*sym_args, **sym_kwargs):
            from ..nn.cell import Cell, construct_function
            if isinstance(self_obj, Cell) and fn is construct_function(self_obj):
                return self.call_cell(self_obj, list(sym_args), sym_kwargs)   # (to_float casts included)
            bound = [self_obj] + list(sym_args) if self_obj is not None else list(sym_args)
            return self.call_parsed(fn, parsed, bound, sym_kwargs)
        return self.compile_body(body, args, kwargs)

    def compile_body(self, body, args, kwargs=None):
        """Like ``compile`` for a Python callable run directly on the symbolic inputs (mindlab's own code)."""
        kwargs = kwargs or {}
        self.arg_params = []      # (graph Param, the value it stands for), in parameter order
        with building(self.graph), weights_from(self.weight):
            sym_args = [self._input(a, f"arg{i}") for i, a in enumerate(args)]
            sym_kwargs = {k: self._input(v, k) for k, v in sorted(kwargs.items())}
            result = body(*sym_args, **sym_kwargs)
            leaves, rebuild = flatten(result)
            self.graph.output = make_tuple([leaf for leaf in leaves if isinstance(leaf, Tensor)])
        self.inputs = sym_args
        return self.graph, leaves, rebuild

    def _input(self, value, name):
        if isinstance(value, Parameter):
            return self.weight(value)
        if isinstance(value, Tensor):
            sym = Symbol(self.graph.add_param(name, AbstractTensor(value.shape, value.dtype)))
            self.arg_params.append((sym.node, value))
            return sym
        if isinstance(value, (tuple, list)):
            return type(value)(self._input(v, f"{name}_{i}") for i, v in enumerate(value))
        if isinstance(value, dict):   # in insertion order, as values.flatten hands the call's leaves over
            return {k: self._input(v, f"{name}_{k}") for k, v in value.items()}
        return value

    def weight(self, p):
        """The Symbol standing for Parameter ``p`` (a graph Param with ``p`` as default)."""
        sym = self.weights.get(id(p))
        if sym is None:
            with building(self.graph):
                name = p.name if p.name != "Parameter" else f"param{len(self.weights)}"
                sym = Symbol(self.graph.add_param(name, AbstractTensor(p.shape, p.dtype), default=p))
            self.weights[id(p)] = sym
        return sym

    def lift(self, value):
        """Parameters met anywhere become their graph Params."""
        if isinstance(value, Parameter):
            return self.weight(value)
        return value

    # ---------------------------------------------------------------- calls
    def call_parsed(self, fn, parsed, args, kwargs, closure_frame=None):
        node = parsed.node
        closure = {}
        if getattr(fn, "__closure__", None):
            closure = {n: self.lift(c.cell_contents) for n, c in zip(fn.__code__.co_freevars, fn.__closure__)}
        frame = Frame(parsed, fn.__globals__ if hasattr(fn, "__globals__") else {}, closure, closure_frame)
        self._bind_args(frame, node.args, args, kwargs, getattr(fn, "__defaults__", None) or (),
                        getattr(fn, "__kwdefaults__", None) or {}, fn.__name__)
        if isinstance(node, ast.Lambda):
            with self._at(frame, node):
                return self.eval(node.body, frame)
        sig = self.exec_block(node.body, frame)
        return sig.value if isinstance(sig, _Return) else None

    def _bind_args(self, frame, a, args, kwargs, defaults, kwdefaults, fname):
        names = [x.arg for x in a.posonlyargs + a.args]
        if len(args) > len(names) and a.vararg is None:
            raise GraphModeSyntaxError(f"{fname}() takes {len(names)} positional arguments but {len(args)} "
                                       f"were given", current_source())
        for n, v in zip(names, args):
            frame.env[n] = v
        if a.vararg is not None:
            frame.env[a.vararg.arg] = tuple(args[len(names):])
        kw = dict(kwargs)
        for n in names[len(args):]:
            if n in kw:
                frame.env[n] = kw.pop(n)
        missing = [n for n in names if n not in frame.env]
        if defaults:
            for n, d in zip(names[len(names) - len(defaults):], defaults):
                if n in missing:
                    frame.env[n] = d
                    missing.remove(n)
        for x in a.kwonlyargs:
            if x.arg in kw:
                frame.env[x.arg] = kw.pop(x.arg)
            elif x.arg in kwdefaults:
                frame.env[x.arg] = kwdefaults[x.arg]
            else:
                missing.append(x.arg)
        if a.kwarg is not None:
            frame.env[a.kwarg.arg] = kw
            kw = {}
        if missing or kw:
            what = f"missing argument(s) {missing}" if missing else f"unexpected keyword argument(s) {list(kw)}"
            raise GraphModeSyntaxError(f"{fname}(): {what}", current_source())

    def call(self, func, args, kwargs, node, frame):
        from ..nn.cell import Cell   # the Cell class (nn builds on ops; the frontend sits above both)
        if isinstance(func, Cell):
            return self.call_cell(func, args, kwargs)
        if isinstance(func, LocalFunction):
            return self.call_local(func, args, kwargs)
        if func is print:
            return self.emit_print(args, kwargs, node, frame)
        if getattr(func, "__mindlab_grad__", None) is not None:
            from ..autodiff.graph_grad import call_grad_transform
            return func.package(*call_grad_transform(self, func, args, kwargs))
        from .jit import JitFunction
        if isinstance(func, JitFunction):          # a jit function called from compiled code: inlined
            return self.call(func.target(), args, kwargs, node, frame)
        if isinstance(func, types.MethodType) and isinstance(func.__self__, Cell) and not _is_internal(func):
            return self.call_parsed(func.__func__, ParsedFunction.of(func.__func__), [func.__self__] + list(args),
                                    kwargs)
        if isinstance(getattr(func, "__self__", None), (list, dict)):
            self._check_list_mutation(func, node, frame)
        if isinstance(func, types.FunctionType) and not _is_internal(func):
            return self.call_parsed(func, ParsedFunction.of(func), list(args), kwargs)
        symbolic = any(isinstance(l, Symbol) for l in flatten([list(args), kwargs])[0])
        if symbolic and not _trusted(func):
            name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
            mod = getattr(func, "__module__", None) or type(func).__module__
            raise GraphModeSyntaxError(
                f"call to {mod}.{name} with a tensor argument: GRAPH_MODE cannot look inside this "
                f"(compiled C / foreign) function. Use the mindlab.ops equivalent, or PYNATIVE_MODE.",
                frame.parsed.source(node))
        return self.lift(func(*args, **kwargs))

    def call_cell(self, cell, args, kwargs):
        from ..nn.cell import construct_function, freeze_for_compile
        freeze_for_compile(cell)   # replacing its Parameters / sub-Cells later recompiles (nn.cell.STRUCTURE)
        construct = construct_function(cell)
        dt = cell.__dict__.get("_mixed_dtype")
        if dt is not None:   # to_float: float inputs (and, in expr_Attribute, float parameters) computed in dt
            from ..ops import functional as F
            args = [F.cast(a, dt) if isinstance(a, Tensor) and a.dtype.kind == "f" and a.dtype is not dt else a
                    for a in args]
        shard = cell.__dict__.get("_shard")    # Cell.shard: inputs/outputs through layout nodes (parallel/cell_shard)
        if shard is not None:
            args = shard.mark_inputs(args)
        out = self.call_parsed(construct, ParsedFunction.of(construct), [cell] + list(args), kwargs)
        return shard.mark_outputs(out) if shard is not None else out

    def call_local(self, lf, args, kwargs):
        node = lf.node
        frame = Frame(lf.frame.parsed, lf.frame.globals, lf.frame.closure, lf.frame)
        self._bind_args(frame, node.args, list(args), kwargs, [self.eval(d, lf.frame) for d in node.args.defaults],
                        {}, lf.__name__)
        if isinstance(node, ast.Lambda):
            return self.eval(node.body, frame)
        sig = self.exec_block(node.body, frame)
        return sig.value if isinstance(sig, _Return) else None

    def emit_print(self, args, kwargs, node, frame):
        pieces, tensors = [], []
        for a in args:
            if isinstance(a, Tensor):
                pieces.append(None)
                tensors.append(a)
            else:
                pieces.append(str(a))
        g = current_graph()
        g.apply(PRINT, [to_node(t, g) for t in tensors], {"template": tuple(pieces), "sep": kwargs.get("sep", " ")},
                AbstractTuple([]), frame.parsed.source(node))
        return None

    def _check_list_mutation(self, method, node, frame):
        if method.__name__ in ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
                               "update", "setdefault", "popitem") \
                and self.cf_depth > 0 and id(method.__self__) not in self.local_lists[-1]:
            raise GraphModeSyntaxError(
                f"{type(method.__self__).__name__}.{method.__name__} on a {type(method.__self__).__name__} defined outside a loop or branch whose condition is a tensor: "
                f"the list's contents would depend on tensor values, which GRAPH_MODE cannot represent. "
                f"Build a tensor instead (ops.concat / ops.stack), or loop a static number of times.",
                frame.parsed.source(node))

    # ---------------------------------------------------------------- statements
    def _at(self, frame, node):
        compiler = self

        class _Ctx:
            def __enter__(self):
                push_source(frame.parsed.source(node))

            def __exit__(self, kind, exc, tb):
                if isinstance(exc, Exception):   # an error in this line: it carries the user's line as .source
                    located(exc)
                pop_source()
        return _Ctx()

    def exec_block(self, stmts, frame):
        i = 0
        while i < len(stmts):
            st = stmts[i]
            if isinstance(st, ast.If):
                with self._at(frame, st):
                    test = self.eval(st.test, frame)
                if isinstance(test, Tensor):
                    rest = stmts[i + 1:]
                    if _has_exit(st):
                        return self.tensor_if(test, st.body + rest, st.orelse + rest, frame, st, returns=True)
                    self.tensor_if(test, st.body, st.orelse, frame, st, returns=False)
                    i += 1
                    continue
                sig = self.exec_block(st.body if test else st.orelse, frame)
            else:
                sig = self.exec_stmt(st, frame)
            if sig is not None:
                return sig
            i += 1
        return None

    def exec_stmt(self, st, frame):
        with self._at(frame, st):
            method = getattr(self, "stmt_" + type(st).__name__, None)
            if method is None:
                raise GraphModeSyntaxError(_unsupported(st), frame.parsed.source(st))
            return method(st, frame)

    def stmt_Expr(self, st, frame):
        self.eval(st.value, frame)

    def stmt_Pass(self, st, frame):
        return None

    def stmt_Return(self, st, frame):
        return _Return(None if st.value is None else self.eval(st.value, frame))

    def stmt_Break(self, st, frame):
        return BREAK

    def stmt_Continue(self, st, frame):
        return CONTINUE

    def stmt_Assign(self, st, frame):
        value = self.eval(st.value, frame)
        for target in st.targets:
            self.assign(target, value, frame)

    def stmt_AnnAssign(self, st, frame):
        if st.value is not None:
            self.assign(st.target, self.eval(st.value, frame), frame)

    def stmt_AugAssign(self, st, frame):
        current = self.eval(_as_load(st.target), frame)
        value = _binop(st.op, current, self.eval(st.value, frame))
        self.assign(st.target, value, frame)

    def assign(self, target, value, frame):
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = self._unpack(value, len(target.elts), target, frame)
            for t, v in zip(target.elts, values):
                self.assign(t, v, frame)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value, frame)
            index = self.eval(target.slice, frame)
            if isinstance(container, Tensor):
                from ..ops import functional as F
                new = F.tensor_setitem(container, index, value)
                if isinstance(target.value, ast.Attribute) and is_weight(container):
                    F.assign(container, new)   # `self.w[i] = v` on a Parameter: written in place, as in PyNative
                else:
                    self.assign(_as_store(target.value), new, frame)
            elif isinstance(container, (list, dict)):
                if self.cf_depth > 0 and id(container) not in self.local_lists[-1]:
                    raise GraphModeSyntaxError(
                        "item assignment to a list/dict defined outside a branch or loop whose condition is a "
                        "tensor", frame.parsed.source(target))
                container[index] = value
            else:
                raise GraphModeSyntaxError(f"item assignment to a {type(container).__name__}",
                                           frame.parsed.source(target))
        elif isinstance(target, ast.Attribute):
            raise GraphModeSyntaxError(
                f"assigning to attribute {ast.unparse(target)!r} inside compiled code: Python objects cannot be "
                f"changed from a graph. Keep state in Parameters and update them with ops.assign, or compute the "
                f"value in __init__.", frame.parsed.source(target))
        else:
            raise GraphModeSyntaxError(f"assignment to {type(target).__name__}", frame.parsed.source(target))

    def _unpack(self, value, n, target, frame):
        if isinstance(value, Tensor):
            if not value.shape or value.shape[0] != n:
                raise GraphModeSyntaxError(f"cannot unpack a tensor of shape {list(value.shape)} into {n} values",
                                           frame.parsed.source(target))
            return [value[i] for i in range(n)]
        values = list(value)
        if len(values) != n:
            raise GraphModeSyntaxError(f"cannot unpack {len(values)} values into {n} names",
                                       frame.parsed.source(target))
        return values

    def stmt_FunctionDef(self, st, frame):
        if st.decorator_list:
            raise GraphModeSyntaxError("decorated functions defined inside compiled code",
                                       frame.parsed.source(st))
        frame.env[st.name] = LocalFunction(st, frame)

    def stmt_Assert(self, st, frame):
        test = self.eval(st.test, frame)
        if isinstance(test, Tensor):
            raise GraphModeSyntaxError("assert on a tensor value: its value is only known when the graph runs. "
                                       "Assert on shapes/static values, or use PYNATIVE_MODE.",
                                       frame.parsed.source(st))
        if not test:
            msg = self.eval(st.msg, frame) if st.msg is not None else "assertion failed"
            raise MindlabError(f"{msg}\n  at {frame.parsed.source(st)}")

    def stmt_Raise(self, st, frame):
        """A raise reached while compiling (its condition is static): raise it now, at the user's line."""
        from ..errors import where
        exc = self.eval(st.exc, frame) if st.exc is not None else RuntimeError("raise")
        if isinstance(exc, type):
            exc = exc()
        msg = str(exc)
        if "\n  at " not in msg:
            msg += where()
        raise type(exc)(msg)

    def stmt_For(self, st, frame):
        if st.orelse:
            raise GraphModeSyntaxError("for ... else", frame.parsed.source(st))
        it = self.eval(st.iter, frame)
        if isinstance(it, Tensor):
            if not it.shape:
                raise GraphModeSyntaxError("iterating over a 0-d tensor", frame.parsed.source(st))
            items = (it[i] for i in range(it.shape[0]))
        else:
            try:
                items = iter(it)
            except TypeError:
                raise GraphModeSyntaxError(f"for over a {type(it).__name__}, which is not iterable",
                                           frame.parsed.source(st)) from None
        count = 0
        for item in items:
            count += 1
            if count > _MAX_UNROLL:
                raise GraphModeSyntaxError(f"for loop unrolled more than {_MAX_UNROLL} times",
                                           frame.parsed.source(st))
            self.assign(st.target, self.lift(item), frame)
            sig = self.exec_block(st.body, frame)
            if sig is BREAK:
                break
            if isinstance(sig, _Return):
                return sig
        return None

    def stmt_While(self, st, frame):
        if st.orelse:
            raise GraphModeSyntaxError("while ... else", frame.parsed.source(st))
        count = 0
        while True:
            test = self.eval(st.test, frame)
            if isinstance(test, Tensor):
                if count:
                    raise GraphModeSyntaxError(
                        "a while condition that becomes a tensor after some iterations with a static condition",
                        frame.parsed.source(st))
                return self.tensor_while(st, frame)
            if not test:
                return None
            count += 1
            if count > _MAX_UNROLL:
                raise GraphModeSyntaxError(f"while loop with a static condition ran more than {_MAX_UNROLL} "
                                           f"iterations while compiling", frame.parsed.source(st))
            sig = self.exec_block(st.body, frame)
            if sig is BREAK:
                return None
            if isinstance(sig, _Return):
                return sig

    # ---------------------------------------------------------------- tensor control flow


    # ---------------------------------------------------------------- expressions
    def eval(self, node, frame):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise GraphModeSyntaxError(_unsupported(node), frame.parsed.source(node))
        return method(node, frame)

    def expr_Constant(self, node, frame):
        return node.value

    def expr_Name(self, node, frame):
        return self.lift(frame.lookup(node.id, node))

    def expr_Attribute(self, node, frame):
        base = self.eval(node.value, frame)
        try:
            value = getattr(base, node.attr)
            d = getattr(base, "__dict__", {})
            if NAMES_READ and node.attr in d and "_cells" in d and isinstance(value, _PLAIN) and \
                    not type(base).__module__.startswith("mindlab."):   # a user Cell's plain attribute (self.scale)
                NAMES_READ[-1][id(d), node.attr] = (d, node.attr, value)
            dt = d.get("_mixed_dtype")
            if dt is not None and isinstance(value, Parameter) and value.requires_grad and \
                    value.dtype.kind == "f" and value.dtype is not dt:
                from ..ops import functional as F
                return F.cast(self.lift(value), dt)
            return self.lift(value)
        except AttributeError:
            raise GraphModeSyntaxError(f"{type(base).__name__} has no attribute {node.attr!r}",
                                       frame.parsed.source(node)) from None

    def expr_Tuple(self, node, frame):
        return tuple(self._elts(node.elts, frame))

    def expr_List(self, node, frame):
        lst = list(self._elts(node.elts, frame))
        self.local_lists[-1].add(id(lst))
        return lst

    def _elts(self, elts, frame):
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                out.extend(self.eval(e.value, frame))
            else:
                out.append(self.eval(e, frame))
        return out

    def expr_Dict(self, node, frame):
        d = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                d.update(self.eval(v, frame))
            else:
                d[self.eval(k, frame)] = self.eval(v, frame)
        self.local_lists[-1].add(id(d))
        return d

    def expr_BinOp(self, node, frame):
        return _binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame))

    def expr_UnaryOp(self, node, frame):
        v = self.eval(node.operand, frame)
        if isinstance(node.op, ast.Not):
            if isinstance(v, Tensor):
                from ..ops import functional as F
                return F.logical_not(self._cond_tensor(v, frame.parsed.source(node)))
            return not v
        return {ast.USub: lambda x: -x, ast.UAdd: lambda x: +x, ast.Invert: lambda x: ~x}[type(node.op)](v)

    def expr_BoolOp(self, node, frame):
        from ..ops import functional as F
        is_and = isinstance(node.op, ast.And)
        value = self.eval(node.values[0], frame)
        for nxt in node.values[1:]:
            if isinstance(value, Tensor):
                other = self.eval(nxt, frame)
                if not isinstance(other, Tensor):
                    other = Tensor(bool(other))
                src = frame.parsed.source(node)
                a, b = self._cond_tensor(value, src), self._cond_tensor(other, src)
                value = F.logical_and(a, b) if is_and else F.logical_or(a, b)
            else:
                if (is_and and not value) or (not is_and and value):
                    return value
                value = self.eval(nxt, frame)
        return value

    def expr_Compare(self, node, frame):
        left = self.eval(node.left, frame)
        result = None
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, frame)
            r = _COMPARE[type(op)](left, right)
            if result is None:
                result = r
            elif isinstance(result, Tensor) or isinstance(r, Tensor):
                from ..ops import functional as F
                result = F.logical_and(result, r)
            else:
                result = result and r
            left = right
        return result

    def expr_IfExp(self, node, frame):
        test = self.eval(node.test, frame)
        if isinstance(test, Tensor):
            from ..ops import functional as F
            cond = self._cond_tensor(test, frame.parsed.source(node))
            a, b = self.eval(node.body, frame), self.eval(node.orelse, frame)
            return F.select(cond, a, b)
        return self.eval(node.body if test else node.orelse, frame)

    def expr_Call(self, node, frame):
        func = self.eval(node.func, frame)
        args = self._elts(node.args, frame)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(self.eval(kw.value, frame))
            else:
                kwargs[kw.arg] = self.eval(kw.value, frame)
        return self.call(func, args, kwargs, node, frame)

    def expr_Subscript(self, node, frame):
        base = self.eval(node.value, frame)
        index = self.eval(node.slice, frame)
        try:
            return self.lift(base[index])
        except MindlabError:
            raise
        except (IndexError, KeyError, TypeError) as exc:
            if "\n  at " in str(exc):   # already a mindlab error naming the user's line
                raise
            raise GraphModeSyntaxError(f"indexing failed: {exc}", frame.parsed.source(node)) from None

    def expr_Slice(self, node, frame):
        ev = lambda x: None if x is None else self.eval(x, frame)  # noqa: E731
        return slice(ev(node.lower), ev(node.upper), ev(node.step))

    def expr_Lambda(self, node, frame):
        return LocalFunction(node, frame)

    def expr_JoinedStr(self, node, frame):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            else:
                val = self.eval(v.value, frame)
                if isinstance(val, Symbol):
                    raise GraphModeSyntaxError("a tensor inside an f-string: its value is only known when the "
                                               "graph runs; pass the tensor to print() directly",
                                               frame.parsed.source(node))
                spec = self.eval(v.format_spec, frame) if v.format_spec is not None else ""
                parts.append(format(val, spec))
        return "".join(parts)

    def expr_ListComp(self, node, frame):
        out = []
        self._comprehension(node, frame, lambda inner: out.append(self.eval(node.elt, inner)))
        self.local_lists[-1].add(id(out))
        return out

    def expr_GeneratorExp(self, node, frame):
        """Evaluated at once (``tuple(f(v) for v in vs)``, ``sum(...)``, ``all(...)``): what compiled code does with
        a generator is consume it, and nothing in a graph can observe the order of evaluation."""
        return iter(self.expr_ListComp(node, frame))

    def expr_DictComp(self, node, frame):
        out = {}

        def emit(inner):
            out[self.eval(node.key, inner)] = self.eval(node.value, inner)
        self._comprehension(node, frame, emit)
        self.local_lists[-1].add(id(out))
        return out

    def _comprehension(self, node, frame, emit):
        """Unroll the comprehension's ``for`` clauses (static iterables, or a tensor's first axis) and ``if``
        filters (static conditions), calling ``emit(frame)`` for each element."""
        inner = Frame(frame.parsed, frame.globals, frame.closure, frame)

        def loop(k):
            if k == len(node.generators):
                emit(inner)
                return
            gen = node.generators[k]
            if gen.is_async:
                raise GraphModeSyntaxError("async comprehensions cannot be compiled", frame.parsed.source(node))
            it = self.eval(gen.iter, inner if k else frame)   # (the first iterable is evaluated outside, as Python)
            if isinstance(it, Tensor):
                it = [it[i] for i in range(it.shape[0])]
            for item in it:
                self.assign(gen.target, self.lift(item), inner)
                if all(self._static_true(self.eval(c, inner), node, frame) for c in gen.ifs):
                    loop(k + 1)
        loop(0)

    def _static_true(self, v, node, frame):
        if isinstance(v, Tensor):
            raise GraphModeSyntaxError("a comprehension filtered by a tensor condition",
                                       frame.parsed.source(node))
        return bool(v)


# ---------------------------------------------------------------------------------------------- helpers

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
           ast.Pow: lambda a, b: a ** b, ast.MatMult: lambda a, b: a @ b, ast.BitAnd: lambda a, b: a & b,
           ast.BitOr: lambda a, b: a | b, ast.BitXor: lambda a, b: a ^ b, ast.LShift: lambda a, b: a << b,
           ast.RShift: lambda a, b: a >> b}

_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
            ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def _binop(op, a, b):
    return _BINOPS[type(op)](a, b)


def _as_load(target):
    t = ast.fix_missing_locations(ast.parse(ast.unparse(target), mode="eval").body)
    ast.copy_location(t, target)
    for n in ast.walk(t):
        n.lineno = target.lineno
    return t


def _as_store(node):
    return node




_UNSUPPORTED = {
    "Try": "try/except: exceptions cannot be caught inside a compiled graph. Check conditions explicitly, or "
           "move the try outside the function / use PYNATIVE_MODE",
    "TryStar": "try/except*: not supported in GRAPH_MODE",
    "With": "with-statements: context managers run Python code at run time. Move the with outside the "
            "compiled function",
    "Global": "global: compiled code cannot rebind module variables. Pass the value in as an argument or keep "
              "it in a Parameter",
    "Nonlocal": "nonlocal: compiled code cannot rebind variables of an enclosing function. Return the new value "
                "instead",
    "Yield": "yield: generators cannot be compiled. Return a tuple or use a for loop",
    "YieldFrom": "yield from: generators cannot be compiled. Return a tuple or use a for loop",
    "Await": "await: async code cannot be compiled",
    "AsyncFunctionDef": "async def: async code cannot be compiled",
    "AsyncFor": "async for: async code cannot be compiled",
    "AsyncWith": "async with: async code cannot be compiled",
    "ClassDef": "class definitions inside compiled code. Define the class outside the function",
    "Import": "import inside compiled code. Import at module level",
    "ImportFrom": "import inside compiled code. Import at module level",
    "Delete": "del: compiled code cannot delete names or items. Just stop using the name",
    "SetComp": "set comprehensions. Use a list or tuple",
    "Set": "sets. Use a tuple or list",
    "NamedExpr": "the walrus operator (:=). Assign on its own line",
    "Match": "match statements. Use if/elif",
}


def _unsupported(node):
    kind = type(node).__name__
    why = _UNSUPPORTED.get(kind, f"the Python construct {kind}")
    return f"GRAPH_MODE does not support {why}."


def _is_internal(func):
    mod = getattr(func, "__module__", None) or ""
    return mod == "mindlab" or mod.startswith(_MINDLAB_PREFIX)


_TRUSTED_BUILTINS = {len, isinstance, range, enumerate, zip, tuple, list, dict, getattr, hasattr, type, abs, min,
                     max, int, float, bool, str, reversed, sorted, any, all, sum, map, id, repr, round}


def _trusted(func):
    """Functions that may be called with tensors while compiling: mindlab's own, and Python's structural
    builtins (which only look at shapes, lengths and types)."""
    if _is_internal(func):
        return True
    if isinstance(func, type) and issubclass(func, (tuple, list, dict)):
        return True
    try:
        if func in _TRUSTED_BUILTINS:
            return True
    except TypeError:
        pass
    self_obj = getattr(func, "__self__", None)
    if self_obj is not None and (_is_internal(type(self_obj)) or isinstance(self_obj, (list, dict, tuple))):
        return True
    return False
