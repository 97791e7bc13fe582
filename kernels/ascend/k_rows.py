"""Row-wise Vector kernels: reductions over the last axis, softmax, log-softmax, layer norm and their gradients.

The host reshapes the operand to (rows, cols) (moving reduced axes last with a transpose gather when they are not
already), and ``row_tiling`` gives each block whole rows and each tile as many rows as fit the UB. Each tile is
one CopyIn (DataCopyPad: rows land at a 32-byte aligned pitch, the pad filled with the reduction's identity so a
reduction over the padded row is exact) -> Compute (ReduceMax/ReduceSum over rows, RowOp to broadcast a per-row
value back, Exp/Ln/Rsqrt) -> CopyOut pipeline with double-buffered queues; per-row results (max, mean, rstd...)
stay in UB (TBuf scratch) between the instructions.
"""
import numpy as np

from .api import (ALIGN, TPipe, TQue, TBuf, TPosition, DataCopyPad, DataCopyExtParams, ReduceSum, ReduceMax, ReduceMin,
                  RowOp, ColOp, Exp, Ln, Muls, Adds, Add, Sub, Mul, Rsqrt, VecApply, align_up)
from .sim import GlobalTensor, GetBlockIdx, launch
from .device import current_profile
from .tiling import row_tiling

__all__ = ["rows_fit", "reduce_rows", "reduce_cols", "prod_except_self_rows", "softmax_rows", "log_softmax_rows", "softmax_grad_rows", "log_softmax_grad_rows",
           "layer_norm_rows", "layer_norm_grad_rows"]

_IDENTITY = {"sum": 0, "mean": 0, "max": -np.inf, "min": np.inf, "prod": 1, "all": 1, "any": 0,
             "argmax": -np.inf, "argmin": np.inf}


def _pad_value(op, dtype):
    v = _IDENTITY.get(op, 0)
    dtype = np.dtype(dtype)
    if dtype.kind in "iub":
        if v == -np.inf:
            return np.iinfo(dtype).min if dtype.kind != "b" else 0
        if v == np.inf:
            return np.iinfo(dtype).max if dtype.kind != "b" else 1
    return v


def _rows_kernel(ins, outs, rows, cols, t, compute, pads, row_ins, row_outs, scratch, per_row_ins=()):
    """Generic row pipeline: ``ins`` (rows x cols, or per-row (rows,) where ``per_row_ins`` flags them) stream
    through VECIN queues, ``row_ins`` (length cols, e.g. gamma) sit in TBufs, ``outs`` are (rows x cols) or
    per-row (rows,) arrays (``row_outs`` flags)."""
    per_row_ins = per_row_ins or [False] * len(ins)
    b = GetBlockIdx()
    r0, r1 = b * t.rows_per_block, min(rows, (b + 1) * t.rows_per_block)
    pipe = TPipe()
    pitch = t.cols_pad
    qin, qout, vecs = [], [], []
    for k, (g, pr) in enumerate(zip(ins, per_row_ins)):
        q = TQue(TPosition.VECIN, 2, name=f"inQueue{k}")
        pipe.InitBuffer(q, 2, align_up(t.rows_per_tile * (1 if pr else pitch) * g.dtype.itemsize))
        qin.append(q)
    for k, g in enumerate(row_ins):
        tb = TBuf(name=f"vecBuf{k}")
        pipe.InitBuffer(tb, align_up(pitch * g.dtype.itemsize))
        v = tb.Get(g.dtype, pitch)
        DataCopyPad(v, g, DataCopyExtParams(1, cols * g.dtype.itemsize, 0, 0))
        vecs.append(v)
    for k, (g, per_row) in enumerate(zip(outs, row_outs)):
        q = TQue(TPosition.VECOUT, 2, name=f"outQueue{k}")
        n = t.rows_per_tile if per_row else t.rows_per_tile * pitch
        pipe.InitBuffer(q, 2, align_up(n * g.dtype.itemsize))
        qout.append(q)
    tmps = []
    for k in range(scratch):
        tb = TBuf(name=f"calcBuf{k}")
        pipe.InitBuffer(tb, align_up(t.rows_per_tile * pitch * 4))
        tmps.append(tb)
    for lo in range(r0, r1, t.rows_per_tile):
        nr = min(t.rows_per_tile, r1 - lo)
        for q, g, pad, pr in zip(qin, ins, pads, per_row_ins):
            x = q.AllocTensor(g.dtype)
            if pr:
                DataCopyPad(x, g[lo:], DataCopyExtParams(1, nr * g.dtype.itemsize, 0, 0), pad)
            else:
                DataCopyPad(x, g[lo * cols:], DataCopyExtParams(nr, cols * g.dtype.itemsize, 0, 0), pad)
            q.EnQue(x)
        xs = [q.DeQue() for q in qin]
        ys = [q.AllocTensor(g.dtype) for q, g in zip(qout, outs)]
        compute(xs, ys, vecs, tmps, nr, pitch, cols)
        for q, y in zip(qout, ys):
            q.EnQue(y)
        for q, x in zip(qin, xs):
            q.FreeTensor(x)
        for q, g, per_row in zip(qout, outs, row_outs):
            y = q.DeQue()
            if per_row:
                DataCopyPad(g[lo:], y, DataCopyExtParams(1, nr * g.dtype.itemsize, 0, 0))
            else:
                DataCopyPad(g[lo * cols:], y, DataCopyExtParams(nr, cols * g.dtype.itemsize, 0, 0))
            q.FreeTensor(y)


