"""The pipeline: ``Dataset`` (the base of every source and operation node) and its iterators.

A pipeline is a chain of nodes built by calling methods (``NumpySlicesDataset(...).shuffle(64).batch(32)``);
nothing runs until it is iterated. Each node produces the rows of one *epoch*, a row being a tuple of numpy arrays
(one per column), by pulling rows from the node below it.

Randomness is reproducible: a node that shuffles takes its seed from ``dataset.config.get_seed()`` when it is
built, and draws each epoch's order from (seed, epoch). The node being iterated counts the epochs started over it,
so every pass reshuffles, and the same pipeline built again after the same ``set_seed`` replays the same passes.
Everything runs in the calling thread (``num_parallel_workers`` is accepted for compatibility; results do not
depend on it).
"""
import math
import numbers

import numpy as np

from .. import dtype as mdt
from ..tensor import Tensor, _wrap
from . import config

__all__ = ["Dataset", "BatchDataset", "ShuffleDataset", "MapDataset", "RepeatDataset", "TakeDataset", "SkipDataset",
           "ProjectDataset", "RenameDataset", "TupleIterator", "DictIterator"]

_INF = math.inf


def _as_names(columns, what):
    """A list of column names from a name or a list of names."""
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, (list, tuple)) or not columns or not all(isinstance(c, str) for c in columns):
        raise TypeError(f"{what}: columns must be a column name or a non-empty list of names, got {columns!r}")
    if len(set(columns)) != len(columns):
        raise ValueError(f"{what}: column names must be unique, got {list(columns)}")
    return list(columns)


