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

from collections.abc import Callable
from typing import Any

import numpy as np

from relunet.core.contract import DataContract, affine_operands, fill_nan
from relunet.core.registry import Registry
from relunet.errors import ConfigError, DataError, NotFittedError

#: rows per chunk when computing statistics over (possibly memory-mapped) arrays
CHUNK_ROWS = 8192


def _as_2d(X: Any) -> np.ndarray:
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:  # e.g. ragged rows
            raise DataError(f"X must be a 2-D array of numbers, one row per sample: {exc}") from None
    if X.dtype.kind == "c":
        raise DataError("X holds complex numbers; scaling takes real-valued features")
    if X.dtype.kind not in "biuf":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"X must be numeric: {exc}") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
    if len(X) == 0:
        raise DataError("X has no samples")
    return X


def _check_finite(chunk: np.ndarray, start: int) -> None:
    """DataError naming the first NaN/inf of a chunk of rows starting at row ``start``."""
    if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
        r, c = np.argwhere(~np.isfinite(chunk))[0]
        raise DataError(
            f"X contains NaN or infinite values (first at row {start + r}, column {c}); "
            "clean or impute them before fitting a scaler"
        )


def _check_features(X: np.ndarray, n: int, what: str) -> None:
    if X.shape[1] != n:
        raise DataError(f"X has {X.shape[1]} features, the scaler was fitted on {n}")


def _out_dtype(X: np.ndarray) -> np.dtype:
    """Float inputs keep their dtype (float32 stays float32); others become float32."""
    return X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)


