"""The kernel API, in the style of Ascend C: global/local tensors, TPipe/TQue/TBuf, DataCopy, vector intrinsics,
LoadData/Mmad/Fixpipe for the Cube.

A kernel is a Python function run once per block by ``launch`` (``GetBlockIdx()`` says which). It allocates its
queues once (``pipe.InitBuffer(que, num, bytes)``) and then loops over tiles in three stages::

    x = in_q.AllocTensor(np.float16); DataCopy(x, x_gm[off:], n); in_q.EnQue(x)        # CopyIn   (MTE2)
    x = in_q.DeQue(); y = out_q.AllocTensor(np.float16); Exp(y, x, n)                  # Compute  (Vector)
    out_q.EnQue(y); in_q.FreeTensor(x)
    y = out_q.DeQue(); DataCopy(y_gm[off:], y, n); out_q.FreeTensor(y)                   # CopyOut  (MTE3)

Every instruction computes its real result with numpy on the buffers' bytes and is scheduled on its pipe by the
simulator (``sim.Core.run``) with the cycles priced here from the profile: a copy costs its latency, a burst per
strided row and its bytes over the link's rate; a vector instruction its startup plus one cycle per 256-byte
repeat (``VECTOR_COST`` cycles per repeat for the multi-pass functions); an Mmad one cycle per 16x16x16 fractal
product. Data formats: ND (row-major), FRACTAL_NZ in L1 (16x16 fractals, column-block major), ZZ in L0A, ZN in
L0B, NZ in L0C (see ``formats.py`` for the host-side transforms and NC1HWC0).
"""
from collections import deque
from dataclasses import dataclass

import numpy as np

from .sim import AscendError, AlignmentError, BufferOverflowError, GlobalTensor, Slot, current_core

__all__ = ["TPosition", "TPipe", "TQue", "TBuf", "LocalTensor", "GlobalTensor", "DataCopy", "DataCopyPad",
           "DataCopyParams", "DataCopyExtParams", "Nd2NzParams", "LoadData", "LoadData3D", "Mmad", "Fixpipe", "VECTOR_COST",
           "Add", "Sub", "Mul", "Div", "Max", "Min", "Adds", "Muls", "Maxs", "Mins", "Exp", "Ln", "Abs", "Relu",
           "Sqrt", "Rsqrt", "Reciprocal", "Duplicate", "Cast", "Copy", "ReduceSum", "ReduceMax", "ReduceMin",
           "RowOp", "ColOp", "VecApply", "ScalarWork", "align_up", "ALIGN"]

ALIGN = 32


def align_up(n, a=ALIGN):
    return (int(n) + a - 1) // a * a


class TPosition:
    GM = "GM"
    VECIN = "VECIN"
    VECOUT = "VECOUT"
    VECCALC = "VECCALC"
    A1 = "A1"
    B1 = "B1"
    A2 = "A2"
    B2 = "B2"
    CO1 = "CO1"
    CO2 = "CO2"


_BUFFER_OF = {"VECIN": "UB", "VECOUT": "UB", "VECCALC": "UB", "CO2": "UB", "A1": "L1", "B1": "L1", "A2": "L0A",
              "B2": "L0B", "CO1": "L0C"}

# cycles per 256-byte repeat of the multi-pass vector functions (the rest take one)
VECTOR_COST = {"Exp": 4, "Ln": 4, "Sqrt": 4, "Rsqrt": 4, "Reciprocal": 4, "Div": 4, "Cast": 1}


