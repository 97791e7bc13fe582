"""The strategy search: choose how every op of a graph is split over a device mesh.

``plan_graph(graph, ...)`` plans a straight-line graph; ``plan(net_or_fn, *args)`` compiles a Cell (its
``construct``, e.g. a ``TrainOneStepCell`` training step) or a function the way GRAPH_MODE does and plans the
optimized graph (without the elementwise fusion pass, whose kernels are compiled for whole-tensor shapes: fusion
belongs after lowering). Search modes (``set_auto_parallel_context(search_mode=...)``):

* ``sharding_propagation`` (``propagation.py``): from the user's ``shard()`` strategies and batch-split inputs;
* ``dynamic_programming`` (``dp.py``): MindSpore's elimination DP, exact on this cost model (where its elimination
  would need approximations it hands the problem to the ILP: ``info["solved_by"]``);
* ``ilp`` (``ilp.py``): Alpa's integer program, solved by HiGHS after the exact reductions of ``reduce.py``.

User layouts come from ``P.X().shard(...)`` on primitives and ``Cell.shard`` (``parallel/cell_shard.py``: layout
nodes on a cell's inputs / outputs, fixed parameter layouts), both kept by every search mode.

``parallel_mode="data_parallel"`` plans MindSpore's data parallelism: inputs split along the batch, every
parameter replicated (gradients are then all-reduced). The result is a ``ParallelPlan``: the choice per op and
tensor, the cost breakdown, golden-test friendly ``strategies()``, ``to_plan()`` (the ``Plan`` model of plan JSON,
with every op's alternatives and why the chosen one won) and ``lower()`` (the SPMD graph, ``spmd.py``).
"""
import math
import time

from ..collectives import get_profile
from ..mesh import DeviceMesh
from ..plan_json import Plan, OpCost, Alternative
from .problem import Problem, PlanError, TIE_BREAK, source_layouts
from .dp import solve_dp
from .ilp import solve_ilp
from .propagation import solve_propagation, batch_layout_index

__all__ = ["plan", "plan_graph", "ParallelPlan", "PlanError", "default_mesh", "unfused_graph", "SEARCH_MODES"]

SEARCH_MODES = ("sharding_propagation", "dynamic_programming", "ilp")


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out or [1]


def default_mesh(device_num=None, mesh_shape=None, axis_names=None):
    """The mesh the planner uses: the context's ``mesh_shape`` when set, else ``device_num`` factored into prime
    axes (4 -> 2 x 2, 8 -> 2 x 2 x 2), so every split MindSpore's strategies allow (any divisor of the device
    count, the rest replicated) is a placement of mesh axes."""
    from ..context import get_auto_parallel_context, _state
    if mesh_shape is None and device_num is None:
        mesh_shape = _state["mesh_shape"]
        axis_names = axis_names or _state["mesh_axis_names"]
    if mesh_shape is not None:
        return DeviceMesh(tuple(mesh_shape), axis_names)
    n = device_num or get_auto_parallel_context("device_num")
    return DeviceMesh(tuple(_prime_factors(int(n))), axis_names)


def unfused_graph(compiled):
    """The optimized graph of a ``Compiled`` (jit) entry, run through the pass pipeline without elementwise fusion."""
    from ...passes.pipeline import without_kernel_passes, optimize
    return optimize(compiled.graph, without_kernel_passes(), record=False)[0]


def _compile(target, args, kwargs):
    from ...nn.cell import Cell
    from ...frontend.jit import JitFunction
    if isinstance(target, Cell):
        return target.compiled(*args, **kwargs)
    if isinstance(target, JitFunction):
        return target.compiled(*args, **kwargs)
    if callable(target):
        return JitFunction(target).compiled(*args, **kwargs)
    raise TypeError(f"plan: expected a Cell, a jit function or a function, got {type(target).__name__}")


def plan(target, *args, mesh=None, search_mode=None, profile=None, memory_limit=None, parallel_mode=None,
         inputs="batch", **kwargs):
    """Plan ``target`` (a Cell or a function) called with ``args``; options default to the auto-parallel context
    (``mindlab.set_auto_parallel_context``). Returns a ParallelPlan whose ``compiled`` is the jit entry."""
    compiled = _compile(target, args, kwargs)
    graph = unfused_graph(compiled)
    p = plan_graph(graph, mesh=mesh, search_mode=search_mode, profile=profile, memory_limit=memory_limit,
                   parallel_mode=parallel_mode, inputs=inputs, title=f"{type(target).__name__} on {{mesh}}")
    p.compiled = compiled
    return p


