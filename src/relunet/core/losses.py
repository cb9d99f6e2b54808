"""Loss functions, each fused with its natural output activation.

Targets ``Y`` are ``shape (n_samples, n_outputs)`` (one-hot rows for cross-entropy,
0/1 for binary cross-entropy, real values for MSE); the network encodes integer labels
before calling these. Reductions follow PyTorch: the mean over samples for
cross-entropy, the mean over all elements for binary cross-entropy and MSE.

The fused gradient ``delta = dL/dz`` with respect to the output layer's *logits* ``z``
(before the output activation) is valid **only** for these pairs:

=====================  ==============  =========================================
loss                   output          delta = dL/dz
=====================  ==============  =========================================
cross_entropy          softmax         (softmax(z) - Y) / N
binary_cross_entropy   sigmoid         (sigmoid(z) - Y) / (N K)
mse                    identity        2 (z - Y) / (N K)
=====================  ==============  =========================================

For any other pair the network backpropagates ``gradient(y_pred, Y)`` through the
output activation's own ``backward`` (correct, but usually a poor choice: see
``relunet doctor``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from relunet.core import activations
from relunet.core.registry import Registry
from relunet.errors import DataError


# The stable forms live in the activation catalog (max-shifted softmax / log-sum-exp,
# overflow-free sigmoid); the losses use the same code rather than copies of it.
_SOFTMAX = activations.Softmax()
_LOG_SOFTMAX = activations.LogSoftmax()
_SIGMOID = activations.Sigmoid()


def _same_shape(out: np.ndarray, Y: np.ndarray) -> None:
    # NOTE: (n, 1) outputs against (n,) targets would broadcast to (n, n): a silently wrong loss
    if np.shape(out) != np.shape(Y):
        raise DataError(f"outputs have shape {np.shape(out)} but targets {np.shape(Y)}; give targets of "
                        "the outputs' shape, shape (n_samples, n_outputs) (e.g. y.reshape(-1, 1))")


class Loss:
    """A loss: value and gradient on outputs, and the fused form on logits."""

    name: ClassVar[str]
    #: the output activation this loss is fused with
    output: ClassVar[str]
    #: "classification" or "regression"
    task: ClassVar[str]
    #: the (display) formula
    formula: ClassVar[str]

    def value(self, y_pred: np.ndarray, Y: np.ndarray) -> float:
        """L(y_pred, Y) on the network's outputs."""
        raise NotImplementedError

    def gradient(self, y_pred: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """dL/dy_pred, ``shape`` of y_pred."""
        raise NotImplementedError

    def value_from_logits(self, z: np.ndarray, Y: np.ndarray) -> float:
        """L computed from the logits z of the natural output (numerically stable form)."""
        raise NotImplementedError

    def delta_from_logits(self, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """dL/dz for the natural output (see the module's table)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropy(Loss):
    r"""Categorical cross-entropy with softmax output.

    .. math::
        L = -\frac{1}{N}\sum_n \sum_k Y_{nk} \log p_{nk}, \quad p = \mathrm{softmax}(z)

    From logits: :math:`L = \frac1N \sum_n (\mathrm{logsumexp}(z_n) - Y_n \cdot z_n)`, and
    :math:`\partial L/\partial z = (p - Y)/N`. On outputs, ``log`` is taken of ``p``
    clipped to the smallest positive normal of its dtype, so ``log(0)`` never occurs.
    """

    name = "cross_entropy"
    output = "softmax"
    task = "classification"
    formula = "-(1/N) sum_n sum_k y_nk log p_nk"

    def value(self, y_pred, Y):
        _same_shape(y_pred, Y)
        tiny = np.finfo(y_pred.dtype).tiny
        return float(-np.sum(Y * np.log(np.maximum(y_pred, tiny))) / len(Y))

    def gradient(self, y_pred, Y):
        _same_shape(y_pred, Y)
        tiny = np.finfo(y_pred.dtype).tiny
        return -Y / np.maximum(y_pred, tiny) / len(Y)

    def value_from_logits(self, z, Y):
        _same_shape(z, Y)
        return float(-np.sum(Y * _LOG_SOFTMAX.fn(z)) / len(Y))

    def delta_from_logits(self, z, Y):
        _same_shape(z, Y)
        p = _SOFTMAX.fn(z)  # a new array: updated in place below
        p -= Y
        p /= len(Y)
        return p


class BinaryCrossEntropy(Loss):
    r"""Binary cross-entropy with sigmoid output (binary and multi-label).

    .. math::
        L = -\frac{1}{NK}\sum_{n,k} \left[Y \log p + (1 - Y)\log(1 - p)\right],
        \quad p = \sigma(z)

    From logits, as ``BCEWithLogitsLoss``:
    :math:`L = \mathrm{mean}(\max(z, 0) - zY + \log(1 + e^{-|z|}))`, and
    :math:`\partial L/\partial z = (\sigma(z) - Y)/(NK)`. On outputs, ``log`` terms are
    clamped at -100 as ``torch.nn.BCELoss`` does.
    """

    name = "binary_cross_entropy"
    output = "sigmoid"
    task = "classification"
    formula = "-(1/NK) sum [y log p + (1-y) log(1-p)]"

    def value(self, y_pred, Y):
        _same_shape(y_pred, Y)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(y_pred), -100)
            log_1mp = np.maximum(np.log1p(-y_pred), -100)
        return float(-np.mean(Y * log_p + (1 - Y) * log_1mp))

    def gradient(self, y_pred, Y):
        _same_shape(y_pred, Y)
        eps = np.finfo(y_pred.dtype).eps
        p = np.clip(y_pred, eps, 1 - eps)
        return (p - Y) / (p * (1 - p)) / Y.size

    def value_from_logits(self, z, Y):
        _same_shape(z, Y)
        return float(np.mean(np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z)))))

    def delta_from_logits(self, z, Y):
        _same_shape(z, Y)
        d = _SIGMOID.fn(z)  # a new array: updated in place below
        d -= Y
        d /= Y.size
        return d


class MeanSquaredError(Loss):
    r"""Mean squared error with a linear (identity) output.

    .. math::
        L = \frac{1}{NK}\sum_{n,k} (\hat y_{nk} - Y_{nk})^2, \qquad
        \frac{\partial L}{\partial \hat y} = \frac{2}{NK}(\hat y - Y)

    (PyTorch's ``MSELoss`` with mean reduction; no 1/2 factor.)
    """

    name = "mse"
    output = "identity"
    task = "regression"
    formula = "(1/NK) sum (y_hat - y)^2"

    def value(self, y_pred, Y):
        _same_shape(y_pred, Y)
        d = y_pred - Y
        return float(np.mean(d * d))

    def gradient(self, y_pred, Y):
        _same_shape(y_pred, Y)
        return (y_pred - Y) * (2.0 / Y.size)

    value_from_logits = value
    delta_from_logits = gradient


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (CrossEntropy, BinaryCrossEntropy, MeanSquaredError)
}
#: the loss catalog's name table (:class:`relunet.core.registry.Registry`)
REGISTRY: Registry[type[Loss]] = Registry("loss", LOSSES, base=Loss, classes=True, others_unknown=True, aliases={
    "ce": "cross_entropy", "categorical_cross_entropy": "cross_entropy", "nll": "cross_entropy",
    "bce": "binary_cross_entropy", "log_loss": "binary_cross_entropy",
    "mean_squared_error": "mse", "squared_error": "mse",
})
#: natural loss for each output activation
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy", "identity": "mse"}


def names() -> list[str]:
    """The canonical names of every loss, sorted."""
    return REGISTRY.names()


def canonical_name(name: str) -> str:
    """Resolve an alias (``ce``, ``bce``, ...) to its canonical name (UnknownNameError if unknown)."""
    return REGISTRY.canonical_name(name)


def get(name: "str | Loss | type[Loss]") -> Loss:
    """A loss by name or alias (``ce``, ``bce``, ``mse``, ...), a ``Loss`` instance (returned
    as is) or a ``Loss`` subclass (instantiated).

    Raises:
        UnknownNameError: for an unknown name (the message lists the known ones).
    """
    return REGISTRY.get(name)
