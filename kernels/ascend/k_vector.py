"""Vector-unit elementwise kernels: one CopyIn -> Compute -> CopyOut pipeline with double-buffered queues.

``elementwise(name, fn, inputs, kinds, out_dtypes, ...)`` runs ``fn`` (numpy on UB tiles, standing for ``passes``
vector instructions per element) over the output's elements: ``full`` inputs stream tile by tile through VECIN
queues (DataCopy, or DataCopyPad for a ragged last tile), ``scalar`` inputs are read once by the Scalar unit,
``row`` inputs (a bias) are loaded once into a TBuf and applied to whole rows; outputs stream out through VECOUT
queues. ``inplace`` maps an output to the input it overwrites in GM (optimizer updates). Registry ops, the fused
chains of the fusion pass (``fused.py``) and the optimizer updates all run through it.
"""
import numpy as np

from .api import (TPipe, TQue, TBuf, TPosition, DataCopy, DataCopyPad, DataCopyExtParams, VecApply, ScalarWork,
                  align_up, ALIGN)
from .sim import GlobalTensor, GetBlockIdx, launch
from .tiling import elementwise_tiling
from .device import current_profile

__all__ = ["elementwise", "copy_in", "copy_out"]


def copy_in(t, gm, count):
    """GM -> UB of ``count`` elements: DataCopy when the bytes are 32-byte aligned, else DataCopyPad."""
    nbytes = count * t.dtype.itemsize
    if nbytes % ALIGN == 0:
        DataCopy(t, gm, count)
    else:
        DataCopyPad(t, gm, DataCopyExtParams(1, nbytes, 0, 0))


def copy_out(gm, t, count):
    nbytes = count * t.dtype.itemsize
    if nbytes % ALIGN == 0:
        DataCopy(gm, t, count)
    else:
        DataCopyPad(gm, t, DataCopyExtParams(1, nbytes, 0, 0))


def _kernel(name, fn, ins, kinds, outs, tiling, row, passes):
    b = GetBlockIdx()
    n = outs[0].size
    start = b * tiling.per_block
    stop = min(n, start + tiling.per_block)
    tile = tiling.tile
    pipe = TPipe()
    qin, scalars, rows = [], [], []
    for k, (g, kind) in enumerate(zip(ins, kinds)):
        if kind == "full":
            q = TQue(TPosition.VECIN, tiling.buffers, name=f"inQueue{k}")
            pipe.InitBuffer(q, tiling.buffers, align_up(tile * g.dtype.itemsize))
            qin.append(q)
        elif kind == "row":
            tb = TBuf(name=f"rowBuf{k}")
            pipe.InitBuffer(tb, align_up(row * g.dtype.itemsize))
            t = tb.Get(g.dtype)
            copy_in(t, g, row)
            rows.append(t)
            qin.append(None)
        else:
            ScalarWork(4, "ReadScalar")
            scalars.append(g.region(0, 1).reshape(()).copy())
            qin.append(None)
    qout = []
    for k, g in enumerate(outs):
        q = TQue(TPosition.VECOUT, tiling.buffers, name=f"outQueue{k}")
        pipe.InitBuffer(q, tiling.buffers, align_up(tile * g.dtype.itemsize))
        qout.append(q)
    for off in range(start, stop, tile):
        cnt = min(tile, stop - off)
        # CopyIn
        for q, g in zip(qin, ins):
            if q is not None:
                t = q.AllocTensor(g.dtype)
                copy_in(t, g[off:], cnt)
                q.EnQue(t)
        # Compute
        xs = [q.DeQue() for q in qin if q is not None]
        ys = [q.AllocTensor(g.dtype) for q, g in zip(qout, outs)]
        srcs, views, it_x, it_s, it_r = [], [], iter(xs), iter(scalars), iter(rows)
        args = []
        for kind in kinds:
            if kind == "full":
                x = next(it_x)
                srcs.append(x)
                args.append(("t", len(srcs) - 1))
            elif kind == "row":
                srcs.append(next(it_r))
                args.append(("r", len(srcs) - 1))
            else:
                args.append(("s", next(it_s)))
        shape2 = (cnt // row, row) if row > 1 else (cnt,)

        def run(*vals, _args=args):
            call = []
            for kind, v in _args:
                if kind == "s":
                    call.append(v)
                elif kind == "r":
                    call.append(vals[v][:row])
                else:
                    call.append(vals[v][:cnt].reshape(shape2))
            res = fn(*call)
            if isinstance(res, tuple):
                return tuple(np.broadcast_to(r, shape2) for r in res)
            return np.broadcast_to(res, shape2)
        sizes = [cnt] * len(ys) + [row if kind == "r" else cnt for kind, _ in args if kind != "s"]
        VecApply(name, ys, srcs, cnt, run, passes, views=[lambda d: d] * len(srcs), sizes=sizes)
        for q, y in zip(qout, ys):
            q.EnQue(y)
        for q, x in zip([q for q in qin if q is not None], xs):
            q.FreeTensor(x)
        # CopyOut
        for q, g in zip(qout, outs):
            y = q.DeQue()
            copy_out(g[off:], y, cnt)
            q.FreeTensor(y)


def elementwise(name, fn, inputs, kinds, out_dtypes, out_shape, passes=1, row=1, inplace=None, tile_bytes=None,
                buffers=2, profile=None):
    """Run ``fn`` over ``inputs`` on the Vector unit; returns the output arrays (a tuple when several).

    ``kinds[k]``: "full" (out_shape's element count), "scalar" (one element) or "row" (``row`` elements repeated
    over the leading axes). ``inplace``: {output index: input index} written back into that input's array."""
    prof = profile or current_profile()
    n = int(np.prod(out_shape, dtype=np.int64))
    inplace = inplace or {}
    outs = []
    for k, dt in enumerate(out_dtypes):
        if k in inplace:
            a = inputs[inplace[k]]
            if not (a.flags.c_contiguous and a.flags.writeable):
                raise ValueError(f"{name}: in-place operand {inplace[k]} must be a contiguous writeable array")
            outs.append(a)
        else:
            outs.append(np.empty(out_shape, dt))
    if n == 0:
        return outs[0] if len(outs) == 1 else tuple(outs)
    gins = [GlobalTensor(a) for a in inputs]
    gouts = [GlobalTensor(a) for a in outs]
    sizes = [np.dtype(a.dtype).itemsize for a, k in zip(inputs, kinds) if k == "full"] + \
            [np.dtype(d).itemsize for d in out_dtypes]
    row_bytes = sum(align_up(row * np.dtype(a.dtype).itemsize) for a, k in zip(inputs, kinds) if k == "row")
    tiling = elementwise_tiling(n, sizes, prof, buffers, row, tile_bytes, extra_ub=row_bytes)
    launch(_kernel, tiling.block_dim, name, fn, gins, kinds, gouts, tiling, row, passes, name=name, profile=prof)
    return outs[0] if len(outs) == 1 else tuple(outs)