def plan_graph(graph, mesh=None, search_mode=None, profile=None, memory_limit=None, parallel_mode=None,
               inputs="batch", title=""):
    """Plan a straight-line graph (see the module docstring); unset options come from the auto-parallel context.
    ``inputs``: "batch" (network inputs arrive split along their first dim, MindSpore's dataset strategy) or
    "any" (the search picks their layouts too)."""
    from ..context import get_auto_parallel_context, current_profile
    parallel_mode = parallel_mode or get_auto_parallel_context("parallel_mode")
    if parallel_mode == "stand_alone":
        parallel_mode = "auto_parallel"       # planning explicitly: search, as auto_parallel does
    search_mode = search_mode or get_auto_parallel_context("search_mode")
    if search_mode not in SEARCH_MODES:
        raise ValueError(f"plan: search_mode must be one of {list(SEARCH_MODES)}, got {search_mode!r}")
    if memory_limit is None:
        memory_limit = get_auto_parallel_context("memory_limit")
    mesh = mesh if mesh is not None else default_mesh()
    if isinstance(mesh, (tuple, list, int)):
        mesh = DeviceMesh(mesh)
    prof = get_profile(profile) if profile is not None else current_profile()
    t0 = time.perf_counter()
    # data parallelism is MindSpore's: user strategies (P.X().shard, Cell.shard) are ignored, parameters replicated
    problem = Problem(graph, mesh, prof, memory_limit, use_user_strategies=parallel_mode != "data_parallel",
                      inputs=inputs)
    build_seconds = time.perf_counter() - t0
    why = {}
    try:
        if parallel_mode == "data_parallel":
            assign, info, why = _data_parallel(problem)
            search_mode = None
        elif search_mode == "sharding_propagation" or parallel_mode == "semi_auto_parallel":
            assign, info, why = solve_propagation(problem)
            search_mode = "sharding_propagation"
        elif search_mode == "dynamic_programming":
            assign, info = solve_dp(problem)
        else:
            assign, info = solve_ilp(problem)
    except PlanError as err:
        if memory_limit is None or "memory_limit" not in str(err):
            raise
        raise _no_plan_fits(problem, parallel_mode, err) from None
    info = dict(info, problem=problem.size(), build_seconds=build_seconds)
    return ParallelPlan(problem, assign, parallel_mode, search_mode, info, why,
                        title.format(mesh=mesh) if title else f"{graph.name} on {mesh}")


def _no_plan_fits(problem, parallel_mode, err):
    """The PlanError for a memory limit no plan fits, naming the smallest plan found (memory priced so high that
    the elimination DP minimises it) — kept as the error's ``smallest_plan``."""
    from .dp import _eliminate
    assign, _ = _eliminate(problem, 1.0)
    smallest = ParallelPlan(problem, assign, parallel_mode, "smallest_memory", {"mode": "smallest_memory"}, {},
                            f"smallest plan on {problem.mesh}")
    params = sorted((v for v in problem.vars if v.kind == "parameter"), key=lambda v: -v.out_avals[0].nbytes)
    splits = ", ".join(f"{v.name} {list(v.out_avals[0].shape)} split {smallest.choice(v).out_layouts[0].splits}"
                       for v in params[:3])
    e = PlanError(f"{err}\nThe smallest plan found needs {smallest.cost['memory']:.0f} bytes per device "
                  f"(memory_limit={problem.memory_limit}) on {problem.mesh}" + (f": {splits}" if splits else "")
                  + ". Raise memory_limit, use more devices, or shrink the model / batch.")
    e.smallest_plan = smallest
    return e


def _data_parallel(problem):
    """MindSpore's data parallelism as a plan: inputs batch-split, parameters replicated, ops propagated."""
    for v in problem.vars:
        if v.kind == "parameter":
            v.choices = [v.choices[0]]           # replicated (source_layouts lists it first)
    for e in problem.edges:
        e.table = problem._edge_table(e)
    problem.__dict__.pop("_incident", None)
    assign, info, why = solve_propagation(problem)
    for v in problem.vars:
        if v.kind == "parameter":
            why[v.index] = "data parallel: parameters are replicated"
    info["mode"] = "data_parallel"
    return assign, info, why


def _graph_json_ids(graph):
    """The node ids graph JSON (``mindlab.ir.graph_json``) gives a straight-line graph's nodes: params, then each
    node after its not-yet-seen inputs."""
    ids = {}

    def emit(n):
        if id(n) not in ids:
            ids[id(n)] = f"n{len(ids)}"
    for p in graph.params:
        emit(p)
    for n in graph.nodes:
        for i in n.inputs:
            emit(i)
        emit(n)
    return ids


def _source_json(s):
    if s is None:
        return None
    out = {"file": str(s.file), "line": int(s.line), "text": str(s.text or "")}
    if getattr(s, "function", ""):
        out["function"] = str(s.function)
    return out


