"""SPMD lowering: the graph every device runs, with the collectives as IR nodes.

``lower(parallel_plan)`` rewrites the planned graph for one device (every device runs the same program on its own
slices — single program, multiple data):

* parameters and inputs become ``Param``s of their per-device slice shapes (a weight keeps its mindlab
  ``Parameter`` as ``default``: each device holds the slice its layout gives);
* each op runs on slices, with the attributes its OpSharding localised (``reshape``'s target shape, a grouped
  convolution's ``groups``, ...);
* where a tensor's layout differs from what its consumer needs, the redistribution's steps are inserted as nodes of
  the *communication primitives* below (``all_gather``, ``all_to_all``, ``all_reduce``, ``reduce_scatter``, and the
  local ``split`` / ``make_partial``), one node per step, so the text dump shows them::

      %41 = matmul(%x, %w) {transpose_a=False, transpose_b=True} : Float32[32, 16]
      %57 = all_reduce(%55) {mesh=DeviceMesh(x0=4), axes=('x0',), op='sum'} : Float32[16, 32]

* the collectives an OpSharding implies after its kernel (``post``: a mean over a split axis) follow it, and graph
  outputs holding partial sums are reduced.

The communication primitives are ``Primitive`` objects outside the registry (like the fusion pass's kernels): the
graph executor runs them as any op; their CPU kernel calls the communicator of the running rank
(``mindlab.communication.get_comm()``: the thread's rank inside ``SimWorld.run``, the MPI world under ``mpiexec``),
restricted to the group of devices along the step's mesh axes.

``lower_data_parallel(graph, mesh, gradients_mean)`` is MindSpore's data parallelism instead: every device runs the
whole (unsplit) graph compiled for its slice of the batch, and the gradient input of every optimizer update is
all-reduced first (summed, or averaged with ``gradients_mean``).
"""
import threading
from dataclasses import dataclass

import numpy as np

from ..ir.anf import Graph, Constant, MAKE_TUPLE, TUPLE_GETITEM, AbstractTuple, Apply
from ..ir.printer import dump
from ..ops.abstract import AbstractTensor
from ..ops.registry import Primitive, Cost, not_differentiable
from .layout import TensorLayout

__all__ = ["lower", "lower_data_parallel", "SPMDGraph", "COMM_PRIMITIVES", "is_comm_node"]


# ------------------------------------------------------------------------------- communication primitives

def _generated_kernel(op):
    """Whether ``op`` is a kernel a fusion pass generated for whole tensors (an elementwise group, a GEMM folded into
    its optimizer update): lowering must see the graph before those passes."""
    from ..passes.gemm_update import matmul_apply_momentum_p
    return op is matmul_apply_momentum_p or getattr(op, "fused_expr", None) is not None

def _group_size(mesh, axes):
    n = 1
    for a in axes:
        n *= mesh.axis_size(a)
    return n


def _comm():
    from ..communication import get_comm
    return get_comm()


def _coord(mesh, axes, rank):
    """Index of ``rank`` in its group along ``axes`` (row-major over the axes, as ``DeviceMesh.groups``)."""
    return mesh.index_in_group(rank, axes)


def _infer(kind):
    def infer(x, mesh, axes, dim=None, to_dim=None, op="sum", **tags):
        p = _group_size(mesh, axes)
        shape = list(x.shape)
        if kind == "all_gather":
            shape[dim] *= p
        elif kind in ("split", "reduce_scatter"):
            shape[dim] //= p
        elif kind == "all_to_all":
            shape[dim] *= p
            shape[to_dim] //= p
        return AbstractTensor(shape, x.dtype)
    return infer


def _kernel(kind):
    def kernel(x, mesh, axes, dim=None, to_dim=None, op="sum", **tags):
        comm = _comm()
        if kind == "split":
            k = _coord(mesh, axes, comm.world_rank)
            return np.ascontiguousarray(np.split(np.asarray(x), _group_size(mesh, axes), axis=dim)[k])
        if kind == "make_partial":
            k = _coord(mesh, axes, comm.world_rank)
            return np.array(x) if k == 0 else np.zeros_like(x)
        sub = comm.group_along(mesh, axes)
        if kind == "all_reduce":
            return sub.all_reduce(x, op=op)
        if kind == "all_gather":
            return sub.all_gather(x, axis=dim)
        if kind == "reduce_scatter":
            return sub.reduce_scatter(x, axis=dim)
        if kind == "all_to_all":
            return sub.all_to_all(x, split_axis=to_dim, concat_axis=dim)
        raise AssertionError(kind)
    kernel.__name__ = kind
    return kernel


