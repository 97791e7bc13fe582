"""Tensor control flow for the GRAPH_MODE interpreter (``parser.Compiler``): ``if`` on a tensor becomes an ``if``
node with a graph per branch (an early ``return`` appends the rest of the function to both branches); ``while`` on
a tensor becomes a ``while`` node with a condition graph and a body graph (loop-carried variables are the names
assigned in the body; ``break`` / ``continue`` are lowered to carried flags first)."""
import ast

import numpy as np

from .. import dtype as mdt
from ..errors import GraphModeSyntaxError, current_source
from ..ir.anf import Graph, AbstractTuple, IF, WHILE
from ..ir.builder import Symbol, building, current_graph, to_node, wrap_node, make_tuple
from ..ops.abstract import AbstractTensor
from ..tensor import Tensor
from .values import _Return, BREAK, CONTINUE, flatten, _is_number, _static_equal

_BRK, _CNT = "__mindlab_break", "__mindlab_continue"   # the carried flags break / continue become


class TensorControlFlow:
    """The ``Compiler`` methods that build ``if`` / ``while`` nodes (a mixin: they use the interpreter's ``eval``,
    ``exec_block``, ``_at``, ``cf_depth`` and ``local_lists``)."""

    def _cond_tensor(self, test, src):
        from ..ops import functional as F
        if test.size != 1:
            raise GraphModeSyntaxError(f"the condition is a tensor of shape {list(test.shape)}; a condition must "
                                       f"have exactly one element (use ops.all / ops.any to reduce it)", src)
        if test.shape:
            test = F.reshape(test, ())
        if test.dtype is not mdt.bool_:
            test = F.not_equal(test, 0)
        return test

    def _subgraph(self, kind, frame, body, params=()):
        """Run ``body(graph)`` building a new subgraph of the current graph."""
        g = Graph(f"{frame.parsed.name}_{kind}", parent=current_graph())
        g.kind = kind
        self.cf_depth += 1
        self.local_lists.append(set())
        try:
            with building(g):
                result = body(g)
        finally:
            self.cf_depth -= 1
            self.local_lists.pop()
        return g, result

    def tensor_if(self, test, body, orelse, frame, st, returns):
        src = frame.parsed.source(st)
        cond = self._cond_tensor(test, src)
        before = dict(frame.env)
        outcomes = {}

        def branch(stmts, kind):
            def run(g):
                saved = frame.env
                frame.env = dict(before)
                try:
                    sig = self.exec_block(stmts, frame)
                    if returns:
                        value = sig.value if isinstance(sig, _Return) else None
                        if sig is BREAK or sig is CONTINUE:
                            raise GraphModeSyntaxError("break/continue under an if whose condition is a tensor",
                                                       src)
                        outcomes[kind] = value
                    else:
                        if sig is not None:
                            raise GraphModeSyntaxError("break/continue under an if whose condition is a tensor",
                                                       src)
                        outcomes[kind] = dict(frame.env)
                finally:
                    frame.env = saved
            return run

        g_then, _ = self._subgraph("then", frame, branch(body, "then"))
        g_else, _ = self._subgraph("else", frame, branch(orelse, "else"))
        if returns:
            names = None
            values_t, values_e = outcomes["then"], outcomes["else"]
        else:
            t_env, e_env = outcomes["then"], outcomes["else"]
            names = [n for n in t_env if n in e_env and (t_env[n] is not before.get(n) or
                                                         e_env[n] is not before.get(n))]
            values_t = tuple(t_env[n] for n in names)
            values_e = tuple(e_env[n] for n in names)
        leaves_t, rebuild = flatten(values_t)
        leaves_e, _ = flatten(values_e)
        if len(leaves_t) != len(leaves_e):
            raise GraphModeSyntaxError("the two branches of an if on a tensor produce differently structured "
                                       "values", src)
        tensor_pos, static = [], {}
        for k, (a, b) in enumerate(zip(leaves_t, leaves_e)):
            if isinstance(a, Tensor) or isinstance(b, Tensor):
                tensor_pos.append(k)
            elif _is_number(a) and _is_number(b) and not _static_equal(a, b):
                dt = np.bool_ if isinstance(a, bool) and isinstance(b, bool) else \
                    (np.int64 if not isinstance(a, float) and not isinstance(b, float) else np.float32)
                leaves_t[k], leaves_e[k] = Tensor(np.asarray(a, dt)), Tensor(np.asarray(b, dt))
                tensor_pos.append(k)
            elif not _static_equal(a, b):
                what = f"variable {names[k]!r}" if names and len(names) == len(leaves_t) else "a value"
                raise GraphModeSyntaxError(
                    f"{what} gets different static values in the branches of an if on a tensor "
                    f"({a!r} vs {b!r}); make it a tensor or compute it outside the if", src)
            else:
                static[k] = a
        outs_t = [self._as_tensor_like(leaves_t[k], leaves_e[k]) for k in tensor_pos]
        outs_e = [self._as_tensor_like(leaves_e[k], leaves_t[k]) for k in tensor_pos]
        for k, a, b in zip(tensor_pos, outs_t, outs_e):
            if a.shape != b.shape or a.dtype != b.dtype:
                what = f"variable {names[k]!r}" if names and len(names) == len(leaves_t) else "the result"
                raise GraphModeSyntaxError(
                    f"{what} is {a.dtype}{list(a.shape)} in one branch and {b.dtype}{list(b.shape)} in the other "
                    f"branch of an if on a tensor; both branches must give the same shape and dtype", src)
        with building(g_then):
            g_then.output = make_tuple(outs_t)
        with building(g_else):
            g_else.output = make_tuple(outs_e)
        g = current_graph()
        node = g.apply(IF, [cond.node], {"then_graph": g_then, "else_graph": g_else},
                       AbstractTuple([o.node.abstract if isinstance(o, Symbol) else to_node(o, g).abstract
                                      for o in outs_t]), src)
        results = wrap_node(node)
        leaves = list(leaves_t)
        for k, r in zip(tensor_pos, results):
            leaves[k] = r
        merged = rebuild(leaves)
        if returns:
            return _Return(merged)
        for n, v in zip(names, merged):
            frame.env[n] = v
        return None

    def _as_tensor_like(self, value, other):
        if isinstance(value, Tensor):
            return value
        if isinstance(value, (bool, int, float, np.number)) and isinstance(other, Tensor):
            return Tensor(np.asarray(value, dtype=other.dtype.np))
        raise GraphModeSyntaxError(f"a branch of an if on a tensor gives {type(value).__name__} where the other "
                                   f"gives a tensor", current_source())

    def tensor_while(self, st, frame):
        src = frame.parsed.source(st)
        if any(isinstance(n, ast.Return) for s_ in st.body for n in ast.walk(s_)):
            raise GraphModeSyntaxError(
                "return inside a while loop whose condition is a tensor: set a result variable and break "
                "instead, then return after the loop", src)
        if _has_exit(ast.Module(body=st.body, type_ignores=[]), loops=True):
            st = _lower_loop_exits(st)          # break/continue become carried flags
            frame.env[_BRK] = False
            frame.env[_CNT] = False
        assigned = _assigned_names(st.body)
        carried = [n for n in assigned if n in frame.env]
        for n in carried:
            v = frame.env[n]
            if isinstance(v, (bool, int, float, np.number)) and not isinstance(v, Tensor):
                frame.env[n] = Tensor(np.asarray(v, dtype=np.int64 if isinstance(v, (int, np.integer)) and
                                                 not isinstance(v, bool) else
                                                 (np.bool_ if isinstance(v, bool) else np.float32)))
            elif not isinstance(frame.env[n], Tensor):
                raise GraphModeSyntaxError(
                    f"variable {n!r} ({type(v).__name__}) changes inside a while loop whose condition is a tensor; "
                    f"only tensors and numbers can change in such a loop", src)
        init = [frame.env[n] for n in carried]
        abstracts = [AbstractTensor(v.shape, v.dtype) for v in init]
        outer_env = dict(frame.env)

        def cond_body(g):
            syms = [Symbol(g.add_param(n, a)) for n, a in zip(carried, abstracts)]
            saved = frame.env
            frame.env = dict(outer_env, **dict(zip(carried, syms)))
            try:
                with self._at(frame, st):
                    t = self.eval(st.test, frame)
                if not isinstance(t, Tensor):
                    raise GraphModeSyntaxError("a while condition that is a tensor before the loop and static "
                                               "inside it", src)
                t = self._cond_tensor(t, src)
                g.output = to_node(t, g)
            finally:
                frame.env = saved

        def loop_body(g):
            syms = [Symbol(g.add_param(n, a)) for n, a in zip(carried, abstracts)]
            saved = frame.env
            frame.env = dict(outer_env, **dict(zip(carried, syms)))
            try:
                self.exec_block(st.body, frame)
                new = [frame.env[n] for n in carried]
            finally:
                frame.env = saved
            for k, (n, v, a) in enumerate(zip(carried, new, abstracts)):
                v = new[k] = _number_as(v, a)
                if not isinstance(v, Tensor) or v.shape != a.shape or v.dtype != a.dtype:
                    got = f"{v.dtype}{list(v.shape)}" if isinstance(v, Tensor) else type(v).__name__
                    raise GraphModeSyntaxError(
                        f"variable {n!r} is {a} before a while loop and {got} after one iteration; a loop variable "
                        f"must keep its shape and dtype", src)
            g.output = make_tuple(new)

        g_cond, _ = self._subgraph("cond", frame, cond_body)
        g_body, _ = self._subgraph("body", frame, loop_body)
        g = current_graph()
        node = g.apply(WHILE, [to_node(v, g) for v in init], {"cond_graph": g_cond, "body_graph": g_body},
                       AbstractTuple(abstracts), src)
        for n, r in zip(carried, wrap_node(node)):
            frame.env[n] = r
        return None


