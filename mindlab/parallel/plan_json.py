"""Plan JSON (``application/vnd.mindlab.plan+json``) and the ``Plan`` model that writes it.

A planner fills a ``Plan``: the mesh, one ``OpPlan`` per operator (its strategy, the alternatives it weighed with
their costs and which won and why), one ``TensorPlan`` per tensor (its layout), and the ``CollectivePlan``s
inserted to move tensors between layouts (``Plan.add_redistribution`` turns a ``Redistribution`` into those).
``Plan.to_json()`` gives the document; ``mindlab/ir/schema/plan.schema.json`` (beside the graph schema) describes it;
``validate_plan_json`` checks a document against the schema and then ``check_references`` checks what a schema
cannot (ids defined and unique, layouts consistent with the mesh and shapes, exactly one chosen alternative).

A document::

    {"format": "application/vnd.mindlab.plan+json", "version": 1, "title": "...",
     "parallel_mode": "auto_parallel", "search_mode": "dynamic_programming",
     "mesh": {"shape": [2, 4], "axis_names": ["dp", "mp"], "device_ids": [0, ..., 7]},
     "profile": {...}, "memory_limit": null,
     "tensors": [{"id": "t0", "name": "x", "shape": [32, 64], "dtype": "Float32", "role": "input",
                  "producer": null, "layout": {"device_matrix": [2, 4], "tensor_map": [1, -1], "partial": [],
                  "dim_axes": [["dp"], []], "slice_shape": [16, 64]}, "bytes_per_device": 4096}, ...],
     "ops": [{"id": "op0", "name": "MatMul", "node": "n3", "source": {...}, "inputs": ["t0", "t1"],
              "outputs": ["t2"], "strategy": [[2, 1], [1, 4]], "output_layouts": [{...}],
              "cost": {"compute": ..., "communication": ..., "memory": ..., "total": ...},
              "alternatives": [{"strategy": [[2, 1], [1, 4]], "cost": {...}, "chosen": true, "reason": "..."}],
              "reason": "lowest total cost"}, ...],
     "collectives": [{"id": "c0", "kind": "all_reduce", "tensor": "t2", "mesh_axes": ["mp"], "group_size": 4,
                      "bytes_per_device": ..., "time": ..., "algorithm": "ring", "op": "op0", "where": "output",
                      "index": 0, "reason": "...", "from_layout": {...}, "to_layout": {...}}, ...],
     "cost": {"compute": ..., "communication": ..., "total": ..., "memory_per_device": ...,
              "memory_limit": null, "fits_memory": true},
     "search": {...}}
"""
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .collectives import DeviceProfile, get_profile
from .layout import TensorLayout
from .mesh import DeviceMesh

__all__ = ["MIME", "VERSION", "Plan", "OpPlan", "TensorPlan", "CollectivePlan", "Alternative", "OpCost",
           "PlanJSONError", "validate_plan_json", "check_references"]

MIME = "application/vnd.mindlab.plan+json"
VERSION = 1
ROLES = ("input", "parameter", "intermediate", "output")


class PlanJSONError(ValueError):
    """A plan JSON document that does not follow the schema or refers to ids it does not define."""