def rows_fit(cols, itemsize, n_row_buffers, prof=None):
    """Whether one row of ``cols`` elements fits the UB with ``n_row_buffers`` double-buffered row operands
    (the row kernels need whole rows in UB; longer rows take the multi-pass decompositions in ops_basic)."""
    prof = prof or current_profile()
    return (2 * n_row_buffers + 1) * align_up(cols * itemsize) <= prof.ub


def _launch(name, ins, out_specs, rows, cols, compute, pads, row_ins=(), scratch=0, per_row_ins=()):
    prof = current_profile()
    outs = [np.empty((rows,) if per_row else (rows, cols), dt) for dt, per_row in out_specs]
    if rows == 0 or cols == 0:
        return outs
    itemsize = max(np.dtype(a.dtype).itemsize for a in ins)
    n_full = len(ins) - sum(1 for p in per_row_ins if p)
    t = row_tiling(rows, cols, itemsize, prof, n_full + sum(1 for _, r in out_specs if not r) + scratch)
    launch(_rows_kernel, t.block_dim, [GlobalTensor(np.ascontiguousarray(a)) for a in ins],
           [GlobalTensor(o) for o in outs], rows, cols, t, compute, pads,
           [GlobalTensor(np.ascontiguousarray(v)) for v in row_ins], [r for _, r in out_specs], scratch,
           list(per_row_ins), name=name, profile=prof)
    return outs


def reduce_rows(x2, op, out_dtype=None):
    """(rows, cols) -> (rows,): sum / mean / max / min / prod / all / any of each row."""
    rows, cols = x2.shape
    out_dtype = np.dtype(out_dtype or x2.dtype)
    fns = {"sum": np.sum, "mean": np.sum, "max": np.max, "min": np.min, "prod": np.prod, "all": np.all,
           "any": np.any, "argmax": np.argmax, "argmin": np.argmin}
    intr = {"sum": ReduceSum, "mean": ReduceSum, "max": ReduceMax, "min": ReduceMin}

    def compute(xs, ys, vecs, tmps, nr, pitch, cols_):
        if op in intr and x2.dtype == out_dtype:
            intr[op](ys[0], xs[0], nr, pitch)
            if op == "mean":
                Muls(ys[0], ys[0], 1.0 / cols_, nr)
        else:   # prod / all / any / mixed dtypes: a log2(cols)-step tree of vector ops
            VecApply(f"Reduce{op.title()}", ys, xs, nr * pitch,
                     lambda d: fns[op](d[:nr * pitch].reshape(nr, pitch), axis=1).astype(out_dtype),
                     max(1, int(np.ceil(np.log2(max(pitch, 2))))), views=[lambda d: d], sizes=(nr, nr * pitch))
    return _launch(f"Reduce{op.title()}", [x2], [(out_dtype, True)], rows, cols, compute,
                   [_pad_value(op, x2.dtype)])[0]