def _number_as(v, a):
    """A Python number the loop body assigns to a carried scalar tensor (``x = 0``, or the ``continue`` flag reset
    at the top of a lowered loop body), as a tensor of the carried dtype when that loses nothing; else ``v``."""
    if isinstance(v, Tensor) or not isinstance(v, (bool, int, float, np.number)) or a.shape != ():
        return v
    is_bool = isinstance(v, (bool, np.bool_))
    if (a.dtype is mdt.bool_) != is_bool or (isinstance(v, (float, np.floating)) and not mdt.is_float(a.dtype)):
        return v
    return Tensor(np.asarray(v, dtype=a.dtype.np))


def _has_exit(stmt, loops=True):
    """Whether a statement contains return (or break/continue outside nested loops)."""
    class V(ast.NodeVisitor):
        found = False

        def visit_Return(self, n):
            self.found = True

        def visit_Break(self, n):
            self.found = True

        def visit_Continue(self, n):
            self.found = True

        def visit_FunctionDef(self, n):
            pass

        def visit_Lambda(self, n):
            pass

        def visit_For(self, n):
            if loops:
                for s in n.body:
                    if any(isinstance(x, ast.Return) for x in ast.walk(s)):
                        self.found = True
            else:
                self.generic_visit(n)

        visit_While = visit_For
    v = V()
    v.visit(stmt)
    return v.found


