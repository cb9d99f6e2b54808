"""Networks: a chain of layers with a loss, and the multilayer perceptron built on it.

Backpropagation is the chain rule applied layer by layer from the output back:

    delta_L = dL/dz_L                      (fused: p - y for softmax/sigmoid + CE/BCE)
    dL/dW_l = a_{l-1}^T delta_l            (a_{l-1}: the layer's input)
    delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})

so the textbook per-pattern rule ``w += lr * delta * f'(e) * input`` is one SGD step
``W -= lr * dL/dW`` with batch size 1 (the sign is folded into delta = -(y - y_hat)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import activations, losses
from .activations import Activation
from .errors import (
    ConfigError,
    DataError,
    FeatureCountError,
    NotFittedError,
    TargetTypeError,
)
from .init import initial_weights
from .layers import ActivationLayer, Dense

ActivationSpec = "str | Activation | tuple[str, dict[str, Any]]"


class Network:
    """A feed-forward chain of layers whose last layer is the output activation.

    Args:
        layers: ``Dense`` and ``ActivationLayer`` objects; the last must be an
            ``ActivationLayer`` (use ``"identity"`` for a linear output).
        loss: a loss name or instance (see :mod:`relunet.losses`).
    """

    def __init__(self, layers: Sequence[Any], loss: "str | losses.Loss"):
        if not layers or not isinstance(layers[-1], ActivationLayer):
            raise ConfigError("the last layer of a Network must be an ActivationLayer (the output activation)")
        self.layers = list(layers)
        self.loss = losses.get(loss)
        self.training = True
        first = next((l for l in self.layers if isinstance(l, Dense)), None)
        if first is not None:
            first.needs_input_grad = False

    # -- structure ---------------------------------------------------------
    @property
    def dense_layers(self) -> list[Dense]:
        return [l for l in self.layers if isinstance(l, Dense)]

    @property
    def output_activation(self) -> Activation:
        return self.layers[-1].activation

    @property
    def n_features(self) -> int:
        return self.dense_layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.dense_layers[-1].n_out

    @property
    def dtype(self) -> np.dtype:
        return self.dense_layers[0].W.dtype

    @property
    def fused(self) -> bool:
        """True when the loss is fused with the output activation (delta computed from logits)."""
        return self.output_activation.name == self.loss.output

    def parameters(self) -> list[np.ndarray]:
        """All trainable arrays, in layer order (updated in place by optimizers)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        """The gradients of ``parameters()``, same order, filled by ``backward``."""
        return [g for layer in self.layers for g in layer.gradients()]

    def n_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    def flat_parameters(self) -> np.ndarray:
        """All parameters concatenated into one float64 vector (for CG / L-BFGS)."""
        return np.concatenate([p.ravel() for p in self.parameters()]).astype(np.float64)

    def set_flat_parameters(self, theta: np.ndarray) -> None:
        """Write a vector from :meth:`flat_parameters` back into the parameters (in place)."""
        i = 0
        for p in self.parameters():
            p[...] = theta[i : i + p.size].reshape(p.shape)
            i += p.size
        if i != len(theta):
            raise ConfigError(f"parameter vector has {len(theta)} values, the network {i}")

    def flat_gradients(self) -> np.ndarray:
        return np.concatenate([g.ravel() for g in self.gradients()]).astype(np.float64)

    def train(self, mode: bool = True) -> "Network":
        """Training mode (RReLU draws random slopes) or, with ``mode=False``, evaluation mode."""
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self) -> "Network":
        return self.train(False)

    def check_trainable(self) -> None:
        """Raise NonDifferentiableError if any activation cannot pass a gradient."""
        for layer in self.layers:
            if isinstance(layer, ActivationLayer) and not (
                layer is self.layers[-1] and self.fused
            ):
                layer.activation.require_differentiable()

    # -- computation -------------------------------------------------------
    def logits(self, X: np.ndarray) -> np.ndarray:
        """Forward pass up to (not through) the output activation: ``z_L``."""
        a = X
        for layer in self.layers[:-1]:
            a = layer.forward(a)
        return a

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The network's output ``f_L(z_L)``, ``shape (n_samples, n_outputs)``."""
        return self.layers[-1].forward(self.logits(X))

    def backward(self, delta: np.ndarray) -> None:
        """Backpropagate ``delta = dL/dz_L`` (gradient at the logits) through every layer."""
        g = delta
        for layer in reversed(self.layers[:-1]):
            g = layer.backward(g)

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One forward and backward pass on a batch: returns the loss, fills the gradients.

        Args:
            X: inputs, ``shape (n_samples, n_features)``, in the network's dtype.
            Y: encoded targets, ``shape (n_samples, n_outputs)``.
        """
        z = self.logits(X)
        if self.fused:
            # Valid only for softmax+CE, sigmoid+BCE, identity+MSE (see relunet.losses).
            value = self.loss.value_from_logits(z, Y)
            delta = self.loss.delta_from_logits(z, Y)
        else:
            out = self.layers[-1]
            y_pred = out.forward(z)
            value = self.loss.value(y_pred, Y)
            delta = out.backward(self.loss.gradient(y_pred, Y))
        self.backward(delta.astype(z.dtype, copy=False))
        return value

    def train_step(self, X: np.ndarray, Y: np.ndarray, optimizer: Any) -> float:
        """One optimisation step on a batch: forward, backward, ``optimizer.step``.

        Returns the batch loss (before the update). This is the single entry point the
        training loop uses per batch, so a faster path (e.g. plain SGD fused into the
        backward GEMMs) can live here without the loop knowing.
        """
        value = self.loss_and_gradients(X, Y)
        if np.isfinite(value):
            optimizer.step(self.parameters(), self.gradients())
        return value

    def loss_value(self, X: np.ndarray, Y: np.ndarray) -> float:
        z = self.logits(X)
        if self.fused:
            return self.loss.value_from_logits(z, Y)
        return self.loss.value(self.layers[-1].forward(z), Y)


def _activation_from_spec(spec: Any, units: int) -> ActivationLayer:
    """Build an activation layer from a name, an instance, or ``(name, params)``.

    A parameter given as the string ``"per_unit"`` (PReLU's ``num_parameters``)
    becomes the layer's number of units.
    """
    if isinstance(spec, tuple):
        name, params = spec
        params = {k: (units if v == "per_unit" else v) for k, v in dict(params).items()}
        return ActivationLayer(name, **params)
    return ActivationLayer(spec)


class MLP(Network):
    """A multilayer perceptron: dense layers with activations, a chosen output and loss.

    Args:
        sizes: units per layer, input first and output last, e.g. ``[784, 500, 500, 500, 10]``.
        activation: hidden activation (a catalog name, an instance, ``(name, params)``) or a
            list with one per hidden layer.
        output: output activation: ``"softmax"`` (multi-class), ``"sigmoid"`` (binary /
            multi-label) or ``"identity"`` (regression), or any catalog name.
        loss: the loss; defaults to the one natural for ``output`` (cross_entropy,
            binary_cross_entropy, mse).
        init: ``"he"``, ``"xavier"``, ``"lecun"`` or None to follow each layer's activation
            (He for the ReLU family, Xavier for tanh/sigmoid, LeCun for SELU).
        dtype: float32 (default, fast) or float64.
        seed: seed of the ``numpy.random.Generator`` that draws the weights and everything
            random in training (shuffling, RReLU slopes).

    Example:
        >>> net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
        >>> hist = net.fit(X, y, epochs=500, batch_size=4, lr=0.5)   # doctest: +SKIP
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Any = "relu",
        output: Any = "softmax",
        loss: "str | losses.Loss | None" = None,
        init: str | None = None,
        dtype: Any = np.float32,
        seed: int | None = 0,
    ):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ConfigError(f"sizes must list at least input and output sizes, all >= 1; got {sizes}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, not {dtype}")
        n_hidden = len(sizes) - 2
        if isinstance(activation, list):
            if len(activation) != n_hidden:
                raise ConfigError(
                    f"{len(activation)} activations given for {n_hidden} hidden layers"
                )
            hidden_specs = list(activation)
        else:
            hidden_specs = [activation] * n_hidden
        if loss is None:
            out_name = output[0] if isinstance(output, tuple) else getattr(output, "name", output)
            loss = losses.DEFAULT_LOSS.get(activations.canonical_name(out_name), "mse")
        self.sizes = sizes
        self.seed = seed
        self.init = init
        self.rng = np.random.default_rng(seed)
        self.activation_specs = hidden_specs + [output]
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            act_layer = _activation_from_spec(self.activation_specs[i], n_out)
            act = act_layer.activation
            scheme = init or act.init
            slope = float(act.config().get("negative_slope", 0.0)) if scheme == "he" else 0.0
            W = initial_weights(scheme, n_in, n_out, self.rng, dtype, negative_slope=slope)
            layers += [Dense(W, np.zeros(n_out, dtype=dtype)), act_layer]
            if hasattr(act, "rng"):
                act.rng = self.rng  # RReLU draws from the network's generator
            act.astype(dtype)  # PReLU's slope in the network's dtype
        super().__init__(layers, loss)
        self.classes_: np.ndarray | None = None
        self.history_ = None

    def __repr__(self) -> str:
        acts = [l.activation.name for l in self.layers if isinstance(l, ActivationLayer)]
        return (
            f"MLP({self.sizes}, activation={acts[:-1]}, output={acts[-1]!r}, "
            f"loss={self.loss.name!r}, dtype={self.dtype.name})"
        )

    # -- data checks and encoding -----------------------------------------
    @property
    def task(self) -> str:
        return self.loss.task

    def check_X(self, X: Any) -> np.ndarray:
        """Validate inputs and return them as a C-contiguous array of the network's dtype."""
        try:
            X = np.asarray(X, dtype=self.dtype)
        except (TypeError, ValueError) as exc:
            raise DataError(f"X must be numeric: {exc}") from None
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise DataError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise FeatureCountError(
                f"X has {X.shape[1]} features but the network takes {self.n_features}"
            )
        if len(X) == 0:
            raise DataError("X has no samples")
        if not np.isfinite(X).all():
            bad = np.argwhere(~np.isfinite(X))[0]
            raise DataError(
                f"X contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
                "clean or impute them first"
            )
        return np.ascontiguousarray(X)

    def encode_targets(self, y: Any, n_samples: int | None = None, fit: bool = True) -> np.ndarray:
        """Turn labels/targets into the ``shape (n_samples, n_outputs)`` array the loss takes.

        Classification (cross-entropy): integer or string labels, or one-hot rows.
        Binary cross-entropy: labels of two classes (one output) or a 0/1 matrix (multi-label).
        Regression (MSE): real values, ``shape (n_samples,)`` or ``(n_samples, n_outputs)``.
        """
        y = np.asarray(y)
        if n_samples is not None and len(y) != n_samples:
            raise DataError(f"X has {n_samples} samples but y has {len(y)}")
        k = self.n_outputs
        if self.task == "regression":
            try:
                Y = y.astype(self.dtype)
            except (TypeError, ValueError):
                raise TargetTypeError("a regression target must be numeric") from None
            if Y.ndim == 1:
                Y = Y[:, None]
            if Y.shape[1] != k:
                raise DataError(f"y has {Y.shape[1]} outputs but the network has {k}")
            if not np.isfinite(Y).all():
                raise DataError("y contains NaN or infinite values")
            return Y
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError("y contains NaN or infinite values")
        # multi-label / one-hot matrix
        if y.ndim == 2 and y.shape[1] == k and k > 1:
            if not np.isin(y, (0, 1)).all():
                raise TargetTypeError(
                    "a 2-D classification target must hold 0/1 values (one-hot or multi-label)"
                )
            if self.loss.name == "cross_entropy" and not (y.sum(axis=1) == 1).all():
                raise TargetTypeError("one-hot rows for cross-entropy must each hold exactly one 1")
            if fit:
                self.classes_ = np.arange(k)
            return y.astype(self.dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise DataError(f"y must be 1-D labels or a 2-D target; got shape {y.shape}")
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise TargetTypeError(
                "y holds non-integer real values, which is a regression target, but this network "
                f"is a classifier (loss {self.loss.name!r}); use output='identity' with loss='mse' "
                "for regression, or pass class labels"
            )
        if fit or self.classes_ is None:
            found = np.unique(y)
            n_classes_net = 2 if (self.loss.name == "binary_cross_entropy" and k == 1) else k
            if len(found) > n_classes_net:
                raise TargetTypeError(
                    f"y has {len(found)} distinct classes but the network's output can represent "
                    f"{n_classes_net}; with {len(found)} distinct values this may be a regression "
                    "target (use output='identity', loss='mse'), or give the output layer more units"
                )
            if y.dtype.kind in "iuf" and found.min() >= 0 and found.max() < n_classes_net:
                classes = np.arange(n_classes_net)
            else:
                classes = found
            if len(classes) < n_classes_net:
                # e.g. string labels {"a","b"} with 2 outputs: fine; fewer: pad is ambiguous
                if not (self.loss.name == "binary_cross_entropy" and len(classes) <= 2):
                    raise TargetTypeError(
                        f"y has {len(classes)} classes but the network has {n_classes_net} outputs"
                    )
            if fit:
                self.classes_ = classes
        else:
            classes = self.classes_
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        if not np.all(classes[idx] == y):
            unknown = np.setdiff1d(np.unique(y), classes)
            raise TargetTypeError(f"y holds labels not seen in fit: {unknown[:5].tolist()}")
        if self.loss.name == "binary_cross_entropy" and k == 1:
            return idx.astype(self.dtype)[:, None]
        Y = np.zeros((len(y), k), dtype=self.dtype)
        Y[np.arange(len(y)), idx] = 1
        return Y

    # -- estimator API -----------------------------------------------------
    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Train by gradient descent; returns the :class:`relunet.training.History`.

        Args:
            X: ``shape (n_samples, n_features)``.
            y: labels (classification) or targets (regression), see :meth:`encode_targets`.
            **kwargs: passed to :func:`relunet.training.fit`: ``epochs``, ``batch_size``
                (1 = online learning, an int = mini-batch, None or n_samples = full batch),
                ``lr``, ``optimizer``, ``schedule``, ``shuffle``, ``verbose``,
                ``validation_data`` (raw ``(X_val, y_val)``, encoded here), ``validation_split``,
                ``early_stopping``, ``callbacks``, ``checkpoint``, ``resume``, ...
        """
        from .training import fit as _fit

        X = self.check_X(X)
        Y = self.encode_targets(y, len(X), fit=True)
        self.check_trainable()
        val = kwargs.get("validation_data")
        if val is not None:  # raw (X_val, y_val): validated and encoded like the training data
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise DataError("validation_data must be a pair (X_val, y_val)")
            X_val = self.check_X(val[0])
            kwargs["validation_data"] = (X_val, self.encode_targets(val[1], len(X_val), fit=False))
        self.history_ = _fit(self, X, Y, **kwargs)
        return self.history_

    def predict_output(self, X: Any) -> np.ndarray:
        """The raw network output (probabilities for classifiers), in evaluation mode."""
        X = self.check_X(X)
        was = self.training
        self.eval()
        try:
            return self.forward(X)
        finally:
            self.train(was)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``shape (n_samples, n_classes)``."""
        if self.task != "classification":
            raise ConfigError("predict_proba is for classifiers; this network does regression")
        p = self.predict_output(X)
        if self.loss.name == "binary_cross_entropy" and p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        out = self.predict_output(X)
        if self.task == "regression":
            return out[:, 0] if out.shape[1] == 1 else out
        if self.classes_ is None:
            raise NotFittedError("call fit before predict: the class labels are not known yet")
        if self.loss.name == "binary_cross_entropy":
            if out.shape[1] == 1:
                return self.classes_[(out[:, 0] > 0.5).astype(int)]
            return (out > 0.5).astype(int)  # multi-label
        return self.classes_[np.argmax(out, axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification; exact match for multi-label) or R^2 (regression)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if self.task == "regression":
            y = y.reshape(pred.shape).astype(np.float64)
            ss_res = np.sum((y - pred) ** 2)
            ss_tot = np.sum((y - y.mean(axis=0)) ** 2)
            return float(1 - ss_res / ss_tot) if ss_tot > 0 else 0.0
        if pred.ndim == 2:
            return float(np.mean(np.all(pred == y, axis=1)))
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot targets
            y = self.classes_[np.argmax(y, axis=1)]
        return float(np.mean(pred == y.reshape(pred.shape)))

    # -- files and export --------------------------------------------------
    def save(self, path: Any) -> None:
        """Write architecture + weights to one safe file (see :mod:`relunet.modelfile`)."""
        from .modelfile import save

        save(self, path)

    def to_onnx(self, path: Any, **options: Any) -> None:
        """Export the inference graph to ONNX (see :mod:`relunet.onnx_export`)."""
        from .onnx_export import export

        export(self, path, **options)
