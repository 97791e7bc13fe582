"""Reverse-mode AD by source transformation of the graph IR (GRAPH_MODE).

``differentiate(graph, wrt)`` turns a closed graph ``F(params) -> outs`` into a new IR graph
``G(params, sens) -> (outs, grads)``: it replays F's nodes, then walks them backwards emitting each primitive's
registry ``bprop`` as IR (bprops are written with mindlab ops, which on Symbols add nodes). The result is an
ordinary graph — printable, renderable, optimizable, and differentiable again (grad of grad).

Control flow:
* ``if``: the backward is an ``if`` on the same condition whose branches are the *differentiated* branches
  (they recompute their forward part, then return the gradients of their captured inputs).
* ``while``: the forward loop runs in recording mode, keeping each iteration's carried values; the backward
  ``while_grad`` node runs the differentiated body over them in reverse, accumulating gradients.
"""
import numpy as np

from ..errors import MindlabError, push_source, pop_source
from ..ir.anf import (Graph, Apply, Constant, AbstractTuple, Builtin, MAKE_TUPLE, TUPLE_GETITEM, IF,
                      WHILE, PRINT, SourceInfo)
from ..ir.builder import Symbol, building, to_node, wrap_node, make_tuple
from ..ops.abstract import AbstractTensor
from ..ops.registry import Primitive
from ..tensor import Tensor
from .grad import arg_leaves, regroup

WHILE_GRAD = Builtin("while_grad")   # inputs: stack, *captures, *dcarry[, stack cotangent]; attrs: body_grad,
#                                      n_carry, n_caps[, stack_cot]
WHILE_GRAD_GRAD = Builtin("while_grad_grad")   # the VJP of while_grad (grad of grad through a loop); inputs: stack,
#   *captures, *dcarry, *cotangents of while_grad's outputs; attrs: body_grad, body_grad_grad, n_carry, n_caps;
#   outputs: cotangents of dcarry, of the captures, and of the stack (a list: one per recorded iteration)


class AbstractStack:
    """The recorded iterations of a while loop (an opaque runtime list)."""

    def __eq__(self, other):
        return isinstance(other, AbstractStack)

    def __hash__(self):
        return 7

    def __repr__(self):
        return "Stack"


def _is_float(abstract):
    return isinstance(abstract, AbstractTensor) and abstract.dtype.kind == "f"


def _outputs(graph):
    out = graph.output
    if isinstance(out, Apply) and out.op is MAKE_TUPLE:
        return list(out.inputs), True
    return [out], False