class ParallelPlan:
    """The search result: ``assign[v]`` is the chosen choice of every variable of ``problem``."""

    def __init__(self, problem, assign, parallel_mode, search_mode, info, why=None, title=""):
        self.problem, self.assign = problem, list(assign)
        self.parallel_mode, self.search_mode = parallel_mode, search_mode
        self.info, self.why, self.title = info, dict(why or {}), title
        self.compiled = None
        objective, compute, comm, memory = problem.evaluate(self.assign)
        self.cost = {"total": compute + comm, "compute": compute, "communication": comm, "memory": memory,
                     "objective": objective}
        keys, seen = {}, {}
        for v in problem.vars:
            if v.is_op:
                k = seen.get(v.name, 0)
                seen[v.name] = k + 1
                keys[v.index] = f"{v.name}-{k}"
        self._keys = keys

    # ------------------------------------------------------------------------------------- queries
    @property
    def mesh(self):
        return self.problem.mesh

    @property
    def graph(self):
        return self.problem.graph

    @property
    def memory_limit(self):
        return self.problem.memory_limit

    def choice(self, v):
        v = v if isinstance(v, int) else v.index
        return self.problem.vars[v].choices[self.assign[v]]

    def op_key(self, v):
        return self._keys[v.index if not isinstance(v, int) else v]

    def strategies(self):
        """``{"matmul-0": ((4, 1), (1, 1)), ...}``: the MindSpore strategy of every op, keyed by primitive name and
        its index among ops of that name in graph order."""
        return {self._keys[v.index]: self.choice(v).strategy for v in self.problem.ops}

    def layouts(self):
        """``{parameter or input name: tensor map}`` of every source tensor's chosen layout."""
        return {v.name: self.choice(v).out_layouts[0].tensor_map for v in self.problem.vars
                if v.kind in ("parameter", "input")}

    def splits(self):
        """``{parameter or input name: pieces per dim}``."""
        return {v.name: self.choice(v).out_layouts[0].splits for v in self.problem.vars
                if v.kind in ("parameter", "input")}

    def __repr__(self):
        c = self.cost
        return (f"<ParallelPlan {self.search_mode or self.parallel_mode} on {self.mesh}: total "
                f"{c['total'] * 1e6:.1f} us (compute {c['compute'] * 1e6:.1f}, communication "
                f"{c['communication'] * 1e6:.1f}), {c['memory']:.0f} B/device>")

    def summary(self):
        """A text table: each op's strategy and cost."""
        lines = [repr(self)]
        for v in self.problem.ops:
            ch = self.choice(v)
            lines.append(f"  {self._keys[v.index]:<28} {str(ch.strategy):<32} {ch.sharding.describe():<24} "
                         f"compute {ch.cost.compute * 1e6:8.2f} us")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------- plan JSON
    def _alternatives(self, v, mem_now):
        limit = self.problem.memory_limit
        chosen = self.assign[v.index]
        groups = {}
        for s, ch in enumerate(v.choices):
            comp, comm = self.problem.local_cost(v.index, s, self.assign)
            mem = mem_now - v.choices[chosen].cost.memory + ch.cost.memory
            entry = (comp + comm, s != chosen, s, comp, comm, ch.cost.memory, mem)
            key = ch.strategy
            if key not in groups or (entry[1], entry[0]) < (groups[key][1], groups[key][0]):
                groups[key] = entry
        entries = sorted(groups.values(), key=lambda t: (t[0], t[2]))
        best_fit = min((t for t in entries if limit is None or t[6] <= limit), key=lambda t: t[0], default=None)
        cheapest = entries[0]
        alts = []
        mine = next(t for t in entries if t[2] == chosen)
        for total, not_chosen, s, comp, comm, mem, plan_mem in entries:
            over = limit is not None and plan_mem > limit
            if not not_chosen:
                reason = "chosen"
            elif not math.isfinite(total):
                reason = "impossible with the neighbours' choices: an input written in place would change layout"
            elif over:
                reason = f"over the memory limit: the plan would need {plan_mem:.0f} B/device > {limit}"
            else:
                reason = f"higher total cost (+{(total - mine[0]) * 1e6:.2f} us with the neighbours' choices)" \
                    if total >= mine[0] else \
                    f"lower here ({(mine[0] - total) * 1e6:.2f} us less with the neighbours' choices) but not " \
                    f"in the plan the search chose"
            alts.append(Alternative(v.choices[s].strategy, OpCost(comp, comm, mem), not not_chosen, reason))
        if v.user_strategy is not None:
            owner = getattr(v.node.op, "owner", None)          # a Cell.shard layout node names its cell
            why = f"set by the user with {owner}" if owner else "set by the user with shard()"
        elif self.why.get(v.index):
            why = self.why[v.index]
        elif mine is cheapest or mine[0] <= cheapest[0] + 1e-15:
            why = "lowest total cost"
        elif best_fit is not None and mine[2] == best_fit[2] and cheapest[6] > (limit or math.inf):
            why = (f"lowest total cost within the memory limit ({limit} B/device): the cheaper "
                   f"{v.choices[cheapest[2]].strategy} would need {cheapest[6]:.0f}")
        else:
            why = "lowest total cost of the whole plan (cheaper alone, the others cost more elsewhere)"
        return alts, why

    def to_plan(self):
        """The ``Plan`` (plan JSON model): mesh, tensors with layouts, ops with strategies, alternatives and
        reasons, the collectives, and the cost breakdown."""
        pr = self.problem
        plan = Plan(self.mesh, self.parallel_mode, self.search_mode, pr.profile, pr.memory_limit, self.title,
                    {k: _jsonable(val) for k, val in self.info.items()})
        node_ids = _graph_json_ids(pr.graph)
        out_refs = set(pr.outputs)
        tensors = {}            # (var, output index) -> TensorPlan
        for v in pr.vars:
            if not v.is_op:
                role = "parameter" if v.kind == "parameter" else "input"
                name = v.name if v.kind != "constant" else f"constant%{v.node.id}"
                tensors[(v.index, 0)] = plan.add_tensor(name, self.choice(v).out_layouts[0], v.out_avals[0].dtype,
                                                        "output" if (v.index, 0) in out_refs else role)
        mem_now = self.cost["memory"]
        for v in pr.vars:
            if not v.is_op:
                continue
            ch = self.choice(v)
            outs = []
            for k, (lay, aval) in enumerate(zip(ch.out_layouts, v.out_avals)):
                role = "output" if (v.index, k) in out_refs else "intermediate"
                t = plan.add_tensor(f"%{v.node.id}" + (f".{k}" if len(v.out_avals) > 1 else ""), lay, aval.dtype,
                                    role)
                tensors[(v.index, k)] = t
                outs.append(t)
            alts, why = self._alternatives(v, mem_now)
            comm_in = sum(e.table[self.assign[e.src], self.assign[v.index]] for e in pr.edges if e.dst == v.index)
            cost = OpCost(ch.cost.compute, ch.cost.communication + comm_in, ch.cost.memory)
            op = plan.add_op(v.name, ch.strategy, [tensors[r] for r in v.inputs], outs, cost, alts, why,
                             _source_json(v.node.source), node_ids.get(id(v.node)))
            for e in pr.edges:
                if e.dst != v.index:
                    continue
                src_lay = pr.vars[e.src].choices[self.assign[e.src]].out_layouts[e.out]
                need = ch.in_layouts[e.inp]
                if src_lay != need:
                    red = pr.model.redistribution(src_lay, need, e.itemsize)
                    plan.add_redistribution(tensors[(e.src, e.out)], red, op, "input", e.inp,
                                            f"{v.name} needs input {e.inp} as {need._describe()}")
            for k, rop, axes, cc in pr.model.post_collectives(ch.sharding):
                names = tuple(self.mesh.axis_names[a] for a in axes)
                plan.add_collective("all_reduce", outs[k], names, cc.group_size, cc.bytes_per_device, cc.time,
                                    algorithm=cc.algorithm, op=op.id, where="output", index=k,
                                    reason=f"{rop} of the pieces of a split reduced axis",
                                    from_layout=ch.out_layouts[k], to_layout=ch.out_layouts[k])
        for vi, k in pr.outputs:
            v = pr.vars[vi]
            lay = self.choice(v).out_layouts[k]
            if lay.is_partial and v.is_op:
                from .problem import _unpartial
                red = pr.model.redistribution(lay, _unpartial(lay), v.out_avals[k].dtype.np.itemsize)
                opid = next(o for o in plan.ops.values() if tensors[(vi, k)].id in o.outputs)
                plan.add_redistribution(tensors[(vi, k)], red, opid, "output", k,
                                        "a graph output holds partial sums: reduce them")
        plan.memory_per_device = mem_now
        return plan

    def to_json(self):
        return self.to_plan().to_json()

    def graph_view(self):
        """The GraphView (graph JSON, DOT/SVG, text) of the graph this plan splits: the ``node`` of every op in the
        plan JSON is a node id of this view's graph JSON, so a front end can link plan rows and graph nodes."""
        from ...ir.views import GraphView
        return GraphView(self.problem.graph, "optimized", f"planned graph of {self.title}")

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..plan_json import MIME
        return {MIME: self.to_json(), "text/plain": self.summary()}

    # ------------------------------------------------------------------------------------- lowering
    def lower(self, fuse=False):
        """The SPMD graph every device runs (``spmd.lower``)."""
        from ..spmd import lower
        return lower(self, fuse=fuse)


def _jsonable(x):
    import numpy as np
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, str)) or x is None:
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    return str(x)
