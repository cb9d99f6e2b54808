"""The perceptron: threshold units trained by the perceptron learning rule.

Step and sign units have derivative 0 almost everywhere, so backpropagation cannot
train them; Rosenblatt's rule needs no derivative at all. For a sample ``x`` with
target ``t`` and output ``y = step(x . w + b)``:

    w <- w + lr * (t - y) * x
    b <- b + lr * (t - y)

(with sign units the targets are -1/+1 and the same rule applies). Nothing changes when
the output is right. If the classes are linearly separable the rule converges in a
finite number of updates (Novikoff, 1962); if they are not -- XOR -- it never stops
making mistakes. With more than two classes, one unit per class is trained by the
multi-class rule: on a mistake, ``w_true += lr x`` and ``w_predicted -= lr x``.

Reference: F. Rosenblatt, *The perceptron: a probabilistic model for information
storage and organization in the brain*, Psychological Review 65 (1958).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

from relunet.core.checks import check_labels
from relunet.errors import ConfigError, DataError, DivergenceError, FeatureCountError, NotFittedError, TargetTypeError


def linearly_separable(X: np.ndarray, y: np.ndarray) -> bool:
    """Exact test: is there (w, b) with ``(w . x_i + b) * s_i >= 1`` for every sample?

    ``s_i`` is +1 for samples of the second class (in sorted order) and -1 for the first. Solved as a linear
    programming feasibility problem (scipy's HiGHS), so the answer is a proof, not a guess.
    Two classes only.

    The columns are standardised first (``(x - mean) / std``): an invertible affine change of
    units that cannot change separability, but keeps the LP well scaled (features of size
    1e-12, or differing by 1e-3 around 1e6, needed |w| ~ 1e12 and HiGHS answered "infeasible").

    Raises:
        ConfigError: not two classes.
        DataError: the solver could not decide (neither a separating plane nor a proof of
            infeasibility).
    """
    X = np.asarray(X, dtype=np.float64)
    classes = np.unique(y)
    if len(classes) != 2:
        raise ConfigError("linear separability is tested for two classes")
    s = np.where(y == classes[1], 1.0, -1.0)
    peak = np.abs(X).max(axis=0) if len(X) else np.zeros(X.shape[1])
    Xs = X / np.where(peak > 0, peak, 1.0)  # first |x| <= 1: no overflow in the std (1e300)
    Xs = Xs - Xs.mean(axis=0)
    std = Xs.std(axis=0)
    Xs = Xs / np.where(std > 0, std, 1.0)  # a constant column becomes 0: it cannot separate
    A = np.hstack([Xs, np.ones((len(Xs), 1))]) * s[:, None]
    res = linprog(np.zeros(A.shape[1]), A_ub=-A, b_ub=-np.ones(len(Xs)),
                  bounds=[(None, None)] * A.shape[1], method="highs")
    if res.status == 0:
        return True
    if res.status == 2:  # proved infeasible
        return False
    raise DataError(f"linear separability could not be decided (linear programming: {res.message})")


@dataclass
class PerceptronResult:
    """What happened in training.

    Attributes:
        converged: an epoch passed with no mistake.
        epochs: epochs run.
        mistakes: number of misclassified samples per epoch.
        message: a plain-language summary (says when data are not linearly separable).
    """

    converged: bool
    epochs: int
    mistakes: list[int] = field(default_factory=list)
    message: str = ""


class Perceptron:
    """A single layer of step (or sign) units trained by the perceptron rule.

    Args:
        activation: ``"step"`` (outputs 0/1) or ``"sign"`` (outputs -1/+1), binary problems;
            with more than two classes one unit per class is used (argmax), whatever this is.
        lr: the learning rate of the rule (the scale of w does not change the decision for
            zero initial weights; it matters with random ones).
        seed: for the order of samples (shuffled each epoch when ``shuffle``) and initial weights.
    """

    def __init__(self, activation: str = "step", lr: float = 1.0, seed: int | None = 0,
                 shuffle: bool = True):
        if activation not in ("step", "sign"):
            raise ConfigError(f"a perceptron uses 'step' or 'sign' units, not {activation!r}")
        if (isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating))
                or not (math.isfinite(lr) and lr > 0)):
            # inf gave NaN weights (inf - inf) and a RuntimeWarning in the first matmul
            raise ConfigError(f"lr must be a finite number > 0, got {lr!r}")
        self.activation = activation
        self.lr = float(lr)
        self.seed = seed
        self.shuffle = shuffle
        self.W: np.ndarray | None = None  # shape (n_features, n_units)
        self.b: np.ndarray | None = None
        self.classes_: np.ndarray | None = None

    def _check_X(self, X: Any, width: bool = True) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"X must be numeric: {exc}") from None
        if X.ndim != 2:
            raise DataError(f"X must be 2-D, shape (n_samples, n_features); got {X.shape}")
        if not np.isfinite(X).all():
            raise DataError("X contains NaN or infinite values")
        if width and self.W is not None and X.shape[1] != self.W.shape[0]:
            raise FeatureCountError(f"X has {X.shape[1]} features but the perceptron takes {self.W.shape[0]}")
        return X

    @property
    def binary(self) -> bool:
        return self.classes_ is not None and len(self.classes_) == 2

    def _units(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.W + self.b
        if self.binary:
            return (z[:, 0] > 0).astype(int)  # 1 = second class; step(0) = 0, sign(0) -> -1 side
        return np.argmax(z, axis=1)

    def fit(self, X: Any, y: Any, epochs: int = 100) -> PerceptronResult:
        """Train until an epoch makes no mistake, or ``epochs`` run out."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ConfigError(f"epochs must be an integer >= 0, got {epochs!r}")
        X = self._check_X(X, width=False)  # a refit starts afresh: another width is fine
        y = np.asarray(y)
        if y.ndim != 1:
            raise DataError(f"y must be 1-D class labels, one per sample; got shape {y.shape}")
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} samples but y has {len(y)}")
        if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.all(y == np.round(y))):
            raise TargetTypeError("y holds non-integer or non-finite values: a perceptron classifies, "
                                  "it needs class labels (for regression use an MLP with output='identity')")
        try:
            self.classes_ = np.unique(y)
        except TypeError:
            raise TargetTypeError("y mixes labels of different types (e.g. numbers and strings)") from None
        if len(self.classes_) < 2:
            raise DataError("y holds a single class: nothing to separate")
        idx = np.searchsorted(self.classes_, y)
        n_units = 1 if self.binary else len(self.classes_)
        self.W = np.zeros((X.shape[1], n_units))
        self.b = np.zeros(n_units)
        rng = np.random.default_rng(self.seed)
        result = PerceptronResult(converged=False, epochs=0)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
            # an overflow (a huge lr) is reported once, below, naming lr: not as a warning
            with np.errstate(over="ignore", invalid="ignore"):
                mistakes = self._epoch(X, idx, order)
            self._check_weights(epoch, X)
            result.mistakes.append(mistakes)
            result.epochs = epoch
            if mistakes == 0:
                result.converged = True
                break
        result.message = self._message(result, X, y)
        return result

    def _epoch(self, X: np.ndarray, idx: np.ndarray, order: np.ndarray) -> int:
        """One pass of the rule over the samples in ``order``; returns the mistakes made."""
        mistakes = 0
        for i in order:
            x, t = X[i], idx[i]
            if self.binary:
                y_out = int(x @ self.W[:, 0] + self.b[0] > 0)
                if y_out != t:
                    # w += lr (t - y) x; with sign units t - y is +-2, same direction
                    err = (t - y_out) * (2 if self.activation == "sign" else 1)
                    self.W[:, 0] += self.lr * err * x
                    self.b[0] += self.lr * err
                    mistakes += 1
            else:
                pred = int(np.argmax(x @ self.W + self.b))
                if pred != t:
                    self.W[:, t] += self.lr * x
                    self.b[t] += self.lr
                    self.W[:, pred] -= self.lr * x
                    self.b[pred] -= self.lr
                    mistakes += 1
        return mistakes

    def _check_weights(self, epoch: int, X: np.ndarray) -> None:
        """Raise if the weights overflowed: with them inf or NaN every later decision is noise.

        Starting from zero weights, every weight is a sum of ``lr * x`` terms, so ``lr``
        only scales them and never changes a decision; a huge one only overflows.
        """
        if np.isfinite(self.W).all() and np.isfinite(self.b).all():
            return
        largest = float(np.abs(X).max()) if X.size else 0.0
        raise DivergenceError(
            f"the perceptron's weights overflowed to inf/NaN in epoch {epoch}: the learning rate "
            f"lr={self.lr:g} is too large for inputs up to {largest:.3g}. From zero weights the rule's "
            "decisions do not depend on lr (it only scales the weights): use lr=1 (--lr 1, the default)"
        )

    def _message(self, result: PerceptronResult, X: np.ndarray, y: np.ndarray) -> str:
        if result.converged:
            return (f"converged after {result.epochs} epochs: every training sample is classified "
                    "correctly (the classes are linearly separable)")
        if not result.mistakes:
            return "not trained (0 epochs): the weights are all zero"
        text = f"did not converge in {result.epochs} epochs ({result.mistakes[-1]} mistakes in the last). "
        if self.binary:
            try:
                separable = linearly_separable(X, y)
            except DataError:
                return text + ("Whether the classes are linearly separable could not be decided; "
                               "train for more epochs, or try a hidden layer.")
            if not separable:
                return text + (
                    "The data are NOT linearly separable (proved by linear programming): no line "
                    "(hyperplane) puts the two classes on different sides, so no single layer of "
                    "threshold units can represent them -- XOR is the classic case. A hidden layer "
                    "is needed: an MLP trained by backpropagation, e.g. on the same data "
                    "relunet train --model mlp --hidden 8 --activation leaky_relu --output sigmoid "
                    "(with your --data)."
                )
            return text + "The data are linearly separable: train for more epochs."
        return text + "The classes may not be linearly separable; a hidden layer may be needed."

    def predict(self, X: Any) -> np.ndarray:
        if self.W is None:
            raise NotFittedError("call fit before predict")
        return self.classes_[self._units(self._check_X(X))]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy on ``X``, labels ``y``.

        Raises:
            DataError: ``y`` of another length than ``X``.
            TargetTypeError: labels of another type than ``classes_`` or never seen in
                training, named (:func:`relunet.core.checks.check_labels`, as ``MLP.score``).
        """
        pred = self.predict(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(pred):
            raise DataError(f"X has {len(pred)} samples but y has {len(y) if y.ndim == 1 else f'shape {y.shape}'}")
        return float(np.mean(pred == check_labels(y, self.classes_)))
