"""Real data that works offline: scikit-learn's bundled handwritten digits, and a character-level text corpus from
the Python standard library (``text.load_text``).

>>> from mindlab import dataset as ds
>>> train = ds.DigitsDataset(usage="train").batch(64)          # columns "image" (64,) float32, "label" int32
>>> test = ds.DigitsDataset(usage="test").batch(256)
>>> lm = ds.CharCorpusDataset("python_docs", seq_len=64).batch(32)  # "input_ids", "labels" (next characters)
"""
import functools
import importlib.util
import os

import numpy as np

from .sources import NumpySlicesDataset
from .text import CharTokenizer, load_text

__all__ = ["load_digits", "DigitsDataset", "CharCorpusDataset"]

_USAGES = ("train", "test", "all")


@functools.lru_cache(maxsize=1)
def _digits_raw():
    """(pixels 0..16 as float64 (1797, 64), labels (1797,)) read from the CSV inside scikit-learn's package.
    The file is read directly (importing sklearn takes over a second); sklearn's own loader is the fallback."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("load_digits needs scikit-learn installed (its digits file ships inside the package): "
                          "pip install scikit-learn")
    for root in spec.submodule_search_locations or ():
        path = os.path.join(root, "datasets", "data", "digits.csv.gz")
        if os.path.exists(path):
            table = np.loadtxt(path, delimiter=",")
            if table.shape == (1797, 65):
                table.setflags(write=False)
                return table[:, :64], table[:, 64]
    from sklearn.datasets import load_digits as sk_load_digits
    x, y = sk_load_digits(return_X_y=True)
    return x, y


def load_digits(test_size=0.2, seed=0, standardize=True, flatten=True):
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes; the file ships inside scikit-learn),
    split into train and test sets by a seeded permutation.

    Returns ``((x_train, y_train), (x_test, y_test))``: images float32 of shape (N, 64) (or (N, 1, 8, 8) with
    ``flatten=False``) scaled to [0, 1], then with ``standardize`` shifted and scaled per pixel by the training
    set's mean and standard deviation; labels int32. ``test_size``: the fraction held out; ``seed``: the split's
    permutation (independent of ``mindlab.set_seed``, so the split never changes under you).
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits: test_size must be in (0, 1), got {test_size!r}")
    x, y = _digits_raw()
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_size))
    test, train = order[:n_test], order[n_test:]
    if standardize:   # statistics of the training images only
        mean, std = x[train].mean(0), x[train].std(0) + 1e-3
        x = ((x - mean) / std).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    return (x[train], y[train]), (x[test], y[test])


class DigitsDataset(NumpySlicesDataset):
    """The digits (``load_digits``) as a dataset with columns ``"image"`` and ``"label"``.

    ``usage``: "train", "test" or "all" (train then test). ``shuffle``: None shuffles the training split only.
    The other arguments are ``load_digits``'s.
    """

    def __init__(self, usage="train", test_size=0.2, seed=0, standardize=True, flatten=True, shuffle=None,
                 num_samples=None, num_shards=None, shard_id=None):
        if usage not in _USAGES:
            raise ValueError(f"DigitsDataset: usage must be one of {list(_USAGES)}, got {usage!r}")
        (xtr, ytr), (xte, yte) = load_digits(test_size, seed, standardize, flatten)
        x, y = {"train": (xtr, ytr), "test": (xte, yte),
                "all": (np.concatenate([xtr, xte]), np.concatenate([ytr, yte]))}[usage]
        if shuffle is None:
            shuffle = usage == "train"
        super().__init__({"image": x, "label": y}, shuffle=shuffle, num_samples=num_samples, num_shards=num_shards,
                         shard_id=shard_id)
        self.usage = usage


class CharCorpusDataset(NumpySlicesDataset):
    """A bundled text corpus (``text.load_text``) cut into windows for next-character prediction.

    Rows: ``"input_ids"`` (``seq_len`` int32 character ids) and ``"labels"`` (the same window shifted by one
    character). Windows start every ``stride`` characters (default ``seq_len``: no overlap). ``usage``: "train"
    (the first ``1 - valid_fraction`` of the text), "valid" (the rest) or "all". ``tokenizer``: the
    ``CharTokenizer`` (built from the whole corpus by default, so both splits share it); it is kept as
    ``self.tokenizer``. ``shuffle``: None shuffles the training split only.
    """

    def __init__(self, name="python_docs", seq_len=64, usage="train", valid_fraction=0.1, stride=None,
                 tokenizer=None, shuffle=None, num_samples=None):
        if usage not in ("train", "valid", "all"):
            raise ValueError(f"CharCorpusDataset: usage must be 'train', 'valid' or 'all', got {usage!r}")
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"CharCorpusDataset: seq_len must be a positive int, got {seq_len!r}")
        stride = seq_len if stride is None else stride
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"CharCorpusDataset: stride must be a positive int, got {stride!r}")
        if not 0.0 <= valid_fraction < 1.0:
            raise ValueError(f"CharCorpusDataset: valid_fraction must be in [0, 1), got {valid_fraction!r}")
        corpus = load_text(name)
        self.tokenizer = CharTokenizer(corpus) if tokenizer is None else tokenizer
        ids = self.tokenizer.encode(corpus)
        cut = int(len(ids) * (1.0 - valid_fraction))
        part = {"train": ids[:cut], "valid": ids[cut:], "all": ids}[usage]
        starts = np.arange(0, len(part) - seq_len, stride)
        if len(starts) == 0:
            raise ValueError(f"CharCorpusDataset: the {usage!r} part of {name!r} has {len(part)} characters, too few "
                             f"for one window of seq_len={seq_len} plus its label")
        windows = starts[:, None] + np.arange(seq_len + 1)[None, :]
        seqs = part[windows]
        if shuffle is None:
            shuffle = usage == "train"
        super().__init__({"input_ids": seqs[:, :-1], "labels": seqs[:, 1:]}, shuffle=shuffle,
                         num_samples=num_samples)
        self.corpus_name, self.seq_len, self.usage = name, seq_len, usage
