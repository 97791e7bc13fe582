"""``infer_graph``: abstract interpretation over the IR, used as a checker of the graph passes.

Every node's abstract value (shape/dtype, or a tuple of them) is derived again from its inputs:

* a Constant from its array; a Param is where abstract values enter (its stored value is taken as given);
* an Apply of a registry Primitive from the primitive's ``infer`` rule and the node's attributes;
* ``make_tuple`` / ``tuple_getitem`` from the tuple elements;
* ``if``: the condition must be a one-element bool tensor, both branches must take the operands' abstract values
  and return the node's; ``while``: the condition graph returns a bool scalar, the body returns the carried
  values (plus the recorded-iterations stack for a differentiated loop); ``while_grad`` returns one gradient per
  carried value and capture; a call returns its callee's output; ``print`` returns an empty tuple;
* any other op needs a rule in ``RULES`` (op -> ``rule(checker, node, graph, input_abstracts)``) or an ``infer(*avals,
  **attrs)`` method of its own.

The derived value must equal the stored one. A mismatch (or a node used before it is computed, or a primitive
whose ``infer`` rejects its inputs) raises ``IRCheckError`` naming the graph, the node, its op, its source line
and both abstract values. ``passes.pipeline.optimize`` runs this after every pass when ``pipeline.CHECK`` is set
(``MINDLAB_CHECK_PASSES=1``), so a pass that breaks typing is caught at the pass that did it.
"""
import numpy as np

from .. import dtype as mdt
from ..errors import MindlabError
from ..ir.anf import (Apply, Constant, Graph, AbstractTuple, MAKE_TUPLE, TUPLE_GETITEM, IF, WHILE, PRINT)
from ..ops.abstract import AbstractTensor
from ..ops.registry import Primitive
from ..autodiff.graph_grad import WHILE_GRAD, WHILE_GRAD_GRAD, AbstractStack


class IRCheckError(MindlabError):
    """The IR is inconsistent: a node's stored abstract value is not what its inputs give, or a node is used where
    it is not computed."""


def constant_abstract(value):
    """Abstract value of a Constant's array (None for a Graph-valued constant)."""
    if isinstance(value, Graph):
        return None
    arr = np.asarray(value)
    return AbstractTensor(arr.shape, mdt.from_np(arr.dtype))


def _where(node, graph):
    src = node.source
    at = ""
    if src is not None:
        at = f" at {src.file}:{src.line}" + (f": {src.text}" if src.text else "")
    op = node.op_name if isinstance(node, Apply) else type(node).__name__.lower()
    return f"node %{node.id} ({op}) in graph {graph.name}{at}"


class _Checker:
    def __init__(self, context):
        self.context = context
        self.env = {}           # id(node) -> derived abstract value

    def fail(self, node, graph, message):
        prefix = f"{self.context}: " if self.context else ""
        raise IRCheckError(f"{prefix}{_where(node, graph)}: {message}")

    # ------------------------------------------------------------------ graphs
    def check_graph(self, g):
        for p in g.params:
            self.env[id(p)] = p.abstract
        local = {id(n): k for k, n in enumerate(g.nodes)}
        if len(local) != len(g.nodes):
            dup = next(n for k, n in enumerate(g.nodes) if local[id(n)] != k)
            self.fail(dup, g, "appears twice in the graph's node list")
        for k, n in enumerate(g.nodes):
            if not isinstance(n, Apply):
                self.fail(n, g, "the node list holds a non-Apply node")
            ins = [self.input_abstract(i, n, g, local, k) for i in n.inputs]
            derived = self.derive(n, g, ins)
            if derived != n.abstract:
                self.fail(n, g, f"stored abstract value {n.abstract} but its inputs "
                                f"({', '.join(map(repr, ins))}) give {derived}")
            self.env[id(n)] = derived
        for e in g.effects:
            if id(e) not in local:
                self.fail(e, g, "is listed as an effect of the graph but is not among its nodes")
        if g.output is not None:
            self.input_abstract(g.output, g.output, g, local, len(g.nodes))

    def input_abstract(self, i, user, g, local, k):
        if isinstance(i, Constant):
            a = constant_abstract(i.value)
            if a is not None and a != i.abstract:
                self.fail(i, g, f"constant stored as {i.abstract} but its value is {a}")
            return i.abstract
        if id(i) in local:
            if local[id(i)] >= k:
                self.fail(user, g, f"uses %{i.id} ({i.op_name}) before it is computed")
            return self.env[id(i)]
        if id(i) in self.env:     # a free variable: a node of an enclosing graph, already checked
            return self.env[id(i)]
        what = f"%{i.id} ({i.op_name})" if isinstance(i, Apply) else repr(i)
        self.fail(user, g, f"uses {what}, which is neither computed in graph {g.name}, nor one of its params, "
                           f"nor a value of an enclosing graph")

    # ------------------------------------------------------------------ rules
    def derive(self, n, g, ins):
        op = n.op
        if isinstance(op, Primitive):
            try:
                out = op.infer(*ins, **n.attrs)
            except Exception as exc:   # noqa: BLE001 - any rejection is reported as an IR error
                self.fail(n, g, f"{op.name}'s infer rule rejects inputs ({', '.join(map(repr, ins))}) "
                                f"with attributes {n.attrs}: {exc}")
            return AbstractTuple(out) if isinstance(out, tuple) else out
        if isinstance(op, Graph):
            self.check_signature(n, g, op, ins, "callee")
            return op.output.abstract
        rule = RULES.get(op)
        if rule is not None:
            return rule(self, n, g, ins)
        infer = getattr(op, "infer", None)
        if callable(infer):
            out = infer(*ins, **n.attrs)
            return AbstractTuple(out) if isinstance(out, tuple) else out
        self.fail(n, g, f"no inference rule for op {op!r} (add one to mindlab.analysis.infer.RULES)")

    def check_signature(self, n, g, sub, ins, role):
        if len(sub.params) != len(ins):
            self.fail(n, g, f"{role} graph {sub.name} takes {len(sub.params)} inputs but gets {len(ins)}")
        for p, a in zip(sub.params, ins):
            if p.abstract != a:
                self.fail(n, g, f"{role} graph {sub.name} parameter %{p.name} is {p.abstract} but gets {a}")
        if sub.output is None:
            self.fail(n, g, f"{role} graph {sub.name} has no output")


