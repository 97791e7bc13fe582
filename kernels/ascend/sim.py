"""The AI-core simulator: on-chip buffers, pipes with a scoreboard, kernel launches and their profile records.

**Memory.** Global memory (HBM) is the host's numpy arrays (``GlobalTensor`` wraps one, flat). Each AI core has
the profile's L1, Unified Buffer (UB), L0A, L0B and L0C as real byte arrays; ``TPipe.InitBuffer`` carves them up
(``api.py``) and a ``LocalTensor`` is a typed view of its bytes, so a kernel that reads a slot it never wrote reads
garbage, as on hardware. Capacity and 32-byte alignment are checked on every allocation and copy:
``BufferOverflowError`` / ``AlignmentError`` name the buffer, the request and the limit.

**Time.** Every instruction runs on one pipe (Scalar, MTE2, MTE1, Cube, Vector, MTE3) and takes a number of cycles
from the profile (``api.py`` prices each instruction). A pipe executes its instructions in program order; an
instruction starts when its pipe is free, the Scalar unit has issued it, the buffers it reads have been written
(read-after-write) and the buffer slot it writes has been read by everyone before (write-after-read). That
scoreboard is what queues and double buffering buy on hardware: with two slots per queue, CopyIn of tile i+1 runs
on MTE2 while the Vector unit computes tile i. The core's GM port is shared by MTE2 and MTE3: a core's time is
at least the sum of its GM transfers, each at the core's link rate or its share of the L2 bandwidth (all GM
traffic passes through L2), whichever is lower. The chip's HBM carries every write and every first read of a
block in the launch (a re-read — a matmul tile used by several output tiles — is an L2 hit): a launch takes the
longer of its slowest core and its HBM bytes over the HBM bandwidth (``KernelRecord.bound`` says which).

**Records.** Every launch makes a ``KernelRecord`` (cycles, seconds at the profile's clock, busy cycles and
utilisation per pipe, bytes moved, flops, instruction counts). Records of one registry op are grouped in an
``OpRecord``; ``profile()`` collects them, ``last_profile()`` returns the latest, and each is published as an
``"ascend_op"`` event (``mindlab.jupyter.events``) for notebook tools such as the Inspector.
"""
import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .device import current_profile
from mindlab.jupyter import events as _events

__all__ = ["AscendError", "BufferOverflowError", "AlignmentError", "PIPES", "Slot", "Core", "GlobalTensor",
           "launch", "KernelRecord", "OpRecord", "profile", "last_profile", "op_scope", "current_core",
           "GetBlockIdx", "GetBlockNum"]

PIPES = ("Scalar", "MTE2", "MTE1", "Cube", "Vector", "MTE3")


class AscendError(ValueError):
    """A kernel broke a rule of the AI core (capacity, alignment, queue discipline, unsupported dtype)."""


class BufferOverflowError(AscendError):
    pass


class AlignmentError(AscendError):
    pass


class Slot:
    """Scoreboard entry of one buffer region: when its last write ends and when its last read ends."""
    __slots__ = ("ready", "read_done", "name")

    def __init__(self, name=""):
        self.ready = 0.0
        self.read_done = 0.0
        self.name = name


class Buffer:
    """One on-chip memory of one core: a byte array with a bump allocator (TPipe owns the allocation)."""

    def __init__(self, name, capacity):
        self.name, self.capacity = name, int(capacity)
        self.used = 0
        self._mem = None

    @property
    def mem(self):
        if self._mem is None:
            self._mem = np.zeros(self.capacity, np.uint8)
        return self._mem

    def allocate(self, nbytes, what, align):
        if nbytes % align:
            raise AlignmentError(f"{what}: {nbytes} B is not a multiple of the {align}-byte alignment of the "
                                 f"{LONG_NAMES[self.name]}; round the tile length up")
        if self.used + nbytes > self.capacity:
            raise BufferOverflowError(
                f"{what}: needs {nbytes} B of the {LONG_NAMES[self.name]} ({self.name}) but only "
                f"{self.capacity - self.used} B are free ({self.used} B already allocated, limit "
                f"{self.capacity} B in profile {current_profile().name!r}); choose a smaller tile in the tiling "
                f"function")
        off = self.used
        self.used += nbytes
        return off


LONG_NAMES = {"L1": "L1 buffer", "UB": "Unified Buffer", "L0A": "L0A buffer", "L0B": "L0B buffer",
              "L0C": "L0C buffer"}