def differentiate(graph, wrt=None, return_forward=True, name=None):
    """Gradient graph of closed ``graph`` w.r.t. the params at indices ``wrt`` (default: all float params).

    G's params are F's params followed by one sensitivity per F output; G returns
    ``make_tuple(*outs, *grads)`` (or just the grads when ``return_forward`` is False)."""
    if wrt is None:
        wrt = [k for k, p in enumerate(graph.params) if _is_float(p.abstract)]
    G = Graph(name or f"{graph.name.rsplit('_', 1)[0]}_grad")
    G.kind = "grad"
    G.source = graph.source
    env = {}                      # id(forward node) -> value in G (Symbol / tuple of Symbols / raw node)
    with building(G):
        for p in graph.params:
            env[id(p)] = Symbol(G.add_param(p.name, p.abstract, p.default, p.source))
        outs, _ = _outputs(graph)
        sens = [Symbol(G.add_param(f"sens{k}", o.abstract)) for k, o in enumerate(outs)]

        def value(node):
            if isinstance(node, Constant):
                return Symbol(Constant(node.value, node.abstract, G, node.source))
            return env[id(node)]

        # ---------------------------------------------------------------- forward replay
        stacks = {}
        for n in graph.nodes:
            ins = [value(i) for i in n.inputs]
            if isinstance(n.op, Primitive):
                env[id(n)] = _apply(G, n.op, ins, n.attrs, n.abstract, n.source)
            elif n.op is MAKE_TUPLE:
                env[id(n)] = tuple(ins)
            elif n.op is TUPLE_GETITEM:
                env[id(n)] = ins[0][n.attrs["index"]]
            elif n.op is IF:
                node = G.apply(IF, [to_node(v, G) for v in ins], n.attrs, n.abstract, n.source)
                env[id(n)] = wrap_node(node)
            elif n.op is WHILE and n.attrs.get("record"):   # a gradient graph's recorded loop, differentiated again
                node = G.apply(WHILE, [to_node(v, G) for v in ins], n.attrs, n.abstract, n.source)
                vals = wrap_node_partial(G, node, len(n.abstract.elements))
                env[id(n)] = tuple(vals)
                stacks[id(n)] = vals[-1]
            elif n.op is WHILE:
                attrs = dict(n.attrs, record=True)
                node = G.apply(WHILE, [to_node(v, G) for v in ins], attrs,
                               AbstractTuple(list(n.abstract.elements) + [AbstractStack()]), n.source)
                vals = wrap_node_partial(G, node, len(n.abstract.elements))
                env[id(n)] = tuple(vals[:-1])
                stacks[id(n)] = vals[-1]
            elif n.op is PRINT:
                G.apply(PRINT, [to_node(v, G) for v in ins], n.attrs, n.abstract, n.source)
                env[id(n)] = ()
            elif n.op is WHILE_GRAD and not n.attrs.get("stack_cot"):   # grad of grad through a tensor while
                node = G.apply(WHILE_GRAD, [to_node(v, G) if isinstance(v, Symbol) else v for v in ins], n.attrs,
                               n.abstract, n.source)
                env[id(n)] = wrap_node(node)
            elif n.op in (WHILE_GRAD, WHILE_GRAD_GRAD):
                loc = f"\n  at {n.source.file}:{n.source.line}: {n.source.text}" if n.source is not None else ""
                raise MindlabError(
                    "GRAPH_MODE: a third derivative through a `while` loop on a tensor is not supported (the "
                    "loop's second-order backward pass cannot be differentiated again). Take it in PYNATIVE_MODE, "
                    f"or loop a static number of times (`for i in range(n)` unrolls).{loc}")
            else:
                raise MindlabError(f"autodiff: cannot differentiate through {n.op_name} (inline calls first)")

        # ---------------------------------------------------------------- backward
        grads = {}

        def add_grad(node, g, index=None):
            if g is None or isinstance(node, Constant):
                return
            if index is None:
                if isinstance(node.abstract, AbstractStack):   # a recorded loop's stack: one consumer, while_grad
                    if id(node) in grads:
                        raise MindlabError("autodiff: a while loop's recorded iterations are used twice")
                    grads[id(node)] = g
                    return
                if not _is_float(node.abstract):
                    return
                prev = grads.get(id(node))
                grads[id(node)] = g if prev is None else prev + g
            else:
                slot = grads.setdefault(id(node), {})
                prev = slot.get(index)
                slot[index] = g if prev is None else prev + g

        for o, s in zip(outs, sens):
            _add_output_grad(o, s, add_grad)

        for n in reversed(graph.nodes):
            g = grads.get(id(n))
            if g is None:
                continue
            if n.op is TUPLE_GETITEM:
                add_grad(n.inputs[0], g, n.attrs["index"])
            elif n.op is MAKE_TUPLE:
                for k, i in enumerate(n.inputs):
                    add_grad(i, g.get(k))
            elif isinstance(n.op, Primitive):
                _bprop_node(n, env, value, g, add_grad)
            elif n.op is IF:
                _bprop_if(G, n, value, g, add_grad)
            elif n.op is WHILE:
                _bprop_while(G, n, value, g, stacks[id(n)], add_grad)
            elif n.op is WHILE_GRAD:
                _bprop_while_grad(G, n, value, g, add_grad)

        from ..ops import functional as F
        result = []
        for k in wrt:
            p = graph.params[k]
            gk = grads.get(id(p))
            result.append(gk if gk is not None else F.zeros_like(env[id(p)]))
        fwd = [value(o) for o in outs] if return_forward else []
        G.output = make_tuple(fwd + result)
    return G


