"""Cube kernels: matmul and batch matmul with fractal tiling.

Data path of one output tile (baseM x baseN) of C = A @ B::

    GM (ND, fp16) --MTE2 DataCopy ND2NZ--> L1 (FRACTAL_NZ, K in steps of stepK, double-buffered)
                  --MTE1 LoadData--------> L0A (ZZ, baseM x baseK) / L0B (ZN, baseK x baseN), double-buffered
                  --Cube Mmad-----------> L0C (NZ, fp32, accumulated over K; two tiles in flight)
                  --Vector Fixpipe------> UB (ND, cast to the output dtype, in row bands)
                  --MTE3 DataCopyPad----> GM (ND; ragged edges written row by row)

``matmul_tiling`` picks baseM/baseN/baseK/stepK from the profile's L0/L1 sizes (largest fractal-aligned tiles with
every queue double-buffered) and spreads the output tiles over the AI cores. Ragged M, K, N are zero-padded to 16
in L1 by the ND2NZ copy, so the Cube always multiplies whole fractals (padding costs Cube cycles: the utilisation
of a 17x17x17 matmul is low, as on hardware). Inputs that are not float16 are cast by a Vector kernel first; the
Cube accumulates in float32.
"""
from dataclasses import dataclass

import numpy as np

from .api import (TPipe, TQue, TPosition, DataCopy, DataCopyPad, DataCopyExtParams, Nd2NzParams, LoadData, Mmad,
                  Fixpipe, align_up)
from .sim import AscendError, GlobalTensor, GetBlockIdx, GetBlockNum, launch, op_scope
from .device import current_profile
from .k_vector import elementwise

__all__ = ["MatmulTiling", "matmul_tiling", "matmul", "batch_matmul", "cast"]