class LocalTensor:
    """A typed view of on-chip bytes (``buffer``, byte ``offset``, ``count`` elements) with its scoreboard slot."""
    __slots__ = ("buffer", "offset", "dtype", "count", "slot", "position")

    def __init__(self, buffer, offset, dtype, count, slot, position):
        self.buffer, self.offset, self.dtype, self.count = buffer, offset, np.dtype(dtype), int(count)
        self.slot, self.position = slot, position

    @property
    def data(self):
        """The numpy view of this tensor's bytes (1-D)."""
        return self.buffer.mem[self.offset:self.offset + self.count * self.dtype.itemsize].view(self.dtype)

    def GetSize(self):
        return self.count

    def __getitem__(self, item):
        if not (isinstance(item, slice) and item.step is None):
            raise TypeError("LocalTensor supports t[start:] / t[start:stop] (element offsets)")
        lo = item.start or 0
        hi = self.count if item.stop is None else item.stop
        if (lo * self.dtype.itemsize) % ALIGN:
            raise AlignmentError(f"local tensor offset {lo} x {self.dtype.itemsize} B is not {ALIGN}-byte aligned")
        return LocalTensor(self.buffer, self.offset + lo * self.dtype.itemsize, self.dtype, hi - lo, self.slot,
                           self.position)

    def ReinterpretCast(self, dtype):
        dtype = np.dtype(dtype)
        return LocalTensor(self.buffer, self.offset, dtype, self.count * self.dtype.itemsize // dtype.itemsize,
                           self.slot, self.position)

    def __repr__(self):
        return f"LocalTensor({self.position} in {self.buffer.name}@{self.offset}, {self.count} x {self.dtype})"


class TPipe:
    """Owns the on-chip memory of the running core: ``InitBuffer`` gives queues and TBufs their slots."""

    def InitBuffer(self, que, num, length=None):
        """``InitBuffer(que, num, bytes_each)`` for a TQue; ``InitBuffer(tbuf, bytes)`` for a TBuf."""
        if isinstance(que, TBuf):
            length, num = num, 1
        core = current_core()
        buf = core.buffers[_BUFFER_OF[que.position]]
        length = int(length)
        what = f"TPipe.InitBuffer({que.name}, {num} x {length} B)"
        if length % ALIGN:
            raise AlignmentError(f"{what}: a buffer length must be a multiple of {ALIGN} B, got {length} B")
        base = buf.allocate(num * length, what, ALIGN)
        que._init(buf, [base + k * length for k in range(num)], length)


class _Queue:
    def __init__(self, position, depth=1, name=None):
        if position not in _BUFFER_OF:
            raise AscendError(f"{type(self).__name__}: position must be one of {sorted(_BUFFER_OF)}, got {position!r}")
        self.position, self.depth = position, depth
        self.name = name or f"{type(self).__name__}({position})"
        self.buffer = None

    def _init(self, buffer, offsets, length):
        self.buffer, self.length = buffer, length
        self.slots = [(off, Slot(f"{self.name}#{k}")) for k, off in enumerate(offsets)]
        self.free = deque(range(len(offsets)))
        self.queued = deque()

    def _check(self):
        if self.buffer is None:
            raise AscendError(f"{self.name}: used before pipe.InitBuffer")


