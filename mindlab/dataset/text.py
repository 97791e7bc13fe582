"""Text for language-model experiments, offline: a bundled corpus and a character-level tokenizer.

Corpora (``load_text(name)``), both shipped inside CPython's standard library, so they need no download and no
extra package:

* ``"python_docs"`` (default): the Python language reference and library topics that ``help()`` shows
  (``pydoc_data.topics``), about 465,000 characters of English technical prose with code, ~100 distinct
  characters. Big enough to train a small character-level model on, and its licence (PSF) allows redistribution.
  The exact text follows the running Python version.
* ``"zen"``: the Zen of Python (the ``this`` module, about 850 characters), a tiny corpus for smoke tests.

(scikit-learn ships no text, and nltk's corpora are downloads.)

>>> from mindlab.dataset import text
>>> corpus = text.load_text("python_docs")
>>> tok = text.CharTokenizer(corpus)
>>> ids = tok.encode("def f(x):")        # int32 ids
>>> tok.decode(ids)
'def f(x):'
"""
import contextlib
import io

import numpy as np

__all__ = ["CORPORA", "load_text", "CharTokenizer"]

CORPORA = ("python_docs", "zen")


def _python_docs():
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def _zen():
    # importing `this` prints the Zen on first import; keep stdout clean
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return "".join(this.d.get(c, c) for c in this.s) + "\n"


def load_text(name="python_docs"):
    """The text of a bundled corpus (see the module doc): ``"python_docs"`` or ``"zen"``."""
    if name == "python_docs":
        return _python_docs()
    if name == "zen":
        return _zen()
    raise ValueError(f"load_text: unknown corpus {name!r}; available: {list(CORPORA)}")


class CharTokenizer:
    """Characters <-> integer ids. ``CharTokenizer(text)`` builds the vocabulary from the distinct characters of
    ``text`` (sorted, so it is stable); ``CharTokenizer(vocab=[...])`` takes it as given.

    ``unk_token``: a character to map unknown characters to (added to the vocabulary if needed); without it an
    unknown character raises ValueError. Usable as a ``Dataset.map`` operation: ``tok(str) -> int32 ids``.
    """

    def __init__(self, text=None, vocab=None, unk_token=None):
        if (text is None) == (vocab is None):
            raise ValueError("CharTokenizer: give either text (to build the vocabulary from) or vocab")
        chars = sorted(set(text)) if vocab is None else list(vocab)
        if not all(isinstance(c, str) and len(c) == 1 for c in chars) or len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the vocabulary must be distinct single characters")
        if unk_token is not None:
            if not isinstance(unk_token, str) or len(unk_token) != 1:
                raise ValueError(f"CharTokenizer: unk_token must be one character, got {unk_token!r}")
            if unk_token not in chars:
                chars.append(unk_token)
        self.vocab = chars
        self.unk_token = unk_token
        self._index = {c: i for i, c in enumerate(chars)}
        self._unk_id = None if unk_token is None else self._index[unk_token]
        self._chars = np.array(chars)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text):
        """int32 ids of the characters of ``text``."""
        index, unk = self._index, self._unk_id
        try:
            ids = [index[c] for c in text] if unk is None else [index.get(c, unk) for c in text]
        except KeyError as e:
            raise ValueError(f"CharTokenizer.encode: character {e.args[0]!r} is not in the vocabulary of "
                             f"{self.vocab_size} characters (pass unk_token to map unknown characters)") from None
        return np.array(ids, dtype=np.int32)

    def decode(self, ids):
        """The text of a sequence of ids (a list, numpy array or Tensor)."""
        ids = np.asarray(ids.asnumpy() if hasattr(ids, "asnumpy") else ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"CharTokenizer.decode: ids must be in [0, {self.vocab_size}), got values in "
                             f"[{ids.min()}, {ids.max()}]")
        return "".join(self._chars[ids.reshape(-1)].tolist())

    def __call__(self, text):
        return self.encode(str(np.asarray(text).item()) if not isinstance(text, str) else text)

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"