def _cost(kind):
    def cost(x, **attrs):
        return Cost(0, 0 if kind in ("split", "make_partial") else 2 * x.nbytes)
    return cost


COMM_PRIMITIVES = {
    kind: Primitive(kind, _infer(kind), {"CPU": _kernel(kind)},
                    not_differentiable("a communication step of an SPMD program (inserted after differentiation)"),
                    _cost(kind), doc=f"SPMD {kind} over the devices along mesh axes `axes` (mindlab.parallel.spmd)")
    for kind in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "split", "make_partial")}


# ------------------------------------------------------------------------------------- random masks
# A dropout mask drawn per device would differ from the single-device one. Lowered, every device draws the mask of
# the whole tensor from the same generator state and keeps its slice, so the ranks' masks are the slices of the
# single-device mask. On MPI each process has its own generator, seeded alike. On the sim backend the ranks are
# threads sharing one generator: ``ParallelProgram.run_sim`` gives each rank thread copies (``rank_generators``)
# and afterwards advances the real generators as one device would have.
_rank_local = threading.local()


def rank_generators(copies):
    """Make this thread draw from copies of mindlab's generators (``copies``: a dict filled on first use with
    ``id(generator) -> (generator, copy)``); None stops it."""
    _rank_local.generators = copies


def _rank_generator(gen):
    copies = getattr(_rank_local, "generators", None)
    if copies is None:
        return gen
    entry = copies.get(id(gen))
    if entry is None:
        twin = np.random.Generator(type(gen.bit_generator)())
        twin.bit_generator.state = gen.bit_generator.state
        entry = copies[id(gen)] = (gen, twin)
    return entry[1]


def _mask_infer(x, mesh, layout, keep_prob, seed):
    return AbstractTensor(x.shape, x.dtype)


def _mask_kernel(x, mesh, layout, keep_prob, seed):
    from ..ops.prims.nn_ops import _generator
    full = (_rank_generator(_generator(seed)).random(layout.shape, dtype=np.float32) < keep_prob).astype(x.dtype)
    return np.ascontiguousarray(full[layout.slices(_comm().world_rank)])


MASK_SLICE = Primitive("dropout_gen_mask_slice", _mask_infer, {"CPU": _mask_kernel},
                       not_differentiable("a random 0/1 mask does not depend on the input's values"),
                       lambda x, **attrs: Cost(0, x.nbytes), random=True,
                       doc="This device's slice of a dropout mask drawn for the whole tensor (mindlab.parallel.spmd)")


def is_comm_node(node):
    return isinstance(node, Apply) and any(node.op is p for p in COMM_PRIMITIVES.values())


# ------------------------------------------------------------------------------------------- the result
@dataclass
class SPMDGraph:
    """The per-device program: ``graph`` (local shapes, collectives as nodes); per graph parameter its global
    layout (``param_layouts``, the slice each device is given) and its mindlab Parameter or None for an input;
    the layouts of the graph outputs (``output_layouts``, per output: how the devices' results assemble)."""
    graph: Graph
    mesh: object
    param_layouts: list
    param_defaults: list
    output_layouts: list
    tuple_output: bool
    mode: str = "auto_parallel"
    plan: object = None

    @property
    def collectives(self):
        """The communication nodes, in program order."""
        return [n for n in self.graph.nodes if is_comm_node(n)]

    def text(self):
        return dump(self.graph)

    def program(self, device="CPU"):
        from ..runtime.executor import Program
        prog = getattr(self, "_program", None)
        if prog is None:
            prog = self._program = Program(self.graph, device)
        return prog