def wrap_node_partial(G, node, n_tensors):
    vals = []
    for i, a in enumerate(node.abstract.elements):
        vals.append(Symbol(G.apply(TUPLE_GETITEM, [node], {"index": i}, a, node.source)))
    return vals


def _apply(G, prim, ins, attrs, abstract, source):
    node = G.apply(prim, [to_node(v, G) for v in ins], attrs, abstract, source)
    return wrap_node(node)


def _add_output_grad(o, s, add_grad):
    if isinstance(o.abstract, AbstractTuple):
        raise MindlabError("autodiff: nested tuple outputs are not supported yet")
    add_grad(o, s)


def _bprop_node(n, env, value, g, add_grad):
    from ..ops import functional as F
    prim = n.op
    if not prim.differentiable:
        return
    ins = [value(i) for i in n.inputs]
    out = env[id(n)]
    if prim.outputs != 1:
        dout = tuple(g.get(k) if g.get(k) is not None else F.zeros_like(out[k]) for k in range(len(out)))
    else:
        dout = g
    src = n.source
    if src is not None:   # the bprop's nodes belong to the forward op's line (errors, the gradient graph's view)
        fn = getattr(src, "function", "") or ""
        push_source(SourceInfo(src.file, src.line, src.text, f"{fn} (gradient of {prim.name})".lstrip()))
    try:
        in_grads = prim.bprop(ins, out, dout, **n.attrs)
    finally:
        if src is not None:
            pop_source()
    for i, gi in zip(n.inputs, in_grads):
        if gi is not None:
            add_grad(i, gi)


def _bprop_if(G, n, value, g, add_grad):
    cond, caps = n.inputs[0], n.inputs[1:]
    douts = [g.get(k) if g.get(k) is not None else _zeros(a, G) for k, a in enumerate(n.abstract.elements)]
    wrt = [k for k, c in enumerate(caps) if _is_float(c.abstract)]
    if not wrt:
        return
    then_g = differentiate(n.attrs["then_graph"], wrt, return_forward=False)
    else_g = differentiate(n.attrs["else_graph"], wrt, return_forward=False)
    ins = [value(cond)] + [value(c) for c in caps] + douts
    node = G.apply(IF, [to_node(v, G) for v in ins], {"then_graph": then_g, "else_graph": else_g,
                                                        "captures": len(ins) - 1},
                   AbstractTuple([caps[k].abstract for k in wrt]), n.source)
    for k, gv in zip(wrt, wrap_node(node)):
        add_grad(caps[k], gv)


def _zeros(a, G):
    return Symbol(Constant(np.zeros(a.shape, a.dtype.np), a, G))


def _bprop_while(G, n, value, g, stack, add_grad):
    n_caps = n.attrs.get("captures", 0)
    n_carry = len(n.inputs) - n_caps
    caps = n.inputs[n_carry:]
    body = n.attrs["body_graph"]
    body_grad = differentiate(body, list(range(len(body.params))), return_forward=False)
    douts = [g.get(k) if g.get(k) is not None else _zeros(a, G) for k, a in enumerate(n.abstract.elements[:n_carry])]
    ins = [stack] + [value(c) for c in caps] + douts
    attrs = {"body_grad": body_grad, "n_carry": n_carry, "n_caps": n_caps}
    stack_cot = g.get(n_carry) if n.attrs.get("record") else None   # (second order: the stack was used)
    if stack_cot is not None:
        ins.append(stack_cot)
        attrs["stack_cot"] = True
    node = G.apply(WHILE_GRAD, [to_node(v, G) if isinstance(v, Symbol) else v for v in ins], attrs,
                   AbstractTuple([i.abstract for i in n.inputs]), n.source)
    res = wrap_node(node)
    for i, gv in zip(n.inputs, res):
        add_grad(i, gv)