def _check_count(value, what, low, allow_all=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
            not (value >= low or (allow_all and value == -1)):
        extra = " or -1 (all)" if allow_all else ""
        raise ValueError(f"{what} must be an int >= {low}{extra}, got {value!r}")
    return int(value)


def _draw_seed():
    """The seed of a random node being built: the configured one, or fresh entropy from the OS."""
    seed = config.get_seed()
    return int(np.random.SeedSequence().entropy) if seed is None else seed


class Dataset:
    """Base of every pipeline node. Subclasses define ``_rows(epoch)`` (a generator of row tuples), ``_names()``
    (column names) and ``_count()`` (rows per epoch; None when unknown, ``math.inf`` when endless)."""

    _random = False

    def __init__(self, children=(), num_parallel_workers=None):
        self.children = list(children)
        self.num_parallel_workers = num_parallel_workers
        self._epochs_started = 0     # epochs begun by iterators over this node (each pass reshuffles)
        self._size = None            # cached rows per epoch when it had to be counted
        if self._random:             # distinct random nodes of one pipeline get distinct streams
            self._seed = _draw_seed()
            self._salt = sum(1 for d in self._descendants() if d._random)

    def _descendants(self):
        for c in self.children:
            yield c
            yield from c._descendants()

    def _rng(self, epoch):
        return np.random.default_rng([self._seed, self._salt, epoch])

    # ------------------------------------------------------------------ what subclasses define
    def _rows(self, epoch):
        raise NotImplementedError

    def _names(self):
        return self.children[0]._names()

    def _count(self):
        return self.children[0]._count()

    # ------------------------------------------------------------------ building the pipeline
    def batch(self, batch_size, drop_remainder=False, num_parallel_workers=None):
        """Stack ``batch_size`` consecutive rows into one (each column gets a new leading axis). The last, smaller
        batch is kept unless ``drop_remainder``. Rows of one batch must have equal shapes per column (see
        ``padded_batch`` for variable-length data)."""
        return BatchDataset(self, batch_size, drop_remainder, None, num_parallel_workers)

    def padded_batch(self, batch_size, drop_remainder=False, num_parallel_workers=None, pad_info=None):
        """``batch`` that first pads the columns named in ``pad_info`` ({column: (shape or None, pad_value)};
        shape None pads to the largest in the batch; a None dimension pads that axis to the batch's largest)."""
        if not isinstance(pad_info, dict) or not pad_info:
            raise TypeError(f"padded_batch: pad_info must be a non-empty dict {{column: (shape, value)}}, got "
                            f"{pad_info!r}")
        return BatchDataset(self, batch_size, drop_remainder, pad_info, num_parallel_workers)

    def shuffle(self, buffer_size):
        """Shuffle rows through a buffer of ``buffer_size`` rows (a size >= the dataset's gives a full shuffle).
        Seeded by ``mindlab.set_seed`` / ``dataset.config.set_seed``; each epoch draws a new order."""
        return ShuffleDataset(self, buffer_size)

    def map(self, operations, input_columns=None, output_columns=None, num_parallel_workers=None,
            python_multiprocessing=False):
        """Apply ``operations`` (a callable or a list of callables, run in order, each taking the previous one's
        outputs as positional arguments) to ``input_columns`` (default: the first column) of every row. The
        results replace the input columns, named ``output_columns`` (default: the input names)."""
        return MapDataset(self, operations, input_columns, output_columns, num_parallel_workers)

    def repeat(self, count=None):
        """Repeat the dataset ``count`` times per epoch (None or -1: endlessly). Each repetition reshuffles."""
        return RepeatDataset(self, count)

    def take(self, count=-1):
        """The first ``count`` rows of each epoch (-1: all)."""
        return TakeDataset(self, count)

    def skip(self, count):
        """Drop the first ``count`` rows of each epoch."""
        return SkipDataset(self, count)

    def project(self, columns):
        """Keep only ``columns``, in that order."""
        return ProjectDataset(self, columns)

    def rename(self, input_columns, output_columns):
        """Rename columns ``input_columns`` to ``output_columns``."""
        return RenameDataset(self, input_columns, output_columns)

    # ------------------------------------------------------------------ information
    def get_col_names(self):
        """The column names, in row order."""
        return list(self._names())

    def get_dataset_size(self):
        """Rows (batches, after ``batch``) per epoch; -1 for an endless pipeline (``repeat()``)."""
        n = self._count()
        if n is None:
            if self._size is None:
                self._size = sum(1 for _ in self._rows(0))
            n = self._size
        return -1 if n == _INF else int(n)

    def get_batch_size(self):
        """The batch size of the nearest ``batch`` below (1 when there is none)."""
        node = self
        while node is not None:
            if isinstance(node, BatchDataset):
                return node.batch_size
            node = node.children[0] if node.children else None
        return 1

    def _first_row(self):
        for row in self._rows(0):
            return row
        raise ValueError(f"{type(self).__name__}: the dataset is empty")

    def output_shapes(self):
        """The shape of each column in the first row."""
        return [list(a.shape) for a in self._first_row()]

    def output_types(self):
        """The numpy dtype of each column in the first row."""
        return [a.dtype for a in self._first_row()]

    # ------------------------------------------------------------------ iterating
    def create_tuple_iterator(self, columns=None, num_epochs=-1, output_numpy=False, do_copy=True):
        """An iterator over rows as lists of Tensors (numpy arrays with ``output_numpy``). Each ``for`` loop over
        it runs one epoch; it stops after ``num_epochs`` epochs (-1: never)."""
        return TupleIterator(self, columns, num_epochs, output_numpy, do_copy)

    def create_dict_iterator(self, num_epochs=-1, output_numpy=False, do_copy=True):
        """Like ``create_tuple_iterator``, with each row as a dict {column name: value}."""
        return DictIterator(self, None, num_epochs, output_numpy, do_copy)

    def __iter__(self):
        return iter(self.create_tuple_iterator(num_epochs=1))

    def __repr__(self):
        return f"{type(self).__name__}(columns={self.get_col_names()})"


# ---------------------------------------------------------------------------------------------------- operations
class BatchDataset(Dataset):
    """Rows stacked in groups of ``batch_size`` (``Dataset.batch`` / ``Dataset.padded_batch``)."""

    def __init__(self, child, batch_size, drop_remainder=False, pad_info=None, num_parallel_workers=None):
        super().__init__([child], num_parallel_workers)
        self.batch_size = _check_count(batch_size, "batch: batch_size", 1)
        self.drop_remainder = bool(drop_remainder)
        self.pad_info = dict(pad_info) if pad_info else {}
        names = child._names()
        for col in self.pad_info:
            if col not in names:
                raise ValueError(f"padded_batch: pad_info names column {col!r}, which is not one of {names}")

    def _count(self):
        n = self.children[0]._count()
        if n is None or n == _INF:
            return n
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def _rows(self, epoch):
        child = self.children[0]
        if not self.pad_info and hasattr(child, "_batches"):   # a source that slices whole batches at once
            yield from child._batches(epoch, self.batch_size, self.drop_remainder)
            return
        buf = []
        for row in child._rows(epoch):
            buf.append(row)
            if len(buf) == self.batch_size:
                yield self._stack(buf)
                buf = []
        if buf and not self.drop_remainder:
            yield self._stack(buf)

    def _stack(self, rows):
        names = self._names()
        out = []
        for j, name in enumerate(names):
            arrays = [r[j] for r in rows]
            if name in self.pad_info:
                arrays = self._pad(name, arrays)
            try:
                out.append(np.stack(arrays))
            except ValueError:
                shapes = sorted({a.shape for a in arrays})
                raise ValueError(f"batch: column {name!r} has rows of different shapes {shapes[:6]} in one batch; "
                                 f"make them equal in a map, or use padded_batch(pad_info={{{name!r}: "
                                 f"(None, 0)}})") from None
        return tuple(out)

    def _pad(self, name, arrays):
        shape, value = self.pad_info[name]
        ndim = arrays[0].ndim
        if any(a.ndim != ndim for a in arrays):
            raise ValueError(f"padded_batch: column {name!r} has rows of different ranks "
                             f"{sorted({a.ndim for a in arrays})}")
        biggest = [max(a.shape[d] for a in arrays) for d in range(ndim)]
        target = biggest if shape is None else [b if s is None else s for s, b in zip(shape, biggest)]
        if len(target) != ndim:
            raise ValueError(f"padded_batch: pad shape {list(shape)} for column {name!r} has {len(target)} "
                             f"dimensions, the rows have {ndim}")
        out = []
        for a in arrays:
            if any(n > t for n, t in zip(a.shape, target)):
                raise ValueError(f"padded_batch: a row of column {name!r} has shape {list(a.shape)}, larger than "
                                 f"the pad shape {target}")
            fill = (0 if a.dtype.kind != "U" else "") if value is None else value
            out.append(np.pad(a, [(0, t - n) for n, t in zip(a.shape, target)], constant_values=fill))
        return out


class ShuffleDataset(Dataset):
    """Rows shuffled through a random buffer (``Dataset.shuffle``): the buffer is filled, then each incoming row
    takes the place of a randomly chosen buffered row, which is emitted; the rest leave in random order."""

    _random = True

    def __init__(self, child, buffer_size):
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, numbers.Integral) or buffer_size < 2:
            raise ValueError(f"shuffle: buffer_size must be an int > 1, got {buffer_size!r}")
        self.buffer_size = int(buffer_size)
        super().__init__([child])

    def _rows(self, epoch):
        rng = self._rng(epoch)
        buf, size = [], self.buffer_size
        for row in self.children[0]._rows(epoch):
            if len(buf) < size:
                buf.append(row)
                continue
            i = int(rng.integers(size))
            yield buf[i]
            buf[i] = row
        for i in rng.permutation(len(buf)):
            yield buf[i]


