"""What the training engine needs from a network (:class:`Trainable`).

:class:`relunet.core.network.MLP` satisfies it; the engine, the minimizers, the
checkpoints and the callbacks are written against this protocol, not against the class,
so a network is anything that offers these members (structural typing, checked by a type
checker, not at run time).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["Augment", "Differentiable", "Trainable"]


class Augment(Protocol):
    """A random transform of a training batch (``fit(augment=...)``): called with the
    gathered rows ``shape (B, n_features)`` and the network's generator, it returns a new
    array of the same shape and dtype and leaves its argument untouched."""

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


class Differentiable(Protocol):
    """What the full-batch minimizers need: the loss and its gradient as functions of one
    flat parameter vector (:func:`relunet.training.minimizers.minimize`)."""

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def n_features(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    def flat_parameters(self) -> np.ndarray:
        """All parameters as one float64 vector (a copy)."""
        ...

    def set_flat_parameters(self, theta: np.ndarray) -> None: ...

    def flat_gradients(self) -> np.ndarray: ...

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray) -> float:
        """The loss on ``(X, Y)`` with the gradients of one backward pass (no step)."""
        ...


class Trainable(Differentiable, Protocol):
    """A network the engine can train.

    Attributes:
        rng: the seeded generator that shuffles the samples and draws the validation split
            (and RReLU's slopes); its state is part of a checkpoint.
        loss: the loss object (``name``, ``value``, ``value_from_logits``, ``task``).
        training: True in training mode (see :meth:`train`).
    """

    rng: np.random.Generator
    loss: Any
    training: bool

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        ...

    def parameters(self) -> list[np.ndarray]:
        """The parameter arrays, updated in place by the optimizer (same order always)."""
        ...

    def gradients(self) -> list[np.ndarray]:
        """The gradient arrays of the last backward pass, in the order of :meth:`parameters`."""
        ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...

    def train_step(self, X: np.ndarray, Y: np.ndarray, optimizer: Any) -> float:
        """Forward, backward and one optimizer step on a batch; the loss before the step."""
        ...

    def last_batch_correct(self, Y: np.ndarray) -> int:
        """Rows of the last ``train_step``'s batch (targets ``Y``) classified correctly by
        that step's forward pass (the training accuracy of ``fit``'s records)."""
        ...

    @property
    def counts_batch_correct(self) -> bool:
        """Whether :meth:`last_batch_correct` is cheap (judges the step's own logits); when
        False ``fit`` records no per-batch training accuracy."""
        ...

    def reserve_work(self, rows: int) -> None:
        """Allocate the training work arrays for batches of up to ``rows`` rows."""
        ...

    def check_trainable(self) -> None:
        """Raise when the network cannot be trained by gradients (a non-differentiable unit)."""
        ...

    def evaluate(self, X: np.ndarray, Y: np.ndarray, *, loss: bool = True,
                 work_rows: int | None = None) -> dict[str, float]:
        """Loss (and accuracy for classifiers) in evaluation mode, on encoded targets."""
        ...
