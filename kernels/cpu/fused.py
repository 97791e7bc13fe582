"""Code generation for fused elementwise kernels: a chain of elementwise ops becomes one numba loop.

The fusion pass (``mindlab.passes.fusion``) describes a group of elementwise nodes as a ``FusedExpr``: its inputs
(each read in full, as one scalar, or as a row repeated over the leading axes — a bias), then one step per node —
the node's scalar expression rendered from its primitive's ``fuse`` rule, converted to the node's dtype — and the
steps whose values leave the group. ``compile_expr`` turns it into Python source for one loop over the output,
compiles it with numba and wraps it in a ``FusedCall`` that takes and returns numpy arrays:

    def fused_kernel(n_rows, n_cols, in0, in1, in2, out0):
        s1 = in1[0]                              # scalar inputs are read once
        s2 = in2[0]
        for i in range(n_rows):                  # one pass over memory
            v0 = in0[i]
            t0 = float32(v0 * s1)   # mul
            t1 = float32(t0 + s2)   # add
            t2 = float32(ftanh(float32(t1)))   # tanh
            out0[i] = t2

Kernels are cached by their source (``KERNELS``): recompiling the same graph, or another graph with the same
chain, reuses the compiled kernel; scalars are arguments, not literals, so other constants reuse it too. numba
compiles on the first call (0.15-0.4 s per kernel here, plus about 0.5 s once per process for the fastmath
functions it uses; benchmarks/bench_fusion.py measures it).

Threads: the kernel is compiled serial with ``nogil=True``; a large call (``PARALLEL_WORK``: elements x flops per
element) is cut into ``CHUNKS_PER_THREAD * THREADS`` contiguous row ranges that the calling thread and a small
thread pool take in turn (on a 2-core machine shared with other processes, the free core takes more of them).
Against a ``parallel=True`` / ``prange`` kernel this compiles in about half the time (one function instead of a
gufunc plus its driver: 0.15-0.4 s against 0.5-0.75 s measured) and runs as fast, and no OpenMP workers spin
between calls.
While a call runs, the calling thread is held on its CPU and the pool threads keep to the other CPUs: left to the
scheduler, the two sometimes shared one core for milliseconds after an idle spell (``_caller_placement``).

Products of two quotient functions (``tanh(u) * sigmoid(x)``) divide once: see ``FusedExpr.merged_quotients``.

The kernels are compiled with ``error_model="numpy"`` (division by zero gives inf/NaN as numpy does) and without
fast-math flags, so inf/NaN propagate and every operation rounds as the unfused numpy program rounds (the one
exception: a merged quotient product, within an ulp); the
transcendental functions come from ``fastmath`` (vectorisable float32 approximations, libm for float64).
"""
import contextlib
import ctypes
import hashlib
import itertools
import math
import os
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numba

from . import fastmath
from . import kernel_cache as _kernel_cache

__all__ = ["FusedExpr", "FuseArg", "FusedCall", "compile_expr", "render", "KERNELS", "THREADS", "PARALLEL_WORK",
           "CHUNKS_PER_THREAD", "WIDE_VECTORS",
           "SUPPORTED_DTYPES", "scalar_type_name"]

THREADS = max(1, int(numba.config.NUMBA_NUM_THREADS))   # NUMBA_NUM_THREADS sets it; default: every core
PARALLEL_WORK = 1 << 19  # elements x flops per element below which one thread runs the whole loop
CHUNKS_PER_THREAD = 4
WIDE_VECTORS = True      # 512-bit vectors where the CPU has AVX-512 (see fastmath.prefer_wide_vectors)

# dtypes a fused kernel handles (numba has no float16 arithmetic)
SUPPORTED_DTYPES = tuple(np.dtype(d) for d in (np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64,
                                                np.float32, np.float64))
_TYPE_NAMES = {np.dtype(np.bool_): "bool_", np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8",
               np.dtype(np.int16): "int16", np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
               np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}