class GlobalTensor:
    """A flat view of a host array in global memory (HBM): ``gm[offset:]`` moves the start, as in Ascend C."""
    __slots__ = ("array", "offset", "dtype", "base_id")

    def __init__(self, array, offset=0, base_id=None):
        a = np.asarray(array)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        self.array = a.reshape(-1)
        self.offset = int(offset)
        self.dtype = self.array.dtype
        self.base_id = id(array) if base_id is None else base_id

    def __getitem__(self, item):
        if isinstance(item, slice) and item.step is None and item.stop is None:
            return GlobalTensor(self.array, self.offset + (item.start or 0), self.base_id)
        if isinstance(item, (int, np.integer)):
            return self.array[self.offset + int(item)]
        raise TypeError("GlobalTensor supports gm[offset:] (a moved start) and gm[i] (one element)")

    def SetGlobalBuffer(self, array):
        self.__init__(array)

    @property
    def size(self):
        return self.array.size - self.offset

    def region(self, start, count):
        """The numpy view of ``count`` elements from element ``start`` (relative to this tensor's offset)."""
        lo = self.offset + start
        if lo < 0 or lo + count > self.array.size:
            raise AscendError(f"global memory access [{lo}, {lo + count}) outside the tensor of {self.array.size} "
                              f"{self.dtype} elements")
        return self.array[lo:lo + count]


class Core:
    """One AI core's timeline: pipes, scoreboard, GM port, counters."""

    def __init__(self, index, prof, launch_state):
        self.index, self.prof, self.launch = index, prof, launch_state
        self.pipe_free = dict.fromkeys(PIPES, 0.0)
        self.busy = dict.fromkeys(PIPES, 0.0)
        self.issue_t = 0.0
        self.gm_cycles = 0.0
        self.instructions = Counter()
        self.bytes_in = 0
        self.bytes_out = 0
        self.flops = 0.0
        self.reset_buffers()

    def reset_buffers(self):
        p = self.prof
        self.buffers = {n: Buffer(n, p.buffer_size(n)) for n in ("L1", "UB", "L0A", "L0B", "L0C")}

    def run(self, pipe, cycles, reads=(), writes=(), op=""):
        """Schedule one instruction; returns its (start, end) cycle."""
        self.issue_t += self.prof.scalar_issue
        self.busy["Scalar"] += self.prof.scalar_issue
        t = max(self.issue_t, self.pipe_free[pipe])
        for s in reads:
            if s.ready > t:
                t = s.ready
        for s in writes:
            if s.ready > t:
                t = s.ready
            if s.read_done > t:
                t = s.read_done
        end = t + cycles
        self.pipe_free[pipe] = end
        self.busy[pipe] += cycles
        for s in reads:
            if end > s.read_done:
                s.read_done = end
        for s in writes:
            s.ready = end
        self.instructions[op or pipe] += 1
        return t, end

    def scalar_work(self, cycles, op="scalar"):
        """Work the Scalar unit does itself (address generation, irregular ops): it blocks the issue stream."""
        self.issue_t = max(self.issue_t, max(self.pipe_free.values())) + cycles
        self.busy["Scalar"] += cycles
        self.instructions[op] += 1

    def gm_rate(self, gm, start, nbytes, write):
        """Bytes/cycle of this core's GM transfer (its link, or its share of L2 when all cores stream); counts the
        bytes that must come from (or go to) HBM: writes, and reads of blocks not read before in this launch."""
        st, p = self.launch, self.prof
        if write:
            st.hbm_bytes += nbytes
            return min(p.mte3_bytes, p.l2_bytes_per_cycle / st.cores)
        key = (gm.base_id, (gm.offset + start) * gm.dtype.itemsize, nbytes)
        if key not in st.seen:
            st.seen.add(key)
            st.hbm_bytes += nbytes
        return min(p.mte2_bytes, p.l2_bytes_per_cycle / st.cores)

    @property
    def time(self):
        return max(max(self.pipe_free.values()), self.issue_t, self.gm_cycles)


@dataclass
class KernelRecord:
    """What one kernel launch cost on the simulated chip."""
    name: str
    block_dim: int
    cores: int
    cycles: float
    seconds: float
    busy: dict                  # pipe -> busy cycles summed over the cores used
    utilisation: dict           # pipe -> busy / (cycles * cores)
    bytes_in: int
    bytes_out: int
    flops: float
    instructions: dict
    profile: str
    bound: str = "cores"        # what set the time: "cores" (the slowest core's pipes) or "HBM" (chip bandwidth)
    hbm_cycles: float = 0.0     # HBM bytes / chip HBM bandwidth

    def table(self):
        rows = [f"{self.name}: {self.cycles:.0f} cycles = {self.seconds * 1e6:.2f} us on {self.cores} core(s) "
                f"of {self.profile} (bound: {self.bound})"]
        for p in PIPES:
            rows.append(f"  {p:<7} busy {self.busy[p]:>12.0f} cycles  utilisation {100 * self.utilisation[p]:5.1f} %")
        return "\n".join(rows)

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.table())


@dataclass
class OpRecord:
    """The kernels one registry op ran on Ascend (a decomposed op runs several, back to back)."""
    op: str
    kernels: list = field(default_factory=list)

    @property
    def cycles(self):
        return sum(k.cycles for k in self.kernels)

    @property
    def seconds(self):
        return sum(k.seconds for k in self.kernels)

    def busy(self, pipe):
        return sum(k.busy[pipe] for k in self.kernels)

    def table(self):
        head = f"op {self.op}: {len(self.kernels)} kernel(s), {self.cycles:.0f} cycles, {self.seconds * 1e6:.2f} us"
        return "\n".join([head] + ["  " + line for k in self.kernels for line in k.table().splitlines()])

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.table())