class _AffineScaler:
    """A per-feature ``x' = (x - offset) / scale`` fitted on training data: the transform
    both scalers share; each subclass's ``fit`` sets the pair ``_fitted()`` returns."""

    def _fitted(self) -> tuple[np.ndarray, np.ndarray] | None:
        raise NotImplementedError

    def _inputs(self, X: Any, what: str, hint: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
        """``(X, offset, scale, dtype)`` for ``transform``/``inverse_transform``: checked, and
        in X's float dtype unless the fitted numbers do not fit in it
        (:func:`relunet.core.contract.affine_operands`)."""
        fitted = self._fitted()
        if fitted is None:
            raise NotFittedError(f"call fit{hint} before {what}")
        X = _as_2d(X)
        _check_features(X, len(fitted[0]), what)
        dtype = _out_dtype(X)
        return (*affine_operands(X, fitted[0], fitted[1], dtype), dtype)

    def transform(self, X: Any) -> np.ndarray:
        X, offset, scale, dtype = self._inputs(X, "transform", " (on the training inputs)")
        return ((X - offset) / scale).astype(dtype, copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)  # type: ignore[attr-defined]

    def inverse_transform(self, X: Any) -> np.ndarray:
        X, offset, scale, dtype = self._inputs(X, "inverse_transform", "")
        return (X * scale + offset).astype(dtype, copy=False)


class Standardizer(_AffineScaler):
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
        # sums of x / p with p a power of 2 near max |x| (exact scaling), so that features
        # as large as 1e300 neither overflow the sum nor the sum of squares
        amax = np.zeros(X.shape[1])
        for i in range(0, n, CHUNK_ROWS):
            chunk = X[i : i + CHUNK_ROWS]
            _check_finite(chunk, i)
            amax = np.maximum(amax, np.abs(chunk).max(axis=0).astype(np.float64))
        p = np.ones(X.shape[1])
        big = amax > 1.0
        p[big] = np.exp2(np.ceil(np.log2(amax[big])))
        s = np.zeros(X.shape[1])
        for i in range(0, n, CHUNK_ROWS):
            s += (X[i : i + CHUNK_ROWS] / p).sum(axis=0, dtype=np.float64)
        mean = s / n
        ss = np.zeros(X.shape[1])
        for i in range(0, n, CHUNK_ROWS):  # two passes: no catastrophic cancellation
            ss += ((X[i : i + CHUNK_ROWS] / p - mean) ** 2).sum(axis=0)
        std = np.sqrt(ss / n) * p
        mean = mean * p
        self.mean_, self.scale_ = mean, np.where(std > 0, std, 1.0)
        return self

    def _fitted(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.mean_ is None else (self.mean_, self.scale_)


class MinMaxScaler(_AffineScaler):
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
            _check_finite(chunk, i)
            lo = np.minimum(lo, chunk.min(axis=0))
            hi = np.maximum(hi, chunk.max(axis=0))
        with np.errstate(over="ignore"):
            span = hi - lo
        if not np.isfinite(span).all():
            j = int(np.flatnonzero(~np.isfinite(span))[0])
            raise DataError(
                f"feature {j} spans [{lo[j]:.3g}, {hi[j]:.3g}], a range beyond float64; "
                "use the standard scaler or rescale it first"
            )
        self.min_, self.range_ = lo, np.where(span > 0, span, 1.0)
        return self

    def _fitted(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.min_ is None else (self.min_, self.range_)


SCALERS = {"standard": Standardizer, "minmax": MinMaxScaler}


def _no_scaler() -> None:
    """``none``: the data is used as it is."""
    return None


#: the scalers' name table (:class:`relunet.core.registry.Registry`), ``none`` included
REGISTRY: Registry[Callable[[], Standardizer | MinMaxScaler | None]] = Registry(
    "scaler", {**SCALERS, "none": _no_scaler})


def get_scaler(name: str | None) -> Standardizer | MinMaxScaler | None:
    """A new scaler by name: ``standard``, ``minmax``, or ``none`` (or None: returns None).

    Raises:
        UnknownNameError: for another name (the message lists the known ones).
    """
    return REGISTRY.get("none" if name is None else name)


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
    a, b = np.concatenate(first), np.concatenate(second)
    # classes of one sample each can leave a side empty (2 singletons at 0.25: no test set);
    # both parts must hold a sample, as in the unstratified split
    if len(b) == 0:
        j = int(rng.integers(len(a)))
        a, b = np.delete(a, j), a[j : j + 1]
    elif len(a) == 0:
        j = int(rng.integers(len(b)))
        a, b = b[j : j + 1], np.delete(b, j)
    return np.sort(a), np.sort(b)


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
    k = (int(y.max()) + 1 if len(y) else 0) if n_classes is None else int(n_classes)
    if len(y) and y.max() >= k:
        raise DataError(f"label {int(y.max())} does not fit {k} classes (labels are 0..{k - 1})")
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def fit_contract(X: Any, *, scale: str = "standard", features: Any = None, target: str | None = None,
                 task: str | None = None, impute: str | None = None, **fields: Any) -> DataContract:
    """A :class:`~relunet.core.contract.DataContract` whose transform is fitted on ``X``.

    Attach it to a network (``net.contract = c``) and ``fit``, ``predict`` and ``score``
    take raw inputs: ``scale`` (``standard``, ``minmax`` or ``none``) is applied with the
    statistics of ``X``, and a table (a pandas DataFrame, anything with ``columns``) is
    matched by column name. ``impute`` (``mean`` or ``median``) fills NaN inputs with that
    statistic of each column of ``X`` (the scaling is fitted on the filled ``X``).

    Example:
        >>> c = fit_contract(X_train, scale="standard", features=["a", "b"])   # doctest: +SKIP
        >>> net.contract = c; net.fit(X_train, y_train); net.predict(X_raw)    # doctest: +SKIP
    """
    cols = getattr(X, "columns", None)
    if features is None and cols is not None and not isinstance(X, np.ndarray):
        features = [str(c) for c in list(cols)]
    arr = _as_2d(X)
    if impute is not None:
        fields.update(impute=impute, fill=fit_fill(arr, impute, None if features is None else list(features)))
        arr = fill_nan(arr, fields["fill"])
    scaler = get_scaler(scale)
    if scaler is not None:
        scaler.fit(arr)
    dtype = arr.dtype.name if arr.dtype.kind == "f" else "float32"
    return DataContract.from_scaler(scaler, features=None if features is None else [str(f) for f in features],
                                    target=target, task=task, dtype=dtype, **fields)


# -- missing values ---------------------------------------------------------------------

#: how missing values may be filled (``impute=``, ``--impute``)
IMPUTE = ("mean", "median")


def fit_fill(X: np.ndarray, how: str, names: list[str] | None = None) -> np.ndarray:
    """The fill value of each column of the training inputs ``X`` (NaN where missing): its
    mean or median over the values present, float64 ``shape (n_features,)``.

    Raises:
        ConfigError: an unknown ``how``.
        DataError: a column with no value at all in the training part (named).
    """
    if how not in IMPUTE:
        raise ConfigError(f"impute must be one of {', '.join(IMPUTE)}, got {how!r}")
    X = np.asarray(X, dtype=np.float64)
    present = ~np.isnan(X)
    empty = np.flatnonzero(~present.any(axis=0))
    if empty.size:
        col = names[empty[0]] if names is not None else str(empty[0])
        raise DataError(f"column {col!r} has no value in the training part: nothing to fill it with")
    if how == "mean":
        return np.where(present, X, 0.0).sum(axis=0) / present.sum(axis=0)
    return np.array([np.median(X[present[:, j], j]) for j in range(X.shape[1])])