# names a fuse template may use (besides Python operators and the operand names)
NAMESPACE = {"np": np, "math": math, "prefer_wide_vectors": fastmath.prefer_wide_vectors,
             "fexp": fastmath.fexp, "flog": fastmath.flog, "ftanh": fastmath.ftanh, "fsigmoid": fastmath.fsigmoid,
             "fsqrt": fastmath.fsqrt, "fmaximum": fastmath.fmaximum, "fminimum": fastmath.fminimum,
             "ftanh_quotient": fastmath.tanh_quotient_f32, "fsigmoid_quotient": fastmath.sigmoid_quotient_f32,
             "quotient_product": fastmath.quotient_product}

# float32 functions that end in one division, with their (numerator, denominator) forms: a product of two of them
# divides once (FusedExpr.merged_quotients)
QUOTIENT_FORMS = {"ftanh": "ftanh_quotient", "fsigmoid": "fsigmoid_quotient"}
NAMESPACE.update({name: np.dtype(dt).type for dt, name in _TYPE_NAMES.items()})


def scalar_type_name(dtype):
    """The kernel namespace's name for the scalar type of numpy dtype ``dtype`` (``float32``, ``bool_``...)."""
    return _TYPE_NAMES[np.dtype(dtype)]


class FuseArg(str):
    """An operand as a fuse rule sees it: the variable name (it *is* that string), plus ``dtype`` (numpy dtype) and
    ``const`` (the value when the operand is a compile-time scalar constant, else None)."""

    def __new__(cls, name, dtype, const=None):
        self = super().__new__(cls, name)
        self.dtype, self.const = np.dtype(dtype), const
        return self


def render(prim, args, out_dtype, attrs):
    """The scalar expression for one application of ``prim`` (its ``fuse`` rule) to the FuseArgs ``args``, or None
    when the rule declines these operands."""
    rule = prim.fuse
    out = scalar_type_name(out_dtype)
    if callable(rule):
        return rule(*args, out=out, **attrs)
    return rule.format(*args, out=out)