# -------------------------------------------------------------------------------------------- lowering
class _Lowering:
    def __init__(self, graph, mesh):
        self.g = graph
        self.mesh = mesh
        self.G = Graph(f"{graph.name}_spmd")
        self.G.kind, self.G.source = graph.kind, graph.source

    def step(self, node, st, source, tags=None):
        """One redistribution step as a node after ``node``."""
        attrs = {"mesh": self.mesh, "axes": (st.axis_name,)}
        if st.kind in ("all_gather", "split", "reduce_scatter", "all_to_all"):
            attrs["dim"] = st.dim
        if st.kind == "all_to_all":
            attrs["to_dim"] = st.to_dim
        attrs.update(tags or {})
        aval = AbstractTensor(st.dst.slice_shape, node.abstract.dtype)
        return self.G.apply(COMM_PRIMITIVES[st.kind], [node], attrs, aval, source)

    def redistribute(self, node, red, source, tags=None):
        for st in red.steps:
            node = self.step(node, st, source, tags)
        return node

    def all_reduce(self, node, axes, op, source, tags=None):
        names = tuple(self.mesh.axis_names[a] if isinstance(a, int) else a for a in axes)
        return self.G.apply(COMM_PRIMITIVES["all_reduce"], [node],
                            dict({"mesh": self.mesh, "axes": names, "op": op}, **(tags or {})), node.abstract, source)


def _tensor_name(pr, vi, out):
    """How the dump names the tensor a collective moves: a parameter's or input's name, else the producing op and
    its node id in the planned graph."""
    v = pr.vars[vi]
    if v.kind in ("parameter", "input"):
        return str(v.name)
    if not v.is_op:
        return "constant"
    return f"{v.name} %{v.node.id}" + (f".{out}" if len(v.out_avals) > 1 else "")


def lower(pplan, fuse=False):
    """The SPMDGraph of a ParallelPlan (see the module docstring). ``fuse`` runs the elementwise fusion pass on the
    per-device graph (kernels compiled for the slices' shapes)."""
    pr = pplan.problem
    g, mesh = pr.graph, pplan.mesh
    L = _Lowering(g, mesh)
    G = L.G
    val = {}
    layouts, defaults = [], []
    for v in pr.vars:
        if v.kind in ("input", "parameter"):
            lay = pplan.choice(v).out_layouts[0]
            p = v.node
            val[(v.index, 0)] = G.add_param(p.name, AbstractTensor(lay.slice_shape, p.abstract.dtype), p.default,
                                            p.source)
            layouts.append(lay)
            defaults.append(p.default)
    if [p.name for p in G.params] != [p.name for p in g.params]:
        raise AssertionError("lowering: parameters out of order")
    for v in pr.vars:
        if v.kind == "constant":
            n = v.node
            val[(v.index, 0)] = Constant(n.value, n.abstract, G, n.source)
            continue
        if not v.is_op:
            continue
        ch = pplan.choice(v)
        sh = ch.sharding
        n = v.node
        if _generated_kernel(n.op):
            from .planner import PlanError
            raise PlanError(f"lowering: {n.op.name} is a kernel a fusion pass compiled for whole tensors; plan the "
                            f"graph before fusion (mindlab.parallel.planner.unfused_graph, what plan() does) and "
                            f"lower with fuse=True to fuse for the slices' shapes")
        ins = []
        for k, (src, out) in enumerate(v.inputs):
            node = val[(src, out)]
            have = pplan.choice(src).out_layouts[out]
            need = sh.in_layouts[k]
            if have != need:
                if k in sh.spec.inplace:
                    raise AssertionError(f"lowering: in-place input {k} of {n.op.name} arrives as {have!r}")
                node = L.redistribute(node, pr.model.redistribution(have, need, node.abstract.dtype.np.itemsize),
                                      n.source, {"cause": f"{n.op.name} input {k}",
                                                 "tensor": _tensor_name(pr, src, out)})
            ins.append(node)
        louts = sh.local_out_avals
        multi = isinstance(n.abstract, AbstractTuple)
        if n.op.name == "dropout_gen_mask":      # the slice of the whole tensor's mask (see MASK_SLICE)
            attrs = {"mesh": mesh, "layout": ch.out_layouts[0], "keep_prob": n.attrs["keep_prob"],
                     "seed": n.attrs["seed"]}
            new = G.apply(MASK_SLICE, ins, attrs, louts[0], n.source)
        else:
            new = G.apply(n.op, ins, dict(sh.local_attrs), AbstractTuple(louts) if multi else louts[0], n.source)
        outs = [G.apply(TUPLE_GETITEM, [new], {"index": k}, a, n.source) for k, a in enumerate(louts)] if multi \
            else [new]
        for k, op, axes in sh.post:
            tags = {"cause": f"{n.op.name} output {k} (split reduction)", "tensor": _tensor_name(pr, v.index, k)}
            outs[k] = L.all_reduce(outs[k], axes, op, n.source, tags)
        for k, o in enumerate(outs):
            val[(v.index, k)] = o
    results, out_layouts = [], []
    for vi, k in pr.outputs:
        node = val[(vi, k)]
        lay = pplan.choice(vi).out_layouts[k]
        if lay.is_partial:
            whole = TensorLayout._make(mesh, lay.shape, lay.dim_axes)
            node = L.redistribute(node, pr.model.redistribution(lay, whole, node.abstract.dtype.np.itemsize),
                                  node.source, {"cause": "graph output (partial sums)",
                                                "tensor": _tensor_name(pr, vi, k)})
            lay = whole
        results.append(node)
        out_layouts.append(lay)
    tuple_out = isinstance(g.output, Apply) and g.output.op is MAKE_TUPLE
    if tuple_out:
        G.output = G.apply(MAKE_TUPLE, results, {}, AbstractTuple([r.abstract for r in results]), g.output.source)
    else:
        G.output = results[0]
    if fuse:
        from ..passes.fusion import fuse_elementwise
        fuse_elementwise(G)
    return SPMDGraph(G, mesh, layouts, defaults, out_layouts, tuple_out, pplan.parallel_mode, pplan)


