"""Datasets: the built-in problems and the loader behind ``--data``.

``load(name)`` returns a :class:`Dataset` with a train/test split. Classification
targets are integer labels ``shape (n_samples,)``; regression targets are real
``shape (n_samples,)`` or ``(n_samples, n_outputs)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UnknownNameError


@dataclass
class Dataset:
    """A dataset split into train and test parts.

    Attributes:
        name: the dataset's name.
        X_train: ``shape (n_train, n_features)``; X_test: ``shape (n_test, n_features)``.
        y_train, y_test: labels (classification) or targets (regression).
        task: ``"classification"`` or ``"regression"``.
        description: one line about where the data comes from.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a network needs: classes (classification) or target columns."""
        if self.task == "classification":
            return int(len(np.unique(np.concatenate([self.y_train, self.y_test]))))
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])


def _xor(seed: int) -> Dataset:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    # The truth table is the whole problem: train and test are the same four patterns.
    return Dataset("xor", X, y, X.copy(), y.copy(), "classification", "XOR truth table")


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    Xtr, Xte, ytr, yte = train_test_split(
        X, d.target, test_size=0.25, random_state=seed, stratify=d.target
    )
    return Dataset("digits", Xtr, ytr, Xte, yte, "classification",
                   "scikit-learn's 1797 handwritten digits, 8x8 pixels scaled to [0, 1]")


LOADERS = {"xor": _xor, "digits": _digits}


def names() -> list[str]:
    return sorted(LOADERS)


def load(name: str, *, seed: int = 0, **options: Any) -> Dataset:
    """Load a dataset by name (see :func:`names`)."""
    key = name.strip().lower()
    if key not in LOADERS:
        raise UnknownNameError("dataset", name, LOADERS)
    return LOADERS[key](seed, **options)
