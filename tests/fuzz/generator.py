"""Random well-typed mindlab programs, as Python source.

``generate(chooser, parallel=False)`` builds one program description (shapes are tracked while generating, so every
op is applied to inputs it accepts) and returns a ``GenProgram``: the module source, its kind (``function`` or
``cell``) and its input shapes. The source uses elementwise ops with broadcasting, matmul / batch matmul,
reductions, reshapes / transposes / expand_dims / squeeze, ``if`` and ``while`` on tensors, and (cells) nested Cells
with Parameters; and (``extended``, the default) gather / gather_nd / tensor indices, scatter ops, in-place writes
``y[i] = v``, more math (pow, rsqrt, casts, one_hot of an argmax, stop_gradient), prod / amax reductions, tile /
broadcast_to / split / unstack / reversed slices, conv2d and pooling on NCHW tensors, layer and batch norm, Dense
layers and losses (``nn`` layers in Cells, their functional forms in functions). Values stay bounded (transcendentals take bounded arguments, divisors are >= 1), so float32
results can be compared to 1e-5.

A *chooser* has ``randint(lo, hi)`` (inclusive) and ``choice(seq)``: ``random.Random`` for seeded runs
(benchmarks/fuzz_programs.py), or ``HypothesisChooser`` inside a hypothesis strategy (the CI slice), which gives
shrinking for free. ``parallel=True`` restricts the program to what the auto-parallel planner shards: a Cell,
dims divisible by 4, elementwise / matmul / reductions, no control flow or reshapes.
"""
from dataclasses import dataclass, field

import numpy as np

from .shapes import broadcast as _broadcast, factorizations as _factorizations
from .statements import ExtendedStatements

DIMS = (1, 2, 3, 4, 5, 8)
BIG_DIMS = (1, 4, 16, 32, 48)   # "big" programs: tensors over 1024 elements go through GRAPH_MODE's fused kernels
PAR_DIMS = (4, 8)

UNARY = [
    "ops.tanh({a})", "ops.sigmoid({a})", "ops.relu({a})", "-{a}", "{a} * 0.5 + 0.25", "ops.square(ops.tanh({a}))",
    "ops.exp(ops.tanh({a}))", "ops.log(ops.square({a}) + 1.0)", "ops.sqrt(ops.square({a}) + 1.0)", "ops.abs({a})",
    "ops.softplus({a})", "ops.gelu({a})", "2.0 - {a}", "1.0 / (ops.square({a}) + 1.0)", "ops.maximum({a}, 0.1)",
]
PAR_UNARY = ["ops.tanh({a})", "ops.sigmoid({a})", "ops.relu({a})", "-{a}", "{a} * 0.5 + 0.25",
             "ops.exp(ops.tanh({a}))", "ops.square(ops.tanh({a}))"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / (ops.square({b}) + 1.0)", "ops.maximum({a}, {b})",
          "ops.minimum({a}, {b})", "ops.add({a}, {b})", "ops.mul({a}, {b})"]
PAR_BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "ops.add({a}, {b})"]
REDUCE = ["ops.sum", "ops.mean", "ops.max", "ops.min"]


