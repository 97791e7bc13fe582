"""Embedding: a lookup table of vectors indexed by integer ids."""
import numpy as np

from ... import dtype as mdt
from ... import ops
from ...common.initializer import initializer
from ...errors import where
from ...tensor import Parameter, _wrap
from ..cell import Cell
from ._validate import positive_int

__all__ = ["Embedding"]


class Embedding(Cell):
    """Maps integer ids of any shape to vectors: output shape ``ids.shape + (embedding_size,)``.

    ``embedding_table``: initializer of the (vocab_size, embedding_size) table (default ``"normal"``, N(0, 0.01²)).
    ``use_one_hot``: look up by a one-hot matrix product instead of a gather (same values and gradients).
    ``padding_idx``: that row of the table starts at zero. ``dtype``: the dtype of the ids (an integer type).
    """

    def __init__(self, vocab_size, embedding_size, use_one_hot=False, embedding_table="normal", dtype=mdt.int32,
                 padding_idx=None):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size", "Embedding")
        self.embedding_size = positive_int(embedding_size, "embedding_size", "Embedding")
        self.use_one_hot = bool(use_one_hot)
        self.dtype = mdt.to_type(dtype)
        if self.dtype.kind != "i":
            raise TypeError(f"For 'Embedding', 'dtype' (the ids' dtype) must be an integer type, but got "
                            f"{self.dtype}.{where()}")
        table = initializer(embedding_table, (self.vocab_size, self.embedding_size), mdt.float32)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) or \
                    not -self.vocab_size <= padding_idx < self.vocab_size:
                raise ValueError(f"For 'Embedding', 'padding_idx' must be an int in [-{self.vocab_size}, "
                                 f"{self.vocab_size}), but got {padding_idx!r}.{where()}")
            padding_idx = int(padding_idx) % self.vocab_size
            arr = table.asnumpy()
            arr[padding_idx] = 0
            table = _wrap(arr)
        self.padding_idx = padding_idx
        self.embedding_table = Parameter(table, name="embedding_table")

    def construct(self, ids):
        if ids.dtype.kind != "i":
            raise TypeError(f"Embedding: ids must be an integer tensor, got {ids.dtype}{list(ids.shape)}.{where()}")
        flat = ops.reshape(ids, (-1,))
        if self.use_one_hot:
            dt = self.embedding_table.dtype.np
            one_hot = ops.one_hot(flat, self.vocab_size, _wrap(np.ones((), dt)), _wrap(np.zeros((), dt)))
            out = ops.matmul(one_hot, self.embedding_table)
        else:
            out = ops.gather(self.embedding_table, flat, 0)
        return ops.reshape(out, tuple(ids.shape) + (self.embedding_size,))

    def extend_repr(self):
        return (f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, "
                f"use_one_hot={self.use_one_hot}, embedding_table={self.embedding_table!r}, dtype={self.dtype}, "
                f"padding_idx={self.padding_idx}")