class MapDataset(Dataset):
    """Rows with some columns replaced by functions of them (``Dataset.map``)."""

    def __init__(self, child, operations, input_columns=None, output_columns=None, num_parallel_workers=None):
        super().__init__([child], num_parallel_workers)
        ops = list(operations) if isinstance(operations, (list, tuple)) else [operations]
        if not ops or not all(callable(op) for op in ops):
            raise TypeError(f"map: operations must be a callable or a list of callables, got {operations!r}")
        self.operations = ops
        names = child._names()
        self.input_columns = [names[0]] if input_columns is None else _as_names(input_columns, "map")
        for c in self.input_columns:
            if c not in names:
                raise ValueError(f"map: input column {c!r} is not one of the dataset's columns {names}")
        if output_columns is None:
            self.output_columns = list(self.input_columns)
        else:
            self.output_columns = _as_names(output_columns, "map")
        self._in_idx = [names.index(c) for c in self.input_columns]
        kept = [c for c in names if c not in self.input_columns]
        pos = min(self._in_idx)       # the outputs take the place of the first input column
        before = [c for c in names[:pos] if c in kept]
        after = [c for c in names[pos:] if c in kept]
        clash = set(self.output_columns) & set(kept)
        if clash:
            raise ValueError(f"map: output columns {sorted(clash)} already exist and are not input columns")
        self._out_names = before + self.output_columns + after
        self._before = [names.index(c) for c in before]
        self._after = [names.index(c) for c in after]

    def _names(self):
        return self._out_names

    def _rows(self, epoch):
        n_out = len(self.output_columns)
        for k, row in enumerate(self.children[0]._rows(epoch)):
            values = tuple(row[i] for i in self._in_idx)
            for op in self.operations:
                try:
                    values = op(*values)
                except Exception as e:
                    name = getattr(op, "__name__", type(op).__name__)
                    msg = (f"map: operation {name} failed on columns {self.input_columns} of row {k} "
                           f"(shapes {[list(np.shape(v)) for v in values]}): {e}")
                    try:
                        err = type(e)(msg)
                    except Exception:   # an exception type with a different constructor
                        err = RuntimeError(msg)
                    raise err from e
                if not isinstance(values, tuple):
                    values = (values,)
            if len(values) != n_out:
                raise ValueError(f"map: the operations returned {len(values)} value(s) for output columns "
                                 f"{self.output_columns}; pass output_columns with one name per value")
            yield tuple(row[i] for i in self._before) + tuple(np.asarray(v) for v in values) + \
                tuple(row[i] for i in self._after)