def _r16(x, f=16):
    return -(-int(x) // f) * f


@dataclass(frozen=True)
class MatmulTiling:
    M: int
    K: int
    N: int
    baseM: int
    baseN: int
    baseK: int
    stepK: int          # K elements per L1 load (a multiple of baseK)
    block_dim: int
    out_rows: int       # rows per Fixpipe band (UB budget)
    c_slots: int = 2    # L0C tiles in flight


def matmul_tiling(M, K, N, out_itemsize, prof=None, batch=1, baseM=None, baseN=None, baseK=None, stepK=None):
    """Host-side tiling: the largest fractal-aligned tiles that fit L0A/L0B/L0C/L1 double-buffered."""
    prof = prof or current_profile()
    f = prof.fractal
    fixed = baseM is not None or baseN is not None
    baseM = baseM or min(256, _r16(M, f))
    baseN = baseN or min(256, _r16(N, f))
    while not fixed and batch * (-(-M // baseM)) * (-(-N // baseN)) < prof.ai_cores and max(baseM, baseN) > 64:
        if baseM >= baseN:       # smaller tiles until every core has one (lower intensity, but no idle cores)
            baseM = _r16(baseM // 2, f)
        else:
            baseN = _r16(baseN // 2, f)
    while baseM * baseN * 4 > prof.l0c and baseN > f:
        baseN //= 2
    c_slots = 2 if 2 * baseM * baseN * 4 <= prof.l0c else 1     # a 256x256 fp32 tile fills L0C alone
    if baseK is None:
        baseK = min(_r16(K, f), 128)
        while baseK > f and (2 * baseM * baseK * 2 > prof.l0a or 2 * baseK * baseN * 2 > prof.l0b):
            baseK //= 2
    stepK = stepK or min(_r16(K, baseK), 4 * baseK)
    while stepK > baseK and 2 * (baseM + baseN) * stepK * 2 > prof.l1:
        stepK -= baseK
    out_rows = baseM
    while out_rows > f and 2 * out_rows * baseN * out_itemsize > prof.ub // 2:
        out_rows //= 2
    tiles = batch * (-(-M // baseM)) * (-(-N // baseN))
    return MatmulTiling(M, K, N, baseM, baseN, baseK, stepK, min(prof.ai_cores, tiles), out_rows, c_slots)


def _matmul_kernel(a_gm, b_gm, c_gm, t, ta, tb, batch_map):
    M, K, N = t.M, t.K, t.N
    tm, tn = -(-M // t.baseM), -(-N // t.baseN)
    pipe = TPipe()
    qa1, qb1 = TQue(TPosition.A1, 2, "inQueueA1"), TQue(TPosition.B1, 2, "inQueueB1")
    qa2, qb2 = TQue(TPosition.A2, 2, "inQueueA2"), TQue(TPosition.B2, 2, "inQueueB2")
    qc1, qc2 = TQue(TPosition.CO1, t.c_slots, "outQueueCO1"), TQue(TPosition.CO2, 2, "outQueueCO2")
    pipe.InitBuffer(qa1, 2, t.baseM * t.stepK * 2)
    pipe.InitBuffer(qb1, 2, t.stepK * t.baseN * 2)
    pipe.InitBuffer(qa2, 2, t.baseM * t.baseK * 2)
    pipe.InitBuffer(qb2, 2, t.baseK * t.baseN * 2)
    pipe.InitBuffer(qc1, t.c_slots, t.baseM * t.baseN * 4)
    it = c_gm.dtype.itemsize
    pipe.InitBuffer(qc2, 2, align_up(t.out_rows * t.baseN * it))
    for tile in range(GetBlockIdx(), len(batch_map) * tm * tn, GetBlockNum()):
        bi, rest = divmod(tile, tm * tn)
        i, j = divmod(rest, tn)
        ab, bb = batch_map[bi]
        a_off, b_off, c_off = ab * M * K, bb * K * N, bi * M * N
        m0, n0 = i * t.baseM, j * t.baseN
        mm, nn = min(t.baseM, M - m0), min(t.baseN, N - n0)
        c = qc1.AllocTensor(np.float32)
        for kk in range(0, K, t.stepK):
            kl = min(t.stepK, K - kk)
            # CopyIn: GM ND -> L1 NZ
            a1 = qa1.AllocTensor(np.float16)
            if ta:    # A stored (K, M)
                DataCopy(a1, a_gm[a_off + kk * M + m0:], Nd2NzParams(kl, mm, M))
                a_shape = (_r16(kl), _r16(mm))
            else:
                DataCopy(a1, a_gm[a_off + m0 * K + kk:], Nd2NzParams(mm, kl, K))
                a_shape = (_r16(mm), _r16(kl))
            qa1.EnQue(a1)
            b1 = qb1.AllocTensor(np.float16)
            if tb:    # B stored (N, K)
                DataCopy(b1, b_gm[b_off + n0 * K + kk:], Nd2NzParams(nn, kl, K))
                b_shape = (_r16(nn), _r16(kl))
            else:
                DataCopy(b1, b_gm[b_off + kk * N + n0:], Nd2NzParams(kl, nn, N))
                b_shape = (_r16(kl), _r16(nn))
            qb1.EnQue(b1)
            a1, b1 = qa1.DeQue(), qb1.DeQue()
            for ks in range(0, kl, t.baseK):
                kb = min(t.baseK, kl - ks)
                a2 = qa2.AllocTensor(np.float16)
                if ta:
                    LoadData(a2, a1, a_shape, (ks, _r16(kb)), (0, _r16(mm)), transpose=True)
                else:
                    LoadData(a2, a1, a_shape, (0, _r16(mm)), (ks, _r16(kb)))
                qa2.EnQue(a2)
                b2 = qb2.AllocTensor(np.float16)
                if tb:
                    LoadData(b2, b1, b_shape, (0, _r16(nn)), (ks, _r16(kb)), transpose=True)
                else:
                    LoadData(b2, b1, b_shape, (ks, _r16(kb)), (0, _r16(nn)))
                qb2.EnQue(b2)
                a2, b2 = qa2.DeQue(), qb2.DeQue()
                Mmad(c, a2, b2, mm, kb, nn, init=(kk == 0 and ks == 0))
                qa2.FreeTensor(a2)
                qb2.FreeTensor(b2)
            qa1.FreeTensor(a1)
            qb1.FreeTensor(b1)
        qc1.EnQue(c)
        c = qc1.DeQue()
        # CopyOut in row bands: L0C -> UB (Fixpipe) -> GM
        for r0 in range(0, _r16(mm), t.out_rows):
            rows = min(t.out_rows, _r16(mm) - r0)
            y = qc2.AllocTensor(c_gm.dtype)
            Fixpipe(y, c, mm, nn, r0, rows)
            qc2.EnQue(y)
            y = qc2.DeQue()
            real = min(rows, mm - r0)
            gap = (_r16(nn) * it - align_up(nn * it)) // 32
            DataCopyPad(c_gm[c_off + (m0 + r0) * N + n0:], y, DataCopyExtParams(real, nn * it, gap, (N - nn) * it))
            qc2.FreeTensor(y)
        qc1.FreeTensor(c)


def cast(x, dtype, name="Cast"):
    """x converted to ``dtype`` by a Vector kernel (no launch when it already has it)."""
    x = np.asarray(x)
    if x.dtype == np.dtype(dtype):
        return x
    return elementwise(name, lambda v: v.astype(dtype), [np.ascontiguousarray(x)], ["full"], [np.dtype(dtype)],
                       x.shape)


def _run(a, b, ta, tb, out_dtype, batch_map, M, K, N, name, tiling=None):
    prof = current_profile()
    out_dtype = np.dtype(out_dtype)
    for k, x in enumerate((a, b)):
        if np.asarray(x).dtype.kind != "f":
            raise AscendError(f"{name}: the Cube multiplies floating-point operands (cast to float16); operand {k} "
                              f"is {np.asarray(x).dtype} — cast it to float32 first")
    with op_scope(name):
        a16, b16 = cast(a, np.float16), cast(b, np.float16)
        c = np.empty((len(batch_map), M, N), out_dtype)
        t = tiling or matmul_tiling(M, K, N, out_dtype.itemsize, prof, len(batch_map))
        if M and N and len(batch_map):
            if K == 0:
                c[...] = 0
            else:
                launch(_matmul_kernel, t.block_dim, GlobalTensor(a16), GlobalTensor(b16), GlobalTensor(c), t,
                       ta, tb, batch_map, name=name, profile=prof)
    return c


def matmul(a, b, transpose_a=False, transpose_b=False, out_dtype=None, tiling=None, name="MatMul"):
    """C = op(A) @ op(B) on the Cube (2-D operands); returns an array of ``out_dtype`` (default: a's dtype)."""
    a, b = np.asarray(a), np.asarray(b)
    M, K = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    N = b.shape[0] if transpose_b else b.shape[1]
    return _run(a, b, transpose_a, transpose_b, out_dtype or a.dtype, [(0, 0)], M, K, N, name, tiling)[0]


def batch_matmul(a, b, transpose_a=False, transpose_b=False, out_dtype=None, name="BatchMatMul"):
    """Batched matmul over the leading dims (broadcast like numpy.matmul)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1 or b.ndim == 1:
        raise ValueError("batch_matmul: operands must be at least 2-D")
    M, K = (a.shape[-1], a.shape[-2]) if transpose_a else a.shape[-2:]
    N = b.shape[-2] if transpose_b else b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    ia = np.broadcast_to(np.arange(int(np.prod(a.shape[:-2], dtype=np.int64))).reshape(a.shape[:-2]), batch)
    ib = np.broadcast_to(np.arange(int(np.prod(b.shape[:-2], dtype=np.int64))).reshape(b.shape[:-2]), batch)
    bmap = list(zip(ia.reshape(-1).tolist(), ib.reshape(-1).tolist()))
    c = _run(a, b, transpose_a, transpose_b, out_dtype or a.dtype, bmap, M, K, N, name)
    return c.reshape(batch + (M, N))
