"""The primitive registry: one entry per op holding all of its rules side by side.

A ``Primitive`` is a tiny named object. Its rules:

* ``infer(*avals, **attrs)`` -> AbstractTensor (or a tuple for multi-output ops). Raises ShapeError/DTypeError with
  a short reason; the dispatcher adds the op name, the input shapes/dtypes and the user's source line.
* ``impl[device](*arrays, **attrs)`` -> array(s). Device arrays in and out; no Tensor inside kernels.
* ``bprop(inputs, out, dout, **attrs)`` -> one gradient per input (a Tensor, or None for "no gradient"). Written
  with mindlab ops, so it is itself differentiable. ``NOT_DIFFERENTIABLE`` says so explicitly, with a reason.
  A bprop with a ``needs=None`` keyword gets one bool per input from the PyNative tape and may return None for an
  input whose gradient nobody uses (matmul and conv2d skip a whole GEMM / col2im for the network's input).
* ``cost(*avals, **attrs)`` -> Cost(flops, bytes) for the cost model and profiler.
* ``shard(*avals, **attrs)`` -> ShardSpec (``mindlab/ops/shard.py``): how the op may be split over devices, for
  auto-parallel. It labels every dimension of every input and output: dims with the same label are split alike,
  ``None`` dims cannot be split by this op, an input label missing from an output is contracted (split, it leaves
  partial results combined by ``reduce[label]``: "sum" -> a partial-sum layout (AllReduce / ReduceScatter where a
  consumer needs it), "mean"/"max"/"min"/"prod" -> an AllReduce right after the kernel), and a label found only in
  outputs splits a dim the op creates. ``localize`` fixes shape-valued attributes for one device's slices; ``check``
  rejects split counts the labels cannot express; ``inplace``/``gradients`` mark written and gradient inputs.
  Given a MindSpore strategy (per input, pieces per dim, e.g. ``((2, 1), (1, 4))`` for MatMul),
  ``mindlab.parallel.strategy.check_strategy`` says whether it is valid (an error naming the op, the strategy, the
  shapes and the offending dims), the output layouts, and the collectives the split implies. Every primitive of
  the op families has one (``tests/parallel/test_shard_rules.py`` walks the registry and runs each rule's layouts
  on the sim backend against the unsharded kernel).
* ``fuse`` (elementwise ops only, optional): the op on scalars, as source for the fused kernels the
  ``fuse_elementwise`` pass generates (``kernels/cpu/fused.py``). A template such as ``"{0} * {1}"`` or
  ``"ftanh({out}({0}))"`` — ``{0}, {1}...`` are the operands' scalar values, ``{out}`` names the output's scalar type
  (``float32``...), and ``ftanh``-style names are the vectorisable math in ``kernels/cpu/fastmath.py`` — or a
  callable ``fuse(*operands, out=..., **attrs)`` returning such an expression, or None to leave that node unfused
  (operands are strings with ``.dtype`` and ``.const``, the value of a compile-time scalar constant). Primitives
  without it are never fused.

Two flags describe how the graph passes may treat an op: ``effect=True`` (it writes state in place — optimizer
updates, assign — so it runs even when nothing uses its result, in program order) and ``random=True`` (each run
gives a different result — dropout masks — so it is never merged or constant-folded).

Adding an op is one ``defprim`` call beside its public function; nothing else in the tree changes.
"""
from dataclasses import dataclass

REGISTRY = {}


class _NotDifferentiable:
    """Marks a primitive whose output has no gradient (comparisons, argmax, integer ops...)."""
    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"NOT_DIFFERENTIABLE({self.reason!r})"


def not_differentiable(reason):
    return _NotDifferentiable(reason)


def _takes_needs(fn):
    import inspect
    try:
        return "needs" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Cost:
    flops: float
    bytes: float

    def __add__(self, other):
        return Cost(self.flops + other.flops, self.bytes + other.bytes)