class RepeatDataset(Dataset):
    """The child's epochs one after another, ``count`` times (``Dataset.repeat``)."""

    def __init__(self, child, count=None):
        super().__init__([child])
        self.count = _INF if count is None or count == -1 else _check_count(count, "repeat: count", 1)

    def _count(self):
        n = self.children[0]._count()
        if n is None:
            return _INF if self.count == _INF else None
        return n * self.count if n else 0

    def _rows(self, epoch):
        child, r = self.children[0], 0
        while r < self.count:
            # the child's epoch index runs on across repetitions, so each one reshuffles
            inner = epoch * self.count + r if self.count != _INF else (epoch << 32) + r
            yield from child._rows(inner)
            r += 1


class TakeDataset(Dataset):
    """The first ``count`` rows of each epoch (``Dataset.take``)."""

    def __init__(self, child, count=-1):
        super().__init__([child])
        self.count = _check_count(count, "take: count", 1, allow_all=True)

    def _count(self):
        n = self.children[0]._count()
        if self.count == -1 or n is None:
            return n
        return min(n, self.count)

    def _rows(self, epoch):
        if self.count == -1:
            yield from self.children[0]._rows(epoch)
            return
        if self.count == 0:
            return
        for k, row in enumerate(self.children[0]._rows(epoch)):
            yield row
            if k + 1 >= self.count:
                return


class SkipDataset(Dataset):
    """Each epoch without its first ``count`` rows (``Dataset.skip``)."""

    def __init__(self, child, count):
        super().__init__([child])
        self.count = _check_count(count, "skip: count", 0)

    def _count(self):
        n = self.children[0]._count()
        return n if n is None or n == _INF else max(n - self.count, 0)

    def _rows(self, epoch):
        for k, row in enumerate(self.children[0]._rows(epoch)):
            if k >= self.count:
                yield row


