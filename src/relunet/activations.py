"""The activation catalog: each activation with its hand-derived derivative.

Convention (one, for every activation): derivatives are taken with respect to the
**input** ``x`` of the activation (the pre-activation ``z = x W + b`` of a dense layer).

* ``forward(x)`` returns ``f(x)`` and caches what ``backward`` needs;
* ``backward(grad_out)`` returns the vector-Jacobian product ``dL/dx`` given
  ``grad_out = dL/df(x)`` for the input of the last ``forward`` call;
* ``derivative(x)`` (element-wise activations only) returns ``f'(x)``, so that
  ``backward(g) == g * derivative(x)``.

Definitions, defaults and the value chosen where ``f`` is not differentiable follow
PyTorch's ``torch.nn.functional`` exactly (for example ``relu'(0) = 0``).

Arrays are ``shape (n_samples, n_units)`` or any shape for element-wise activations;
softmax and log_softmax act over the last axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import ConfigError, NonDifferentiableError, UnknownNameError

__all__ = [
    "Activation",
    "Properties",
    "get",
    "names",
    "ACTIVATIONS",
]


@dataclass(frozen=True)
class Properties:
    """What an activation is, as data (used by ``relunet activations``/``explain``/doctor).

    Attributes:
        formula: f(x) in plain text.
        derivative: f'(x) in plain text.
        output_range: the range of f as text, e.g. ``"(0, 1)"``.
        saturating: True where f' tends to 0 for large |x| on at least one side.
        zero_centred: True where outputs are centred on 0 (f(0) = 0 and f takes both signs).
        monotonic: True where f is non-decreasing.
        smooth: True where f is continuously differentiable everywhere.
        kink: the value chosen for f' where f is not differentiable, or "" if none.
        use: typical use (hidden / output / perceptron).
        problems: known problems (dying units, vanishing gradients, ...).
        reference: the paper or source that introduced it.
    """

    formula: str
    derivative: str
    output_range: str
    saturating: bool
    zero_centred: bool
    monotonic: bool
    smooth: bool
    kink: str = ""
    use: str = "hidden"
    problems: str = ""
    reference: str = ""


class Activation:
    """Base class of every activation (one level of inheritance, no deeper).

    Subclasses set ``name``, ``properties`` and implement ``forward``,
    ``backward`` and (if element-wise) ``derivative``.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    properties: ClassVar[Properties]
    #: True when f acts on each element alone (its Jacobian is diagonal).
    elementwise: ClassVar[bool] = True
    #: False for step/sign: their derivative is 0 almost everywhere.
    differentiable: ClassVar[bool] = True
    #: Weight initialisation that fits: "he", "xavier" or "lecun".
    init: ClassVar[str] = "xavier"

    def __init__(self) -> None:
        self.training = True
        self._x: np.ndarray | None = None

    # -- the interface ----------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """f(x); caches the input for ``backward``."""
        self._x = x
        return self.fn(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out * f'(x) for the x of the last ``forward``."""
        if self._x is None:
            raise RuntimeError(f"{self.name}.backward called before forward")
        return grad_out * self.derivative(self._x)

    def fn(self, x: np.ndarray) -> np.ndarray:
        """f(x) without caching."""
        raise NotImplementedError

    def derivative(self, x: np.ndarray) -> np.ndarray:
        """f'(x), element-wise."""
        raise NotImplementedError

    __call__ = fn

    # -- parameters (only PReLU has any) -----------------------------------
    def parameters(self) -> list[np.ndarray]:
        """Trainable parameters (arrays updated in place by optimizers)."""
        return []

    def gradients(self) -> list[np.ndarray]:
        """Gradients of the loss for ``parameters()``, filled by ``backward``."""
        return []

    def astype(self, dtype: Any) -> "Activation":
        """Cast trainable parameters (if any) to ``dtype`` in place; returns self."""
        return self

    def config(self) -> dict[str, Any]:
        """Hyper-parameters needed to rebuild this activation with ``get(name, **config)``."""
        return {}

    def train(self, mode: bool = True) -> "Activation":
        self.training = mode
        return self

    def eval(self) -> "Activation":
        return self.train(False)

    def require_differentiable(self) -> None:
        """Raise :class:`NonDifferentiableError` if gradient training cannot pass through."""
        if not self.differentiable:
            raise NonDifferentiableError(
                f"activation {self.name!r} has derivative 0 almost everywhere (and none at 0), "
                "so backpropagation passes no gradient through it and gradient descent cannot "
                "train the layers before it. Use a differentiable alternative: 'sigmoid' or "
                "'tanh' (smooth versions of step/sign), 'hardtanh', or 'relu'. Step and sign "
                "units belong in the perceptron (relunet train --model perceptron), trained by "
                "the perceptron rule."
            )

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({cfg})"


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


# ---------------------------------------------------------------------------
# The catalog. Each class: docstring with f, f', the value at the kink, shape, reference.
# ---------------------------------------------------------------------------


class Identity(Activation):
    r"""Identity (linear) activation.

    .. math:: f(x) = x, \qquad f'(x) = 1

    Shape: any. Use: the output of a regression network (with MSE).
    """

    name = "identity"
    aliases = ("linear", "none")
    properties = Properties(
        formula="x", derivative="1", output_range="(-inf, inf)", saturating=False,
        zero_centred=True, monotonic=True, smooth=True, use="output (regression, with MSE)",
        reference="-",
    )

    def fn(self, x):
        return _as_float(x)

    def derivative(self, x):
        return np.ones_like(_as_float(x))

    def backward(self, grad_out):
        return grad_out


class ReLU(Activation):
    r"""Rectified linear unit.

    .. math::
        f(x) = \max(0, x), \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    At the kink, f'(0) = 0, as PyTorch (the subgradient it picks).
    NOTE: units whose input is <= 0 for every sample get no gradient ("dying ReLU").

    Shape: any. Reference: Nair & Hinton (2010); Glorot, Bordes & Bengio (2011).
    """

    name = "relu"
    init = "he"
    properties = Properties(
        formula="max(0, x)", derivative="1 if x > 0 else 0", output_range="[0, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=False,
        kink="f'(0) = 0 (PyTorch's choice of subgradient)", use="hidden",
        problems="dying ReLU: a unit with input <= 0 on every sample gets no gradient",
        reference="Nair & Hinton, Rectified Linear Units Improve RBMs, ICML 2010",
    )

    def fn(self, x):
        x = _as_float(x)
        return np.maximum(x, 0, dtype=x.dtype)

    def derivative(self, x):
        x = _as_float(x)
        return (x > 0).astype(x.dtype)


class Sigmoid(Activation):
    r"""Logistic sigmoid.

    .. math::
        f(x) = \frac{1}{1 + e^{-x}}, \qquad f'(x) = f(x)\,(1 - f(x))

    Computed without overflow: for x < 0 as e^x / (1 + e^x).
    Shape: any. Use: output of binary / multi-label classifiers (fused with binary
    cross-entropy from logits). Saturates: f' < 1e-3 for |x| > ~6.9.
    """

    name = "sigmoid"
    aliases = ("logistic",)
    properties = Properties(
        formula="1 / (1 + exp(-x))", derivative="f(x) (1 - f(x))", output_range="(0, 1)",
        saturating=True, zero_centred=False, monotonic=True, smooth=True,
        use="output (binary / multi-label, with binary cross-entropy)",
        problems="vanishing gradients when saturated; outputs not zero-centred",
        reference="Rumelhart, Hinton & Williams, Learning representations by back-propagating errors, 1986",
    )

    def fn(self, x):
        x = _as_float(x)
        # NOTE: exp of a non-positive number only: never overflows.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def forward(self, x):
        self._y = self.fn(x)
        self._x = x
        return self._y

    def backward(self, grad_out):
        return grad_out * self._y * (1 - self._y)

    def derivative(self, x):
        s = self.fn(x)
        return s * (1 - s)


class Softmax(Activation):
    r"""Softmax over the last axis.

    .. math::
        s_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j, \qquad
        \frac{\partial s_i}{\partial x_j} = s_i(\delta_{ij} - s_j)

    The Jacobian is not diagonal, so there is no element-wise ``derivative``;
    ``backward`` is the true vector-Jacobian product ``s * (g - sum(g * s))``.
    Shifting by the max makes every exponent <= 0: no overflow for any logits.
    For training, use it fused with cross-entropy (``delta = (p - y) / N``),
    which is what relunet does when output="softmax" and loss="cross_entropy".

    Shape: (n_samples, n_classes). Use: output of a multi-class classifier.
    """

    name = "softmax"
    elementwise = False
    properties = Properties(
        formula="exp(x_i) / sum_j exp(x_j)", derivative="s_i (delta_ij - s_j)",
        output_range="(0, 1), sums to 1", saturating=True, zero_centred=False,
        monotonic=True, smooth=True,
        use="output (multi-class, with cross-entropy)",
        problems="use fused with cross-entropy from logits (log-sum-exp), never log(softmax)",
        reference="Bridle, Probabilistic interpretation of feedforward classification network outputs, 1990",
    )

    def fn(self, x):
        x = _as_float(x)
        z = x - np.max(x, axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= np.sum(z, axis=-1, keepdims=True)
        return z

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        s = self._y
        return s * (grad_out - np.sum(grad_out * s, axis=-1, keepdims=True))

    def derivative(self, x):
        raise TypeError("softmax is not element-wise: its Jacobian is s_i (delta_ij - s_j); use backward()")


class Step(Activation):
    r"""Heaviside step function (the perceptron's threshold unit).

    .. math::
        f(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}, \qquad
        f'(x) = 0 \ (x \ne 0), \text{ undefined at } 0

    ``derivative`` returns 0 everywhere (the value torch's autograd gives for
    ``torch.heaviside(x, 0)``), which is why it cannot be trained by gradient descent:
    a network trained by backpropagation refuses it (:class:`NonDifferentiableError`).
    f(0) = 0, as ``torch.heaviside(x, values=0)``.
    """

    name = "step"
    aliases = ("heaviside",)
    differentiable = False
    properties = Properties(
        formula="1 if x > 0 else 0", derivative="0 (x != 0), undefined at 0",
        output_range="{0, 1}", saturating=True, zero_centred=False, monotonic=True,
        smooth=False, kink="f(0) = 0; f' = 0 everywhere (no gradient)",
        use="perceptron only (perceptron learning rule)",
        problems="zero gradient almost everywhere: gradient descent cannot train it",
        reference="McCulloch & Pitts 1943; Rosenblatt, The Perceptron, 1958",
    )

    def fn(self, x):
        x = _as_float(x)
        return (x > 0).astype(x.dtype)

    def derivative(self, x):
        return np.zeros_like(_as_float(x))

    def backward(self, grad_out):
        self.require_differentiable()
        return super().backward(grad_out)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

ACTIVATIONS: dict[str, type[Activation]] = {}
_ALIASES: dict[str, str] = {}


def _register(*classes: type[Activation]) -> None:
    for cls in classes:
        ACTIVATIONS[cls.name] = cls
        for alias in cls.aliases:
            _ALIASES[alias] = cls.name


_register(Identity, ReLU, Sigmoid, Softmax, Step)


def names() -> list[str]:
    """The canonical names of every activation in the catalog, sorted."""
    return sorted(ACTIVATIONS)


def canonical_name(name: str) -> str:
    """Resolve an alias (``"linear"``, ``"swish"``, ...) to its canonical name.

    Raises :class:`UnknownNameError` listing the known names.
    """
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise UnknownNameError("activation", name, list(ACTIVATIONS) + list(_ALIASES))
    return key


def get(name: "str | Activation", **params: Any) -> Activation:
    """Return a fresh activation instance.

    Args:
        name: a catalog name or alias (see :func:`names`), or an ``Activation``
            instance (returned as is, ``params`` must then be empty).
        **params: the activation's hyper-parameters, e.g. ``negative_slope=0.1``.

    Raises:
        UnknownNameError: for a name not in the catalog (the message lists them).
        ConfigError: for a hyper-parameter the activation does not take or a bad value.
    """
    if isinstance(name, Activation):
        if params:
            raise ConfigError("cannot pass parameters together with an Activation instance")
        return name
    if not isinstance(name, str):
        raise ConfigError(f"an activation is a name or an Activation instance, not {type(name).__name__}")
    cls = ACTIVATIONS[canonical_name(name)]
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"activation {cls.name!r}: {exc}") from None
