"""Generated programs with one mistake in them: the error must be clear in every mode.

``generate_bad(chooser)`` builds an ordinary generated program (``generator.py``) and adds one bad statement
after its last computed value — mismatched shapes for an elementwise op, a matmul, a concat or a convolution, a
reshape to the wrong size, an axis or index out of range, a class label out of range — sometimes inside an ``if``
or ``while`` on a tensor, a static ``for``, or a helper function. ``check_error(program, directory)`` runs it in
PyNative, in GRAPH_MODE and under ``value_and_grad`` in GRAPH_MODE, and returns ``None`` when each run raised a
proper error (a ``ValueError`` / ``TypeError`` / ``IndexError`` / ``MindlabError``, not an internal crash) whose
message names the op, the offending shape where there is one, and the bad statement's ``file:line``; else what was
wrong. Standards: "bad input gets a clear error that names the op, the shapes/dtypes and the user's source line —
never a crash deep in a kernel, a hang, or silent wrong numbers".
"""
import re
import traceback
from dataclasses import dataclass

import numpy as np

import mindlab as ms
from mindlab.errors import MindlabError

from .generator import GenProgram, _Builder
from .runner import load, inputs

MARK = "# <- the mistake"
PROPER = (ValueError, TypeError, IndexError, MindlabError)


@dataclass
class BadProgram:
    program: GenProgram
    kind: str          # which mistake
    ops: tuple         # names the message may use for the op (any one)
    shape: str         # a shape the message must mention ("" when the mistake is not about a shape)
    line: int          # the bad statement's line in the source


def _mistakes(b, a, s):
    """(kind, statement, op names, shape the message must mention) for variable ``a`` of shape ``s``."""
    dt = f"ms.{b.dtype}"
    n = int(np.prod(s)) if s else 1
    out = []
    wrong = (s[-1] + 1,) if s else (2, 3)
    if s and s[-1] != 1:
        out.append(("broadcast", f"{a} + ops.ones({wrong!r}, {dt})", ("add",), str(list(wrong))))
    if len(s) == 2:
        bad_k = (s[1] + 2, 3)
        out.append(("matmul", f"ops.matmul({a}, ops.ones({bad_k!r}, {dt}))", ("matmul", "MatMul"),
                    str(list(bad_k))))
        other = (s[0], s[1] + 1)
        out.append(("concat", f"ops.concat(({a}, ops.ones({other!r}, {dt})), axis=0)", ("concat", "Concat"),
                    str(list(other))))
    out.append(("reshape", f"ops.reshape({a}, ({n + 1},))", ("reshape", "Reshape"), str(list(s))))
    out.append(("axis", f"ops.sum({a}, axis={len(s) + 1})", ("sum", "ReduceSum"), ""))
    if s:
        out.append(("softmax_axis", f"ops.softmax({a}, axis={len(s) + 2})", ("softmax", "Softmax"), ""))
        out.append(("index", f"{a}[{s[0] + 3}]", ("getitem", "tensor_getitem"), ""))
        out.append(("gather", f"ops.gather({a}, Tensor(np.array([0, {s[0] + 5}], np.int32)), 0)",
                    ("gather", "Gather"), ""))
    if len(s) == 2:   # indices computed at run time, out of range only then
        out.append(("gather_computed", f"ops.gather({a}, ops.argmax({a}, axis=1) + {s[0]}, 0)", ("gather", "Gather"),
                    ""))
        if s[1] >= 2:
            out.append(("label_computed", f"ops.sparse_softmax_cross_entropy({a}, ops.argmax({a}, axis=1) + {s[1]})",
                        ("sparse_softmax_cross_entropy", "SparseSoftmaxCrossEntropyWithLogits"), ""))
    if len(s) == 2 and s[1] >= 2:
        out.append(("label", f"ops.sparse_softmax_cross_entropy({a}, Tensor(np.full(({s[0]},), {s[1]}, np.int32)))",
                    ("sparse_softmax_cross_entropy", "SparseSoftmaxCrossEntropyWithLogits"), ""))
    if s:
        out.append(("float_index", f"ops.gather({a}, Tensor(np.array([0.5], np.float32)), 0)", ("gather", "Gather"),
                    "Float32"))
        perm = tuple(range(len(s) + 1))
        out.append(("perm", f"ops.transpose({a}, {perm!r})", ("transpose", "Transpose"), str(list(s))))
        if any(d > 1 for d in s):
            out.append(("broadcast_to", f"ops.broadcast_to({a}, {(3,) + tuple(d + (d > 1) for d in s)!r})",
                        ("broadcast_to", "BroadcastTo"), str(list(s))))
        out.append(("expand_dims", f"ops.expand_dims({a}, {len(s) + 2})", ("expand_dims", "ExpandDims"), ""))
        if s[-1] != 1:
            out.append(("select", f"ops.select({a} > 0.0, {a}, ops.ones({wrong!r}, {dt}))", ("select", "Select"),
                        str(list(wrong))))
        big = [i for i, d in enumerate(s) if d > 1]
        if big:
            out.append(("squeeze", f"ops.squeeze({a}, {big[0]})", ("squeeze", "Squeeze"), str(list(s))))
        out.append(("layer_norm", f"ops.layer_norm({a}, ops.ones({(s[-1] + 1,)!r}, {dt}), ops.zeros({(s[-1] + 1,)!r}, "
                    f"{dt}))", ("layer_norm", "LayerNorm"), str([s[-1] + 1])))
    if len(s) == 3:
        other = (s[0] + 1, s[2], 2) if s[0] > 1 else (s[0], s[2] + 1, 2)   # (a batch of 1 broadcasts)
        out.append(("batch_matmul", f"ops.batch_matmul({a}, ops.ones({other!r}, {dt}))",
                    ("batch_matmul", "BatchMatMul"), str(list(other))))
    if len(s) in (1, 2, 3):
        out.append(("conv_rank", f"ops.conv2d({a}, ops.ones((1, 1, 1, 1), {dt}))", ("conv2d", "Conv2D"),
                    str(list(s))))
    if len(s) == 4:
        w = (2, s[1] + 1, 1, 1)
        out.append(("conv", f"ops.conv2d({a}, ops.ones({w!r}, {dt}))", ("conv2d", "Conv2D"), str(list(w))))
    return out