class ProjectDataset(Dataset):
    """Only some columns, in a given order (``Dataset.project``)."""

    def __init__(self, child, columns):
        super().__init__([child])
        names = child._names()
        self.columns = _as_names(columns, "project")
        for c in self.columns:
            if c not in names:
                raise ValueError(f"project: column {c!r} is not one of the dataset's columns {names}")
        self._idx = [names.index(c) for c in self.columns]

    def _names(self):
        return self.columns

    def _rows(self, epoch):
        idx = self._idx
        for row in self.children[0]._rows(epoch):
            yield tuple(row[i] for i in idx)


class RenameDataset(Dataset):
    """The same rows with some columns renamed (``Dataset.rename``)."""

    def __init__(self, child, input_columns, output_columns):
        super().__init__([child])
        names = child._names()
        src, dst = _as_names(input_columns, "rename"), _as_names(output_columns, "rename")
        if len(src) != len(dst):
            raise ValueError(f"rename: {len(src)} input columns but {len(dst)} output columns")
        for c in src:
            if c not in names:
                raise ValueError(f"rename: column {c!r} is not one of the dataset's columns {names}")
        mapping = dict(zip(src, dst))
        self._out = [mapping.get(c, c) for c in names]
        if len(set(self._out)) != len(self._out):
            raise ValueError(f"rename: the new names {self._out} are not unique")

    def _names(self):
        return self._out

    def _rows(self, epoch):
        return self.children[0]._rows(epoch)


# ---------------------------------------------------------------------------------------------------- iterators
def _to_tensor(arr, name, copy):
    """A Tensor for a numpy column value; string columns stay numpy arrays (tensors hold numbers only)."""
    if arr.dtype.kind in "USO":
        return arr
    try:
        mdt.from_np(arr.dtype)
    except TypeError:
        raise TypeError(f"dataset: column {name!r} has dtype {arr.dtype}, which mindlab tensors do not hold; cast "
                        f"it in a map (transforms.TypeCast) or iterate with output_numpy=True") from None
    return Tensor(arr) if copy else _wrap(np.asarray(arr, order="C"))


class TupleIterator:
    """Iterates a dataset epoch by epoch: each ``for`` loop (or run of ``next`` up to StopIteration) is one epoch;
    after ``num_epochs`` epochs (-1: never) it yields nothing more. Rows are lists of Tensors (numpy arrays with
    ``output_numpy``)."""

    def __init__(self, dataset, columns=None, num_epochs=-1, output_numpy=False, do_copy=True):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"iterator: expected a mindlab.dataset Dataset, got {type(dataset).__name__}")
        self.dataset = dataset
        names = dataset.get_col_names()
        self.columns = names if columns is None else _as_names(columns, "create_tuple_iterator")
        for c in self.columns:
            if c not in names:
                raise ValueError(f"create_tuple_iterator: column {c!r} is not one of the dataset's columns {names}")
        self._idx = [names.index(c) for c in self.columns]
        self.num_epochs = _check_count(num_epochs, "iterator: num_epochs", 1, allow_all=True)
        self.output_numpy, self.do_copy = bool(output_numpy), bool(do_copy)
        self._gen = None
        self.epochs_done = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._gen is None:
            if self.num_epochs != -1 and self.epochs_done >= self.num_epochs:
                raise StopIteration
            ds = self.dataset
            epoch = ds._epochs_started
            ds._epochs_started += 1
            self._gen = ds._rows(epoch)
        try:
            row = next(self._gen)
        except StopIteration:
            self._gen = None
            self.epochs_done += 1
            raise
        return self._convert(row)

    def _values(self, row):
        values = [row[i] for i in self._idx]
        if self.output_numpy:
            return values
        return [_to_tensor(v, c, self.do_copy) for v, c in zip(values, self.columns)]

    def _convert(self, row):
        return self._values(row)

    def stop(self):
        """End the current epoch early (the next loop starts a new one)."""
        if self._gen is not None:
            self._gen.close()
            self._gen = None
            self.epochs_done += 1

    def get_next(self):
        """The next row (StopIteration at the end of an epoch)."""
        return next(self)


class DictIterator(TupleIterator):
    """``TupleIterator`` whose rows are dicts {column name: value}."""

    def _convert(self, row):
        return dict(zip(self.columns, self._values(row)))
