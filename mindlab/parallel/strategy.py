"""Per-op strategies on a device mesh: the mesh-aware side of the registry's shard rules.

A primitive's ``shard`` rule (``mindlab/ops/shard.py``) labels its dims. An ``OpSharding`` is one way to run the op
on a ``DeviceMesh``: an *assignment* of mesh axes to labels (each mesh axis splits at most one label; a label may
take several axes, major first in mesh order). From it follow

* the layout each input must arrive in and the layout of each output (``TensorLayout``; an output whose sum-
  contracted label is split is *partial* along those axes: a MatMul with a split ``k``),
* the collectives the split implies right after the kernel (``post``: an AllReduce with ``mean``/``max``/``min``/
  ``prod`` over the axes of a split reduced label),
* the MindSpore strategy (per input, pieces per dim) and the per-device shapes and attributes the kernel runs with.

``shardings(prim, avals, attrs, mesh)`` enumerates every valid OpSharding (what the search chooses from);
``from_strategy`` / ``check_strategy`` turn a user's MindSpore strategy into OpShardings or raise ``StrategyError``
naming the op, the strategy, the input shapes and what is wrong. ``simulate`` runs one op with an OpSharding on the
``sim`` backend — per-device slices, the kernel on each, the collectives — and assembles the full outputs.
"""
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import MindlabError
from ..ops.abstract import AbstractTensor
from .layout import TensorLayout, LayoutError
from .mesh import DeviceMesh

__all__ = ["StrategyError", "OpSharding", "shard_spec", "shardings", "make_sharding", "from_strategy",
           "check_strategy", "simulate", "normalize_strategy"]


class StrategyError(MindlabError, ValueError):
    """A strategy an op cannot run with (or that the mesh cannot hold)."""


def _shape_text(avals):
    return ", ".join(f"{list(a.shape)}" for a in avals) or "no inputs"


def shard_spec(prim, avals, attrs):
    """The ShardSpec of ``prim`` applied to ``avals`` (a clear error when the primitive has no shard rule)."""
    rule = getattr(prim, "shard", None)
    if rule is None and prim.name.startswith("fused("):
        # a kernel of the fusion pass: elementwise by construction (its inputs broadcast against its outputs)
        from ..ops.shard import elementwise_spec
        return elementwise_spec(avals, [o.shape for o in _out_avals(prim, avals, attrs)])
    if rule is None:
        raise StrategyError(f"{prim.name}: this primitive has no shard rule, so it cannot be split (register one with "
                            f"defprim(..., shard=...))")
    spec = rule(*avals, **attrs)
    if len(spec.inputs) != len(avals):
        raise AssertionError(f"{prim.name}: shard rule gives {len(spec.inputs)} inputs for {len(avals)}")
    for k in range(len(spec.outputs)):
        for lab in spec.contracted(k):
            if lab not in spec.reduce:
                raise AssertionError(f"{prim.name}: shard rule bug: label {lab!r} is missing from output {k} but has "
                                     f"no reduce op")
    return spec


def _out_avals(prim, avals, attrs):
    out = prim.infer(*avals, **attrs)
    return tuple(out) if isinstance(out, tuple) else (out,)


@dataclass(frozen=True, eq=False)
class OpSharding:
    """One op application split on a mesh (see the module docstring)."""
    prim: object
    mesh: DeviceMesh
    assignment: tuple          # ((label, (mesh axis index, ...)), ...) in label order, split labels only
    in_layouts: tuple
    out_layouts: tuple
    post: tuple                # ((output index, reduce op, (mesh axis index, ...)), ...)
    splits: dict               # label -> pieces
    in_avals: tuple
    out_avals: tuple
    attrs: dict
    local_attrs: dict
    spec: object = field(repr=False, default=None)

    @property
    def strategy(self):
        """MindSpore's strategy: per input, pieces per dim."""
        return tuple(lay.splits for lay in self.in_layouts)

    @property
    def out_strategy(self):
        return tuple(lay.splits for lay in self.out_layouts)

    @property
    def key(self):
        return self.assignment

    @property
    def local_in_avals(self):
        return tuple(AbstractTensor(lay.slice_shape, a.dtype) for lay, a in zip(self.in_layouts, self.in_avals))

    @property
    def local_out_avals(self):
        return tuple(AbstractTensor(lay.slice_shape, a.dtype) for lay, a in zip(self.out_layouts, self.out_avals))

    @property
    def is_split(self):
        return bool(self.assignment)

    def describe(self):
        if not self.assignment:
            return "replicated"
        names = self.mesh.axis_names
        return ", ".join(f"{lab}->{'x'.join(names[a] for a in axes)}" for lab, axes in self.assignment)

    def __repr__(self):
        return f"<OpSharding {self.prim.name} {self.strategy}: {self.describe()}>"