def _softmax_compute(log):
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        x, y = xs[0], ys[0]
        m = tmps[0].Get(x.dtype, nr)
        s = tmps[1].Get(x.dtype, nr)
        ReduceMax(m, x, nr, pitch)              # the pad holds -inf: exact
        RowOp("sub", y, x, m, nr, pitch)
        e = tmps[2].Get(x.dtype, nr * pitch) if log else y
        Exp(e, y, nr * pitch)
        ReduceSum(s, e, nr, pitch)              # exp(-inf) = 0 in the pad
        if log:
            Ln(s, s, nr)
            RowOp("sub", y, y, s, nr, pitch)
        else:
            RowOp("div", y, y, s, nr, pitch)
    return compute


def softmax_rows(x2):
    return _launch("SoftmaxV2", [x2], [(x2.dtype, False)], *x2.shape, _softmax_compute(False), [-np.inf],
                   scratch=2)[0]


def log_softmax_rows(x2):
    return _launch("LogSoftmaxV2", [x2], [(x2.dtype, False)], *x2.shape, _softmax_compute(True), [-np.inf],
                   scratch=3)[0]


def softmax_grad_rows(y2, dy2):
    """dx = y * (dy - sum(dy * y))."""
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        y, dy = xs
        p = tmps[0].Get(y.dtype, nr * pitch)
        s = tmps[1].Get(y.dtype, nr)
        Mul(p, dy, y, nr * pitch)
        ReduceSum(s, p, nr, pitch)
        RowOp("sub", ys[0], dy, s, nr, pitch)
        Mul(ys[0], ys[0], y, nr * pitch)
    return _launch("SoftmaxGrad", [y2, dy2], [(y2.dtype, False)], *y2.shape, compute, [0, 0], scratch=2)[0]


def log_softmax_grad_rows(y2, dy2):
    """dx = dy - exp(y) * sum(dy)."""
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        y, dy = xs
        e = tmps[0].Get(y.dtype, nr * pitch)
        s = tmps[1].Get(y.dtype, nr)
        ReduceSum(s, dy, nr, pitch)
        Exp(e, y, nr * pitch)
        RowOp("mul", e, e, s, nr, pitch)
        Sub(ys[0], dy, e, nr * pitch)
    return _launch("LogSoftmaxGrad", [y2, dy2], [(y2.dtype, False)], *y2.shape, compute, [-np.inf, 0],
                   scratch=2)[0]


def _mask_pad(d, nr, pitch, cols):
    """Zero the pad columns of an (nr, pitch) operand (a masked vector select)."""
    VecApply("Select(mask)", (d,), (d,), nr * pitch,
             lambda v: np.where(np.arange(pitch)[None, :] < cols, v[:nr * pitch].reshape(nr, pitch), 0),
             1, views=[lambda v: v])


def _stats(x, mean, var, rstd, d, nr, pitch, cols, eps):
    """mean, biased variance, 1/sqrt(var + eps) per row and the centred rows d = x - mean (pad zeroed)."""
    ReduceSum(mean, x, nr, pitch)               # the pad is 0
    Muls(mean, mean, 1.0 / cols, nr)
    RowOp("sub", d, x, mean, nr, pitch)
    _mask_pad(d, nr, pitch, cols)
    Mul(rstd, d, d, nr * pitch)                 # rstd's buffer holds d*d for a moment (it is a full tile)
    ReduceSum(var, rstd, nr, pitch)
    Muls(var, var, 1.0 / cols, nr)
    Adds(rstd, var, eps, nr)
    Rsqrt(rstd, rstd, nr)


def layer_norm_rows(x2, gamma, beta, eps):
    """(y, mean, var) of each row of (rows, D); gamma/beta of length D."""
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        x = xs[0]
        y, mean, var = ys
        d = tmps[0].Get(x.dtype, nr * pitch)
        rstd = tmps[1].Get(x.dtype, nr * pitch)
        _stats(x, mean, var, rstd, d, nr, pitch, cols, eps)
        RowOp("mul", y, d, rstd, nr, pitch)
        ColOp("mul", y, y, vecs[0], nr, pitch)
        ColOp("add", y, y, vecs[1], nr, pitch)
    dt = x2.dtype
    return _launch("LayerNorm", [x2], [(dt, False), (dt, True), (dt, True)], *x2.shape, compute, [0],
                   row_ins=(gamma, beta), scratch=2)