def _bprop_while_grad(G, n, value, g, add_grad):
    """The VJP of a ``while_grad`` node (grad of grad through a loop): a ``while_grad_grad`` node, which reruns the
    backward loop for its carried gradients, then sweeps forward through the iterations with the differentiated
    differentiated body; the stack's cotangent goes to the recorded loop's own ``while_grad`` (``stack_cot``)."""
    n_carry, n_caps = n.attrs["n_carry"], n.attrs["n_caps"]
    body_grad = n.attrs["body_grad"]
    body_grad_grad = differentiate(body_grad, list(range(len(body_grad.params))), return_forward=False)
    bars = [g.get(k) if g.get(k) is not None else _zeros(a, G) for k, a in enumerate(n.abstract.elements)]
    ins = [value(i) for i in n.inputs] + bars
    stack, caps, dcarry = n.inputs[0], n.inputs[1:1 + n_caps], n.inputs[1 + n_caps:]
    node = G.apply(WHILE_GRAD_GRAD, [to_node(v, G) if isinstance(v, Symbol) else v for v in ins],
                   {"body_grad": body_grad, "body_grad_grad": body_grad_grad, "n_carry": n_carry, "n_caps": n_caps},
                   AbstractTuple([d.abstract for d in dcarry] + [c.abstract for c in caps] + [AbstractStack()]),
                   n.source)
    res = wrap_node(node)
    for i, gv in zip(list(dcarry) + list(caps), res[:-1]):
        add_grad(i, gv)
    add_grad(stack, res[-1])


# ---------------------------------------------------------------------------------------------- grad in graphs

def _forward_graph(gf, args, kwargs):
    """Compile the function a GradFunction differentiates, on (possibly symbolic) ``args``."""
    import types
    from ..frontend.parser import Compiler
    from ..frontend.jit import JitFunction
    from ..nn.cell import Cell
    fn = gf.fn
    if isinstance(fn, JitFunction):   # grad(jit(f)): differentiate what the jit compiles
        fn = fn.target()
    name = getattr(fn, "__name__", type(fn).__name__)
    sub = Compiler(f"{name}_fwd")
    from ..frontend.parser import LocalFunction
    if isinstance(fn, Cell):
        from ..nn.cell import construct_function
        graph, leaves, rebuild = sub.compile(construct_function(fn), args, kwargs, self_obj=fn)
    elif isinstance(fn, LocalFunction):   # a def / lambda inside compiled code: may close over outer values
        graph, leaves, rebuild = sub.compile_body(lambda *a, **k: sub.call_local(fn, a, k), args, kwargs)
    elif getattr(fn, "__mindlab_grad__", None) is not None:      # grad of grad
        graph, leaves, rebuild = compile_grad_transform(sub, fn, args, kwargs)
    elif isinstance(fn, types.MethodType):
        graph, leaves, rebuild = sub.compile(fn.__func__, args, kwargs, self_obj=fn.__self__)
    else:
        graph, leaves, rebuild = sub.compile(fn, args, kwargs)
    return sub, graph, leaves, rebuild


def compile_grad_transform(compiler, gf, args, kwargs):
    """``compiler.compile_body`` of what the gradient transform ``gf`` returns (its gradient program as a graph)."""
    return compiler.compile_body(lambda *a, **k: gf.package(*call_grad_transform(compiler, gf, a, k)), args, kwargs)