class TQue(_Queue):
    """A queue of buffer slots between two stages (``depth`` tensors in flight; InitBuffer's ``num`` = slots:
    2 is double buffering)."""

    def AllocTensor(self, dtype):
        self._check()
        if not self.free:
            raise AscendError(f"{self.name}: AllocTensor with all {len(self.slots)} slots in use; FreeTensor one "
                              f"first (or InitBuffer more slots)")
        k = self.free.popleft()
        off, slot = self.slots[k]
        dtype = np.dtype(dtype)
        return LocalTensor(self.buffer, off, dtype, self.length // dtype.itemsize, slot, self.position)

    def EnQue(self, t):
        self.queued.append(t)

    def DeQue(self, dtype=None):
        if not self.queued:
            raise AscendError(f"{self.name}: DeQue on an empty queue (EnQue the tensor in the producing stage)")
        t = self.queued.popleft()
        return t if dtype is None or np.dtype(dtype) == t.dtype else t.ReinterpretCast(dtype)

    def FreeTensor(self, t):
        for k, (off, slot) in enumerate(self.slots):
            if slot is t.slot:
                if k in self.free:
                    raise AscendError(f"{self.name}: FreeTensor of a slot that is already free")
                self.free.append(k)
                return
        raise AscendError(f"{self.name}: FreeTensor of a tensor that is not from this queue")


class TBuf(_Queue):
    """Scratch space (VECCALC) for intermediate values: one slot, no queue discipline."""

    def __init__(self, position="VECCALC", name=None):
        super().__init__(position, 1, name)

    def Get(self, dtype, count=None):
        self._check()
        off, slot = self.slots[0]
        dtype = np.dtype(dtype)
        n = self.length // dtype.itemsize if count is None else int(count)
        if n * dtype.itemsize > self.length:
            raise BufferOverflowError(f"{self.name}.Get: {n} x {dtype} = {n * dtype.itemsize} B exceeds its "
                                      f"{self.length} B")
        return LocalTensor(self.buffer, off, dtype, n, slot, self.position)


# ------------------------------------------------------------------------------------------ data movement
@dataclass(frozen=True)
class DataCopyParams:
    """Strided copy: ``blockCount`` blocks of ``blockLen`` 32-byte units, gaps ``srcStride`` / ``dstStride``
    (32-byte units) between blocks."""
    blockCount: int = 1
    blockLen: int = 0
    srcStride: int = 0
    dstStride: int = 0


@dataclass(frozen=True)
class DataCopyExtParams:
    """Padded copy of ragged rows: ``blockCount`` rows of ``blockLen`` *bytes*; ``srcStride``: bytes skipped between
    rows in GM (for GM -> UB) / 32-byte blocks skipped in UB (UB -> GM); ``dstStride`` the other side's gap. Each
    row occupies a whole number of 32-byte blocks in UB."""
    blockCount: int = 1
    blockLen: int = 0
    srcStride: int = 0
    dstStride: int = 0


@dataclass(frozen=True)
class Nd2NzParams:
    """GM (ND, row-major) -> L1 (FRACTAL_NZ): ``nValue`` rows of ``dValue`` elements, source row pitch
    ``srcDValue`` elements; the L1 matrix is padded with zeros to multiples of 16 both ways."""
    nValue: int
    dValue: int
    srcDValue: int


def _mte(core, pipe, nbytes, bursts, gm=None, gm_start=0, write=False, reads=(), writes=(), op="DataCopy"):
    p = core.prof
    if gm is not None:
        rate = core.gm_rate(gm, gm_start, nbytes, write)
        core.gm_cycles += nbytes / rate
        if write:
            core.bytes_out += nbytes
        else:
            core.bytes_in += nbytes
    else:
        rate = p.mte1_bytes
    cycles = p.mte_latency + p.mte_burst * max(bursts - 1, 0) + nbytes / rate
    core.run(pipe, cycles, reads, writes, op)


def _need(t, n, what):
    if n > t.count:
        raise BufferOverflowError(f"{what}: {n} x {t.dtype} = {n * t.dtype.itemsize} B does not fit the "
                                  f"destination's {t.count * t.dtype.itemsize} B ({t!r})")


def DataCopy(dst, src, arg):
    """GM -> local (MTE2), local -> GM (MTE3) or UB -> UB (Vector). ``arg``: an element count (contiguous; its
    bytes must be a multiple of 32 — use DataCopyPad for ragged tails), DataCopyParams (strided blocks) or
    Nd2NzParams (GM ND -> L1 FRACTAL_NZ)."""
    core = current_core()
    if isinstance(arg, Nd2NzParams):
        return _nd2nz(core, dst, src, arg)
    if isinstance(arg, DataCopyParams):
        count = arg.blockCount * arg.blockLen * ALIGN // np.dtype(src.dtype).itemsize
        blk = arg.blockLen * ALIGN // np.dtype(src.dtype).itemsize
        s_pitch = blk + arg.srcStride * ALIGN // np.dtype(src.dtype).itemsize
        d_pitch = blk + arg.dstStride * ALIGN // np.dtype(dst.dtype).itemsize
        rows = arg.blockCount
    else:
        count = int(arg)
        nbytes = count * np.dtype(src.dtype).itemsize
        if nbytes % ALIGN:
            raise AlignmentError(f"DataCopy: {count} x {np.dtype(src.dtype)} = {nbytes} B is not a multiple of "
                                 f"{ALIGN} B; copy ragged tails with DataCopyPad")
        blk, s_pitch, d_pitch, rows = count, count, count, 1
    if np.dtype(src.dtype) != np.dtype(dst.dtype):
        raise AscendError(f"DataCopy: source {np.dtype(src.dtype)} and destination {np.dtype(dst.dtype)} differ "
                          f"(DataCopy moves bytes; use Cast)")
    span_s = (rows - 1) * s_pitch + blk
    span_d = (rows - 1) * d_pitch + blk
    nbytes = rows * blk * np.dtype(src.dtype).itemsize
    if isinstance(src, GlobalTensor):
        _need(dst, span_d, "DataCopy GM -> local")
        s = src.region(0, span_s)
        d = dst.data
        if rows == 1:
            d[:blk] = s
        else:
            d[:span_d + (d_pitch - blk)].reshape(rows, d_pitch)[:, :blk] = _rows(s, rows, s_pitch, blk)
        _mte(core, "MTE2", nbytes, rows, src, 0, False, writes=(dst.slot,))
    elif isinstance(dst, GlobalTensor):
        _need(src, span_s, "DataCopy local -> GM")
        g = dst.region(0, span_d)
        s = src.data
        if rows == 1:
            g[:blk] = s[:blk]
        else:
            _rows_view(g, rows, d_pitch, blk)[...] = _rows(s, rows, s_pitch, blk)
        _mte(core, "MTE3", nbytes, rows, dst, 0, True, reads=(src.slot,))
    else:
        _need(dst, span_d, "DataCopy local -> local")
        _rows_view(dst.data, rows, d_pitch, blk)[...] = _rows(src.data, rows, s_pitch, blk)
        core.run("Vector", core.prof.vector_startup + nbytes / core.prof.vector_bytes, (src.slot,), (dst.slot,),
                 "DataCopy(UB)")


def _rows(a, rows, pitch, blk):
    return np.lib.stride_tricks.as_strided(a, (rows, blk), (pitch * a.itemsize, a.itemsize))


def _rows_view(a, rows, pitch, blk):
    return np.lib.stride_tricks.as_strided(a, (rows, blk), (pitch * a.itemsize, a.itemsize), writeable=True)


def DataCopyPad(dst, src, params, pad_value=0):
    """Ragged rows between GM and UB: ``params.blockCount`` rows of ``params.blockLen`` bytes (any length). GM -> UB
    puts each row at a 32-byte aligned pitch and fills the rest of its last block with ``pad_value``; UB -> GM
    writes only the row's bytes."""
    core = current_core()
    it = np.dtype(src.dtype).itemsize
    if params.blockLen % it:
        raise AlignmentError(f"DataCopyPad: blockLen {params.blockLen} B is not a whole number of "
                             f"{np.dtype(src.dtype)} elements")
    n = params.blockLen // it
    rows = params.blockCount
    ub_pitch = align_up(params.blockLen) // it
    if isinstance(src, GlobalTensor):
        gm_pitch = n + params.srcStride // it
        ub_pitch += params.dstStride * ALIGN // it
        _need(dst, rows * ub_pitch, "DataCopyPad GM -> UB")
        s = src.region(0, (rows - 1) * gm_pitch + n)
        d = dst.data[:rows * ub_pitch].reshape(rows, ub_pitch)
        d[:, :n] = _rows(s, rows, gm_pitch, n)
        d[:, n:] = pad_value
        _mte(core, "MTE2", rows * params.blockLen, rows, src, 0, False, writes=(dst.slot,), op="DataCopyPad")
    else:
        ub_pitch += params.srcStride * ALIGN // it
        gm_pitch = n + params.dstStride // it
        _need(src, (rows - 1) * ub_pitch + n, "DataCopyPad UB -> GM")
        g = dst.region(0, (rows - 1) * gm_pitch + n)
        _rows_view(g, rows, gm_pitch, n)[...] = _rows(src.data, rows, ub_pitch, n)
        _mte(core, "MTE3", rows * params.blockLen, rows, dst, 0, True, reads=(src.slot,), op="DataCopyPad")


def _nd2nz(core, dst, src, p):
    f = core.prof.fractal
    n1, d1 = -(-p.nValue // f), -(-p.dValue // f)
    _need(dst, n1 * d1 * f * f, "DataCopy ND -> NZ")
    s = _rows(src.region(0, (p.nValue - 1) * p.srcDValue + p.dValue), p.nValue, p.srcDValue, p.dValue)
    pad = np.zeros((n1 * f, d1 * f), dst.dtype)
    pad[:p.nValue, :p.dValue] = s
    dst.data[:n1 * d1 * f * f] = pad.reshape(n1, f, d1, f).transpose(2, 0, 1, 3).reshape(-1)
    _mte(core, "MTE2", p.nValue * p.dValue * np.dtype(src.dtype).itemsize, p.nValue, src, 0, False,
         writes=(dst.slot,), op="DataCopy(ND2NZ)")


def LoadData(dst, src, shape, rows, cols, transpose=False):
    """MTE1: from an L1 FRACTAL_NZ matrix of padded ``shape`` (R, C), the sub-block ``rows=(r0, nr)``,
    ``cols=(c0, nc)`` (multiples of 16) into L0A (ZZ: fractal rows major) or L0B (ZN: fractals transposed).
    ``transpose``: the stored block is the operand's transpose (A stored k x m, B stored n x k)."""
    core = current_core()
    f = core.prof.fractal
    R, C = shape
    (r0, nr), (c0, nc) = rows, cols
    for v in (R, C, r0, nr, c0, nc):
        if v % f:
            raise AlignmentError(f"LoadData: shapes and offsets must be multiples of {f}, got shape {shape}, "
                                 f"rows {rows}, cols {cols}")
    nz = src.data[:R * C].reshape(C // f, R // f, f, f)                  # [c1, r1, r0, c0]
    blk = nz[c0 // f:(c0 + nc) // f, r0 // f:(r0 + nr) // f]
    if dst.position == TPosition.A2:                                    # ZZ [m1, k1, m0, k0]
        out = blk.transpose(0, 1, 3, 2) if transpose else blk.transpose(1, 0, 2, 3)
    elif dst.position == TPosition.B2:                                  # ZN [k1, n1, n0, k0]
        out = blk if transpose else blk.transpose(1, 0, 3, 2)
    else:
        raise AscendError(f"LoadData: destination must be in A2 (L0A) or B2 (L0B), got {dst.position}")
    _need(dst, nr * nc, "LoadData")
    dst.data[:nr * nc] = out.reshape(-1)
    _mte(core, "MTE1", nr * nc * np.dtype(src.dtype).itemsize, 1, reads=(src.slot,), writes=(dst.slot,),
         op="LoadData")


def LoadData3D(dst, src, index):
    """MTE1 img2col (Load3D): fill ``dst`` with a block of the patch matrix of an image held in L1 (NC1HWC0, one
    sample): ``index`` (R positions x K entries, multiples of 16) gives each entry's element offset in ``src``
    (-1: padding, read as 0); the tiling function computes it from the convolution's geometry. Into L0A the
    block is the left operand (ZZ); into L0B it is the right operand with positions as the reduction dim (ZN)."""
    core = current_core()
    f = core.prof.fractal
    R, K = index.shape
    if R % f or K % f:
        raise AlignmentError(f"LoadData3D: the patch block {R} x {K} must be in multiples of {f}")
    if dst.position not in (TPosition.A2, TPosition.B2) or src.position not in (TPosition.A1, TPosition.B1):
        raise AscendError(f"LoadData3D: from L1 (A1/B1) to L0A/L0B (A2/B2), got {src.position} -> {dst.position}")
    _need(dst, R * K, "LoadData3D")
    vals = np.where(index >= 0, src.data[np.maximum(index, 0)], 0).astype(dst.dtype, copy=False)
    blk = vals.reshape(R // f, f, K // f, f)                           # [r1, r0, k1, k0]
    # L0A: the patch block is A (positions x K), ZZ; L0B: it is B (positions are the reduction dim), ZN
    out = blk.transpose(0, 2, 1, 3) if dst.position == TPosition.A2 else blk.transpose(0, 2, 3, 1)
    dst.data[:R * K] = out.reshape(-1)
    _mte(core, "MTE1", R * K * dst.dtype.itemsize, 1, reads=(src.slot,), writes=(dst.slot,), op="LoadData3D")


def Mmad(c, a, b, m, k, n, init=True):
    """Cube: C (L0C, NZ, fp32) (+)= A (L0A, ZZ, fp16, m x k) @ B (L0B, ZN, fp16, k x n); m, k, n are padded to 16
    (one cycle per 16x16x16 fractal product)."""
    core = current_core()
    f = core.prof.fractal
    if a.position != TPosition.A2 or b.position != TPosition.B2 or c.position != TPosition.CO1:
        raise AscendError(f"Mmad: operands must be in L0A, L0B and L0C, got {a.position}, {b.position}, "
                          f"{c.position}")
    if a.dtype != np.float16 or b.dtype != np.float16 or c.dtype != np.float32:
        raise AscendError(f"Mmad: the Cube multiplies float16 into float32, got {a.dtype} x {b.dtype} -> {c.dtype}")
    m1, k1, n1 = -(-m // f), -(-k // f), -(-n // f)
    _need(a, m1 * k1 * f * f, "Mmad A")
    _need(b, k1 * n1 * f * f, "Mmad B")
    _need(c, m1 * n1 * f * f, "Mmad C")
    A = a.data[:m1 * k1 * f * f].reshape(m1, k1, f, f).transpose(0, 2, 1, 3).reshape(m1 * f, k1 * f)
    B = b.data[:k1 * n1 * f * f].reshape(k1, n1, f, f).transpose(0, 3, 1, 2).reshape(k1 * f, n1 * f)
    prod = np.matmul(np.ascontiguousarray(A, np.float32), np.ascontiguousarray(B, np.float32))   # BLAS
    cv = c.data[:m1 * n1 * f * f].reshape(n1, m1, f, f)
    nz = prod.reshape(m1, f, n1, f).transpose(2, 0, 1, 3)
    if init:
        cv[...] = nz
    else:
        cv += nz
    core.flops += 2.0 * m * k * n
    reads = (a.slot, b.slot) if init else (a.slot, b.slot, c.slot)
    core.run("Cube", core.prof.cube_startup + m1 * k1 * n1 * f ** 3 / core.prof.cube_macs, reads, (c.slot,), "Mmad")


def Fixpipe(dst, src, m, n, row_start=0, rows=None):
    """L0C (NZ, fp32, m x n padded to 16) -> UB (ND rows of n padded to 16, cast to ``dst.dtype``): the Vector
    unit moves Cube results out of L0C. ``row_start``/``rows`` (multiples of 16) move a band of rows."""
    core = current_core()
    f = core.prof.fractal
    m1, n1 = -(-m // f), -(-n // f)
    rows = m1 * f - row_start if rows is None else rows
    if row_start % f or rows % f:
        raise AlignmentError(f"Fixpipe: row band ({row_start}, {rows}) must be in multiples of {f}")
    _need(dst, rows * n1 * f, "Fixpipe")
    nz = src.data[:m1 * n1 * f * f].reshape(n1, m1, f, f)[:, row_start // f:(row_start + rows) // f]
    dst.data[:rows * n1 * f] = nz.transpose(1, 2, 0, 3).reshape(-1).astype(dst.dtype)
    core.run("Vector", core.prof.vector_startup + rows * n1 * f * 4 / core.prof.l0c_to_ub_bytes,
             (src.slot,), (dst.slot,), "Fixpipe")


# ------------------------------------------------------------------------------------------ vector unit
def _vec(name, dsts, srcs, count, repeats_per_pass=None, elem_bytes=None, sizes=None):
    """Price and schedule one vector instruction over ``count`` elements; ``sizes``: elements each operand
    (dsts then srcs) must hold, when not ``count`` (per-row vectors of a row operation)."""
    core = current_core()
    for k, t in enumerate((*dsts, *srcs)):
        if t.position not in ("VECIN", "VECOUT", "VECCALC", "CO2"):
            raise AscendError(f"{name}: vector operands live in the Unified Buffer, got {t!r}")
        need = count if sizes is None else sizes[k]
        if need > t.count:
            raise BufferOverflowError(f"{name}: {need} elements exceed the operand's {t.count} ({t!r})")
    width = elem_bytes or max(t.dtype.itemsize for t in (*dsts, *srcs))
    repeats = -(-count * width // core.prof.vector_bytes)
    cost = repeats_per_pass if repeats_per_pass is not None else VECTOR_COST.get(name, 1)
    core.flops += count
    core.run("Vector", core.prof.vector_startup + repeats * cost, tuple(t.slot for t in srcs),
             tuple(t.slot for t in dsts), name)


def _store(dst, count, value, mask):
    """Write ``value`` to dst[:count]; with ``mask`` only the lanes it enables in each 256-byte repeat: an int
    (the first ``mask`` elements of every repeat, Ascend's continuous mask) or a bool array of one repeat's lanes
    (the bit mask). Masked-off lanes keep their old value and still cost their repeat."""
    if mask is None:
        dst.data[:count] = value
        return
    lanes = current_core().prof.vector_bytes // dst.dtype.itemsize
    if isinstance(mask, (int, np.integer)):
        if not 0 <= mask <= lanes:
            raise AscendError(f"vector mask {mask} must be in [0, {lanes}] for {dst.dtype} ({lanes} lanes per repeat)")
        keep = np.arange(lanes) < mask
    else:
        keep = np.asarray(mask, bool)
        if keep.shape != (lanes,):
            raise AscendError(f"a bit mask must have {lanes} lanes for {dst.dtype}, got shape {list(keep.shape)}")
    sel = np.resize(keep, count)
    d = dst.data[:count]
    d[sel] = np.broadcast_to(value, (count,))[sel]


def _binary(name, fn):
    def op(dst, src0, src1, count, mask=None):
        _vec(name, (dst,), (src0, src1), count)
        _store(dst, count, fn(src0.data[:count], src1.data[:count]), mask)
    op.__name__ = name
    op.__doc__ = f"Vector: dst[:count] = {name}(src0, src1) elementwise (``mask``: lanes enabled per repeat)."
    return op


def _scalar_op(name, fn):
    def op(dst, src, scalar, count, mask=None):
        _vec(name, (dst,), (src,), count)
        _store(dst, count, fn(src.data[:count], np.asarray(scalar, dst.dtype)), mask)
    op.__name__ = name
    op.__doc__ = f"Vector: dst[:count] = {name}(src, scalar) elementwise (``mask``: lanes enabled per repeat)."
    return op


def _unary(name, fn):
    def op(dst, src, count, mask=None):
        _vec(name, (dst,), (src,), count)
        with np.errstate(all="ignore"):
            _store(dst, count, fn(src.data[:count]), mask)
    op.__name__ = name
    op.__doc__ = f"Vector: dst[:count] = {name}(src) elementwise (``mask``: lanes enabled per repeat)."
    return op


Add, Sub, Mul = _binary("Add", np.add), _binary("Sub", np.subtract), _binary("Mul", np.multiply)
Div, Max, Min = _binary("Div", np.divide), _binary("Max", np.maximum), _binary("Min", np.minimum)
Adds, Muls = _scalar_op("Adds", np.add), _scalar_op("Muls", np.multiply)
Maxs, Mins = _scalar_op("Maxs", np.maximum), _scalar_op("Mins", np.minimum)
Exp, Ln, Abs = _unary("Exp", np.exp), _unary("Ln", np.log), _unary("Abs", np.abs)
Sqrt, Reciprocal = _unary("Sqrt", np.sqrt), _unary("Reciprocal", np.reciprocal)
Rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x))
Relu = _unary("Relu", lambda x: np.maximum(x, 0))
Copy = _unary("Copy", lambda x: x)


def Duplicate(dst, scalar, count):
    """Vector: fill dst[:count] with ``scalar``."""
    _vec("Duplicate", (dst,), (), count)
    dst.data[:count] = scalar


def Cast(dst, src, count):
    """Vector: dst[:count] = src converted to dst's dtype (round to nearest)."""
    _vec("Cast", (dst,), (src,), count)
    dst.data[:count] = src.data[:count].astype(dst.dtype)


def _reduce(name, fn):
    def op(dst, src, rows, cols):
        """Vector: dst[:rows] = reduction of each of ``rows`` rows of ``cols`` elements (pitch ``cols``)."""
        _vec(name, (dst,), (src,), rows * cols, sizes=(rows, rows * cols))
        dst.data[:rows] = fn(src.data[:rows * cols].reshape(rows, cols), axis=1)
    op.__name__ = name
    return op


ReduceSum, ReduceMax, ReduceMin = _reduce("ReduceSum", np.sum), _reduce("ReduceMax", np.max), \
    _reduce("ReduceMin", np.min)

_ROW_FNS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def RowOp(op, dst, src, vec, rows, cols):
    """Vector: dst[r, :] = src[r, :] <op> vec[r] for ``rows`` rows of ``cols`` (a per-row scalar, broadcast by
    repeat strides)."""
    _vec(f"Row{op.title()}", (dst,), (src, vec), rows * cols, VECTOR_COST.get(op.title(), 1),
         sizes=(rows * cols, rows * cols, rows))
    dst.data[:rows * cols] = _ROW_FNS[op](src.data[:rows * cols].reshape(rows, cols),
                                          vec.data[:rows, None]).reshape(-1)


def ColOp(op, dst, src, vec, rows, cols):
    """Vector: dst[r, :] = src[r, :] <op> vec[:] (a row vector such as a bias or a norm's gamma)."""
    _vec(f"Col{op.title()}", (dst,), (src, vec), rows * cols, VECTOR_COST.get(op.title(), 1),
         sizes=(rows * cols, rows * cols, cols))
    dst.data[:rows * cols] = _ROW_FNS[op](src.data[:rows * cols].reshape(rows, cols),
                                          vec.data[None, :cols]).reshape(-1)


def VecApply(name, dsts, srcs, count, fn, passes=1, views=None, sizes=None):
    """A vector instruction sequence given as a numpy function of the sources' views (``passes``: vector repeats
    per 256 bytes, i.e. how many simple vector instructions it stands for). ``views``: per source, a callable
    turning its 1-D data into the operand ``fn`` expects (default: the first ``count`` elements)."""
    _vec(name, dsts, srcs, count, passes, sizes=sizes)
    args = [(v(s.data) if v else s.data[:count]) for s, v in zip(srcs, views or [None] * len(srcs))]
    with np.errstate(all="ignore"):
        outs = fn(*args)
    if len(dsts) == 1:
        outs = (outs,)
    for k, (d, o) in enumerate(zip(dsts, outs)):
        n = count if sizes is None else sizes[k]
        d.data[:n] = np.broadcast_to(o, (n,)) if np.ndim(o) == 0 else np.asarray(o).reshape(-1)[:n]


def ScalarWork(cycles, name="scalar"):
    """Work the Scalar unit does itself (address arithmetic, irregular indexing)."""
    current_core().scalar_work(cycles, name)