class FusedExpr:
    """A fused group as straight-line scalar code: inputs, steps (one per node) and outputs."""

    KINDS = ("full", "scalar", "row")

    def __init__(self):
        self.inputs = []    # (kind, numpy dtype)
        self.steps = []     # (expression, numpy dtype, label)
        self.outputs = []   # step indices

    def add_input(self, kind, dtype, const=None):
        """A new input read ``kind``-wise; returns its FuseArg (``v<k>`` per element, ``s<k>`` once)."""
        if kind not in self.KINDS:
            raise ValueError(f"input kind must be one of {self.KINDS}, got {kind!r}")
        k = len(self.inputs)
        self.inputs.append((kind, np.dtype(dtype)))
        return FuseArg(f"s{k}" if kind == "scalar" else f"v{k}", dtype, const)

    def add_step(self, expr, dtype, label=""):
        """A step computing ``expr`` converted to ``dtype``; returns its FuseArg (``t<k>``)."""
        k = len(self.steps)
        self.steps.append((expr, np.dtype(dtype), label))
        return FuseArg(f"t{k}", dtype)

    def add_output(self, arg):
        self.outputs.append(int(arg[1:]))

    def merged_quotients(self):
        """{step: expression} rewriting each float32 product of two single-use QUOTIENT_FORMS calls: the factors
        become (numerator, denominator) pairs and the product divides once — ``tanh(u) * sigmoid(x)`` (an LSTM
        cell's ``o * tanh(c)``, a GLU) costs one division instead of two, which on AVX-512 takes ~10% off the fused
        kernel's compute. The result differs from the two-division form by about an ulp (fastmath's tanh is 4.7
        ulp); a saturated or tiny tanh stays exact (fastmath.tanh_quotient_f32)."""
        uses = Counter(int(t) for expr, _, _ in self.steps for t in re.findall(r"\bt(\d+)\b", expr))
        uses.update(self.outputs)
        f32 = np.dtype(np.float32)

        def factor(j):
            expr, dtype, _ = self.steps[j]
            call = re.fullmatch(r"(\w+)\((float32\(\w+\))\)", expr)
            if dtype == f32 and uses[j] == 1 and call and call[1] in QUOTIENT_FORMS:
                return f"{QUOTIENT_FORMS[call[1]]}({call[2]})"
            return None
        out = {}
        for k, (expr, dtype, _) in enumerate(self.steps):
            product = re.fullmatch(r"t(\d+) \* t(\d+)", expr)
            if dtype != f32 or not product:
                continue
            a, b = int(product[1]), int(product[2])
            fa, fb = factor(a), factor(b)
            if a != b and fa and fb:
                out[a], out[b], out[k] = fa, fb, f"quotient_product(t{a}, t{b})"
        return out

    def loads(self, full_at, row_at):
        """The per-element reads of the inputs, ``v<k> = in<k><subscript>``: full inputs at ``full_at``, row inputs
        at ``row_at`` (scalars are read once, before the loop) — for the CPU and GPU kernel generators."""
        at = {"full": full_at, "row": row_at}
        return [f"v{k} = in{k}{at[kind]}" for k, (kind, _) in enumerate(self.inputs) if kind in at]

    @property
    def has_rows(self):
        return any(kind == "row" for kind, _ in self.inputs)

    def source(self):
        """Python source of ``fused_kernel(n_rows, n_cols, *inputs, *outputs)``: full inputs and outputs are 1-D
        (``n_rows`` elements) or, with row inputs, 2-D ``(n_rows, n_cols)``; loop indices come from ``range`` so
        numba knows they are not negative (no wraparound checks: the loop vectorises)."""
        ins = [f"in{k}" for k in range(len(self.inputs))]
        outs = [f"out{k}" for k in range(len(self.outputs))]
        rows = self.has_rows
        at = "[r, j]" if rows else "[i]"
        lines = [f"def fused_kernel(n_rows, n_cols, {', '.join(ins + outs)}):"]
        if WIDE_VECTORS:
            lines.append("    prefer_wide_vectors()")
        for k, (kind, _) in enumerate(self.inputs):
            if kind == "scalar":
                lines.append(f"    s{k} = in{k}[0]")
        body = self.loads(at, "[j]")
        merged = self.merged_quotients()
        for k, (expr, dtype, label) in enumerate(self.steps):
            note = f"   # {label}" if label else ""
            if k in merged and merged[k].startswith("quotient_product"):
                body.append(f"t{k} = {scalar_type_name(dtype)}({merged[k]}){note} (one division)")
            elif k in merged:
                body.append(f"t{k} = {merged[k]}{note} (numerator, denominator)")
            else:
                body.append(f"t{k} = {scalar_type_name(dtype)}({expr}){note}")
        for k, step in enumerate(self.outputs):
            body.append(f"out{k}{at} = t{step}")
        if rows:
            lines.append("    for r in range(n_rows):")
            lines.append("        for j in range(n_cols):")
            lines += ["            " + b for b in body]
        else:
            lines.append("    for i in range(n_rows):")
            lines += ["        " + b for b in body]
        return "\n".join(lines) + "\n"


KERNELS = {}            # source -> numba dispatcher

# A fused kernel as a module of the on-disk kernel cache (kernel_cache.py): the same namespace, compiled with
# cache=True so later processes load the machine code. The salt changes with this generator and with fastmath.
_CACHED_HEADER = ("import numba\nfrom mindlab.kernels.cpu.fused import NAMESPACE as _NAMESPACE\n"
                  "globals().update(_NAMESPACE)\n\n")
_CACHED_FOOTER = '\nfused_kernel = numba.njit(nogil=True, error_model="numpy", cache=True)(fused_kernel)\n'
_GENERATOR_SALT = hashlib.sha256(b"".join(Path(f).read_bytes() for f in (__file__, fastmath.__file__))).hexdigest()[:12]
_lock = threading.Lock()


def _kernel(source):
    k = KERNELS.get(source)
    if k is None:
        with _lock:
            k = KERNELS.get(source)
            if k is None:
                k = _kernel_cache.load_kernel(_CACHED_HEADER + source + _CACHED_FOOTER, "fused_kernel",
                                              _GENERATOR_SALT)
                if k is None:     # no usable disk cache: compile in memory
                    k = _compile_in_memory(source)
                KERNELS[source] = k
    return k


def _compile_in_memory(source):
    ns = dict(NAMESPACE)
    exec(compile(source, "<mindlab fused kernel>", "exec"), ns)   # our generated loop, see FusedExpr.source()
    return numba.njit(nogil=True, error_model="numpy", cache=False)(ns["fused_kernel"])


