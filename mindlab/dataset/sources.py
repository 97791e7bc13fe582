"""Source datasets: ``NumpySlicesDataset`` (in-memory arrays sliced along their first axis) and
``GeneratorDataset`` (rows from Python: a random-access object, an iterable or a generator function)."""
import numbers

import numpy as np

from .. import dtype as mdt
from .engine import Dataset, _as_names, _check_count

__all__ = ["NumpySlicesDataset", "GeneratorDataset"]


def _check_shards(num_shards, shard_id, what):
    if num_shards is None and shard_id is None:
        return None, None
    if num_shards is None or shard_id is None:
        raise ValueError(f"{what}: num_shards and shard_id must be given together, got num_shards={num_shards!r}, "
                         f"shard_id={shard_id!r}")
    num_shards = _check_count(num_shards, f"{what}: num_shards", 1)
    if isinstance(shard_id, bool) or not isinstance(shard_id, numbers.Integral) or not 0 <= shard_id < num_shards:
        raise ValueError(f"{what}: shard_id must be an int in [0, {num_shards}), got {shard_id!r}")
    return num_shards, int(shard_id)


class _Source(Dataset):
    """A source of ``n`` rows: its order per epoch (shuffled or not), sharding and ``num_samples``."""

    def __init__(self, n, shuffle, num_samples, num_shards, shard_id, num_parallel_workers, what):
        self._n = n
        self._shuffle = bool(shuffle)
        self._random = self._shuffle          # an instance attribute: Dataset.__init__ seeds random nodes
        self.num_samples = None if num_samples is None else _check_count(num_samples, f"{what}: num_samples", 1)
        self.num_shards, self.shard_id = _check_shards(num_shards, shard_id, what)
        super().__init__((), num_parallel_workers)

    def _order(self, epoch):
        """Row indices of one epoch: a permutation when shuffling; the shard's share (every num_shards-th index,
        the last ones wrapping around so that every shard has the same count); at most num_samples of them."""
        n = self._n
        idx = self._rng(epoch).permutation(n) if self._shuffle else np.arange(n)
        if self.num_shards is not None and n:
            per = -(-n // self.num_shards)
            idx = np.resize(idx, per * self.num_shards)[self.shard_id::self.num_shards]
        if self.num_samples is not None:
            idx = idx[:self.num_samples]
        return idx

    def _count(self):
        n = self._n
        if self.num_shards is not None and n:
            n = -(-n // self.num_shards)
        return n if self.num_samples is None else min(n, self.num_samples)


def _column(value, name):
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"NumpySlicesDataset: column {name!r} is ragged or not numeric/str data; give arrays of "
                        f"equal-shape rows")
    if arr.ndim == 0:
        raise ValueError(f"NumpySlicesDataset: column {name!r} is a scalar; it needs a first axis to slice")
    return arr


class NumpySlicesDataset(_Source):
    """Rows sliced along the first axis of in-memory data (MindSpore's ``NumpySlicesDataset``).

    ``data``: a dict {column name: array-like} (the keys name the columns), a tuple of array-likes (one column
    each), or a single list / numpy array (one column). All columns must have the same length.
    ``column_names``: names for tuple / list / array data (default ``column_0``, ``column_1``, ...).
    ``shuffle``: None or True shuffles every epoch (seeded by ``mindlab.set_seed``), False keeps the order.
    ``num_samples``: rows per epoch at most. ``num_shards`` / ``shard_id``: read one shard of the rows.
    """

    def __init__(self, data, column_names=None, num_samples=None, num_parallel_workers=1, shuffle=None,
                 num_shards=None, shard_id=None):
        if isinstance(data, dict):
            names = [str(k) for k in data]
            cols = list(data.values())
            if column_names is not None and _as_names(column_names, "NumpySlicesDataset") != names:
                raise ValueError(f"NumpySlicesDataset: column_names {column_names!r} do not match the dict's keys "
                                 f"{names}")
        else:
            cols = list(data) if isinstance(data, tuple) else [data]
            names = [f"column_{i}" for i in range(len(cols))] if column_names is None else \
                _as_names(column_names, "NumpySlicesDataset")
            if len(names) != len(cols):
                raise ValueError(f"NumpySlicesDataset: {len(names)} column names {names} for {len(cols)} "
                                 f"column(s) of data")
        if not cols:
            raise ValueError("NumpySlicesDataset: data has no columns")
        self._data = [_column(c, n) for c, n in zip(cols, names)]
        lengths = {n: len(a) for n, a in zip(names, self._data)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"NumpySlicesDataset: columns must have the same length, got {lengths}")
        self._column_names = names
        super().__init__(len(self._data[0]), True if shuffle is None else shuffle, num_samples, num_shards,
                         shard_id, num_parallel_workers, "NumpySlicesDataset")

    def _names(self):
        return self._column_names

    def _rows(self, epoch):
        data = self._data
        for i in self._order(epoch):
            yield tuple(np.array(col[i]) for col in data)

    def _batches(self, epoch, batch_size, drop_remainder):
        """Whole batches by fancy indexing (what ``batch`` would stack row by row, without the per-row work)."""
        data, order = self._data, self._order(epoch)
        stop = len(order) - len(order) % batch_size if drop_remainder else len(order)
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield tuple(col[idx] for col in data)


class GeneratorDataset(_Source):
    """Rows produced by Python code (MindSpore's ``GeneratorDataset``).

    ``source``: a random-access object (``__getitem__`` and ``__len__``; can be shuffled and sharded), an iterable
    (iterated afresh each epoch), or a callable returning an iterator (called each epoch). Each item is a tuple of
    column values (or one value for one column); values are converted with ``numpy.asarray``.
    ``column_names``: one name per column (required). ``column_types``: optional dtypes to cast the columns to.
    ``shuffle``: None shuffles random-access sources and leaves iterables in order; True needs random access.
    ``num_parallel_workers`` / ``python_multiprocessing`` are accepted for compatibility; rows are produced in
    the calling thread.
    """

    def __init__(self, source, column_names=None, column_types=None, num_samples=None, num_parallel_workers=1,
                 shuffle=None, num_shards=None, shard_id=None, python_multiprocessing=True, max_rowsize=None):
        if column_names is None:
            raise ValueError("GeneratorDataset: column_names is required (one name per value the source yields)")
        self._column_names = _as_names(column_names, "GeneratorDataset")
        self._types = None
        if column_types is not None:
            types = list(column_types) if isinstance(column_types, (list, tuple)) else [column_types]
            if len(types) != len(self._column_names):
                raise ValueError(f"GeneratorDataset: {len(types)} column_types for {len(self._column_names)} "
                                 f"columns")
            self._types = [mdt.to_np(t) for t in types]
        self.source = source
        self._random_access = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        if not self._random_access and not (hasattr(source, "__iter__") or callable(source)):
            raise TypeError(f"GeneratorDataset: source must be random-access (__getitem__ and __len__), iterable "
                            f"or callable, got {type(source).__name__}")
        if not self._random_access and shuffle:
            raise ValueError("GeneratorDataset: shuffle=True needs a random-access source (__getitem__ and "
                             "__len__); use .shuffle(buffer_size) on an iterable source")
        do_shuffle = self._random_access if shuffle is None else bool(shuffle)
        n = len(source) if self._random_access else None
        super().__init__(n, do_shuffle, num_samples, num_shards, shard_id, num_parallel_workers,
                         "GeneratorDataset")

    def _names(self):
        return self._column_names

    def _count(self):
        if self._random_access:
            return super()._count()
        return None     # counted by iterating (get_dataset_size)

    def _row(self, item, k):
        values = item if isinstance(item, tuple) else \
            (tuple(item) if isinstance(item, list) and len(self._column_names) > 1 else (item,))
        if len(values) != len(self._column_names):
            raise ValueError(f"GeneratorDataset: row {k} has {len(values)} value(s), but column_names "
                             f"{self._column_names} name {len(self._column_names)}")
        if self._types is None:
            return tuple(np.asarray(v) for v in values)
        return tuple(np.asarray(v, dtype=t) for v, t in zip(values, self._types))

    def _rows(self, epoch):
        if self._random_access:
            for k, i in enumerate(self._order(epoch)):
                yield self._row(self.source[int(i)], k)
            return
        items = self.source() if callable(self.source) and not hasattr(self.source, "__iter__") else \
            iter(self.source)
        limit = self.num_samples
        shards, shard = self.num_shards, self.shard_id
        taken = 0
        for k, item in enumerate(items):
            if shards is not None and k % shards != shard:
                continue
            if limit is not None and taken >= limit:
                return
            taken += 1
            yield self._row(item, k)