def layer_norm_grad_rows(x2, dy2, dmean, dvar, gamma, eps, row_gamma=None):
    """(dx, dy * xhat, dy) rows: dx = rstd (g - mean(g) - xhat mean(g xhat)) + dmean / D + 2 dvar (x - mean) / D
    with g = dy * gamma (the statistics recomputed from x, as the CPU kernel does); the caller sums the other two
    over rows for dgamma and dbeta. ``row_gamma`` (one per row) scales g per row as well (batch norm's weight,
    whose rows are channels)."""
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        x, dy, dm, dv, rg = xs
        dx, dyxh = ys
        d = tmps[0].Get(x.dtype, nr * pitch)
        rstd = tmps[1].Get(x.dtype, nr * pitch)
        g = tmps[2].Get(x.dtype, nr * pitch)
        mean, var = tmps[3].Get(x.dtype, nr), tmps[4].Get(x.dtype, nr)
        s1, s2 = tmps[5].Get(x.dtype, nr), tmps[6].Get(x.dtype, nr)
        _stats(x, mean, var, rstd, d, nr, pitch, cols, eps)
        RowOp("mul", d, d, rstd, nr, pitch)                 # d is now xhat
        Mul(dyxh, dy, d, nr * pitch)
        ColOp("mul", g, dy, vecs[0], nr, pitch)
        RowOp("mul", g, g, rg, nr, pitch)
        ReduceSum(s1, g, nr, pitch)
        Muls(s1, s1, 1.0 / cols, nr)
        Mul(dx, g, d, nr * pitch)
        ReduceSum(s2, dx, nr, pitch)
        Muls(s2, s2, 1.0 / cols, nr)
        RowOp("mul", dx, d, s2, nr, pitch)
        Sub(dx, g, dx, nr * pitch)
        RowOp("sub", dx, dx, s1, nr, pitch)
        RowOp("mul", dx, dx, rstd, nr, pitch)
        # + dmean / D + 2 dvar (x - mean) / D  =  + (dmean + 2 dvar xhat / rstd) / D
        RowOp("div", g, d, rstd, nr, pitch)                 # x - mean again
        RowOp("mul", g, g, dv, nr, pitch)
        Muls(g, g, 2.0 / cols, nr * pitch)
        Add(dx, dx, g, nr * pitch)
        Muls(s1, dm, 1.0 / cols, nr)        # dmean / D
        RowOp("add", dx, dx, s1, nr, pitch)
    dt = x2.dtype
    rows, cols = x2.shape
    rg = np.ones(rows, dt) if row_gamma is None else np.ascontiguousarray(row_gamma, dt).reshape(-1)
    return _launch("LayerNormGrad", [x2, dy2, dmean.reshape(-1), dvar.reshape(-1), rg], [(dt, False), (dt, False)],
                   rows, cols, compute, [0, 0, 0, 0, 0], row_ins=(gamma,), scratch=7,
                   per_row_ins=(False, False, True, True, True))


# ------------------------------------------------------------------------------------------ column reductions
_COL_FNS = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum, "prod": np.multiply,
            "all": np.logical_and, "any": np.logical_or}


