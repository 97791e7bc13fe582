"""Bundled real data, offline: scikit-learn's digits and the standard library's text corpora with a character
tokenizer."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import dataset as ds
from mindlab.dataset import text

pytest.importorskip("sklearn")


def test_load_digits_split_and_standardization():
    (xtr, ytr), (xte, yte) = ds.load_digits()
    assert xtr.shape == (1438, 64) and xte.shape == (359, 64)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int32
    assert sorted(np.unique(np.concatenate([ytr, yte]))) == list(range(10))
    np.testing.assert_allclose(xtr.mean(0), 0.0, atol=1e-4)      # standardized with the training statistics
    (xtr2, _), (xte2, yte2) = ds.load_digits()
    assert np.array_equal(xte, xte2) and np.array_equal(yte, yte2)   # the split is fixed by its own seed
    (_, _), (_, yte3) = ds.load_digits(seed=1)
    assert not np.array_equal(yte, yte3)
    (raw, _), _ = ds.load_digits(standardize=False, flatten=False)
    assert raw.shape == (1438, 1, 8, 8) and raw.min() == 0.0 and raw.max() == 1.0


def test_digits_dataset_usages():
    train, test = ds.DigitsDataset("train"), ds.DigitsDataset("test")
    assert train.get_col_names() == ["image", "label"]
    assert train.get_dataset_size() == 1438 and test.get_dataset_size() == 359
    assert ds.DigitsDataset("all").get_dataset_size() == 1797
    image, label = next(iter(test.batch(8).create_tuple_iterator()))
    assert image.shape == (8, 64) and image.dtype == ms.float32 and label.dtype == ms.int32
    (_, _), (_, yte) = ds.load_digits()
    labels = np.concatenate([b[1] for b in test.batch(100).create_tuple_iterator(output_numpy=True)])
    assert np.array_equal(labels, yte)                               # the test split is not shuffled
    with pytest.raises(ValueError, match="usage must be one of"):
        ds.DigitsDataset("validation")


def test_zen_and_python_docs_corpora():
    zen = text.load_text("zen")
    assert zen.startswith("The Zen of Python, by Tim Peters") and "Beautiful is better than ugly." in zen
    docs = text.load_text("python_docs")
    assert len(docs) > 300_000 and "assert" in docs and "lambda" in docs
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'"):
        text.load_text("shakespeare")


def test_char_tokenizer_round_trip_and_unknown_characters():
    tok = text.CharTokenizer("hello world")
    assert tok.vocab == sorted(set("hello world")) and tok.vocab_size == 8
    ids = tok.encode("hold")
    assert ids.dtype == np.int32 and ids.tolist() == [tok.vocab.index(c) for c in "hold"]
    assert tok.decode(ids) == "hold" and tok.decode(ms.Tensor(ids)) == "hold"
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        tok.encode("zed")
    unk = text.CharTokenizer("abc", unk_token="?")
    assert unk.decode(unk.encode("abz")) == "ab?"


def test_char_corpus_dataset_windows_are_next_character_targets():
    train = ds.CharCorpusDataset("zen", seq_len=16, shuffle=False)
    valid = ds.CharCorpusDataset("zen", seq_len=16, usage="valid")
    tok = train.tokenizer
    assert train.get_col_names() == ["input_ids", "labels"]
    rows = list(train.create_tuple_iterator(output_numpy=True))
    x, y = rows[0]
    assert x.shape == (16,) and x.dtype == np.int32
    assert np.array_equal(x[1:], y[:-1])                          # labels are the inputs shifted by one
    zen = text.load_text("zen")
    assert tok.decode(x) == zen[:16] and tok.decode(rows[1][0]) == zen[16:32]
    assert train.get_dataset_size() + valid.get_dataset_size() <= len(zen) // 16
    batch = next(iter(ds.CharCorpusDataset("python_docs", seq_len=64).batch(32).create_tuple_iterator()))
    assert batch[0].shape == (32, 64) and batch[1].shape == (32, 64)