class Primitive:
    """One op and its rules. ``outputs`` > 1 for ops returning a tuple of that many tensors; None for ops whose
    number of outputs depends on their attributes (``split``): infer then returns a tuple of any length."""
    __slots__ = ("name", "infer", "impl", "bprop", "cost", "outputs", "doc", "effect", "random", "fuse", "shard",
                 "native", "fused_expr", "bprop_needs", "__weakref__")

    def __init__(self, name, infer, impl, bprop, cost, outputs=1, doc="", effect=False, random=False, fuse=None,
                 shard=None, native=None):
        self.name, self.infer, self.impl, self.bprop, self.cost = name, infer, impl, bprop, cost
        self.outputs, self.doc, self.effect, self.random, self.fuse = outputs, doc, effect, random, fuse
        self.shard = shard
        self.native = native   # emits this op's line in a whole-program native kernel (runtime/native.py)
        self.fused_expr = None   # set on the generated primitives of fused groups (passes/fusion.py)
        # a bprop taking ``needs`` (one bool per input) may skip gradients nobody uses (the tape passes it)
        self.bprop_needs = callable(bprop) and _takes_needs(bprop)

    @property
    def differentiable(self):
        return not isinstance(self.bprop, _NotDifferentiable)

    def __repr__(self):
        return f"Primitive({self.name})"


def defprim(name, *, infer, cpu, bprop, cost, outputs=1, doc="", effect=False, random=False, fuse=None, shard=None,
            native=None):
    """Register a primitive with all its rules. ``cpu`` is the CPU kernel; other devices' kernels join ``impl``
    under their device name from their backend's own entry point (``Primitive.impl["GPU"]`` etc.). ``fuse``: the
    scalar expression of an elementwise op for fused kernels; ``shard``: its split structure for auto-parallel (see
    the module docstring); ``native``: how a CPU program compiled as one numba function computes it
    (``runtime/native.py``: ``native(emit, ins, avals, out, **attrs)`` returns the value's expression, or None when
    it does not take these operands)."""
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is already registered")
    for rule, value in (("infer", infer), ("cpu", cpu), ("cost", cost)):
        if not callable(value):
            raise TypeError(f"primitive {name!r}: rule {rule} must be callable, got {value!r}")
    if not (callable(bprop) or isinstance(bprop, _NotDifferentiable)):
        raise TypeError(f"primitive {name!r}: bprop must be callable or not_differentiable(reason)")
    if fuse is not None and not (isinstance(fuse, str) or callable(fuse)):
        raise TypeError(f"primitive {name!r}: fuse must be an expression template string or a callable")
    if fuse is not None and (effect or random or outputs != 1):
        raise ValueError(f"primitive {name!r}: only pure single-output elementwise ops can have a fuse rule")
    if shard is not None and not callable(shard):
        raise TypeError(f"primitive {name!r}: rule shard must be callable (returning a ShardSpec), got {shard!r}")
    if native is not None and not callable(native):
        raise TypeError(f"primitive {name!r}: rule native must be callable, got {native!r}")
    p = Primitive(name, infer, {"CPU": cpu}, bprop, cost, outputs, doc, effect, random, fuse, shard, native)
    REGISTRY[name] = p
    return p


# ---------------------------------------------------------------- shared cost rules
def elementwise_cost(flops_per_element=1):
    """Cost of an elementwise op: flops per output element, reading inputs and writing the output once."""
    def cost(*avals, **attrs):
        out_size = max((a.size for a in avals), default=0)
        return Cost(flops_per_element * out_size, sum(a.nbytes for a in avals) + out_size * avals[0].dtype.np.itemsize)
    return cost


def memory_cost(*avals, **attrs):
    """Cost of a data-movement op: no flops, each input read once and an output of the same bytes written."""
    nbytes = sum(a.nbytes for a in avals)
    return Cost(0, 2 * nbytes)