def lower_data_parallel(graph, mesh, gradients_mean=False, batch_inputs=None):
    """MindSpore's data parallelism: ``graph`` is the step compiled for one device's slice of the batch; every
    optimizer update's gradient input gets an AllReduce over the whole mesh first (``mean`` with
    ``gradients_mean``, else ``sum``). Inputs arrive split along the batch (their global shapes are the local ones
    times the device count in dim 0), parameters replicated; each device's outputs are its own."""
    from .strategy import shard_spec
    L = _Lowering(graph, mesh)
    G = L.G
    val, layouts, defaults = {}, [], []
    p_all = mesh.size
    all_axes = tuple(range(mesh.ndim))
    for p in graph.params:
        shape = p.abstract.shape
        if p.default is None and shape:
            lay = TensorLayout._make(mesh, (shape[0] * p_all,) + tuple(shape[1:]), [all_axes] + [()] * (len(shape) - 1))
        else:
            lay = TensorLayout.replicated(mesh, shape)
        val[id(p)] = G.add_param(p.name, p.abstract, p.default, p.source)
        layouts.append(lay)
        defaults.append(p.default)
    op = "mean" if gradients_mean else "sum"

    def ref(node):
        if isinstance(node, Constant):
            return Constant(node.value, node.abstract, G, node.source)
        return val[id(node)]
    for n in graph.nodes:
        ins = [ref(i) for i in n.inputs]
        if isinstance(n.op, Primitive) and n.op.effect and getattr(n.op, "shard", None) is not None:
            spec = shard_spec(n.op, [i.abstract for i in n.inputs], n.attrs)
            for k in spec.gradients:
                target = getattr(n.inputs[0], "name", None)
                tags = {"cause": f"{n.op.name} gradient input {k}",
                        "tensor": f"gradient of {target}" if target else f"%{getattr(n.inputs[k], 'id', '?')}"}
                ins[k] = L.all_reduce(ins[k], all_axes, op, n.source, tags)
        val[id(n)] = G.apply(n.op, ins, dict(n.attrs), n.abstract, n.source)
    out = graph.output
    tuple_out = isinstance(out, Apply) and out.op is MAKE_TUPLE
    G.output = ref(out)
    outs = out.inputs if tuple_out else (out,)
    return SPMDGraph(G, mesh, layouts, defaults, [None] * len(outs), tuple_out, "data_parallel")