def _lower_loop_exits(loop):
    """Rewrite a while loop's break/continue into flags, so the loop becomes a plain tensor while:

        while c:                     while c and not BRK:
            A                            CNT = False
            if t: break       ->         A
            B                            if t: BRK = True
                                         if not (BRK or CNT): B
    """
    def flag(name, value, at):
        node = ast.Assign(targets=[ast.Name(name, ast.Store())], value=ast.Constant(value))
        return ast.copy_location(node, at)

    def pending(at):
        test = ast.UnaryOp(ast.Not(), ast.BoolOp(ast.Or(), [ast.Name(_BRK, ast.Load()), ast.Name(_CNT, ast.Load())]))
        return ast.fix_missing_locations(ast.copy_location(test, at))

    def lower(stmts):
        out = []
        for k, st in enumerate(stmts):
            if isinstance(st, ast.Break):
                out.append(flag(_BRK, True, st))
                return out
            if isinstance(st, ast.Continue):
                out.append(flag(_CNT, True, st))
                return out
            if isinstance(st, ast.If) and _has_exit(st, loops=True):
                out.append(ast.copy_location(ast.If(test=st.test, body=lower(st.body) or [ast.Pass()],
                                                    orelse=lower(st.orelse)), st))
                rest = lower(stmts[k + 1:])
                if rest:
                    out.append(ast.copy_location(ast.If(test=pending(st), body=rest, orelse=[]), st))
                return out
            out.append(st)
        return out

    test = ast.BoolOp(ast.And(), [loop.test, ast.UnaryOp(ast.Not(), ast.Name(_BRK, ast.Load()))])
    test = ast.fix_missing_locations(ast.copy_location(test, loop.test))
    body = [flag(_CNT, False, loop.body[0])] + lower(loop.body)
    for n in body:
        ast.fix_missing_locations(n)
    return ast.copy_location(ast.While(test=test, body=body, orelse=[]), loop)


def _assigned_names(stmts):
    names = []
    for st in stmts:
        for n in ast.walk(st):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in names:
                names.append(n.id)
    return names
