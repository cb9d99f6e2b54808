"""Preprocessing: input scaling fitted on the training part only, splits, one-hot labels.

Scalers follow one rule: ``fit`` sees the training inputs only, ``transform`` is then
applied unchanged to train, validation and test inputs, so nothing about the test set
leaks into training.

* standardisation: ``x' = (x - mean) / std`` per feature (a constant feature, std 0,
  is only centred: its std is taken as 1);
* min-max scaling: ``x' = (x - min) / (max - min)`` per feature, into [0, 1] on the
  training data (a constant feature maps to 0).

Statistics are accumulated in float64 over chunks of rows, so a memory-mapped array is
read batch by batch rather than copied whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError, DataError, NotFittedError, UnknownNameError

#: rows per chunk when computing statistics over (possibly memory-mapped) arrays
CHUNK_ROWS = 8192


def _as_2d(X: Any) -> np.ndarray:
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
    if len(X) == 0:
        raise DataError("X has no samples")
    return X


class Standardizer:
    """Per-feature standardisation ``x' = (x - mean_) / scale_``, fitted on training data.

    Attributes:
        mean_: ``shape (n_features,)``; scale_: ``shape (n_features,)`` (std, 1 where std is 0).
    """

    name = "standard"

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: Any) -> "Standardizer":
        X = _as_2d(X)
        n = len(X)
        s = np.zeros(X.shape[1])
        for i in range(0, n, CHUNK_ROWS):
            s += X[i : i + CHUNK_ROWS].sum(axis=0, dtype=np.float64)
        mean = s / n
        ss = np.zeros(X.shape[1])
        for i in range(0, n, CHUNK_ROWS):  # two passes: no catastrophic cancellation
            ss += ((X[i : i + CHUNK_ROWS] - mean) ** 2).sum(axis=0)
        std = np.sqrt(ss / n)
        self.mean_, self.scale_ = mean, np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if self.mean_ is None:
            raise NotFittedError("call fit (on the training inputs) before transform")
        X = _as_2d(X)
        if X.shape[1] != len(self.mean_):
            raise DataError(f"X has {X.shape[1]} features, the scaler was fitted on {len(self.mean_)}")
        dtype = X.dtype if X.dtype.kind == "f" else np.float32
        # in X's float dtype: a float32 input stays float32 (no float64 copy of all of X)
        return ((X - self.mean_.astype(dtype)) / self.scale_.astype(dtype)).astype(dtype, copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        if self.mean_ is None:
            raise NotFittedError("call fit before inverse_transform")
        return np.asarray(X) * self.scale_ + self.mean_


class MinMaxScaler:
    """Per-feature ``x' = (x - min_) / range_`` into [0, 1] on the training data.

    Attributes:
        min_: ``shape (n_features,)``; range_: ``shape (n_features,)`` (1 where max == min).
    """

    name = "minmax"

    def __init__(self) -> None:
        self.min_: np.ndarray | None = None
        self.range_: np.ndarray | None = None

    def fit(self, X: Any) -> "MinMaxScaler":
        X = _as_2d(X)
        lo = np.full(X.shape[1], np.inf)
        hi = np.full(X.shape[1], -np.inf)
        for i in range(0, len(X), CHUNK_ROWS):
            chunk = X[i : i + CHUNK_ROWS]
            lo = np.minimum(lo, chunk.min(axis=0))
            hi = np.maximum(hi, chunk.max(axis=0))
        span = hi - lo
        self.min_, self.range_ = lo, np.where(span > 0, span, 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if self.min_ is None:
            raise NotFittedError("call fit (on the training inputs) before transform")
        X = _as_2d(X)
        if X.shape[1] != len(self.min_):
            raise DataError(f"X has {X.shape[1]} features, the scaler was fitted on {len(self.min_)}")
        dtype = X.dtype if X.dtype.kind == "f" else np.float32
        return ((X - self.min_.astype(dtype)) / self.range_.astype(dtype)).astype(dtype, copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        if self.min_ is None:
            raise NotFittedError("call fit before inverse_transform")
        return np.asarray(X) * self.range_ + self.min_


SCALERS = {"standard": Standardizer, "minmax": MinMaxScaler}


def get_scaler(name: str) -> Standardizer | MinMaxScaler | None:
    """A new scaler by name: ``standard``, ``minmax``, or ``none`` (returns None)."""
    key = str(name).strip().lower()
    if key == "none":
        return None
    if key not in SCALERS:
        raise UnknownNameError("scaler", name, [*SCALERS, "none"])
    return SCALERS[key]()


def split_indices(
    n_samples: int,
    test_size: float,
    rng: np.random.Generator,
    stratify: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (optionally stratified) split of ``range(n_samples)`` into two index sets.

    Stratified: every class is split in the same proportion (each class with at least
    two samples keeps at least one on each side), so class frequencies match.

    Args:
        test_size: fraction in (0, 1) of samples for the second set.
        rng: the generator that shuffles.
        stratify: class labels ``shape (n_samples,)``, or None for a plain random split.

    Returns:
        ``(first, second)`` sorted index arrays.
    """
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test/validation size must be a fraction in (0, 1), got {test_size}")
    if n_samples < 2:
        raise DataError(f"cannot split {n_samples} sample(s) into two parts")
    if stratify is None:
        perm = rng.permutation(n_samples)
        k = min(max(int(round(test_size * n_samples)), 1), n_samples - 1)
        return np.sort(perm[k:]), np.sort(perm[:k])
    y = np.asarray(stratify)
    if len(y) != n_samples:
        raise DataError(f"stratify labels have {len(y)} entries for {n_samples} samples")
    first, second = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        k = int(round(test_size * len(idx)))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        second.append(idx[:k])
        first.append(idx[k:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def train_test_split(
    X: Any,
    y: Any,
    test_size: float = 0.25,
    *,
    seed: int | np.random.Generator = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_test, y_train, y_test)``, seeded; stratified by ``y`` if ``stratify``.

    The same function gives a train/validation split: pass the training part.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise DataError(f"X has {len(X)} samples but y has {len(y)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tr, te = split_indices(len(X), test_size, rng, y if stratify else None)
    return X[tr], X[te], y[tr], y[te]


def one_hot(y: Any, n_classes: int | None = None, dtype: Any = np.float32) -> np.ndarray:
    """One-hot rows for integer labels ``0..n_classes-1``: ``shape (n_samples, n_classes)``.

    ``Y[i, y[i]] = 1``, all else 0. ``n_classes`` defaults to ``max(y) + 1``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"labels must be 1-D, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError("one-hot labels must be integers 0..n_classes-1")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise DataError(f"one-hot labels must be integers 0..n_classes-1, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise DataError(f"one-hot labels must be >= 0, got {int(y.min())}")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if len(y) and y.max() >= k:
        raise DataError(f"label {int(y.max())} does not fit {k} classes (labels are 0..{k - 1})")
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y
