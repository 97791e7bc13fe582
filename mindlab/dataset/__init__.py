"""Data pipelines (MindSpore's ``mindspore.dataset``): sources, chained operations, iterators, and real data that
works offline.

>>> import numpy as np
>>> from mindlab import dataset as ds
>>> data = ds.NumpySlicesDataset({"x": np.random.rand(100, 4).astype(np.float32), "y": np.arange(100)})
>>> data = data.map(lambda x: x * 2, input_columns="x").shuffle(32).batch(16, drop_remainder=True)
>>> for x, y in data.create_tuple_iterator():     # one epoch; Tensors
...     pass
>>> train = ds.DigitsDataset(usage="train").batch(64)

Shuffling is seeded by ``mindlab.set_seed`` (or ``dataset.config.set_seed``); each pass over a pipeline
reshuffles, and rebuilding it after the same seed replays the same passes.
"""
from . import config, transforms, text
from .engine import (Dataset, BatchDataset, ShuffleDataset, MapDataset, RepeatDataset, TakeDataset, SkipDataset,
                     ProjectDataset, RenameDataset, TupleIterator, DictIterator)
from .sources import NumpySlicesDataset, GeneratorDataset
from .builtin import load_digits, DigitsDataset, CharCorpusDataset

__all__ = ["config", "transforms", "text", "Dataset", "NumpySlicesDataset", "GeneratorDataset", "BatchDataset",
           "ShuffleDataset", "MapDataset", "RepeatDataset", "TakeDataset", "SkipDataset", "ProjectDataset",
           "RenameDataset", "TupleIterator", "DictIterator", "load_digits", "DigitsDataset", "CharCorpusDataset"]