def call_grad_transform(compiler, gf, args, kwargs):
    """A gradient transform called inside code being compiled: differentiate the callee's graph and call the
    gradient graph from the graph being built. Returns what the transform returns, as Symbols."""
    from ..ops import functional as F
    from ..passes.closure import lift_free_variables
    from ..passes.dce import dce
    from ..passes.inline import inline
    from ..ir.clone import clone
    from ..ir.builder import current_graph
    args, positions, single, sens = gf.resolve(tuple(args))
    sub, graph, leaves, rebuild = _forward_graph(gf, args, kwargs)
    index = {id(p): k for k, p in enumerate(graph.params)}
    wrt, groups = [], []
    for p in positions:   # a Tensor, or a tuple / list of them: one graph parameter per Tensor
        arg_syms, regroup_arg = arg_leaves(sub.inputs[p], p)
        wrt.extend(index[id(s.node)] for s in arg_syms)
        groups.append((len(arg_syms), regroup_arg))
    weights = list(gf.weights or ())
    w_index = [index.get(id(sub.weights[id(w)].node)) if id(w) in sub.weights else None for w in weights]
    wrt_all = wrt + [k for k in w_index if k is not None]
    closed = dce(inline(lift_free_variables(clone(graph))))
    G = differentiate(closed, wrt_all)
    # inputs of the gradient graph: the forward graph's params (outer values), then one sensitivity per output
    outer_of = {id(p): v for p, v in sub.arg_params}
    for k, fv in enumerate(graph.free_variables()):   # outer values a local function closes over: extra inputs
        p = graph.add_param(f"fv{k}", fv.abstract)
        _replace_in(graph, fv, p)
        outer_of[id(p)] = Symbol(fv)
    ins = []
    for p in graph.params:
        ins.append(compiler.weight(p.default) if p.default is not None else outer_of[id(p)])
    out_leaves = [l for l in leaves if isinstance(l, Tensor)]
    ins.extend(_sensitivities(gf, out_leaves, sens))
    g = current_graph()
    call = g.apply(G, [to_node(v, g) for v in ins], {}, G.output.abstract, None)
    res = wrap_node(call)
    outs, grads = res[:len(out_leaves)], list(res[len(out_leaves):])
    it = iter(outs)
    value = rebuild([next(it) if isinstance(l, Tensor) else l for l in leaves])
    pg = regroup(grads[:len(wrt)], groups)
    gw = iter(grads[len(wrt):])
    wg = [next(gw) if k is not None else F.zeros_like(compiler.weight(w)) for w, k in zip(weights, w_index)]
    return value, pg, wg, single


def _replace_in(graph, old, new):
    for g in graph.all_graphs():
        for n in g.nodes:
            if any(i is old for i in n.inputs):
                n.inputs = tuple(new if i is old else i for i in n.inputs)
        if g.output is old:
            g.output = new


def _sensitivities(gf, out_leaves, sens):
    """Ones for differentiated outputs (only the first with has_aux), zeros for the others; or the user's."""
    from ..tensor import Tensor as T
    if sens is not None:
        given = list(sens) if isinstance(sens, (tuple, list)) else [sens]
        if len(given) != len(out_leaves) or any(tuple(s.shape) != tuple(o.shape) for s, o in zip(given, out_leaves)):
            raise ValueError(f"GradOperation: sens shapes {[list(s.shape) for s in given]} do not match the "
                             f"outputs' shapes {[list(o.shape) for o in out_leaves]}")
        return given
    out = []
    for k, o in enumerate(out_leaves):
        fill = np.ones if (k == 0 or not gf.has_aux) else np.zeros
        out.append(T(fill(o.shape, o.dtype.np)))
    return out


def run_graph_grad(gf, args, positions, sens):
    """A gradient transform called at top level in GRAPH_MODE: compile (cached per input signature) a graph that
    computes the value and the gradients, then run it."""
    from ..frontend.jit import signature, Compiled
    all_args = tuple(args) + ((sens,) if sens is not None else ())
    from ..context import get_context
    key = (signature(all_args, {}), get_context("debug_nans"))   # debug_nans programs carry NaN checks
    entry = gf.graph_cache.find(key)
    if entry is None:
        def build(compiler):
            def body(*syms):
                value, pg, wg, _ = call_grad_transform(compiler, gf, syms, {})
                return value, tuple(pg), tuple(wg)
            return compiler.compile_body(body, all_args)
        name = getattr(gf.fn, "__name__", type(gf.fn).__name__)
        entry = Compiled(f"{name}_grad", build)
        gf.graph_cache.add(key, entry)
        from ..jupyter import events
        events.publish("grad", compiled=entry, function=gf)
    value, pg, wg = entry.run(all_args, {})
    return value, list(pg), list(wg)
