"""Layers: the dense (fully connected) layer and the activation layer.

Every layer has ``forward(x)``, ``backward(grad_out)`` (which fills the gradients of
its parameters and returns the gradient for its input), ``parameters()`` and
``gradients()`` (lists of arrays in the same order; optimizers update parameters in
place). Samples are rows: ``x`` is ``shape (n_samples, n_in)``.

``forward``/``backward`` are the clear, documented versions. The network's hot path
uses the same math through three more methods that differ only in where the results
go (see :mod:`relunet.core.network`):

* ``forward_into`` / ``backward_into``: write into work arrays the network owns and
  reuses from batch to batch, so a training step allocates (almost) nothing;
* ``Dense.sgd_backward_into``: backward fused with plain SGD, the update
  ``W -= lr * x.T @ g`` done by one GEMM with ``beta = 1`` straight into ``W``;
* ``infer``: evaluation-mode forward that keeps no references (no training caches)
  and works in place on the array it has just allocated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relunet.core import blas as _blas
from relunet.core import activations
from relunet.errors import CallOrderError
from relunet.core.activations import Activation


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
        dW, db: their gradients after ``backward`` (``sgd_backward_into`` fills ``db``
            but never forms ``dW``: ``dW`` is allocated on first use, so a network trained
            by plain SGD holds no weight-gradient arrays at all).
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W = W
        self.b = b
        self._dW: np.ndarray | None = None
        self.db = np.zeros_like(b)
        self._x: np.ndarray | None = None
        #: the first layer of a network need not compute dL/dx
        self.needs_input_grad = True
        self.training = True

    @property
    def dW(self) -> np.ndarray:
        """dL/dW, ``shape (n_in, n_out)``; zeros until a backward pass fills it."""
        dW = self.__dict__.get("_dW")  # absent in a layer pickled before dW was lazy
        if dW is None or dW.shape != self.W.shape or dW.dtype != self.W.dtype:
            dW = self._dW = np.zeros_like(self.W)
        return dW

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
        if self._x is None:
            raise CallOrderError("Dense.backward called before forward: there is no input to "
                                 "take the weight gradient x^T g from")
        np.matmul(self._x.T, grad_out, out=self.dW)
        np.sum(grad_out, axis=0, out=self.db)
        if not self.needs_input_grad:
            return None
        return grad_out @ self.W.T

    # -- the hot path: same math, results written into given arrays ----------
    def forward_into(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``z = x W + b`` written into ``z``, ``shape (n_samples, n_out)``; caches ``x``."""
        self._x = x
        np.copyto(z, self.b)  # the bias, broadcast over the rows, then z += x W (beta = 1)
        return _blas.gemm(1.0, x, self.W, 1.0, z)

    def backward_into(self, grad_out: np.ndarray, dx: np.ndarray | None) -> np.ndarray | None:
        """``backward`` with ``dL/dx`` written into ``dx`` (``shape (n_samples, n_in)``)."""
        _blas.gemm(1.0, self._x, grad_out, 0.0, self.dW, trans_a=True)
        np.add.reduce(grad_out, axis=0, out=self.db)  # np.sum without its Python wrapper
        if not self.needs_input_grad:
            return None
        return _blas.gemm(1.0, grad_out, self.W, 0.0, dx, trans_b=True)

    def sgd_backward_into(
        self, grad_out: np.ndarray, dx: np.ndarray | None, lr: float
    ) -> np.ndarray | None:
        r"""Backward fused with the plain SGD step, in this order:

        .. math::
            \frac{\partial L}{\partial x} = g W^\top \ \text{(with the old W)}, \quad
            W \leftarrow W - \eta\, x^\top g, \quad
            b \leftarrow b - \eta \sum_n g_n

        The weight update is one GEMM with ``alpha = -lr``, ``beta = 1`` into ``W``:
        ``dW`` is never formed (it is left as it was); ``db`` is filled.
        """
        out = None
        if self.needs_input_grad:
            out = _blas.gemm(1.0, grad_out, self.W, 0.0, dx, trans_b=True)
        _blas.gemm(-lr, self._x, grad_out, 1.0, self.W, trans_a=True)
        np.add.reduce(grad_out, axis=0, out=self.db)
        _blas.axpy(-lr, self.db, self.b)
        return out

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Evaluation forward: a fresh ``z = x W + b``; caches nothing."""
        z = np.empty((x.shape[0], self.n_out), dtype=np.result_type(x, self.W))
        np.copyto(z, self.b)
        return _blas.gemm(1.0, x, self.W, 1.0, z)

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
    """Applies an activation; holds its parameters when it has some (PReLU's slope).

    On the hot path (``forward_into``/``backward_into``/``infer``) ReLU, the activation
    of most networks, runs in place: the catalog's ``max(0, x)`` and
    ``grad_out * (x > 0)``, written with ``out=`` (``a > 0`` exactly where ``x > 0``,
    so the mask is taken from the output that overwrote ``x``; ``relu'(0) = 0`` stays).
    Every other activation runs through its own ``forward``/``backward``.
    """

    def __init__(self, activation: "str | Activation", **params: Any):
        self.activation = activations.get(activation, **params)
        self._a: np.ndarray | None = None  # in-place ReLU: its output (= mask source)
        self._zero_row: np.ndarray | None = None

    def _relu_inplace(self, x: np.ndarray) -> np.ndarray:
        """``x = max(x, 0)`` in place, ``x`` of ``shape (n_samples, n_units)``.

        NOTE: against a row of zeros, not the scalar 0: NumPy 2.4 takes a ~3x slower loop
        for ``np.maximum(x, 0)`` (measured 159 us against 52 us for 1000 x 500 float32).
        """
        zeros = self._zero_row
        if zeros is None or zeros.shape[0] != x.shape[-1] or zeros.dtype != x.dtype:
            zeros = self._zero_row = np.zeros(x.shape[-1], dtype=x.dtype)
        return np.maximum(x, zeros, out=x)

    @property
    def inplace(self) -> bool:
        """True when the hot path runs this activation in place (plain ReLU)."""
        return type(self.activation) is activations.ReLU

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.activation.forward(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.activation.require_differentiable()
        return self.activation.backward(grad_out)

    # -- the hot path ---------------------------------------------------------
    def forward_into(self, x: np.ndarray) -> np.ndarray:
        """f(x), overwriting ``x`` for in-place activations (``x`` is a work array)."""
        if self.inplace:
            self._a = self._relu_inplace(x)
            return x
        return self.activation.forward(x)

    def backward_into(self, grad_out: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """dL/dx, overwriting ``grad_out`` (a work array) for in-place activations.

        ``mask``: a bool work array of ``grad_out``'s shape (used by in-place ReLU).
        """
        if self.inplace:
            np.greater(self._a, 0, out=mask)
            return np.multiply(grad_out, mask, out=grad_out)
        return self.backward(grad_out)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Evaluation forward; ``x`` is a fresh array the caller owns (ReLU overwrites it)."""
        if self.inplace:
            return self._relu_inplace(x)
        return self.activation.forward(x)

    def parameters(self) -> list[np.ndarray]:
        return self.activation.parameters()

    def gradients(self) -> list[np.ndarray]:
        return self.activation.gradients()

    def train(self, mode: bool = True) -> "ActivationLayer":
        self.activation.train(mode)
        return self

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation!r})"
