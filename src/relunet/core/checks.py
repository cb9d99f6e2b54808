"""Checks shared across the core: the catalogs' arguments (optimizers, schedules, ...),
writeable parameters, and class labels against a model's classes.

Each returns the checked value in its canonical type, or raises the specific
:mod:`relunet.errors` type naming the argument (or labels), what was expected and the value.
"""

from __future__ import annotations

import collections
import math
import numbers
from typing import Any

import numpy as np

from relunet.errors import ConfigError, TargetTypeError

__all__ = ["check_labels", "check_number", "check_writeable", "duplicates", "whole_numbers"]


def check_number(name: str, value: Any, *, low: float = 0.0, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float in the interval from ``low`` to ``high``.

    The interval is closed unless ``low_open``/``high_open``; an infinite ``high`` is
    always open (infinity is never a value), so the default is ``[0, inf)``.

    Raises:
        ConfigError: ``value`` is a bool, not a number, not finite, or outside the interval.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if not math.isfinite(x) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open or math.isinf(high) else "]"
        raise ConfigError(f"{name} must be a finite number in {lo}{low}, {high}{hi}, got {value!r}")
    return x


def check_writeable(params: Any) -> None:
    """Refuse a read-only parameter array (a model memory-mapped with ``mmap_mode="r"``, a
    frozen array) before an update touches any of them: a BLAS routine would write through
    its pointer (into a read-only memory map: a segmentation fault), and a refusal halfway
    through would leave some parameters updated and others not.

    Raises:
        ConfigError: naming the first read-only parameter (its index and shape).
    """
    for i, p in enumerate(params):
        if not p.flags.writeable:
            raise ConfigError(f"parameter {i} (shape {p.shape}) is read-only: the optimizer updates it in place")


def duplicates(names: Any) -> list[Any]:
    """The names that occur more than once in ``names``, sorted; in linear time (a header or a
    model file may name hundreds of thousands of columns: ``list.count`` per name took minutes)."""
    return sorted(n for n, k in collections.Counter(names).items() if k > 1)


#: the largest whole number float64 holds exactly (2**53): labels read as floats are integers up to it
EXACT_INT = 2**53


def whole_numbers(values: Any) -> bool:
    """True when every one of ``values`` (a float array) is a finite whole number of at most
    :data:`EXACT_INT` in magnitude, which ``astype(np.int64)`` keeps as it is.

    A label written ``1e300`` is whole too, but int64 cannot hold it: cast, it became
    -9223372036854775808 (with at most a RuntimeWarning), a silently different class.
    """
    v = np.asarray(values)
    return bool(np.all(np.isfinite(v)) and np.all(np.abs(v) <= EXACT_INT) and np.all(v == np.round(v)))


def check_labels(y: Any, classes: Any) -> np.ndarray:
    """``y`` as labels of the model's type, or an error naming what does not fit.

    Labels of another type (strings ``'0'``/``'1'`` for integer classes, or the other way
    round) and classes the model never saw are refused instead of counting as wrong.
    ``y`` is ``shape (n,)`` or a column ``(n, 1)`` (returned in its shape); other 2-D
    targets (one-hot rows, label matrices) are returned as they are.

    Raises:
        TargetTypeError: labels of another type, or unseen classes (named).
    """
    y, classes = _numbers_as_numbers(np.asarray(y)), _numbers_as_numbers(np.asarray(classes))
    if y.ndim == 2 and y.shape[1] == 1:  # a column of labels, shape (n, 1): checked as the labels they are
        return check_labels(y[:, 0], classes)[:, None]
    if y.ndim != 1:
        return y
    num = set("biuf")
    if (y.dtype.kind in num) != (classes.dtype.kind in num):
        got = "text" if y.dtype.kind not in num else _kind_name(y)
        want = _kind_name(classes) if classes.dtype.kind in num else "text"
        sample = sorted({str(v) for v in y.tolist()})[:5]
        raise TargetTypeError(f"the labels are {got} ({sample}) but the model's classes are {want} "
                              f"({classes.tolist()}); convert the labels to the model's type")
    if y.dtype.kind in num and classes.dtype.kind in "biu" and y.dtype.kind == "f":
        if whole_numbers(y):
            y = y.astype(np.int64)
    unseen = sorted(set(y.tolist()) - set(classes.tolist()), key=str)
    if unseen:
        raise TargetTypeError(f"label(s) {unseen[:10]} were never seen in training; the model's classes "
                              f"are {classes.tolist()}")
    return y


def _kind_name(a: np.ndarray) -> str:
    """What numeric labels ``a`` are, in words: booleans (``True``/``False``) or numbers."""
    return "booleans" if a.dtype.kind == "b" else "numbers"


def _numbers_as_numbers(a: np.ndarray) -> np.ndarray:
    """An object array whose items are all real numbers (``np.array([0, 1], dtype=object)``,
    a pandas column of dtype object) as the numeric array of those numbers; other arrays as
    they are. Labels are numbers or text by their values, not by their container."""
    if a.dtype.kind != "O" or a.size == 0:
        return a
    items = a.ravel().tolist()
    if all(isinstance(v, (numbers.Real, np.bool_)) for v in items):
        return np.asarray(items).reshape(a.shape)
    return a