_pool = None


def _forget_pool():
    global _pool
    _pool = None      # a forked child has none of the parent's worker threads: start a new pool when needed


os.register_at_fork(after_in_child=_forget_pool)


def _threads():
    """The worker pool that runs chunks of large kernels (the calling thread runs one chunk itself)."""
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(1, THREADS - 1), thread_name_prefix="mindlab-fused")
    return _pool


def _sched_getcpu():
    try:
        return ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError):   # not glibc / not Linux: no placement
        return None


_getcpu = _sched_getcpu()


def _caller_placement():
    """(the calling thread's CPU, the other CPUs it may run on, all it may run on), or None where that cannot be
    known or there is one CPU.

    Why: on this VM, after ~50 ms idle, the woken pool thread was often scheduled onto the calling thread's CPU;
    the two then took turns on one core for milliseconds (one 0.65 ms chunk took 2-4 ms) until the load balancer
    moved one. A pool thread that sets its own affinity to the other CPUs before taking chunks avoids that: measured
    2.9-3.0 ms per call after any idle time instead of 3.6-5.6 ms (benchmarks/bench_fusion.py)."""
    if _getcpu is None or not hasattr(os, "sched_getaffinity"):
        return None
    try:
        allowed = os.sched_getaffinity(0)
    except OSError:
        return None
    cpu = _getcpu()
    others = allowed - {cpu}
    return (cpu, others, allowed) if cpu >= 0 and others else None


_placed = threading.local()


def _move_off(placement):
    """In a pool thread: run on the CPUs in ``placement`` other than the caller's (a no-op when already there)."""
    if placement is None or getattr(_placed, "cpus", None) == placement[1]:
        return
    try:
        os.sched_setaffinity(0, placement[1])
        _placed.cpus = placement[1]
    except OSError:
        pass


@contextlib.contextmanager
def _held_on(placement):
    """The calling thread stays on its CPU while it runs its chunks (its affinity is restored after): left free, the
    scheduler sometimes moved it onto the pool thread's CPU mid-chunk (seen after 0.2 s idle: 5.3-5.6 ms calls)."""
    if placement is None:
        yield
        return
    try:
        os.sched_setaffinity(0, {placement[0]})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        try:
            os.sched_setaffinity(0, placement[2])
        except OSError:     # the CPUs allowed changed meanwhile (a cgroup update): keep what the kernel gave us
            pass