class _LaunchState:
    def __init__(self, cores):
        self.cores = cores
        self.seen = set()
        self.hbm_bytes = 0


_tls = threading.local()
_collectors = []
_last = [None]


def current_core():
    core = getattr(_tls, "core", None)
    if core is None:
        raise AscendError("an Ascend kernel API was called outside a kernel: run the kernel with "
                          "mindlab.kernels.ascend.launch(kernel, block_dim, *args)")
    return core


def GetBlockIdx():
    return _tls.block


def GetBlockNum():
    return _tls.block_num


def launch(kernel, block_dim, *args, name=None, profile=None, **kwargs):
    """Run ``kernel(*args, **kwargs)`` as ``block_dim`` blocks (``GetBlockIdx()`` tells each which) on the AI cores
    of ``profile`` (default: the current one); blocks beyond the core count queue on the cores. Returns the
    ``KernelRecord`` (also appended to the current op's record and to every active ``profile()`` collector)."""
    prof = profile or current_profile()
    block_dim = int(block_dim)
    if block_dim < 1:
        raise AscendError(f"launch: block_dim must be >= 1, got {block_dim}")
    n_cores = min(block_dim, prof.ai_cores)
    state = _LaunchState(n_cores)
    cores = [Core(i, prof, state) for i in range(n_cores)]
    saved = (getattr(_tls, "core", None), getattr(_tls, "block", None), getattr(_tls, "block_num", None))
    try:
        for b in range(block_dim):
            core = cores[b % n_cores]
            core.reset_buffers()
            _tls.core, _tls.block, _tls.block_num = core, b, block_dim
            kernel(*args, **kwargs)
    finally:
        _tls.core, _tls.block, _tls.block_num = saved
    core_cycles = max(c.time for c in cores)
    hbm_cycles = state.hbm_bytes / prof.hbm_bytes_per_cycle
    cycles = max(core_cycles, hbm_cycles)
    busy = {p: sum(c.busy[p] for c in cores) for p in PIPES}
    util = {p: (busy[p] / (cycles * n_cores) if cycles else 0.0) for p in PIPES}
    instr = Counter()
    for c in cores:
        instr.update(c.instructions)
    rec = KernelRecord(name or getattr(kernel, "__name__", "kernel"), block_dim, n_cores, cycles,
                       cycles / prof.clock_hz, busy, util, sum(c.bytes_in for c in cores),
                       sum(c.bytes_out for c in cores), sum(c.flops for c in cores), dict(instr), prof.name,
                       "HBM" if hbm_cycles > core_cycles else "cores", hbm_cycles)
    scope = getattr(_tls, "scope", None)
    if scope is not None:
        scope.kernels.append(rec)
    else:
        _publish(OpRecord(rec.name, [rec]))
    return rec


def _publish(op_rec):
    _last[0] = op_rec
    for c in _collectors:
        c.append(op_rec)
    _events.publish("ascend_op", record=op_rec)     # for notebook tools (free when nobody subscribed)


@contextlib.contextmanager
def op_scope(name):
    """Group the launches of one registry op into one OpRecord (nested scopes join the outer one)."""
    outer = getattr(_tls, "scope", None)
    if outer is not None:
        yield outer
        return
    rec = OpRecord(name)
    _tls.scope = rec
    try:
        yield rec
    finally:
        _tls.scope = None
    if rec.kernels:
        _publish(rec)


class Profile(list):
    """The OpRecords collected by ``with profile() as prof:`` (a list), with totals and a summary table."""

    @property
    def cycles(self):
        return sum(r.cycles for r in self)

    @property
    def seconds(self):
        return sum(r.seconds for r in self)

    def by_op(self):
        """op name -> (calls, cycles, seconds), heaviest first."""
        agg = {}
        for r in self:
            n, c, s = agg.get(r.op, (0, 0.0, 0.0))
            agg[r.op] = (n + 1, c + r.cycles, s + r.seconds)
        return dict(sorted(agg.items(), key=lambda kv: -kv[1][1]))

    def pipe_busy(self):
        return {p: sum(r.busy(p) for r in self) for p in PIPES}

    def table(self):
        lines = [f"{'op':<36}{'calls':>6}{'cycles':>14}{'us':>10}"]
        for op, (n, c, s) in self.by_op().items():
            lines.append(f"{op[:35]:<36}{n:>6}{c:>14.0f}{s * 1e6:>10.2f}")
        lines.append(f"{'total':<36}{len(self):>6}{self.cycles:>14.0f}{self.seconds * 1e6:>10.2f}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.table())


@contextlib.contextmanager
def profile():
    """``with profile() as prof:`` collects the OpRecord of every Ascend op run inside (a ``Profile`` list)."""
    rec = Profile()
    _collectors.append(rec)
    try:
        yield rec
    finally:
        _collectors.remove(rec)


def last_profile():
    """The OpRecord of the most recent Ascend op (None before the first)."""
    return _last[0]