def _num(x):
    """A JSON number (ints stay ints); +inf as the string "inf" (an infeasible cost)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    if math.isinf(x) and x > 0:
        return "inf"
    if not math.isfinite(x):
        raise ValueError(f"plan JSON: cost value {x} is not a non-negative number")
    return x


def _unnum(x):
    return math.inf if x == "inf" else x


def _itemsize(dtype):
    from .. import dtype as mdt
    try:
        return mdt.to_np(dtype).itemsize
    except (TypeError, KeyError):
        raise ValueError(f"plan: unknown dtype {dtype!r}") from None


def _dtype_name(dtype):
    from .. import dtype as mdt
    return mdt.to_type(dtype).name


@dataclass
class OpCost:
    """Seconds of compute and communication, bytes of memory per device."""
    compute: float = 0.0
    communication: float = 0.0
    memory: float = 0.0

    @property
    def total(self):
        return self.compute + self.communication

    def to_json(self):
        return {"compute": _num(self.compute), "communication": _num(self.communication),
                "memory": _num(self.memory), "total": _num(self.total)}

    @classmethod
    def from_json(cls, obj):
        return cls(_unnum(obj["compute"]), _unnum(obj["communication"]), _unnum(obj["memory"]))


def _strategy(s):
    return tuple(tuple(int(v) for v in dims) for dims in s)


@dataclass
class Alternative:
    """A strategy the search weighed for an op: its cost, whether it was chosen, and why (not)."""
    strategy: tuple
    cost: OpCost
    chosen: bool = False
    reason: str = ""

    def to_json(self):
        return {"strategy": [list(d) for d in _strategy(self.strategy)], "cost": self.cost.to_json(),
                "chosen": bool(self.chosen), "reason": self.reason}


@dataclass
class TensorPlan:
    """A tensor of the plan: id, name, shape, dtype (a mindlab dtype, numpy dtype or name), role, producing op,
    and its layout."""
    id: str
    name: str
    layout: TensorLayout
    dtype: object = "float32"
    role: str = "intermediate"
    producer: str = None

    @property
    def shape(self):
        return self.layout.shape

    @property
    def bytes_per_device(self):
        return self.layout.bytes_per_device(_itemsize(self.dtype))

    def to_json(self):
        return {"id": self.id, "name": self.name, "shape": list(self.shape), "dtype": _dtype_name(self.dtype),
                "role": self.role, "producer": self.producer, "layout": self.layout.to_json(),
                "bytes_per_device": int(self.bytes_per_device)}


@dataclass
class OpPlan:
    """One operator's sharding: strategy (per input, pieces per dimension), input/output tensor ids, where it came
    from (graph node id, source line), its cost, the alternatives considered, and why the strategy won."""
    id: str
    name: str
    strategy: tuple
    inputs: list
    outputs: list
    cost: OpCost = field(default_factory=OpCost)
    alternatives: list = field(default_factory=list)
    reason: str = ""
    source: dict = None
    node: str = None

    def to_json(self, tensors):
        return {"id": self.id, "name": self.name, "node": self.node, "source": self.source,
                "inputs": list(self.inputs), "outputs": list(self.outputs),
                "strategy": [list(d) for d in _strategy(self.strategy)],
                "output_layouts": [tensors[t].layout.to_json() for t in self.outputs],
                "cost": self.cost.to_json(), "alternatives": [a.to_json() for a in self.alternatives],
                "reason": self.reason}


@dataclass
class CollectivePlan:
    """A redistribution step inserted into the program: ``kind`` along ``mesh_axes`` on tensor ``tensor``, at
    input ``index`` of op ``op`` (``where="input"``) or after its output ``index`` (``where="output"``)."""
    id: str
    kind: str
    tensor: str
    mesh_axes: tuple
    group_size: int
    bytes_per_device: float
    time: float
    algorithm: str = ""
    op: str = None
    where: str = "input"
    index: int = 0
    reason: str = ""
    from_layout: TensorLayout = None
    to_layout: TensorLayout = None

    def to_json(self):
        return {"id": self.id, "kind": self.kind, "tensor": self.tensor, "mesh_axes": list(self.mesh_axes),
                "group_size": int(self.group_size), "bytes_per_device": _num(self.bytes_per_device),
                "time": _num(self.time), "algorithm": self.algorithm, "op": self.op, "where": self.where,
                "index": int(self.index), "reason": self.reason,
                "from_layout": None if self.from_layout is None else self.from_layout.to_json(),
                "to_layout": None if self.to_layout is None else self.to_layout.to_json()}


class Plan:
    """A parallel plan over ``mesh`` (see the module docstring). ``memory_per_device``: the peak bytes per
    device when the planner knows it (default: the sum of every tensor's bytes per device, an upper bound)."""

    def __init__(self, mesh, parallel_mode="auto_parallel", search_mode=None, profile=None, memory_limit=None,
                 title="", search=None):
        if not isinstance(mesh, DeviceMesh):
            raise TypeError(f"Plan: mesh must be a DeviceMesh, got {type(mesh).__name__}")
        self.mesh = mesh
        self.parallel_mode = parallel_mode
        self.search_mode = search_mode
        self.profile = get_profile(profile)
        self.memory_limit = memory_limit
        self.title = title
        self.search = dict(search or {})
        self.tensors = {}
        self.ops = {}
        self.collectives = []
        self.memory_per_device = None

    # --------------------------------------------------------------------------------- building
    def add_tensor(self, name, layout, dtype="float32", role="intermediate", producer=None):
        """Add a tensor; returns its TensorPlan (id ``t<k>``)."""
        if layout.mesh != self.mesh:
            raise ValueError(f"Plan.add_tensor: {name!r} has a layout on {layout.mesh!r}, the plan's mesh is "
                             f"{self.mesh!r}")
        if role not in ROLES:
            raise ValueError(f"Plan.add_tensor: role must be one of {ROLES}, got {role!r}")
        t = TensorPlan(f"t{len(self.tensors)}", name, layout, dtype, role, producer)
        self.tensors[t.id] = t
        return t

    def add_op(self, name, strategy, inputs, outputs, cost=None, alternatives=(), reason="", source=None,
               node=None):
        """Add an op; ``inputs``/``outputs`` are TensorPlans or their ids; outputs get this op as producer.
        Returns the OpPlan (id ``op<k>``)."""
        ids_in = [t.id if isinstance(t, TensorPlan) else t for t in inputs]
        ids_out = [t.id if isinstance(t, TensorPlan) else t for t in outputs]
        for t in ids_in + ids_out:
            if t not in self.tensors:
                raise ValueError(f"Plan.add_op: {name}: unknown tensor {t!r}")
        op = OpPlan(f"op{len(self.ops)}", name, _strategy(strategy), ids_in, ids_out, cost or OpCost(),
                    list(alternatives), reason, source, node)
        self.ops[op.id] = op
        for t in ids_out:
            self.tensors[t].producer = op.id
        return op

    def add_collective(self, kind, tensor, mesh_axes, group_size, bytes_per_device, time, **kw):
        tid = tensor.id if isinstance(tensor, TensorPlan) else tensor
        c = CollectivePlan(f"c{len(self.collectives)}", kind, tid, tuple(mesh_axes), group_size, bytes_per_device,
                           time, **kw)
        self.collectives.append(c)
        return c

    def add_redistribution(self, tensor, redistribution, op=None, where="input", index=0, reason=""):
        """Record every step of ``redistribution`` (a Redistribution of ``tensor``) as collectives at input (or
        output) ``index`` of ``op``; returns the new CollectivePlans."""
        tid = tensor.id if isinstance(tensor, TensorPlan) else tensor
        opid = op.id if isinstance(op, OpPlan) else op
        return [self.add_collective(s.kind, tid, (s.axis_name,), s.group_size, s.bytes_per_device, s.time,
                                    algorithm=s.cost.algorithm, op=opid, where=where, index=index, reason=reason,
                                    from_layout=s.src, to_layout=s.dst)
                for s in redistribution.steps]

    # ------------------------------------------------------------------------------------ costs
    @property
    def compute_time(self):
        return sum(op.cost.compute for op in self.ops.values())

    @property
    def communication_time(self):
        return sum(c.time for c in self.collectives)

    @property
    def total_time(self):
        return self.compute_time + self.communication_time

    @property
    def memory(self):
        if self.memory_per_device is not None:
            return self.memory_per_device
        return sum(t.bytes_per_device for t in self.tensors.values())

    @property
    def fits_memory(self):
        return self.memory_limit is None or self.memory <= self.memory_limit

    def cost_json(self):
        return {"compute": _num(self.compute_time), "communication": _num(self.communication_time),
                "total": _num(self.total_time), "memory_per_device": _num(self.memory),
                "memory_limit": self.memory_limit, "fits_memory": bool(self.fits_memory)}

    # ------------------------------------------------------------------------------------- JSON
    def to_json(self, validate=True):
        """The plan JSON document (validated against the schema and references unless ``validate=False``)."""
        doc = {"format": MIME, "version": VERSION, "title": self.title, "parallel_mode": self.parallel_mode,
               "search_mode": self.search_mode, "mesh": self.mesh.to_json(), "profile": self.profile.to_json(),
               "memory_limit": self.memory_limit,
               "tensors": [t.to_json() for t in self.tensors.values()],
               "ops": [op.to_json(self.tensors) for op in self.ops.values()],
               "collectives": [c.to_json() for c in self.collectives],
               "cost": self.cost_json(), "search": self.search}
        doc = json.loads(json.dumps(doc))      # plain JSON types only (tuples -> lists, numpy scalars fail loudly)
        if validate:
            validate_plan_json(doc)
        return doc

    @classmethod
    def from_json(cls, doc):
        """A Plan from a (valid) plan JSON document."""
        validate_plan_json(doc)
        mesh = DeviceMesh.from_json(doc["mesh"])
        plan = cls(mesh, doc["parallel_mode"], doc["search_mode"], DeviceProfile.from_json(doc["profile"]),
                   doc["memory_limit"], doc["title"], doc["search"])
        for t in doc["tensors"]:
            tp = TensorPlan(t["id"], t["name"], TensorLayout.from_json(t["layout"], mesh, t["shape"]), t["dtype"],
                            t["role"], t["producer"])
            plan.tensors[tp.id] = tp
        for o in doc["ops"]:
            alts = [Alternative(_strategy(a["strategy"]), OpCost.from_json(a["cost"]), a["chosen"], a["reason"])
                    for a in o["alternatives"]]
            plan.ops[o["id"]] = OpPlan(o["id"], o["name"], _strategy(o["strategy"]), list(o["inputs"]),
                                       list(o["outputs"]), OpCost.from_json(o["cost"]), alts, o["reason"],
                                       o["source"], o["node"])
        for c in doc["collectives"]:
            shape = plan.tensors[c["tensor"]].shape
            lay = {k: None if c[k] is None else TensorLayout.from_json(c[k], mesh, shape)
                   for k in ("from_layout", "to_layout")}
            plan.collectives.append(CollectivePlan(c["id"], c["kind"], c["tensor"], tuple(c["mesh_axes"]),
                                                   c["group_size"], _unnum(c["bytes_per_device"]),
                                                   _unnum(c["time"]), c["algorithm"], c["op"], c["where"],
                                                   c["index"], c["reason"], **lay))
        plan.memory_per_device = _unnum(doc["cost"]["memory_per_device"])
        return plan

    # ---------------------------------------------------------------------------------- display
    def summary(self):
        """A text summary: mesh, each op's strategy, the collectives, the cost breakdown."""
        lines = [f"Plan {self.title!r} on {self.mesh!r} ({self.parallel_mode}, search {self.search_mode})"]
        for op in self.ops.values():
            lines.append(f"  {op.id} {op.name} strategy={_strategy(op.strategy)}  compute {op.cost.compute:.3g} s"
                         + (f"  ({op.reason})" if op.reason else ""))
        for c in self.collectives:
            at = f" at {c.where} {c.index} of {c.op}" if c.op else ""
            lines.append(f"  {c.id} {c.kind}({', '.join(c.mesh_axes)}) on {c.tensor}{at}: "
                         f"{c.bytes_per_device:.0f} B/device, {c.time:.3g} s")
        mem = f"{self.memory:.0f} B/device"
        if self.memory_limit is not None:
            mem += f" (limit {self.memory_limit}, {'fits' if self.fits_memory else 'OVER'})"
        lines.append(f"  cost: compute {self.compute_time:.3g} s, communication {self.communication_time:.3g} s, "
                     f"memory {mem}")
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME: self.to_json(), "text/plain": self.summary()}


