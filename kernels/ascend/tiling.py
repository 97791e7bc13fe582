"""Host-side tiling functions: split a problem over AI cores (block_dim) and into tiles that fit the buffers.

A tiling function sees only shapes, dtypes and the profile; the kernel receives its result as plain numbers, as
an Ascend C kernel receives its TilingData. Each function states the buffer budget it plans for, so a tiling that
does not fit fails in ``TPipe.InitBuffer`` with the buffer, the request and the limit named.
"""
from dataclasses import dataclass

from .api import ALIGN, align_up

__all__ = ["ElementwiseTiling", "elementwise_tiling", "split_blocks", "RowTiling", "row_tiling"]

MIN_BLOCK_BYTES = 16 * 1024     # below this a block is not worth a core of its own
MAX_TILE_BYTES = 32 * 1024      # a vector tile this big amortises the copy latency well (see bench_ascend.py)


def split_blocks(n, prof, quantum=1, min_per_block=1):
    """(block_dim, per_block): ``n`` work items over at most ``prof.ai_cores`` blocks, each block's share a
    multiple of ``quantum`` (the last one takes the rest)."""
    if n <= 0:
        return 1, 0
    blocks = max(1, min(prof.ai_cores, n // max(min_per_block, 1)))
    per = -(-n // blocks)
    per = -(-per // quantum) * quantum
    blocks = -(-n // per)
    return blocks, per


@dataclass(frozen=True)
class ElementwiseTiling:
    block_dim: int
    per_block: int      # elements per block (a multiple of the tile quantum, except the last block's share)
    tile: int           # elements per tile
    buffers: int        # slots per queue (2: double buffering)


def elementwise_tiling(n, itemsizes, prof, buffers=2, row=1, tile_bytes=None, extra_ub=0):
    """Tiling of an n-element elementwise kernel whose operands (inputs and outputs, each with a queue of
    ``buffers`` slots) have ``itemsizes``; tiles hold whole rows of ``row`` elements. ``tile_bytes`` forces a tile
    size (bytes of the widest operand) — the UB check then says whether it fits."""
    widest = max(itemsizes)
    if tile_bytes is None:
        budget = (prof.ub - extra_ub) // (buffers * len(itemsizes))
        tile_bytes = max(ALIGN, min(MAX_TILE_BYTES, budget // ALIGN * ALIGN))
    quantum = max(ALIGN // min(itemsizes), 1)
    quantum = row * quantum // _gcd(row, quantum)
    tile = max(tile_bytes // widest // quantum * quantum, quantum)
    min_block = max(MIN_BLOCK_BYTES // widest, tile if n > tile * prof.ai_cores else quantum)
    block_dim, per = split_blocks(n, prof, quantum, min_block)
    return ElementwiseTiling(block_dim, per, tile, buffers)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


@dataclass(frozen=True)
class RowTiling:
    block_dim: int
    rows_per_block: int
    rows_per_tile: int
    cols_pad: int       # row pitch in UB (elements, 32-byte aligned)


def row_tiling(rows, cols, itemsize, prof, n_row_buffers, buffers=2):
    """Row-wise kernels (softmax, layer norm, reductions over the last axis): whole rows per tile. Plans
    ``n_row_buffers`` row-shaped UB operands of ``buffers`` slots each; a row that alone overflows the UB is
    reported by InitBuffer."""
    cols_pad = align_up(cols * itemsize) // itemsize
    row_bytes = cols_pad * itemsize
    budget = prof.ub // (buffers * n_row_buffers + 1)
    rows_per_tile = max(1, min(rows, budget // row_bytes, max(1, MAX_TILE_BYTES // row_bytes)))
    block_dim, per = split_blocks(rows, prof, 1, max(rows_per_tile, 1))
    return RowTiling(block_dim, per, rows_per_tile, cols_pad)
