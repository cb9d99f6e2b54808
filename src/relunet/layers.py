"""Layers: the dense (fully connected) layer and the activation layer.

Every layer has ``forward(x)``, ``backward(grad_out)`` (which fills the gradients of
its parameters and returns the gradient for its input), ``parameters()`` and
``gradients()`` (lists of arrays in the same order; optimizers update parameters in
place). Samples are rows: ``x`` is ``shape (n_samples, n_in)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import activations
from .activations import Activation


class Dense:
    r"""Fully connected layer ``z = x W + b``.

    Backward, given ``g = dL/dz`` of ``shape (n_samples, n_out)``:

    .. math::
        \frac{\partial L}{\partial W} = x^\top g, \quad
        \frac{\partial L}{\partial b} = \sum_n g_n, \quad
        \frac{\partial L}{\partial x} = g W^\top

    Attributes:
        W: weights, ``shape (n_in, n_out)``.
        b: biases, ``shape (n_out,)``.
        dW, db: their gradients after ``backward``.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W = W
        self.b = b
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)
        self._x: np.ndarray | None = None
        #: the first layer of a network need not compute dL/dx
        self.needs_input_grad = True
        self.training = True

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        z = x @ self.W
        z += self.b
        return z

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        np.matmul(self._x.T, grad_out, out=self.dW)
        np.sum(grad_out, axis=0, out=self.db)
        if not self.needs_input_grad:
            return None
        return grad_out @ self.W.T

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def gradients(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def train(self, mode: bool = True) -> "Dense":
        self.training = mode
        return self

    def __repr__(self) -> str:
        return f"Dense({self.n_in} -> {self.n_out})"


class ActivationLayer:
    """Applies an activation; holds its parameters when it has some (PReLU's slope)."""

    def __init__(self, activation: "str | Activation", **params: Any):
        self.activation = activations.get(activation, **params)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.activation.forward(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.activation.require_differentiable()
        return self.activation.backward(grad_out)

    def parameters(self) -> list[np.ndarray]:
        return self.activation.parameters()

    def gradients(self) -> list[np.ndarray]:
        return self.activation.gradients()

    def train(self, mode: bool = True) -> "ActivationLayer":
        self.activation.train(mode)
        return self

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation!r})"