# ------------------------------------------------------------------------------------- validation
_VALIDATOR = []


def _validator():
    if not _VALIDATOR:
        import jsonschema
        from ..ir.schema import load
        schema = load("plan")
        _VALIDATOR.append(jsonschema.validators.validator_for(schema)(schema))
    return _VALIDATOR[0]


def _doc_order(error):
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


def validate_plan_json(obj):
    """Check ``obj`` against the plan JSON schema, then ``check_references``; returns ``obj``.

    Raises ``PlanJSONError`` naming the path of the first violation in document order, e.g.
    ``ops/2/strategy/0/1: 0 is less than the minimum of 1``."""
    import jsonschema
    errors = list(_validator().iter_errors(obj))
    if errors:
        first = min(_doc_order(e) for e in errors)
        at_first = [e for e in errors if _doc_order(e) == first]
        best = jsonschema.exceptions.best_match(at_first)
        path = "/".join(str(p) for p in best.absolute_path) or "(document)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PlanJSONError(f"plan JSON does not match the schema at {path}: {best.message}{more}")
    check_references(obj)
    return obj


def _check_layout(lay, shape, mesh, path):
    """A layout object agrees with the mesh and the tensor's shape."""
    if lay["device_matrix"] != mesh["shape"]:
        raise PlanJSONError(f"{path}/device_matrix: {lay['device_matrix']} is not the mesh shape {mesh['shape']}")
    nd = len(mesh["shape"])
    if len(lay["tensor_map"]) != len(shape):
        raise PlanJSONError(f"{path}/tensor_map: {len(lay['tensor_map'])} entries for a tensor of shape {shape}")
    seen = set()
    splits = []
    names = []
    for d, m in enumerate(lay["tensor_map"]):
        ms = [] if m == -1 else (m if isinstance(m, list) else [m])
        for x in ms:
            if not 0 <= x < nd:
                raise PlanJSONError(f"{path}/tensor_map/{d}: {x} is not a mesh axis of a {nd}-axis mesh (0..{nd - 1}, "
                                    f"counted from the right, or -1)")
            if x in seen:
                raise PlanJSONError(f"{path}/tensor_map/{d}: mesh axis {x} is used twice")
            seen.add(x)
        splits.append(math.prod(mesh["shape"][nd - 1 - x] for x in ms))
        names.append([mesh["axis_names"][nd - 1 - x] for x in ms])
    for k, x in enumerate(lay["partial"]):
        if not 0 <= x < nd or x in seen:
            raise PlanJSONError(f"{path}/partial/{k}: {x} is not a free mesh axis of a {nd}-axis mesh")
        seen.add(x)
    if lay["dim_axes"] != names:
        raise PlanJSONError(f"{path}/dim_axes: {lay['dim_axes']} does not match the tensor map (axis names {names})")
    for d, (n, s) in enumerate(zip(shape, splits)):
        if n % s:
            raise PlanJSONError(f"{path}/tensor_map/{d}: dim {d} of shape {shape} is split {s} ways but {n} is not "
                                f"divisible by {s}")
    want = [n // s for n, s in zip(shape, splits)]
    if lay["slice_shape"] != want:
        raise PlanJSONError(f"{path}/slice_shape: {lay['slice_shape']} but shape {shape} split {splits} gives {want}")


def check_references(obj):
    """Check what JSON Schema cannot: ids unique and defined (op inputs/outputs, tensor producers, collective
    tensor/op), mesh device ids consistent, every layout consistent with the mesh and its tensor's shape, each
    op's output_layouts equal to its outputs' layouts, strategies shaped like the op's inputs, exactly one chosen
    alternative (equal to the op's strategy) when alternatives are listed, collective axes naming mesh axes with
    the right group size. Raises ``PlanJSONError`` naming the path of the first problem."""
    mesh = obj["mesh"]
    if len(mesh["axis_names"]) != len(mesh["shape"]):
        raise PlanJSONError(f"mesh/axis_names: {len(mesh['axis_names'])} names for a mesh of shape {mesh['shape']}")
    if len(set(mesh["axis_names"])) != len(mesh["axis_names"]):
        raise PlanJSONError(f"mesh/axis_names: names repeat: {mesh['axis_names']}")
    if len(mesh["device_ids"]) != math.prod(mesh["shape"]) or len(set(mesh["device_ids"])) != len(mesh["device_ids"]):
        raise PlanJSONError(f"mesh/device_ids: need {math.prod(mesh['shape'])} distinct ids for shape {mesh['shape']}, "
                            f"got {mesh['device_ids']}")
    tensors, ops, colls = {}, {}, set()
    for k, t in enumerate(obj["tensors"]):
        if t["id"] in tensors:
            raise PlanJSONError(f"tensors/{k}/id: tensor id {t['id']!r} is defined twice")
        tensors[t["id"]] = t
        _check_layout(t["layout"], t["shape"], mesh, f"tensors/{k}/layout")
    for k, o in enumerate(obj["ops"]):
        if o["id"] in ops:
            raise PlanJSONError(f"ops/{k}/id: op id {o['id']!r} is defined twice")
        ops[o["id"]] = o
    for k, t in enumerate(obj["tensors"]):
        p = t["producer"]
        if p is not None:
            if p not in ops:
                raise PlanJSONError(f"tensors/{k}/producer: refers to unknown op {p!r}")
            if t["id"] not in ops[p]["outputs"]:
                raise PlanJSONError(f"tensors/{k}/producer: op {p!r} does not list {t['id']!r} among its outputs")
    for k, o in enumerate(obj["ops"]):
        for field_ in ("inputs", "outputs"):
            for j, ref in enumerate(o[field_]):
                if ref not in tensors:
                    raise PlanJSONError(f"ops/{k}/{field_}/{j}: refers to unknown tensor {ref!r}")
        for j, ref in enumerate(o["outputs"]):
            if tensors[ref]["producer"] != o["id"]:
                raise PlanJSONError(f"ops/{k}/outputs/{j}: tensor {ref!r} names {tensors[ref]['producer']!r} as its "
                                    f"producer, not {o['id']!r}")
        if len(o["output_layouts"]) != len(o["outputs"]):
            raise PlanJSONError(f"ops/{k}/output_layouts: {len(o['output_layouts'])} layouts for "
                                f"{len(o['outputs'])} outputs")
        for j, (lay, ref) in enumerate(zip(o["output_layouts"], o["outputs"])):
            if lay != tensors[ref]["layout"]:
                raise PlanJSONError(f"ops/{k}/output_layouts/{j}: differs from the layout of tensor {ref!r}")
        if o["strategy"]:
            if len(o["strategy"]) != len(o["inputs"]):
                raise PlanJSONError(f"ops/{k}/strategy: {len(o['strategy'])} entries for {len(o['inputs'])} inputs")
            for j, (s, ref) in enumerate(zip(o["strategy"], o["inputs"])):
                if len(s) != len(tensors[ref]["shape"]):
                    raise PlanJSONError(f"ops/{k}/strategy/{j}: {s} has {len(s)} entries but input {ref!r} has shape "
                                        f"{tensors[ref]['shape']}")
        if o["alternatives"]:
            chosen = [j for j, a in enumerate(o["alternatives"]) if a["chosen"]]
            if len(chosen) != 1:
                raise PlanJSONError(f"ops/{k}/alternatives: exactly one alternative must be chosen, got {len(chosen)}")
            if o["alternatives"][chosen[0]]["strategy"] != o["strategy"]:
                raise PlanJSONError(f"ops/{k}/alternatives/{chosen[0]}/strategy: the chosen alternative "
                                    f"{o['alternatives'][chosen[0]]['strategy']} is not the op's strategy "
                                    f"{o['strategy']}")
    for k, c in enumerate(obj["collectives"]):
        if c["id"] in colls:
            raise PlanJSONError(f"collectives/{k}/id: collective id {c['id']!r} is defined twice")
        colls.add(c["id"])
        if c["tensor"] not in tensors:
            raise PlanJSONError(f"collectives/{k}/tensor: refers to unknown tensor {c['tensor']!r}")
        if c["op"] is not None:
            if c["op"] not in ops:
                raise PlanJSONError(f"collectives/{k}/op: refers to unknown op {c['op']!r}")
            side = ops[c["op"]]["inputs" if c["where"] == "input" else "outputs"]
            if c["index"] >= len(side) or side[c["index"]] != c["tensor"]:
                raise PlanJSONError(f"collectives/{k}: {c['where']} {c['index']} of op {c['op']!r} is not tensor "
                                    f"{c['tensor']!r}")
        size = 1
        for j, name in enumerate(c["mesh_axes"]):
            if name not in mesh["axis_names"]:
                raise PlanJSONError(f"collectives/{k}/mesh_axes/{j}: {name!r} is not a mesh axis "
                                    f"{mesh['axis_names']}")
            size *= mesh["shape"][mesh["axis_names"].index(name)]
        if size != c["group_size"]:
            raise PlanJSONError(f"collectives/{k}/group_size: {c['group_size']} but mesh axes {c['mesh_axes']} hold "
                                f"{size} devices")
        for key in ("from_layout", "to_layout"):
            if c[key] is not None:
                _check_layout(c[key], tensors[c["tensor"]]["shape"], mesh, f"collectives/{k}/{key}")
    return obj