def make_sharding(prim, avals, attrs, mesh, assignment, spec=None):
    """The OpSharding for ``assignment`` (a dict or pairs: label -> tuple of mesh axis indices), or raise
    StrategyError (LayoutError underneath) when a dim is not divisible or the rule's check rejects the splits."""
    spec = spec or shard_spec(prim, avals, attrs)
    assign = {lab: tuple(axes) for lab, axes in dict(assignment).items() if axes}
    used = [a for axes in assign.values() for a in axes]
    if len(used) != len(set(used)):
        raise StrategyError(f"{prim.name}: a mesh axis splits two labels in {assign}")
    splits = {lab: math.prod(mesh.shape[a] for a in axes) for lab, axes in assign.items()}
    if spec.check is not None:
        msg = spec.check(splits)
        if msg:
            raise StrategyError(f"{prim.name}: {msg}")
    out_avals = _out_avals(prim, avals, attrs)
    if len(spec.outputs) != len(out_avals):
        raise AssertionError(f"{prim.name}: shard rule gives {len(spec.outputs)} outputs, infer {len(out_avals)}")

    def dims_axes(dims):
        return [assign.get(lab, ()) if lab is not None else () for lab in dims]
    ins = tuple(TensorLayout._make(mesh, a.shape, dims_axes(d)) for a, d in zip(avals, spec.inputs))
    outs, post = [], []
    for k, (a, d) in enumerate(zip(out_avals, spec.outputs)):
        partial, reduced = [], {}
        for lab in spec.contracted(k):
            axes = assign.get(lab, ())
            if not axes:
                continue
            if spec.reduce[lab] == "sum":
                partial.extend(axes)
            else:       # one AllReduce per op over every mesh axis of the labels it combines
                reduced.setdefault(spec.reduce[lab], []).extend(axes)
        post.extend((k, op, tuple(sorted(axes))) for op, axes in reduced.items())
        outs.append(TensorLayout._make(mesh, a.shape, dims_axes(d), partial))
    local_attrs = dict(attrs)
    if spec.localize is not None:
        local_attrs.update(spec.localize(tuple(lay.slice_shape for lay in ins),
                                         tuple(lay.slice_shape for lay in outs), dict(splits)))
    order = {lab: i for i, lab in enumerate(spec.labels)}
    pairs = tuple(sorted(assign.items(), key=lambda kv: order.get(kv[0], len(order))))
    return OpSharding(prim, mesh, pairs, ins, tuple(outs), tuple(post), splits, tuple(avals), out_avals, dict(attrs),
                      local_attrs, spec)


def shardings(prim, avals, attrs, mesh, spec=None):
    """Every valid OpSharding of ``prim`` on ``avals`` over ``mesh`` (the replicated one first)."""
    spec = spec or shard_spec(prim, avals, attrs)
    labels = spec.labels
    out = []
    for choice in itertools.product(range(len(labels) + 1), repeat=mesh.ndim):
        assign = {}
        for axis, c in enumerate(choice):
            if c:
                assign.setdefault(labels[c - 1], []).append(axis)
        try:
            out.append(make_sharding(prim, avals, attrs, mesh, {k: tuple(v) for k, v in assign.items()}, spec))
        except (LayoutError, StrategyError):
            continue
    return out


def normalize_strategy(strategy, what="strategy"):
    """A strategy as a tuple of tuples of positive ints (a clear error otherwise)."""
    try:
        out = tuple(tuple(int(v) for v in dims) for dims in strategy)
    except (TypeError, ValueError):
        raise StrategyError(f"{what} must be a tuple with one tuple of ints per input (e.g. ((2, 1), (1, 4))), got "
                            f"{strategy!r}") from None
    for dims in out:
        if any(v < 1 for v in dims):
            raise StrategyError(f"{what} entries must be positive ints, got {strategy!r}")
    return out


def _label_counts(prim, strategy, avals, spec):
    """label -> pieces from a MindSpore strategy; StrategyError naming the op, strategy, shapes and the dims."""
    head = f"{prim.name}: strategy {strategy} is invalid for inputs of shapes {_shape_text(avals)}"
    if len(strategy) != len(avals):
        raise StrategyError(f"{head}: it has {len(strategy)} entries but the op has {len(avals)} inputs")
    counts, first = {}, {}
    for i, (s, a, dims) in enumerate(zip(strategy, avals, spec.inputs)):
        if len(s) != a.ndim:
            raise StrategyError(f"{head}: entry {i} {s} has {len(s)} values but input {i} has {a.ndim} dims")
        for d, (c, lab) in enumerate(zip(s, dims)):
            if lab is None:
                if c != 1:
                    why = spec.why.get((i, d), "this op cannot split it")
                    raise StrategyError(f"{head}: dim {d} of input {i} cannot be split ({why}), got {c} pieces")
                continue
            if a.shape[d] % c:
                raise StrategyError(f"{head}: dim {d} of input {i} has size {a.shape[d]}, not divisible by {c}")
            if lab in counts and counts[lab] != c:
                j, e = first[lab]
                raise StrategyError(f"{head}: dim {d} of input {i} and dim {e} of input {j} are the same dimension "
                                    f"of the computation ({lab!r}) and must be split the same way, got {c} and "
                                    f"{counts[lab]}")
            counts[lab] = c
            first.setdefault(lab, (i, d))
    return counts