def generate_bad(ch):
    """A generated program with one bad statement (see the module docstring)."""
    kind = ch.choice(["function", "cell"])
    b = _Builder(ch, kind, False)
    b.extended = True
    # build() runs the statements and renders; intercept the body between the two
    real_render = b.render
    captured = {}

    def render(body):
        leaves = {n for n, _ in b.inputs} | {f"self.{n}" for n, _, _ in b.params}
        a, s = next(((v, sh) for v, sh in reversed(b.vars) if v not in leaves), b.vars[-1])
        choices = _mistakes(b, a, s)
        what, stmt, ops_, shape = ch.choice(choices)
        wrap = ch.choice(["", "", "if", "while", "for", "helper", "cell"])
        if wrap == "cell" and kind != "cell":
            wrap = "helper"
        sp, lines = "", [f"v_bad = ops.sum({a}) * 0.0"]
        if wrap == "if":
            lines, sp = lines + [f"if ops.sum({a}) > -1e30:"], "    "
        elif wrap == "while":
            lines, sp = lines + ["k_bad = Tensor(0, ms.int32)", "while k_bad < 1:"], "    "
        elif wrap == "for":
            lines, sp = lines + ["for i_bad in range(1):"], "    "
        body_stmt = re.sub(r"(?<![\w.])" + re.escape(a) + r"(?!\w)", "u", stmt)
        if wrap == "helper":      # the mistake inside a function the program calls
            b.helpers += ["def bad_helper(u):", f"    return {body_stmt}  {MARK}", ""]
            lines.append(f"v_bad = ops.sum(bad_helper({a})) * 0.0")
        elif wrap == "cell":      # inside a nested Cell's construct
            b.helpers += ["class BadInner(nn.Cell):", "    def construct(self, u):",
                          f"        return {body_stmt}  {MARK}", ""]
            b.layers.append(("bad_inner", "BadInner()"))
            lines.append(f"v_bad = ops.sum(self.bad_inner({a})) * 0.0")
        else:
            lines.append(f"{sp}v_bad = ops.sum({stmt}) * 0.0  {MARK}")
            if wrap == "while":
                lines.append(f"{sp}k_bad = k_bad + 1")
        # before the loss (and before an early return); the bad value feeds the result (GRAPH_MODE runs no dead code)
        at = next((k for k, l in enumerate(body) if l.startswith(("if ops.sum", "return "))
                   and k >= len(body) - 3), len(body) - 1)
        body[at:at] = lines
        for k in range(at + len(lines), len(body)):
            body[k] = body[k].replace("return ", "return v_bad + ", 1)
        captured.update(kind=what, ops=ops_, shape=shape)
        return real_render(body)

    b.render = render
    prog = b.build()
    line = next(k + 1 for k, l in enumerate(prog.source.splitlines()) if l.endswith(MARK))
    return BadProgram(prog, captured["kind"], captured["ops"], captured["shape"], line)


def _runs(program, mod):
    xs = inputs(program)
    pos = tuple(range(len(xs)))
    if program.kind == "function":
        yield "PyNative", ms.PYNATIVE_MODE, lambda: mod.f(*xs)
        yield "GRAPH_MODE", ms.GRAPH_MODE, lambda: ms.jit(mod.f)(*xs)
        yield "GRAPH_MODE value_and_grad", ms.GRAPH_MODE, lambda: ms.value_and_grad(mod.f, grad_position=pos)(*xs)
    else:
        yield "PyNative", ms.PYNATIVE_MODE, lambda: mod.Net()(*xs)
        yield "GRAPH_MODE", ms.GRAPH_MODE, lambda: mod.Net()(*xs)

        def vg():
            net = mod.Net()
            return ms.value_and_grad(net, grad_position=pos if pos else None, weights=net.trainable_params())(*xs)
        yield "GRAPH_MODE value_and_grad", ms.GRAPH_MODE, vg


def check_error(bad, directory):
    """None when every mode raised a clear error about the bad statement; else what was wrong."""
    mode = ms.get_context("mode")
    try:
        mod = load(bad.program, directory)
        where = f"{mod.__file__}:{bad.line}"
        for name, m, run in _runs(bad.program, mod):
            ms.set_context(mode=m)
            try:
                run()
            except PROPER as exc:
                msg = str(exc)
                problems = []
                if not any(re.search(rf"\b{re.escape(op)}\b", msg) for op in bad.ops):
                    problems.append(f"does not name the op ({' or '.join(bad.ops)})")
                if bad.shape and bad.shape not in msg:
                    problems.append(f"does not mention the shape {bad.shape}")
                if where not in msg:
                    problems.append(f"does not point at {where}")
                if problems:
                    return (f"{name} ({bad.kind}): the {type(exc).__name__} " + ", ".join(problems) +
                            f":\n{msg}")
            except Exception:
                return f"{name} ({bad.kind}): an internal error:\n" + traceback.format_exc(limit=-8)
            else:
                return f"{name} ({bad.kind}): no error was raised"
        return None
    finally:
        ms.set_context(mode=mode)