def _tuple_rule(ck, n, g, ins):
    return AbstractTuple(ins)


def _getitem_rule(ck, n, g, ins):
    t, k = ins[0], n.attrs.get("index")
    if not isinstance(t, AbstractTuple) or not isinstance(k, int) or not -len(t.elements) <= k < len(t.elements):
        ck.fail(n, g, f"tuple_getitem index {k!r} on {t}")
    return t.elements[k]


def _bool_scalar(a):
    return isinstance(a, AbstractTensor) and a.size == 1 and a.dtype is mdt.bool_


def _if_rule(ck, n, g, ins):
    if not ins or not _bool_scalar(ins[0]):
        ck.fail(n, g, f"the condition must be a one-element Bool tensor, got {ins[0] if ins else None}")
    then_g, else_g = n.attrs["then_graph"], n.attrs["else_graph"]
    ck.check_signature(n, g, then_g, ins[1:], "then")
    ck.check_signature(n, g, else_g, ins[1:], "else")
    if then_g.output.abstract != else_g.output.abstract:
        ck.fail(n, g, f"the branches return {then_g.output.abstract} and {else_g.output.abstract}")
    return then_g.output.abstract


def _while_rule(ck, n, g, ins):
    n_caps = n.attrs.get("captures", 0)
    carry = ins[:len(ins) - n_caps]
    cond_g, body_g = n.attrs["cond_graph"], n.attrs["body_graph"]
    ck.check_signature(n, g, cond_g, ins, "cond")
    ck.check_signature(n, g, body_g, ins, "body")
    if not _bool_scalar(cond_g.output.abstract):
        ck.fail(n, g, f"the loop condition returns {cond_g.output.abstract}, not a Bool scalar")
    if body_g.output.abstract != AbstractTuple(carry):
        ck.fail(n, g, f"the loop body returns {body_g.output.abstract} but the loop carries {AbstractTuple(carry)}")
    return AbstractTuple(list(carry) + [AbstractStack()]) if n.attrs.get("record") else AbstractTuple(carry)


def _while_grad_rule(ck, n, g, ins):
    n_carry, n_caps = n.attrs["n_carry"], n.attrs["n_caps"]
    if n.attrs.get("stack_cot"):
        if not isinstance(ins[-1], AbstractStack):
            ck.fail(n, g, f"while_grad's last input is {ins[-1]}, not the stack's cotangent")
        ins = ins[:-1]
    caps, dcarry = ins[1:1 + n_caps], ins[1 + n_caps:]
    if len(dcarry) != n_carry:
        ck.fail(n, g, f"while_grad gets {len(dcarry)} carried gradients for {n_carry} carried values")
    out = AbstractTuple(list(dcarry) + list(caps))
    body_grad = n.attrs["body_grad"]
    if body_grad.output.abstract != out:
        ck.fail(n, g, f"the differentiated loop body returns {body_grad.output.abstract}, expected {out}")
    return out


def _while_grad_grad_rule(ck, n, g, ins):
    n_carry, n_caps = n.attrs["n_carry"], n.attrs["n_caps"]
    if len(ins) != 1 + n_caps + 2 * n_carry + n_caps or not isinstance(ins[0], AbstractStack):
        ck.fail(n, g, f"while_grad_grad gets {len(ins)} inputs; expected the stack, {n_caps} captures, {n_carry} "
                      f"carried gradients and {n_carry + n_caps} cotangents")
    caps, dcarry = ins[1:1 + n_caps], ins[1 + n_caps:1 + n_caps + n_carry]
    out = AbstractTuple(list(dcarry) + list(caps) + [AbstractStack()])
    bgg = n.attrs["body_grad_grad"]
    if len(bgg.output.abstract.elements) != 2 * n_carry + n_caps:
        ck.fail(n, g, f"the twice-differentiated loop body returns {bgg.output.abstract}")
    return out


def _print_rule(ck, n, g, ins):
    return AbstractTuple([])


# op -> rule(checker, node, graph, input_abstracts): the builtins' rules; a new builtin op registers its own here.
RULES = {MAKE_TUPLE: _tuple_rule, TUPLE_GETITEM: _getitem_rule, IF: _if_rule, WHILE: _while_rule,
         WHILE_GRAD: _while_grad_rule, WHILE_GRAD_GRAD: _while_grad_grad_rule, PRINT: _print_rule}


def infer_graph(graph, context=""):
    """Check every node of ``graph`` and of every graph it uses; returns a dict id(node) -> derived abstract.

    Raises ``IRCheckError`` at the first inconsistency; ``context`` (e.g. "after pass cse") prefixes the message."""
    ck = _Checker(context)
    for g in graph.all_graphs():
        ck.check_graph(g)
    return ck.env
