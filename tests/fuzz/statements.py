"""The extended statements of the program generator (``generator._Builder`` mixes this class in): indexing and
scatter ops, in-place writes, more math and shape ops, ``nn`` layers (convolution, pooling, norms, Dense, losses)
and their functional forms, and the Python constructs around tensors that the graph compiler must read. Each
``st_*`` method appends lines to the program body and records the new variable's shape, as in ``generator.py``."""
import numpy as np

from .shapes import broadcast as _broadcast


class ExtendedStatements:
    # ------------------------------------------------------------------ indexing, scatter, in-place writes
    def const_index(self, values, shape):
        """A module-level int32 index tensor (GRAPH_MODE reads it as a constant): its name."""
        name = f"I{len(self.consts)}"
        arr = np.array(values, np.int32).reshape(shape)
        self.consts.append(f"{name} = Tensor(np.array({arr.tolist()!r}, np.int32))")
        return name

    def _indices(self, n, k, unique=False):
        if unique:
            pool = list(range(n))
            out = []
            for _ in range(min(k, n)):
                out.append(pool.pop(self.ch.randint(0, len(pool) - 1)))
            return out
        return [self.ch.randint(0, n - 1) for _ in range(k)]

    def st_gather(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        self.features.add("gather")
        form = self.ch.randint(0, 3)
        if form == 3 and len(s) >= 2:                  # gather_nd: rows of m leading indices
            m, k = self.ch.randint(1, len(s) - 1), self.ch.randint(1, 3)
            vals = [[self.ch.randint(0, s[j] - 1) for j in range(m)] for _ in range(k)]
            idx = self.const_index(vals, (k, m))
            return self.emit(lines, ind, f"ops.gather_nd({a}, {idx})", (k,) + s[m:])
        ax = self.ch.randint(0, len(s) - 1) if form != 1 else 0
        k = self.ch.randint(1, 4)
        ishape = (k,) if self.ch.randint(0, 2) else (2, k)
        idx = self.const_index(self._indices(s[ax], int(np.prod(ishape))), ishape)
        out = s[:ax] + ishape + s[ax + 1:]
        if form == 1:                                  # tensor getitem with an index tensor
            self.emit(lines, ind, f"{a}[{idx}]", out)
        elif form == 2:                                # indices computed on the fly (argmax along an axis)
            b = self.pick(lambda t: len(t) >= 1 and t[-1] == s[ax] and len(t) <= 2)
            if b is None:
                return self.emit(lines, ind, f"ops.gather({a}, {idx}, {ax})", out)
            b, t = b
            self.emit(lines, ind, f"ops.gather({a}, ops.argmax({b}, axis=-1), {ax})", s[:ax] + t[:-1] + s[ax + 1:])
        else:
            self.emit(lines, ind, f"ops.gather({a}, {idx}, {ax})", out)

    def st_scatter(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        self.features.add("scatter")
        form = self.ch.randint(0, 2)
        if form == 0:                                  # rows replaced by new values (unique rows)
            rows = self._indices(s[0], self.ch.randint(1, 3), unique=True)
            idx = self.const_index(rows, (len(rows), 1))
            upd = self.leaf((len(rows),) + s[1:])
            self.emit(lines, ind, f"ops.tensor_scatter_update({a}, {idx}, ops.tanh({upd}))", s)
        elif form == 1:                                # segment sums along axis 0 (repeats add up)
            num = self.ch.randint(1, 4)
            idx = self.const_index(self._indices(num, s[0]), (s[0],))
            self.emit(lines, ind, f"ops.unsorted_segment_sum({a}, {idx}, {num})", (num,) + s[1:])
        else:                                          # scatter_nd of a's leading rows into a new tensor
            n = self.ch.randint(1, 4)
            k = self.ch.randint(1, s[0])
            idx = self.const_index(self._indices(n, k), (k, 1))
            self.emit(lines, ind, f"ops.scatter_nd({idx}, {a}[:{k}], {(n,) + s[1:]!r})", (n,) + s[1:])

    def st_setitem(self, lines, ind):
        """Writes into a copy of a tensor: ``y = a * 1.0; y[i] = ...`` (functional in GRAPH_MODE)."""
        a = self.pick(lambda s: len(s) >= 1 and s[0] >= 2)
        if a is None:
            return self.st_slice(lines, ind)
        a, s = a
        name = self.fresh()
        self.features.add("setitem")
        lines.append("    " * ind + f"{name} = {a} * 1.0")
        form = self.ch.randint(0, 3)
        if form == 0:
            lines.append("    " * ind + f"{name}[{self.ch.randint(0, s[0] - 1)}] = 0.5")
        elif form == 1:
            b = self.pick(lambda t: _broadcast(s[1:], t) == s[1:])
            val = b[0] if b is not None else "0.25"
            lines.append("    " * ind + f"{name}[{self.ch.randint(0, s[0] - 1)}] = {val}")
        elif form == 2:
            lines.append("    " * ind + f"{name}[1:] = ops.tanh({name}[:-1]) * 0.5")
        else:
            idx = self.const_index(self._indices(s[0], self.ch.randint(1, 2), unique=True), None)
            lines.append("    " * ind + f"{name}[{idx}] = ops.sigmoid({name}[{idx}])")
        self.vars.append((name, s))

    # ------------------------------------------------------------------ more math and shape ops
    def st_math(self, lines, ind):
        a, s = self.pick()
        self.features.add("math")
        forms = ["ops.pow(ops.abs({a}) + 0.5, 1.5)", "{a} ** 2", "ops.reciprocal(ops.square({a}) + 1.0)",
                 "ops.rsqrt(ops.square({a}) + 1.0)", "ops.sign({a}) * {a}", "ops.floor({a} * 2.0) * 0.25 + {a}",
                 "ops.where({a} > 0.0, {a}, ops.tanh({a}))", "ops.stop_gradient({a}) * {a}",
                 "ops.cast(ops.cast({a}, ms.float64), ms.%s)" % self.dtype,
                 "ops.cast({a} > 0.2, ms.%s) * {a}" % self.dtype,
                 "ops.select(ops.logical_and({a} > -0.5, ops.logical_not({a} > 0.5)), {a}, {a} * 0.1)",
                 "ops.floor_mod({a}, 0.7) + {a} * 0.1", "{a} // 0.5 * 0.1 + {a}", "ops.where({a} != {a}, 0.0, {a})"]
        if s:
            forms += ["ops.log_softmax({a}, axis=-1)",
                      "ops.cast(ops.expand_dims(ops.argmax({a}, axis=-1) * 2 + 1, -1), ms.%s) * {a}" % self.dtype,
                      "ops.cast(ops.one_hot(ops.argmax({a}, axis=-1), %d, 1.0, 0.0), ms.%s) * {a}" % (s[-1], self.dtype)]
        self.emit(lines, ind, self.ch.choice(forms).format(a=a), s)

    def st_reduce_more(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 1)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        ax = self.ch.randint(0, len(s) - 1)
        keep = self.ch.randint(0, 1) == 1
        out = s[:ax] + ((1,) if keep else ()) + s[ax + 1:]
        self.features.add("reduction")
        form = self.ch.choice([f"ops.prod(ops.tanh({a}) * 0.5 + 1.0, axis={ax}, keep_dims={keep})",
                               f"ops.amax({a}, axis={ax}, keepdims={keep})", f"ops.amin({a}, {ax}, {keep})",
                               f"{a}.max(axis={ax}, keepdims={keep})", f"{a}.prod(axis={ax}, keep_dims={keep})"])
        if ".prod(" in form and not form.startswith("ops."):
            form = f"(ops.tanh({a}) * 0.5 + 1.0).prod(axis={ax}, keep_dims={keep})"
        self.emit(lines, ind, form, out)

    def st_shape_more(self, lines, ind):
        a, s = self.pick()
        self.features.add("reshape")
        kind = self.ch.randint(0, 6)
        if kind == 0 and s:
            mult = tuple(self.ch.randint(1, 2) for _ in s)
            self.emit(lines, ind, f"ops.tile({a}, {mult!r})", tuple(d * m for d, m in zip(s, mult)))
        elif kind == 1 and len(s) <= 3:
            t = (self.ch.randint(1, 3),) + s
            self.emit(lines, ind, f"ops.broadcast_to({a}, {t!r})", t)
        elif kind == 2 and len(s) >= 2:
            self.emit(lines, ind, f"ops.flatten({a})", (s[0], int(np.prod(s[1:]))))
        elif kind == 3 and s and s[0] >= 2:
            n = s[0] // 2
            self.emit(lines, ind, f"ops.split({a}, {n}, axis=0)[{self.ch.randint(0, 1)}]", (n,) + s[1:])
        elif kind == 4 and s:
            ax = self.ch.randint(0, len(s) - 1)
            j = self.ch.randint(0, s[ax] - 1)
            self.emit(lines, ind, f"ops.unstack({a}, {ax})[{j}]", s[:ax] + s[ax + 1:])
        elif kind == 5 and s:
            self.features.add("slice")
            self.emit(lines, ind, f"{a}[::-1]", s)
        elif kind == 6 and len(s) >= 2 and s[-1] >= 2:
            self.features.add("slice")
            self.emit(lines, ind, f"{a}[..., 1:]", s[:-1] + (s[-1] - 1,))
        else:
            self.emit(lines, ind, f"ops.expand_dims({a}, 0)", (1,) + s)

    # ------------------------------------------------------------------ nn layers (Cells) and their functional forms
    def layer(self, prefix, ctor):
        if self.dtype != "float32" and ctor.startswith(("nn.Dense", "nn.Conv2d", "nn.LayerNorm", "nn.BatchNorm2d")):
            ctor = ctor[:-1] + f", dtype=ms.{self.dtype})"
        attr = f"{prefix}{len(self.layers)}"
        self.layers.append((attr, ctor))
        return f"self.{attr}"

    def image(self):
        """A recent 4-D (N, C, H, W) variable, or a new input / Parameter of that shape."""
        a = self.pick(lambda s: len(s) == 4 and s[2] >= 2 and s[3] >= 2)
        if a is not None:
            return a
        hw = (4, 12, 16) if self.big else (3, 4, 5, 6, 8)
        s = (self.ch.randint(1, 3), self.ch.randint(1, 3), self.ch.choice(hw), self.ch.choice(hw))
        name = self.leaf(s)
        self.vars.append((name, s))
        return name, s

    @staticmethod
    def _out(h, k, stride, pad_mode, pad, dil=1):
        if pad_mode == "same":
            return -(-h // stride)
        return (h + 2 * pad - dil * (k - 1) - 1) // stride + 1

    def st_conv(self, lines, ind):
        a, (n, c, h, w) = self.image()
        self.features.add("conv")
        o, k = self.ch.randint(1, 4), self.ch.choice((1, 2, 3))
        stride, dil = self.ch.choice((1, 1, 2)), self.ch.choice((1, 1, 2))
        pad_mode = self.ch.choice(("same", "valid", "pad"))
        pad = self.ch.randint(0, 1) if pad_mode == "pad" else 0
        if pad_mode == "same":
            dil = 1
        ho, wo = self._out(h, k, stride, pad_mode, pad, dil), self._out(w, k, stride, pad_mode, pad, dil)
        if ho < 1 or wo < 1:
            return self.st_pool(lines, ind)
        scale = 1.0 / (c * k * k)
        wshape = (o, c, k, k)
        if self.kind == "cell":
            bias = self.ch.randint(0, 1) == 1
            ctor = (f"nn.Conv2d({c}, {o}, {k}, stride={stride}, pad_mode={pad_mode!r}, padding={pad}, dilation={dil}, "
                    f"has_bias={bias}, weight_init=_init({self.ch.randint(0, 10 ** 6)}, {wshape!r}, {scale!r})"
                    + (f", bias_init=_init({self.ch.randint(0, 10 ** 6)}, ({o},))" if bias else "") + ")")
            self.features.add("parameter")
            self.emit(lines, ind, f"{self.layer('conv', ctor)}({a})", (n, o, ho, wo))
        else:
            wt = self.leaf(wshape)
            self.emit(lines, ind, f"ops.conv2d({a}, {wt} * {scale!r}, stride={stride}, pad_mode={pad_mode!r}, "
                                  f"padding={pad}, dilation={dil})", (n, o, ho, wo))

    def st_pool(self, lines, ind):
        a, (n, c, h, w) = self.image()
        self.features.add("pool")
        k, stride = self.ch.choice((1, 2, 3)), self.ch.choice((1, 2))
        pad_mode = self.ch.choice(("same", "valid"))
        ho, wo = self._out(h, k, stride, pad_mode, 0), self._out(w, k, stride, pad_mode, 0)
        if ho < 1 or wo < 1:
            k, ho, wo = 1, self._out(h, 1, stride, pad_mode, 0), self._out(w, 1, stride, pad_mode, 0)
        kind = self.ch.choice(("max", "avg"))
        if self.kind == "cell":
            cls = "nn.MaxPool2d" if kind == "max" else "nn.AvgPool2d"
            expr = f"{self.layer('pool', f'{cls}({k}, {stride}, pad_mode={pad_mode!r})')}({a})"
        else:
            expr = f"ops.{kind}_pool2d({a}, {k}, {stride}, pad_mode={pad_mode!r})"
        self.emit(lines, ind, expr, (n, c, ho, wo))

    def st_norm(self, lines, ind):
        """LayerNorm over the last axis, or (Cells, 4-D) BatchNorm2d with batch statistics."""
        if self.kind == "cell" and self.ch.randint(0, 1) == 0:
            a, s = self.image()
            self.features.add("batchnorm")
            stats = self.ch.choice(("True", "None"))   # None: the Cell's training flag (set_train in __init__)
            self.emit(lines, ind, f"{self.layer('bn', f'nn.BatchNorm2d({s[1]}, use_batch_statistics={stats})')}({a})", s)
            return
        a = self.pick(lambda s: len(s) >= 1 and s[-1] >= 2)
        if a is None:
            return self.st_unary(lines, ind)
        a, s = a
        self.features.add("layernorm")
        if self.kind == "cell":
            self.emit(lines, ind, f"{self.layer('ln', f'nn.LayerNorm(({s[-1]},), epsilon=1e-5)')}({a})", s)
        else:
            g, b = self.leaf((s[-1],)), self.leaf((s[-1],))
            self.emit(lines, ind, f"ops.layer_norm({a}, {g}, {b}, epsilon=1e-5)", s)

    def st_dense(self, lines, ind):
        a = self.pick(lambda s: len(s) >= 2)
        if a is None or self.kind != "cell":
            return self.st_matmul(lines, ind)
        a, s = a
        k, n = s[-1], self.dim()
        act = self.ch.choice((None, "relu", "tanh", "sigmoid"))
        ctor = (f"nn.Dense({k}, {n}, weight_init=_init({self.ch.randint(0, 10 ** 6)}, {(n, k)!r}, {1.0 / k!r}), "
                f"bias_init=_init({self.ch.randint(0, 10 ** 6)}, ({n},)), activation={act!r})")
        self.features.update({"dense", "parameter"})
        self.emit(lines, ind, f"{self.layer('dense', ctor)}({a})", s[:-1] + (n,))

    def st_loss(self, lines, ind):
        """A classification or regression loss: a scalar (or per-sample) value."""
        a = self.pick(lambda s: len(s) == 2 and s[1] >= 2)
        if a is None:
            return self.st_softmax(lines, ind)
        a, (m, c) = a
        self.features.add("loss")
        labels = self.const_index(self._indices(c, m), (m,))
        if self.kind == "cell":
            form = self.ch.randint(0, 2)
            if form == 0:
                red = self.ch.choice(("mean", "sum", "none"))
                loss = self.layer("loss", f"nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction={red!r})")
                return self.emit(lines, ind, f"{loss}({a}, {labels})", (m,) if red == "none" else ())
            b = self.pick(lambda t: t == (m, c))
            target = b[0] if b is not None and b[0] != a else "0.5"
            cls = "nn.MSELoss" if form == 1 else "nn.L1Loss"
            return self.emit(lines, ind, f"{self.layer('loss', f'{cls}()')}({a}, ops.stop_gradient({target} * 0.5))"
                             if target != "0.5" else f"{self.layer('loss', f'{cls}()')}({a}, ops.zeros_like({a}) + 0.5)",
                             ())
        self.emit(lines, ind, f"ops.sparse_softmax_cross_entropy({a}, {labels})", (m,))


    # ------------------------------------------------------------------ Python the graph compiler must read
    def st_python(self, lines, ind):
        """Python constructs around tensors: helper functions with keyword defaults, lambdas, tuple unpacking, loops
        over tuples, comprehensions, shape arithmetic, static and tensor conditions with ``and`` / ``if``
        expressions, ``while`` with ``break``, and Tensor methods."""
        a, s = self.pick()
        self.features.add("python")
        sp = "    " * ind
        kind = self.ch.randint(0, 10)
        if kind == 0:
            h = f"h{len(self.helpers)}"
            scale = self.ch.choice(("0.5", "1.5"))
            self.helpers += [f"def {h}(u, scale={scale}):", "    return ops.tanh(u) * scale + u * 0.25", ""]
            call = f"{h}({a})" if self.ch.randint(0, 1) else f"{h}({a}, scale=0.75)"
            return self.emit(lines, ind, call, s)
        if kind == 1:
            name = self.fresh()
            lines.append(sp + f"sq_{name} = lambda u, k=2.0: ops.sigmoid(u) * k")
            return self.emit(lines, ind, f"sq_{name}({a}) + sq_{name}({a}, 0.5)", s)
        if kind == 2 and s and s[0] >= 2 and s[0] % 2 == 0:
            p, q = self.fresh(), self.fresh()
            lines.append(sp + f"{p}, {q} = ops.split({a}, {s[0] // 2}, axis=0)")
            half = (s[0] // 2,) + s[1:]
            self.vars += [(p, half), (q, half)]
            return self.emit(lines, ind, f"{p} * {q} + {q}", half)
        if kind == 3:
            b = self.pick(lambda t: t == s)
            b = b[0] if b is not None else f"({a} * 0.5)"
            name = self.fresh()
            lines.append(sp + f"{name} = {a} * 0.0")
            lines.append(sp + f"for t in ({a}, {b}, {a} + 1.0):")
            lines.append(sp + f"    {name} = {name} + ops.tanh(t) * 0.5")
            self.vars.append((name, s))
            return name
        if kind == 4 and s:
            return self.emit(lines, ind, f"ops.stack([ops.tanh(t) * (j + 1) for j, t in enumerate(ops.unstack({a}, 0))], 0)",
                             s)
        if kind == 5 and s:
            return self.emit(lines, ind, f"{a} * (1.0 / {a}.shape[-1]) + {a}.ndim", s)
        if kind == 6 and s:
            name = self.fresh()
            lines.append(sp + f"if {a}.shape[0] > 2 and len({a}.shape) < 3:")
            lines.append(sp + f"    {name} = ops.tanh({a})")
            lines.append(sp + "else:")
            lines.append(sp + f"    {name} = {a} * 0.5")
            self.vars.append((name, s))
            return name
        if kind == 7:
            b = self.pick()
            b = b[0] if b is not None else a
            return self.emit(lines, ind, f"ops.tanh({a}) if ops.sum({b}) > 0.1 else {a} * 0.5", s)
        if kind == 8:
            b = self.pick()
            b = b[0] if b is not None else a
            name = self.fresh()
            op = self.ch.choice(("and", "or"))
            lines.append(sp + f"if ops.sum({a}) > 0.1 {op} ops.mean({b}) < 0.6:")
            lines.append(sp + f"    {name} = ops.sigmoid({a})")
            lines.append(sp + "else:")
            lines.append(sp + f"    {name} = {a} - 0.5")
            self.features.add("if")
            self.vars.append((name, s))
            return name
        if kind == 9:
            name, k = self.fresh(), self.fresh()
            lines.append(sp + f"{name} = {a}")
            lines.append(sp + f"{k} = Tensor(0, ms.int32)")
            lines.append(sp + f"while {k} < 4:")
            lines.append(sp + f"    {name} = ops.tanh({name}) + 0.5")
            lines.append(sp + f"    if ops.sum({name}) > {self.ch.choice(('0.3', '1.1', '3.7'))}:")
            lines.append(sp + "        break")
            lines.append(sp + f"    {k} = {k} + 1")
            self.features.add("while")
            self.vars.append((name, s))
            return name
        method = self.ch.choice(("abs()", "exp() * 0.1", "tanh()", "sigmoid()", "relu()",
                                 "T" if len(s) == 2 else "abs()", "astype(ms.float64).astype(ms.%s)" % self.dtype))
        shape = tuple(reversed(s)) if method == "T" else s
        return self.emit(lines, ind, f"{a}.{method}", shape)
