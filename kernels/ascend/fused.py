"""The Ascend builder of the fusion pass: a fused elementwise chain becomes one Vector kernel.

``compile_expr(expr, shape, row_size, work)`` (registered with ``passes.fusion.register_builder("Ascend", ...)``)
turns the ``FusedExpr`` of a group — inputs (full / scalar / row), one step per node from each primitive's ``fuse``
template, outputs — into a numpy function of UB tiles and runs it with ``k_vector.elementwise``: one CopyIn ->
Compute -> CopyOut pipeline, so intermediate values stay in the Unified Buffer and only the group's inputs and
outputs cross GM. The templates are scalar Python; ``_Vectorize`` rewrites the few constructs that differ on
arrays (``not``, ``and``/``or``, ``x if c else y``), and the fast-math names map to the Vector unit's functions.
The compute cost is counted from the expression: one vector pass per arithmetic/compare/select/cast node,
``VECTOR_COST`` passes per transcendental.
"""
import ast

import numpy as np
from scipy import special

from .api import VECTOR_COST
from .k_vector import elementwise

__all__ = ["compile_expr", "expr_function", "AscendFusedCall"]


def _caster(dt):
    dt = np.dtype(dt)
    return lambda x: np.asarray(x).astype(dt, copy=False)


NAMESPACE = {"np": np, "abs": np.abs, "fexp": np.exp, "flog": np.log, "ftanh": np.tanh, "fsigmoid": special.expit,
             "fsqrt": np.sqrt, "fmaximum": np.maximum, "fminimum": np.minimum, "math": np}
for _name, _dt in (("bool_", np.bool_), ("int8", np.int8), ("uint8", np.uint8), ("int16", np.int16),
                   ("int32", np.int32), ("int64", np.int64), ("float16", np.float16), ("float32", np.float32),
                   ("float64", np.float64)):
    NAMESPACE[_name] = _caster(_dt)
_COSTLY = {"fexp": VECTOR_COST["Exp"], "flog": VECTOR_COST["Ln"], "ftanh": 2 * VECTOR_COST["Exp"],
           "fsigmoid": VECTOR_COST["Exp"] + VECTOR_COST["Div"], "fsqrt": VECTOR_COST["Sqrt"]}


class _Vectorize(ast.NodeTransformer):
    def __init__(self):
        self.passes = 0

    def _np(self, fn, *args):
        return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), fn, ast.Load()), list(args), [])

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        self.passes += 1
        if isinstance(node.op, ast.Not):
            return self._np("logical_not", node.operand)
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        self.passes += len(node.values) - 1
        fn = "logical_and" if isinstance(node.op, ast.And) else "logical_or"
        out = node.values[0]
        for v in node.values[1:]:
            out = self._np(fn, out, v)
        return out

    def visit_IfExp(self, node):
        self.generic_visit(node)
        self.passes += 1
        return self._np("where", node.test, node.body, node.orelse)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        self.passes += VECTOR_COST["Div"] if isinstance(node.op, ast.Div) else 1
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        self.passes += len(node.ops)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        self.passes += _COSTLY.get(name, 1)
        return node


def expr_function(expr):
    """(numpy function of the inputs returning the outputs, vector passes per element, its source)."""
    args = [f"s{k}" if kind == "scalar" else f"v{k}" for k, (kind, _) in enumerate(expr.inputs)]
    lines = [f"def fused_tile({', '.join(args)}):"]
    vec = _Vectorize()
    for k, (text, dtype, label) in enumerate(expr.steps):
        if text is None:
            raise ValueError(f"step {k} ({label}) has no fused expression")
        tree = vec.visit(ast.parse(text, mode="eval"))
        vec.passes += 1          # the conversion to the step's dtype
        lines.append(f"    t{k} = {np.dtype(dtype).name if np.dtype(dtype) != np.bool_ else 'bool_'}"
                     f"({ast.unparse(tree.body)})" + (f"   # {label}" if label else ""))
    outs = ", ".join(f"t{k}" for k in expr.outputs)
    lines.append(f"    return ({outs},)" if len(expr.outputs) > 1 else f"    return {outs}")
    source = "\n".join(lines) + "\n"
    ns = dict(NAMESPACE)
    exec(compile(source, "<mindlab ascend fused tile>", "exec"), ns)   # generated from the fuse templates
    return ns["fused_tile"], vec.passes, source


class AscendFusedCall:
    """The Ascend kernel of a fused node: ``call(*arrays)`` -> array or tuple, run as one Vector kernel."""

    def __init__(self, expr, shape, row_size=1, work_per_element=1.0):
        self.expr, self.shape, self.row = expr, tuple(shape), int(row_size)
        self.fn, self.passes, self.source = expr_function(expr)
        self.kinds = [kind for kind, _ in expr.inputs]
        self.in_dtypes = [dt for _, dt in expr.inputs]
        self.out_dtypes = [expr.steps[k][1] for k in expr.outputs]
        self.label = "fused(" + ",".join(expr.steps[k][2] or "?" for k in range(len(expr.steps))) + ")"

    def __call__(self, *arrays):
        if len(arrays) != len(self.kinds):
            raise ValueError(f"{self.label}: takes {len(self.kinds)} inputs, got {len(arrays)}")
        ins = [np.ascontiguousarray(a, dtype=dt) for a, dt in zip(arrays, self.in_dtypes)]
        fn = self.fn
        if any(k == "scalar" for k in self.kinds):
            def fn(*xs, _f=self.fn):
                return _f(*[x.reshape(()) if k == "scalar" else x for x, k in zip(xs, self.kinds)])
        return elementwise(self.label, fn, ins, self.kinds, self.out_dtypes, self.shape, self.passes,
                           row=self.row if "row" in self.kinds else 1)


def compile_expr(expr, shape, row_size=1, work_per_element=1.0):
    if not expr.outputs:
        raise ValueError("a fused expression needs at least one output")
    return AscendFusedCall(expr, shape, row_size, work_per_element)
