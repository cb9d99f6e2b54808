"""The data contract: what a model expects of its inputs, kept with the model.

A :class:`DataContract` records how the training data became the network's inputs, so
that the model can be given raw data later and treat it exactly as in training:

* the fitted input transform: ``standard`` (``x' = (x - mean) / std``), ``minmax``
  (``x' = (x - min) / (max - min)``) or ``none``, with its statistics from the training
  part only (see :mod:`relunet.data.preprocessing`);
* the feature names and their order (a table is matched by name, in any order), the
  target column's name, the task;
* the dataset and split it was trained on: the dataset's name or path, the split seed and
  the test fraction, so that ``relunet predict`` / ``diagnose`` evaluate on the same test
  part; for the built-in image sets, the loader's fixed pixel scaling (``pixels``: the
  divisor, 16 for digits, 255 for MNIST and Fashion-MNIST).

Pixels: the loaders give the image sets scaled to [0, 1]; users often hold the raw values
(0..255 for MNIST, 0..16 for scikit-learn's ``load_digits``). A model with ``pixels`` takes
either, decided per row (image): a row whose largest value exceeds 1 holds raw pixels and is
divided by ``pixels``; a row within [0, 1] is taken as already scaled. Values outside
[0, pixels] are refused, naming the row. (A raw image whose pixels are all 0 or 1 reads as
scaled: such an image is black to the eye either way.)

Missing values: a table trained with ``impute`` (``"mean"`` or ``"median"``) has its missing
numeric cells filled with that statistic of each column's training part (``fill``, one per
network input); the model fills NaN inputs with the same values later. Without ``impute`` a
missing value is an error naming its column and line.

The class labels and their type are the model's ``classes_``;
:func:`relunet.core.checks.check_labels` (used by ``MLP.score`` with or without a contract, and
by ``relunet predict``) refuses labels of another type and classes the model never saw, naming them.

``MLP`` applies an attached contract (``net.contract``) in ``fit``, ``predict``,
``predict_proba`` and ``score``; the model file stores it (:mod:`relunet.io.modelfile`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from relunet.core.checks import duplicates
from relunet.errors import ColumnMismatchError, DataError, FeatureCountError

#: the pixel divisor each built-in image set's loader applies (raw value / divisor -> [0, 1])
PIXEL_DIVISORS = {"digits": 16.0, "mnist": 255.0, "fashion-mnist": 255.0}


@dataclass
class DataContract:
    """How raw inputs become the network's inputs, and what data the model was trained on.

    Attributes:
        scale: ``"none"``, ``"standard"`` or ``"minmax"``.
        offset, divisor: the fitted transform ``x' = (x - offset) / divisor``, float64
            ``shape (n_features,)`` (None for ``scale="none"``).
        features: the feature names in the network's input order (None: unnamed).
        target: the target column's name (None: not from a named column); for a model
            trained on a ``.npy`` of X, the targets' ``.npy`` file (absolute path).
        task: ``"classification"`` or ``"regression"``.
        dtype: the dtype of the training inputs the transform was applied to.
        dataset: the built-in dataset's name or the data file's path.
        seed, test_size: the train/test split (None where the dataset has a fixed one).
        pixels: the loader's pixel divisor for the built-in image sets (None otherwise).
        target_offset, target_divisor: a regression target standardised for training,
            ``t' = (t - offset) / divisor``; predictions are mapped back (None: raw target).
        columns, categories: for a table with text (categorical) columns, its feature
            columns in order and each text column's categories; ``features`` then names the
            one-hot inputs ``COLUMN=CATEGORY`` (see :mod:`relunet.data.tables`).
        impute, fill: how missing values were filled (``"mean"``, ``"median"`` or None) and
            the fill value of each input, float64 ``shape (n_features,)``, from the training part.
    """

    scale: str = "none"
    offset: np.ndarray | None = None
    divisor: np.ndarray | None = None
    features: list[str] | None = None
    target: str | None = None
    task: str | None = None
    dtype: str = "float32"
    dataset: str | None = None
    seed: int | None = None
    test_size: float | None = None
    pixels: float | None = None
    target_offset: float | None = None
    target_divisor: float | None = None
    columns: list[str] | None = None
    categories: dict[str, list[str]] | None = None
    impute: str | None = None
    fill: np.ndarray | None = None

    # -- building ------------------------------------------------------------
    @classmethod
    def from_scaler(cls, scaler: Any, **fields: Any) -> "DataContract":
        """A contract around a fitted scaler of :mod:`relunet.data.preprocessing` (or None):
        ``Standardizer`` (``mean_``, ``scale_``) or ``MinMaxScaler`` (``min_``, ``range_``)."""
        if scaler is None:
            return cls(scale="none", **fields)
        name = getattr(scaler, "name", None)
        if name == "standard":
            offset, divisor = scaler.mean_, scaler.scale_
        elif name == "minmax":
            offset, divisor = scaler.min_, scaler.range_
        else:
            raise DataError(f"a contract takes a standard or minmax scaler, not {type(scaler).__name__}")
        if offset is None:
            raise DataError("the scaler is not fitted")
        return cls(scale=name, offset=np.asarray(offset, np.float64),
                   divisor=np.asarray(divisor, np.float64), **fields)

    @property
    def n_features(self) -> int | None:
        if self.offset is not None:
            return len(self.offset)
        return None if self.features is None else len(self.features)

    def known_columns(self) -> set[str]:
        """Every column name the model knows of a table: its features, its raw columns (a
        table with categories) and its target (what tells a header row from data)."""
        return {*(self.features or []), *(self.columns or []), *([self.target] if self.target is not None else [])}

    # -- applying --------------------------------------------------------------
    def select(self, X: Any) -> Any:
        """``X`` with its columns in the model's order when it is a table (``columns``):
        matched by name, extra columns ignored with a warning, missing ones an error."""
        names = _column_names(X)
        if names is None or self.features is None:
            return X
        if self.categories and any(c in names for c in self.categories):
            raise DataError(f"the model one-hot encodes the text column(s) {list(self.categories)}: give it the "
                            f"encoded inputs {self.features} (or the raw table to relunet predict)")
        order = match_columns(names, self.features)
        return np.asarray(X)[:, order] if order != list(range(len(names))) else np.asarray(X)

    def scale_pixels(self, X: Any, path: str | None = None, lines: list[int] | None = None) -> Any:
        """Raw pixel rows divided by ``pixels`` (see the module's note); rows in [0, 1] and
        models without ``pixels`` unchanged.

        ``x' = x / pixels`` for each row with ``max(x) > 1``, else ``x' = x``.

        Raises:
            DataError: a value below 0 or above ``pixels`` (the row and value named; for rows
                read from a file, ``path`` and the file's line of each row, ``lines``).
        """
        if self.pixels is None:
            return X
        arr = _as_numbers(np.asarray(X))
        if arr.ndim != 2 or arr.dtype.kind not in "biuf" or arr.size == 0:
            return arr  # the network's own checks name what is wrong with it
        finite = np.where(np.isfinite(arr), arr, 0) if arr.dtype.kind == "f" else arr
        low, high = finite.min(axis=1), finite.max(axis=1)
        bad = np.flatnonzero((low < 0) | (high > self.pixels))
        if bad.size:
            r = int(bad[0])
            v = low[r] if low[r] < 0 else high[r]
            where = f"row {r}" if lines is None else f"{path}: line {lines[r]}"
            raise DataError(f"{where} has the pixel value {v:g}; the model takes pixels in [0, {self.pixels:g}] "
                            f"(raw) or in [0, 1] (scaled)")
        raw = high > 1
        if not raw.any():
            return arr
        dtype = np.dtype(self.dtype)
        out = arr.astype(dtype, copy=True)
        out[raw] /= dtype.type(self.pixels)
        return out

    def fill_missing(self, X: Any) -> Any:
        """``X`` with each NaN replaced by its column's ``fill`` value (unchanged without
        ``fill``, or when nothing is missing)."""
        if self.fill is None:
            return X
        arr = _as_numbers(np.asarray(X))  # a None among numbers is missing too
        if arr.dtype.kind != "f" or arr.ndim != 2 or arr.shape[1] != len(self.fill):
            return arr  # nothing can be missing, or the shape check names what is wrong
        return fill_nan(arr, self.fill)

    def transform(self, X: Any) -> np.ndarray:
        """Raw inputs (array or table) -> the network's inputs, as in training: columns in
        the model's order, raw pixels scaled, missing values filled, then the fitted transform."""
        X = self.fill_missing(self.scale_pixels(self.select(X)))
        if self.scale == "none" or self.offset is None or self.divisor is None:
            return X if isinstance(X, np.ndarray) else np.asarray(X)
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise DataError(f"X must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 1 and len(self.offset) == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != len(self.offset):
            raise FeatureCountError(f"X has shape {arr.shape}; the model takes {len(self.offset)} features")
        dtype = np.dtype(self.dtype)  # the dtype the statistics were applied to in training
        # as preprocessing's scalers compute it: the statistics in X's dtype, then (x - o) / d
        arr, offset, divisor = affine_operands(arr.astype(dtype, copy=False), self.offset, self.divisor, dtype)
        return ((arr - offset) / divisor).astype(dtype, copy=False)

    def transform_target(self, y: Any) -> Any:
        """A regression target in the network's units (unchanged without target scaling)."""
        if self.target_offset is None or self.target_divisor is None:
            return y
        return (np.asarray(y, dtype=np.float64) - self.target_offset) / self.target_divisor

    def inverse_target(self, out: np.ndarray) -> np.ndarray:
        """Regression outputs back in the target's units (unchanged without target scaling)."""
        if self.target_offset is None or self.target_divisor is None:
            return out
        return (out * out.dtype.type(self.target_divisor) + out.dtype.type(self.target_offset)).astype(out.dtype)

    # -- files -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (floats as numbers: JSON round-trips float64 exactly)."""
        return {
            "scale": self.scale,
            "offset": None if self.offset is None else [float(v) for v in self.offset],
            "divisor": None if self.divisor is None else [float(v) for v in self.divisor],
            "features": self.features, "target": self.target, "task": self.task, "dtype": self.dtype,
            "dataset": self.dataset, "seed": self.seed, "test_size": self.test_size, "pixels": self.pixels,
            "target_offset": self.target_offset, "target_divisor": self.target_divisor,
            "columns": self.columns, "categories": self.categories,
            "impute": self.impute, "fill": None if self.fill is None else [float(v) for v in self.fill],
        }

    @classmethod
    def from_dict(cls, d: Any, n_features: int) -> "DataContract":
        """Rebuild (and check) a contract read from a file for a network of ``n_features`` inputs.

        Raises:
            ValueError: naming the field that is missing, of the wrong type or size.
        """
        if not isinstance(d, dict):
            raise ValueError("the data contract is not a JSON object")
        scale = d.get("scale")
        if scale not in ("none", "standard", "minmax"):
            raise ValueError(f"unknown scale {scale!r}")
        offset, divisor = (None, None) if scale == "none" else (
            _stat_array(d.get("offset"), "offset", n_features), _stat_array(d.get("divisor"), "divisor", n_features))
        features = d.get("features")
        if features is not None and (not isinstance(features, list) or len(features) != n_features
                                     or not all(isinstance(f, str) for f in features)):
            raise ValueError(f"features must be a list of {n_features} names")
        for key in ("target", "task", "dataset"):
            if d.get(key) is not None and not isinstance(d.get(key), str):
                raise ValueError(f"{key} must be a string or null")
        if d.get("dtype") not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {d.get('dtype')!r}")
        seed = d.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or null, got {seed!r}")
        for key, ok in (("test_size", lambda v: 0 < v < 1), ("pixels", lambda v: 1 <= v < np.inf),
                        ("target_offset", np.isfinite), ("target_divisor", lambda v: 0 < v < np.inf)):
            v = d.get(key)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not ok(v)):
                raise ValueError(f"bad {key} {v!r}")
        columns, categories = _check_categories(d.get("columns"), d.get("categories"), features)
        impute = d.get("impute")
        if impute not in (None, "mean", "median"):
            raise ValueError(f"unknown impute {impute!r}")
        fill = None if impute is None else _stat_array(d.get("fill"), "fill", n_features)
        return cls(impute=impute, fill=fill, columns=columns, categories=categories, scale=scale, offset=offset, divisor=divisor,
                   features=features, target=d.get("target"),
                   task=d.get("task"), dtype=d["dtype"], dataset=d.get("dataset"), seed=seed,
                   test_size=d.get("test_size"), target_offset=d.get("target_offset"),
                   # a file from before the pixel rule: its image set's loader scaled the pixels
                   pixels=d["pixels"] if "pixels" in d else PIXEL_DIVISORS.get(str(d.get("dataset"))),
                   target_divisor=d.get("target_divisor"))

    def describe(self) -> str:
        """One line: scaling, features, target, dataset and split."""
        parts = [f"scaling {self.scale}"]
        if self.impute is not None:
            parts.append(f"missing values filled with the training {self.impute}")
        if self.pixels is not None:
            parts.append(f"raw pixels (0..{self.pixels:g}) divided by {self.pixels:g}")
        if self.categories:
            parts.append(f"categorical {', '.join(self.categories)} one-hot")
        if self.features is not None:
            shown = ", ".join(self.features[:6]) + (", ..." if len(self.features) > 6 else "")
            parts.append(f"{len(self.features)} features ({shown})")
        if self.target is not None:
            parts.append(f"target {self.target!r}" + (" (standardised)" if self.target_divisor else ""))
        if self.dataset is not None:
            split = f", split seed {self.seed}" if self.seed is not None else ""
            split += f", test fraction {self.test_size}" if self.test_size is not None else ""
            parts.append(f"trained on {self.dataset}{split}")
        return "; ".join(parts)


def affine_operands(X: np.ndarray, offset: np.ndarray, divisor: np.ndarray,
                    dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, offset, divisor)`` for a fitted per-feature ``(x - offset) / divisor``: the
    statistics in ``dtype`` (a float32 X stays float32: no float64 copy of all of it),
    unless they do not fit in it: a std of 1e-46 is 0 in float32 (a division by zero: NaN
    and inf) and a range of 6e38 is inf; then X and the statistics are float64 and only
    the result is cast to ``dtype``."""
    if fits_dtype(offset, dtype) and fits_dtype(divisor, dtype, nonzero=True):
        return X, offset.astype(dtype), divisor.astype(dtype)
    return X.astype(np.float64), offset.astype(np.float64), divisor.astype(np.float64)


def fits_dtype(value: Any, dtype: Any, *, nonzero: bool = False) -> bool:
    """Whether ``value`` (numbers, read as float64) stays finite in ``dtype``, and non-zero
    where ``nonzero`` (a divisor): 1e39 is inf in float32, and 1e-46 is 0."""
    with np.errstate(over="ignore", under="ignore"):
        arr = np.asarray(value, dtype=np.float64).astype(dtype)
    return bool(np.isfinite(arr).all() and (not nonzero or (arr != 0).all()))


def fill_nan(X: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``X`` (float, ``shape (n, k)``) with each NaN replaced by its column's ``fill`` value
    (``shape (k,)``, cast to ``X``'s dtype); ``X`` itself when nothing is missing."""
    missing = np.isnan(X)
    if not missing.any():
        return X
    out = X.copy()
    out[missing] = np.broadcast_to(fill.astype(X.dtype), X.shape)[missing]
    return out


def _as_numbers(arr: np.ndarray) -> np.ndarray:
    """``arr`` as float64 when it holds numbers as text or objects (``None`` becomes NaN), as
    the network would read them; otherwise (or when it cannot be read) unchanged, for the
    network's own checks to name what is wrong with it."""
    if arr.dtype.kind not in "OUS":
        return arr
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        return arr


def _check_categories(columns: Any, categories: Any, features: Any) -> tuple[Any, Any]:
    """Stored ``columns`` and ``categories``: both null, or names and lists of text that
    expand to exactly the ``features``."""
    if columns is None and categories is None:
        return None, None
    if (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
            or not isinstance(categories, dict)
            or not all(isinstance(k, str) and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
                       for k, v in categories.items())):
        raise ValueError("columns must be a list of names and categories an object of lists of text")
    expanded = []
    for c in columns:
        expanded += [f"{c}={v}" for v in categories[c]] if c in categories else [c]
    if features != expanded:
        raise ValueError("the categories do not expand to the feature names")
    return columns, categories


def _stat_array(v: Any, key: str, n: int) -> np.ndarray:
    """A stored statistic: ``n`` finite numbers (a divisor also > 0), as float64."""
    if not isinstance(v, list) or len(v) != n or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise ValueError(f"{key} must be a list of {n} numbers")
    arr = np.asarray(v, dtype=np.float64)
    if not np.isfinite(arr).all() or (key == "divisor" and not (arr > 0).all()):
        raise ValueError(f"{key} holds non-finite{' or non-positive' if key == 'divisor' else ''} values")
    return arr


def _column_names(X: Any) -> list[str] | None:
    """The column names of a table (a pandas DataFrame or anything with ``columns``)."""
    cols = getattr(X, "columns", None)
    if cols is None or isinstance(X, np.ndarray):
        return None
    return [str(c) for c in list(cols)]


def column_order(names: list[str], features: list[str], where: str = "the data") -> tuple[list[int], list[str]]:
    """``(positions, extra)``: the position in ``names`` of each of ``features`` (the model's
    order), and the columns of ``names`` that are not features.

    Raises:
        ColumnMismatchError: naming the missing columns (and the extra ones: renamed?), or
            columns whose names appear twice.
    """
    stripped = [str(n).strip() for n in names]
    duplicated = duplicates(stripped)
    if duplicated:  # which of two same-named columns is the feature? neither, silently
        raise ColumnMismatchError(f"{where} has duplicate column names {duplicated}; "
                                  "give each column a distinct name")
    have, known = set(stripped), set(features)  # membership in sets: a table may be wide
    missing = [f for f in features if f not in have]
    extra = [n for n in stripped if n not in known]
    if missing:
        also = f"; it has columns the model does not know: {extra} (renamed?)" if extra else ""
        raise ColumnMismatchError(f"{where} lacks the model's feature column(s) {missing}{also}; "
                                  f"the model takes {features}")
    return [stripped.index(f) for f in features], extra


def match_columns(names: list[str], features: list[str], where: str = "the data") -> list[int]:
    """:func:`column_order`'s positions; extra columns are ignored with a warning."""
    order, extra = column_order(names, features, where)
    if extra:
        warnings.warn(f"{where}: column(s) {extra} are not features of the model and are ignored",
                      stacklevel=3)
    return order