class HypothesisChooser:
    """The chooser interface over hypothesis' ``draw`` (inside ``st.composite``)."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def randint(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(self.st.sampled_from(list(seq)))

    def random(self):
        return self.draw(self.st.integers(0, 999)) / 1000.0


@dataclass
class GenProgram:
    source: str
    kind: str                      # "function" (def f) or "cell" (class Net)
    inputs: list                   # input shapes, in argument order
    seed: int                      # numpy seed for the input values (and Parameters, baked into the source)
    dtype: str = "float32"
    features: set = field(default_factory=set)


class _Builder(ExtendedStatements):
    def __init__(self, ch, kind, parallel):
        self.ch, self.kind, self.parallel = ch, kind, parallel
        self.vars = []          # (name, shape), most recent last
        self.inputs = []        # (name, shape)
        self.params = []        # (name, shape, seed)
        self.inners = []        # (attr, d, body lines)
        self.consts = []        # module-level index constants: source lines
        self.layers = []        # (attr, constructor source) of nn layers (Cells)
        self.helpers = []       # module-level helper functions: source lines
        self.features = set()
        self.n = 0
        self.seed = ch.randint(0, 10 ** 6)
        self.big = (not parallel) and ch.randint(0, 3) == 0
        self.dtype = "float64" if (not parallel and ch.randint(0, 4) == 0) else "float32"

    # ------------------------------------------------------------------ names and leaves
    def fresh(self):
        self.n += 1
        return f"v{self.n}"

    def dim(self):
        return self.ch.choice(PAR_DIMS if self.parallel else BIG_DIMS if self.big else DIMS)

    def shape(self, ndim=None):
        if ndim is None:
            ndim = self.ch.randint(1, 2) if self.parallel else self.ch.randint(0, 3)
        return tuple(self.dim() for _ in range(ndim))

    def leaf(self, shape, param_ok=True):
        """A new input (or, in a Cell, sometimes a Parameter) of ``shape``: its expression."""
        if self.kind == "cell" and param_ok and (self.parallel or self.ch.randint(0, 1)):
            name = f"w{len(self.params)}"
            self.params.append((name, shape, self.ch.randint(0, 10 ** 6)))
            self.features.add("parameter")
            return f"self.{name}"
        name = f"x{len(self.inputs)}"
        self.inputs.append((name, shape))
        return name

    def pick(self, pred=lambda s: True):
        """A recent variable whose shape satisfies pred, or None (recent ones preferred)."""
        cands = [v for v in self.vars[-6:] if pred(v[1])]
        return self.ch.choice(cands) if cands else None

    # ------------------------------------------------------------------ statements
    def emit(self, lines, indent, expr, shape):
        name = self.fresh()
        lines.append("    " * indent + f"{name} = {expr}")
        self.vars.append((name, shape))
        return name

    def unary_expr(self, a):
        return self.ch.choice(PAR_UNARY if self.parallel else UNARY).format(a=a)

    def st_unary(self, lines, ind):
        a, s = self.pick()
        self.features.add("elementwise")
        self.emit(lines, ind, self.unary_expr(a), s)

    def st_binary(self, lines, ind):
        a, s = self.pick()
        partner = self.pick(lambda t: _broadcast(s, t) is not None and (not self.parallel or t == s))
        mode = self.ch.randint(0, 3)
        if partner is not None and mode > 0:
            b, t = partner
        elif mode == 0 and s and not self.parallel:   # broadcast against a keepdims reduction of a (or a row leaf)
            ax = self.ch.randint(0, len(s) - 1)
            b = f"ops.mean({a}, axis={ax}, keep_dims=True)"
            t = s[:ax] + (1,) + s[ax + 1:]
            self.features.add("reduction")
        else:
            k = self.ch.randint(0, min(len(s), 1)) if self.parallel else self.ch.randint(0, len(s))
            t = s[k:]                                  # a trailing-dims leaf broadcasts (bias-like)
            b = self.leaf(t)
        out = _broadcast(s, t)
        if out != s or t != s:
            self.features.add("broadcast")
        self.features.add("elementwise")
        a_, b_ = (a, b) if self.ch.randint(0, 1) else (b, a)
        self.emit(lines, ind, self.ch.choice(PAR_BINARY if self.parallel else BINARY).format(a=a_, b=b_), out)

    def st_matmul(self, lines, ind):
        a = self.pick(lambda s: len(s) == 2)
        if a is None:
            return self.st_unary(lines, ind)
        a, (m, k) = a
        n = self.dim()
        tb = self.ch.randint(0, 1) == 1
        other = self.pick(lambda s: s == ((n, k) if tb else (k, n)))
        b = other[0] if other is not None else self.leaf((n, k) if tb else (k, n))
        self.features.add("matmul")
        expr = f"ops.matmul({a}, {b}{', transpose_b=True' if tb else ''})"
        self.emit(lines, ind, f"{expr} * {1.0 / k!r}" if k > 1 else expr, (m, n))

    def st_batch_matmul(self, lines, ind):
        a = self.pick(lambda s: len(s) == 3)
        if a is None:
            return self.st_matmul(lines, ind)
        a, (bt, m, k) = a
        n = self.dim()
        b = self.leaf((bt, k, n))
        self.features.add("matmul")
        self.emit(lines, ind, f"ops.batch_matmul({a}, {b})", (bt, m, n))

    def st_reduce(self, lines, ind):
        a = self.pick(lambda s: len(s) >= (2 if self.parallel else 1))
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        ax = self.ch.randint(0, len(s) - 1) if not self.parallel else len(s) - 1
        keep = (not self.parallel) and self.ch.randint(0, 1) == 1
        fn = self.ch.choice(REDUCE[:2] if self.parallel else REDUCE + ["method_sum", "method_mean"])
        kw = ", keepdims=True" if keep else ""
        if fn in ("ops.sum", "ops.mean") and keep:
            kw = ", keep_dims=True"
        out = s[:ax] + ((1,) if keep else ()) + s[ax + 1:]
        self.features.add("reduction")
        if fn.startswith("method_"):   # the Tensor method form
            self.emit(lines, ind, f"{a}.{fn[7:]}(axis={ax}{', keepdims=True' if keep else ''})", out)
        else:
            self.emit(lines, ind, f"{fn}({a}, axis={ax}{kw})", out)

    def st_reshape(self, lines, ind):
        a, s = self.pick()
        size = int(np.prod(s)) if s else 1
        kind = self.ch.randint(0, 3)
        self.features.add("reshape")
        if kind == 0 or len(s) < 2:
            shapes = [t for t in _factorizations(size) if t != s] or [(size,)]
            t = self.ch.choice(shapes)
            self.emit(lines, ind, f"ops.reshape({a}, {t!r})", t)
        elif kind == 1:
            perm = list(range(len(s)))
            perm = perm[1:] + perm[:1]
            self.emit(lines, ind, f"ops.transpose({a}, {tuple(perm)!r})", tuple(s[p] for p in perm))
        elif kind == 2:
            ax = self.ch.randint(0, len(s))
            self.emit(lines, ind, f"ops.expand_dims({a}, {ax})", s[:ax] + (1,) + s[ax:])
        else:
            ones = [i for i, d in enumerate(s) if d == 1]
            if not ones:
                t = tuple(reversed(s))
                self.emit(lines, ind, f"ops.reshape({a}, {t!r})", t)
            else:
                ax = self.ch.choice(ones)
                self.emit(lines, ind, f"ops.squeeze({a}, {ax})", s[:ax] + s[ax + 1:])

    def st_slice(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 1 and s[0] >= 2)
        if a is None:
            return self.st_reshape(lines, ind)
        a, s = a
        self.features.add("slice")
        kind = self.ch.randint(0, 2)
        if kind == 0:
            self.emit(lines, ind, f"{a}[1:]", (s[0] - 1,) + s[1:])
        elif kind == 1:
            self.emit(lines, ind, f"{a}[{self.ch.randint(0, s[0] - 1)}]", s[1:])
        else:
            self.emit(lines, ind, f"{a}[::2]", ((s[0] + 1) // 2,) + s[1:])

    def st_concat(self, lines, ind):
        a, s = self.pick()
        if not s:
            return self.st_unary(lines, ind)
        ax = self.ch.randint(0, len(s) - 1)
        others = [v for v in self.vars[-6:] if len(v[1]) == len(s) and v[1][:ax] + v[1][ax + 1:] == s[:ax] + s[ax + 1:]]
        b, t = self.ch.choice(others)
        self.features.add("concat")
        if self.ch.randint(0, 1) or t != s:
            out = s[:ax] + (s[ax] + t[ax],) + s[ax + 1:]
            self.emit(lines, ind, f"ops.concat(({a}, {b}), axis={ax})", out)
        else:
            self.emit(lines, ind, f"ops.stack(({a}, {b}), axis={ax})", s[:ax] + (2,) + s[ax:])

    def st_softmax(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        self.features.add("softmax")
        axis = -1 if self.parallel else self.ch.randint(-1, len(s) - 1)
        self.emit(lines, ind, f"ops.softmax({a}, axis={axis})", s)

    def st_select(self, lines, ind):
        a, s = self.pick()
        b = self.pick(lambda t: _broadcast(s, t) == s)
        b = b[0] if b is not None else f"({a} * 0.5)"
        self.features.add("select")
        self.emit(lines, ind, f"ops.select({a} > {b}, {a}, {b} * 2.0)", s)

    def st_for(self, lines, ind):
        """A static loop (unrolled by GRAPH_MODE) with augmented assignment."""
        a, s = self.pick()
        name = self.fresh()
        self.features.add("for")
        lines.append("    " * ind + f"{name} = {a} * 1.0")
        lines.append("    " * ind + f"for i in range({self.ch.randint(1, 3)}):")
        lines.append("    " * (ind + 1) + f"{name} += ops.tanh({name}) * 0.5")
        self.vars.append((name, s))

    def st_if_while(self, lines, ind):
        """An ``if`` on a tensor inside a ``while`` on a tensor (a branch per iteration)."""
        a, s = self.pick()
        name, k = self.fresh(), self.fresh()
        self.features.update({"if", "while"})
        lines.append("    " * ind + f"{name} = {a}")
        lines.append("    " * ind + f"{k} = Tensor(0, ms.int32)")
        lines.append("    " * ind + f"while {k} < {self.ch.randint(1, 3)}:")
        lines.append("    " * (ind + 1) + f"if ops.sum({name}) > 0.1:")
        lines.append("    " * (ind + 2) + f"{name} = " + self.unary_expr(name))
        lines.append("    " * (ind + 1) + "else:")
        lines.append("    " * (ind + 2) + f"{name} = ops.tanh({name}) + 0.5")
        lines.append("    " * (ind + 1) + f"{k} = {k} + 1")
        self.vars.append((name, s))

    def st_if(self, lines, ind):
        a, s = self.pick()
        c, cs = self.pick()
        name = self.fresh()
        self.features.add("if")
        cmp = self.ch.choice([">", "<"])
        # (thresholds away from 0 and the integers: a layer norm's sum is 0 and a softmax's a count, up to rounding)
        lines.append("    " * ind + f"if ops.sum({c}) {cmp} {self.ch.choice(['0.1', '0.6', '-0.4'])}:")
        for branch in (0, 1):
            if branch:
                lines.append("    " * ind + "else:")
            expr = self.unary_expr(a)
            if self.ch.randint(0, 1):
                expr = self.unary_expr(f"({expr})")
            lines.append("    " * (ind + 1) + f"{name} = {expr}")
        self.vars.append((name, s))

    def st_while(self, lines, ind):
        a, s = self.pick()
        other = self.pick(lambda t: _broadcast(s, t) == s)
        b = other[0] if other is not None else a
        name, k = self.fresh(), self.fresh()
        self.features.add("while")
        trips = self.ch.randint(0, 3)
        lines.append("    " * ind + f"{name} = {a}")
        lines.append("    " * ind + f"{k} = Tensor(0, ms.int32)")
        lines.append("    " * ind + f"while {k} < {trips}:")
        lines.append("    " * (ind + 1) + f"{name} = ops.tanh({name} * 0.75 + {b})")
        lines.append("    " * (ind + 1) + f"{k} = {k} + 1")
        self.vars.append((name, s))

    def st_inner(self, lines, ind):
        """Call a nested Cell (its own Parameter and a random elementwise body) on a recent variable."""
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        attr = f"inner{len(self.inners)}"
        body = []
        x = "x"
        for j in range(self.ch.randint(1, 3)):
            op = self.ch.choice(["{x} * self.w", "{x} + self.w", "ops.tanh({x})", "ops.sigmoid({x}) * self.w"])
            body.append(f"h{j} = " + op.format(x=x))
            x = f"h{j}"
        body.append(f"return {x}")
        self.inners.append((attr, s[-1], body, self.ch.randint(0, 10 ** 6)))
        self.features.add("nested_cell")
        self.emit(lines, ind, f"self.{attr}({a})", s)


    # ------------------------------------------------------------------ the program
    def build(self):
        body = []
        n0 = self.ch.randint(1, 2)
        for _ in range(n0):
            shp = self.shape()
            self.vars.append((self.leaf(shp, param_ok=not self.parallel), shp))
        steps = [self.st_unary, self.st_binary, self.st_binary, self.st_matmul, self.st_reduce, self.st_softmax]
        if not self.parallel:
            steps += [self.st_reshape, self.st_if, self.st_batch_matmul, self.st_slice,
                      self.st_concat, self.st_softmax, self.st_select, self.st_for]
            steps += [self.st_while, self.st_if_while]
            if self.kind == "cell":
                steps += [self.st_inner, self.st_inner]
            if self.extended:
                steps += [self.st_gather, self.st_scatter, self.st_setitem, self.st_math, self.st_math,
                          self.st_reduce_more, self.st_shape_more, self.st_conv, self.st_pool, self.st_norm,
                          self.st_dense, self.st_loss, self.st_python, self.st_python]
        elif self.extended:   # what else the planner shards: layers, indexing, more math, slices, selects
            steps += [self.st_dense, self.st_dense, self.st_norm, self.st_loss, self.st_math, self.st_reduce_more,
                      self.st_gather, self.st_slice, self.st_concat, self.st_select, self.st_setitem,
                      self.st_reshape, self.st_shape_more, self.st_inner]
        for _ in range(self.ch.randint(2, 7)):
            self.ch.choice(steps)(body, 0)
        # the loss: a weighted sum of the last few values (so every path gets a gradient)
        terms = []
        leaves = {n for n, _ in self.inputs} | {f"self.{n}" for n, _, _ in self.params}
        computed = [v for v in self.vars if v[0] not in leaves] or self.vars[-1:]
        for j, (v, s) in enumerate(computed[-8:]):
            terms.append(f"ops.sum({v}) * {0.5 + 0.25 * j!r}" if s else f"{v} * {0.5 + 0.25 * j!r}")
        if not self.parallel and self.ch.randint(0, 4) == 0:   # an early return on a tensor condition
            v, s = self.ch.choice(computed)
            body.append(f"if ops.sum({v}) > 0.25:")
            body.append("    return " + (f"ops.sum({v}) * 0.5" if s else f"{v} * 0.5") + " + " + terms[0])
            self.features.add("early_return")
        body.append("return " + " + ".join(terms))
        for _, s in self.vars:
            if int(np.prod(s)) >= 1024:
                self.features.add("big")
        if self.dtype == "float64":
            self.features.add("float64")
        return self.render(body)

    def render(self, body):
        self.train_mode = any(a.startswith("bn") for a, _ in self.layers) and self.ch.randint(0, 1) == 1
        args = ", ".join(n for n, _ in self.inputs)
        src = ["import numpy as np", "import mindlab as ms", "from mindlab import nn, ops, Tensor, Parameter", "",
               "def _init(seed, shape, scale=1.0):",
               "    return Tensor((np.random.default_rng(seed).uniform(-1.0, 1.0, shape) * scale).astype(np.%s))"
               % self.dtype, ""] + self.consts + ([""] if self.consts else []) + self.helpers
        if self.kind == "function":
            src.append(f"def f({args}):")
            src += ["    " + l for l in body]
        else:
            if self.inners:
                src += ["class Inner(nn.Cell):", "    def __init__(self, d, seed):", "        super().__init__()",
                        "        self.w = Parameter(_init(seed, (d,)), name='w')", ""]
                for attr, d, ibody, iseed in self.inners:
                    src += [f"class Inner_{attr}(Inner):", "    def construct(self, x):"]
                    src += ["        " + l for l in ibody] + [""]
            src += ["class Net(nn.Cell):", "    def __init__(self):", "        super().__init__()"]
            for name, shape, pseed in self.params:
                src.append(f"        self.{name} = Parameter(_init({pseed}, {shape!r}), name={name!r})")
            for attr, d, ibody, iseed in self.inners:
                src.append(f"        self.{attr} = Inner_{attr}({d}, {iseed})")
            for attr, ctor in self.layers:
                src.append(f"        self.{attr} = {ctor}")
            if self.train_mode:
                src.append("        self.set_train()")
            src += ["", f"    def construct(self{', ' if args else ''}{args}):"]
            src += ["        " + l for l in body]
        return GenProgram("\n".join(src) + "\n", self.kind, [s for _, s in self.inputs], self.seed,
                          features=self.features, dtype=self.dtype)


def generate(ch, parallel=False, second_order=False, extended=True):
    """One program. ``second_order``: a function (for grad-of-grad checks)."""
    kind = "cell" if parallel else "function" if second_order else ch.choice(["function", "cell"])
    b = _Builder(ch, kind, parallel)
    b.extended = extended
    return b.build()


def programs(parallel=False, second_order=False):
    """A hypothesis strategy of GenPrograms."""
    from hypothesis import strategies as st

    @st.composite
    def _programs(draw):
        return generate(HypothesisChooser(draw), parallel, second_order)
    return _programs()