def _cols_kernel(x_gm, out_gm, R, C, cols_per_block, ctile, rows_per_tile, op):
    b = GetBlockIdx()
    c0, c1 = b * cols_per_block, min(C, (b + 1) * cols_per_block)
    it, ot = x_gm.dtype.itemsize, out_gm.dtype.itemsize
    pitch = align_up(ctile * it) // it
    pipe = TPipe()
    q = TQue(TPosition.VECIN, 2, name="inQueueX")
    pipe.InitBuffer(q, 2, align_up(rows_per_tile * pitch * it))
    acc_buf = TBuf(name="accBuf")
    pipe.InitBuffer(acc_buf, align_up(pitch * ot))
    oq = TQue(TPosition.VECOUT, 2, name="outQueue")
    pipe.InitBuffer(oq, 2, align_up(pitch * ot))
    fn = _COL_FNS[op]
    for cs in range(c0, c1, ctile):
        cw = min(ctile, c1 - cs)
        acc = acc_buf.Get(out_gm.dtype)
        VecApply("Duplicate", (acc,), (), pitch, lambda: np.asarray(_pad_value(op, out_gm.dtype), out_gm.dtype), 1,
                 sizes=(pitch,))
        for r in range(0, R, rows_per_tile):
            nr = min(rows_per_tile, R - r)
            x = q.AllocTensor(x_gm.dtype)
            gap = (pitch * it - align_up(cw * it)) // ALIGN      # keep the UB row pitch at the tile's
            DataCopyPad(x, x_gm[r * C + cs:], DataCopyExtParams(nr, cw * it, (C - cw) * it, gap),
                        _pad_value(op, x_gm.dtype))
            q.EnQue(x)
            x = q.DeQue()
            VecApply(f"Reduce{op.title()}(rows)", (acc,), (acc, x), nr * pitch,
                     lambda a, v: fn(a[:pitch], fn.reduce(v[:nr * pitch].reshape(nr, pitch), axis=0))
                     .astype(out_gm.dtype), 1, views=[lambda d: d] * 2, sizes=(pitch, pitch, nr * pitch))
            q.FreeTensor(x)
        if op == "mean":
            Muls(acc, acc, 1.0 / R, pitch)
        y = oq.AllocTensor(out_gm.dtype)
        VecApply("Copy", (y,), (acc,), pitch, lambda a: a[:pitch], 1, views=[lambda d: d])
        oq.EnQue(y)
        y = oq.DeQue()
        DataCopyPad(out_gm[cs:], y, DataCopyExtParams(1, cw * ot, 0, 0))
        oq.FreeTensor(y)


def reduce_cols(x2, op, out_dtype=None):
    """(rows, cols) -> (cols,): each column reduced over the rows by accumulating row tiles into a UB vector
    (bias gradients: no transpose). Blocks split the columns."""
    from .tiling import split_blocks, MAX_TILE_BYTES
    prof = current_profile()
    rows, cols = x2.shape
    out_dtype = np.dtype(out_dtype or x2.dtype)
    out = np.empty(cols, out_dtype)
    if cols == 0:
        return out
    if rows == 0:
        out[...] = _pad_value(op, out_dtype)
        return out
    it = x2.dtype.itemsize
    ctile = min(align_up(cols * it) // it, max(MAX_TILE_BYTES // (4 * it), ALIGN // it))
    rows_per_tile = max(1, MAX_TILE_BYTES // (align_up(ctile * it)))
    block_dim, per = split_blocks(cols, prof, ctile, ctile)
    launch(_cols_kernel, block_dim, GlobalTensor(np.ascontiguousarray(x2)), GlobalTensor(out), rows, cols, per,
           ctile, rows_per_tile, op, name=f"Reduce{op.title()}(rows)", profile=prof)
    return out


def prod_except_self_rows(x2):
    """Each element's product of the others in its row: exclusive prefix and suffix products (log-step scans on
    the Vector unit: ceil(log2(cols)) multiply passes each) multiplied — exact with zeros, no division."""
    def compute(xs, ys, vecs, tmps, nr, pitch, cols):
        def scan(v):
            m = v[:nr * pitch].reshape(nr, pitch)
            left = np.ones_like(m)
            left[:, 1:] = np.cumprod(m[:, :-1], axis=1)
            right = np.ones_like(m)
            right[:, :-1] = np.cumprod(m[:, :0:-1], axis=1)[:, ::-1]
            return left * right
        steps = max(1, int(np.ceil(np.log2(max(pitch, 2)))))
        VecApply("ScanProd(excl, both ways)", (ys[0],), (xs[0],), nr * pitch, scan, 2 * steps + 1,
                 views=[lambda d: d])
    return _launch("ProdExceptSelf", [x2], [(x2.dtype, False)], *x2.shape, compute, [1])[0]