def from_strategy(prim, strategy, avals, attrs, mesh, spec=None):
    """The OpShardings of ``mesh`` that realise the MindSpore ``strategy`` (several when different mesh axes can
    hold the same splits), or StrategyError saying why none does."""
    strategy = normalize_strategy(strategy)
    spec = spec or shard_spec(prim, avals, attrs)
    counts = _label_counts(prim, strategy, avals, spec)
    want = {lab: c for lab, c in counts.items() if c > 1}
    total = math.prod(want.values())
    head = f"{prim.name}: strategy {strategy} (inputs of shapes {_shape_text(avals)})"
    if mesh.size % total:
        raise StrategyError(f"{head} splits the computation into {total} pieces, which does not divide the "
                            f"{mesh.size} devices of {mesh!r}")
    found = [sh for sh in shardings(prim, avals, attrs, mesh, spec) if sh.splits == want]
    if not found:
        why = None
        if spec.check is not None:
            why = spec.check(want)
        raise StrategyError(f"{head} cannot be placed on {mesh!r}: "
                            + (why if why else "each split must be the size of a mesh axis or a product of mesh "
                               "axes not used by another split"))
    return found


def check_strategy(prim, strategy, *avals, mesh=None, **attrs):
    """Whether ``strategy`` is valid for ``prim`` on ``avals`` (AbstractTensors, or arrays/Tensors): returns the
    first OpSharding realising it (its ``out_layouts`` and ``post`` say the output layouts and the collectives the
    split implies) or raises StrategyError. ``mesh`` defaults to a mesh whose axes are the strategy's splits."""
    prim = _registered(prim)
    avals = tuple(_aval(a) for a in avals)
    strategy = normalize_strategy(strategy)
    if mesh is None:
        spec = shard_spec(prim, avals, attrs)
        counts = _label_counts(prim, strategy, avals, spec)
        sizes = [c for c in counts.values() if c > 1] or [1]
        mesh = DeviceMesh(tuple(sizes))
    return from_strategy(prim, strategy, avals, attrs, mesh)[0]


def _registered(prim):
    if isinstance(prim, str):
        from ..ops.registry import REGISTRY
        try:
            return REGISTRY[prim]
        except KeyError:
            raise StrategyError(f"no primitive named {prim!r}") from None
    return prim


def _aval(a):
    if isinstance(a, AbstractTensor):
        return a
    from ..tensor import Tensor
    from .. import dtype as mdt
    if isinstance(a, Tensor):
        return AbstractTensor(a.shape, a.dtype)
    arr = np.asarray(a)
    return AbstractTensor(arr.shape, mdt.from_np(arr.dtype))


# ------------------------------------------------------------------------------------- execution on sim
def run_kernel(sh, local_arrays, device="CPU"):
    """The op's kernel on one device's slices with the sharding's local attributes; outputs cast to the inferred
    dtypes (as the graph executor does). Returns a tuple of arrays."""
    impl = sh.prim.impl.get(device)
    if impl is None:
        raise StrategyError(f"{sh.prim.name}: no kernel for device {device!r}")
    out = impl(*local_arrays, **sh.local_attrs)
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(np.asarray(o, dtype=a.dtype.np) for o, a in zip(outs, sh.out_avals))


def simulate(sh, inputs, world=None):
    """Run the op of OpSharding ``sh`` on the ``sim`` backend (list API): every device gets its slices of the full
    ``inputs`` (numpy arrays), runs the kernel, the ``post`` collectives run over their groups; returns ``(outputs,
    inputs_after)``: the full outputs assembled from the devices' pieces (partial pieces summed, replicas checked
    to agree) and the full inputs re-assembled after the kernel ran (what an in-place op wrote)."""
    from .comm.sim import SimWorld
    mesh = sh.mesh
    devs = mesh.devices
    world = world or SimWorld(max(devs) + 1)
    pieces = {d: [lay.local(np.asarray(x), d) for lay, x in zip(sh.in_layouts, inputs)] for d in devs}
    results = {d: list(run_kernel(sh, pieces[d])) for d in devs}
    for k, op, axes in sh.post:
        for group in mesh.groups(axes):
            outs = world.all_reduce([results[d][k] for d in group], op=op, group=group)
            for d, o in zip(group, outs):
                results[d][k] = o
    outputs = tuple(lay.assemble([results[d][k] for d in devs]) for k, lay in enumerate(sh.out_layouts))
    after = tuple(lay.assemble([pieces[d][i] for d in devs], check=False) for i, lay in enumerate(sh.in_layouts))
    return outputs, after