class FusedCall:
    """The CPU kernel of a fused node: ``call(*arrays)`` -> array (one output) or tuple of arrays."""

    def __init__(self, expr, shape, row_size=1, work_per_element=1.0):
        self.expr = expr
        self.shape = tuple(shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.rows = expr.has_rows
        self.n_cols = row_size if self.rows else 1
        self.n_rows = self.size // self.n_cols if self.n_cols else 0
        # chunks run on THREADS threads when there is enough work to pay for the hand-off
        parallel = THREADS > 1 and self.size * max(work_per_element, 1.0) >= PARALLEL_WORK
        self.chunks = CHUNKS_PER_THREAD * THREADS if parallel else 1
        self.source = expr.source()
        self.kernel = _kernel(self.source)
        self.in_dtypes = [dt for _, dt in expr.inputs]
        self.kinds = [kind for kind, _ in expr.inputs]
        self.out_dtypes = [expr.steps[k][1] for k in expr.outputs]
        self._expect = [{"full": self.size, "scalar": 1, "row": self.n_cols}[kind] for kind in self.kinds]
        self._ready = False

    def _compile(self, call_args):
        """Compile (or load from the disk cache) for these argument types before the first run; a cached kernel
        whose files cannot be loaded is compiled again in memory (kernel_cache.forget warns)."""
        sig = tuple(numba.typeof(a) for a in call_args)
        try:
            self.kernel.compile(sig)
        except Exception as exc:
            if not _kernel_cache.from_disk(self.kernel):
                raise
            _kernel_cache.forget(self.kernel, exc)
            with _lock:
                self.kernel = KERNELS[self.source] = _compile_in_memory(self.source)
            self.kernel.compile(sig)
        self._ready = True

    @property
    def compiled(self):
        """Whether numba has compiled this kernel already (it does so on the first call)."""
        return bool(self.kernel.signatures)

    def __call__(self, *arrays):
        if len(arrays) != len(self.in_dtypes):
            raise ValueError(f"fused kernel takes {len(self.in_dtypes)} inputs, got {len(arrays)}")
        grid = (self.n_rows, self.n_cols) if self.rows else (self.size,)
        args = []
        for k, (a, dt, n, kind) in enumerate(zip(arrays, self.in_dtypes, self._expect, self.kinds)):
            a = np.asarray(a)
            if a.dtype != dt:
                a = a.astype(dt)
            if a.size != n:
                raise ValueError(f"fused kernel input {k}: expected {n} elements, got shape {list(a.shape)}")
            a = np.ascontiguousarray(a)
            args.append(a.reshape(grid) if kind == "full" else a.reshape(-1))
        outs = [np.empty(grid, dt) for dt in self.out_dtypes]
        if not self._ready:
            self._compile((self.n_rows, self.n_cols, *args, *outs))
        if self.chunks == 1 or self.n_rows < 2 * self.chunks:
            self.kernel(self.n_rows, self.n_cols, *args, *outs)
        else:
            self._run_chunks(args, outs)
        outs = [o.reshape(self.shape) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


    def native(self, emit, args, avals, out):
        """This kernel's call inside a whole-program native kernel (mindlab/runtime/native.py): outputs allocated
        there, operands viewed as the loop's grid. None for a kernel that runs on several threads (those keep the
        executor, whose calling thread shares the chunks) or one not importable from the disk cache."""
        module = getattr(self.kernel, "__module__", None) or ""       # None: compiled in memory
        if self.chunks > 1 or not module.startswith(_kernel_cache._PACKAGE + "."):
            return None
        grid = (self.n_rows, self.n_cols) if self.rows else (self.size,)
        ins = []
        for a, aval, kind, dt in zip(args, avals, self.kinds, self.in_dtypes):
            if aval.dtype.np != dt:
                return None
            if kind == "full":
                ins.append(f"{a}.reshape({grid!r})")
            elif aval.shape == ():
                ins.append(f"np.full(1, {a}, np.{scalar_type_name(dt)})")
            else:
                ins.append(f"{a}.reshape(-1)")
        outs = [emit.fresh() for _ in self.out_dtypes]
        for o, dt in zip(outs, self.out_dtypes):
            emit.line(f"{o} = np.empty({self.shape!r}, np.{scalar_type_name(dt)})")
        views = [f"{o}.reshape({grid!r})" for o in outs]
        emit.line(f"{emit.use(self.kernel)}({self.n_rows}, {self.n_cols}, {', '.join(ins + views)})")
        return outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ",)"

    def _run_chunks(self, args, outs):
        """Run the loop as ``chunks`` row ranges taken in turn by the calling thread and THREADS - 1 pool threads
        (several chunks per thread: when another process holds a core, the free threads take more of them)."""
        bounds = [int(b) for b in np.linspace(0, self.n_rows, self.chunks + 1)]
        taken = itertools.count()     # next() on it is atomic under the GIL
        kernel, n_cols, kinds = self.kernel, self.n_cols, self.kinds
        placement = _caller_placement()

        def work(pool_thread=True):
            if pool_thread:
                _move_off(placement)
            while True:
                k = next(taken)
                if k >= self.chunks:
                    return
                lo, hi = bounds[k], bounds[k + 1]
                kernel(hi - lo, n_cols, *[a[lo:hi] if kind == "full" else a for a, kind in zip(args, kinds)],
                       *[o[lo:hi] for o in outs])
        futures = [_threads().submit(work) for _ in range(THREADS - 1)]
        with _held_on(placement):
            work(pool_thread=False)
        for f in futures:
            f.result()


def compile_expr(expr, shape, row_size=1, work_per_element=1.0):
    """A FusedCall for ``expr`` producing arrays of ``shape`` (``row_size``: the element count of its row inputs;
    ``work_per_element``: flops per output element, which decides whether it runs on several threads)."""
    if not expr.outputs:
        raise ValueError("a fused expression needs at least one output")
    return FusedCall(expr, shape, row_size, work_per_element)
