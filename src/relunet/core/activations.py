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

Numerics, for every activation: the output has the input's floating dtype (float32 in,
float32 out: hyper-parameters are kept as Python floats so they never promote an array),
and no finite input, up to the dtype's maximum, makes NumPy warn (overflow, invalid) or
return NaN, unless f(x) itself is beyond the dtype's range (SELU, or a slope above 1, at
x near the maximum: inf, with NumPy's overflow warning): exponentials are taken of
non-positive numbers only (``exp(min(x, 0))``, ``exp(-|x|)``), except in the float32
sigmoid, where ``1 / (1 + inf) = 0`` is the right limit and that one overflow is silenced;
``expm1``/``log1p`` keep the precision near 0.

At the edges of the floating-point numbers relunet follows PyTorch 2.13 (forward and
autograd, float32 and float64; ``tests/test_activations.py`` compares them element by
element at +-0, subnormals, the branch points, the overflow thresholds, +-max and +-inf)
with these deliberate differences:

* **f(+-inf)** is the limit of f where PyTorch's formula gives NaN: GELU (f(inf) = inf
  in float32, f' = 1 / 0 at +-inf), Hardswish (f(-inf) = -0), and f'(+-inf) of Softsign
  (0) and of the tanh GELU (1 / 0, also at |x| >= 1e20 in float32 and 1e155 in float64,
  where PyTorch's cube overflows). SiLU, Mish, exact GELU at -inf and Softsign at +-inf give NaN, as
  PyTorch (``inf * 0``), with NumPy's invalid-value warning: an infinite
  pre-activation means the network has already overflowed, which training reports as a
  :class:`relunet.errors.DivergenceError` and prediction as a clear error.
* **NaN** in gives NaN out (``sign(NaN)`` too, where ``torch.sign`` gives 0; step gives
  0, as ``torch.heaviside``). f'(NaN) is not specified: PyTorch's backward takes the
  branch its comparison falls into (1 or the slope for ReLU-like units), relunet's masks
  give 0 (ReLU, Leaky ReLU, PReLU, RReLU, ReLU6, Hardtanh) or NaN (ELU, SELU, CELU,
  Hardswish); the forward is NaN either way, so the loss is NaN and training stops.
* **Signed zeros**: ReLU, ELU, SELU and CELU return +0 at x = -0 (and where
  alpha * expm1(x) underflows), PyTorch -0; equal as numbers.
* **Accuracy**: relunet's float64 GELU is accurate in the left tail (``ndtr``), where
  PyTorch's ``1 + erf`` cancels (f(-10) = -7.6e-23, PyTorch -0; f'(-10) differs in the
  second digit); the float32 GELU's A&S approximation has absolute error <= 1.5e-7 (a
  relative error of 2e-3 at x = -5, where PyTorch's float32 GELU is 17% off). Softsign's f' is
  ``(1 / (1 + |x|))^2``, finite where PyTorch's ``1 / (1 + |x|)^2`` underflows to 0;
  Hardsigmoid's float64 f' is 1/6 in float64 (PyTorch rounds it to float32).

Speed: these run in the training hot path. Selections between two branches are written
as arithmetic with boolean masks (``g * (x > 0)``) rather than ``np.where``, which is
several times slower on random masks; each such sum adds an exact 0 to the chosen term,
so the result is bit-for-bit the selected branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special

from relunet.core.registry import Registry
from relunet.core.tree import Tree
from relunet.errors import CallOrderError, ConfigError, NonDifferentiableError, NotElementwiseError

__all__ = [
    "Activation",
    "Properties",
    "get",
    "names",
    "ACTIVATIONS",
    "canonical_name",
    "REGISTRY",
    "Identity", "Step", "Sign", "Sigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "PReLU",
    "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Softplus", "Softsign",
    "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid", "Softmax", "LogSoftmax",
    "HierarchicalSoftmax",
]


@dataclass(frozen=True)
class Properties:
    """What an activation is, as data (used by ``relunet activations``/``explain``/doctor).

    Attributes:
        formula: f(x) in plain text.
        derivative: f'(x) in plain text.
        output_range: the range of f as text, e.g. ``"(0, 1)"``.
        saturating: True where f' tends to 0 both as x -> +inf and as x -> -inf (sigmoid,
            tanh: vanishing gradients on both sides). ReLU-like units, which saturate on
            one side only, count as non-saturating (Krizhevsky et al., 2012).
        zero_centred: True where f is odd, f(-x) = -f(x) (tanh, softsign), so that
            zero-mean symmetric inputs give zero-mean outputs (LeCun et al., 1998).
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
        if not isinstance(x, np.ndarray):  # a list or scalar: cached as the array f sees
            x = _as_float(x)
        self._x = x
        return self.fn(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out * f'(x) for the x of the last ``forward``."""
        self._check_forward()
        return grad_out * self.derivative(self._x)

    def _check_forward(self) -> None:
        if self._x is None:
            raise CallOrderError(f"{self.name}.backward called before forward")

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

    def kinks(self) -> tuple[float, ...]:
        """The points where f is not differentiable (f' there is PyTorch's choice)."""
        return ()

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
    """``x`` as a floating array (integers and bools become float64; floats stay as they are)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":  # np.issubdtype(x.dtype, np.floating), at a tenth of its cost
        x = x.astype(np.float64)
    return x


#: the largest magnitude of a real hyper-parameter (a slope, alpha, a clip value), and the
#: smallest of a positive one (alpha of CELU, beta of Softplus, which divide): beyond them
#: the setting becomes inf in float32 (max 3.4e38) or f, f' or He's gain overflow.
MAX_SETTING = 1e6
MIN_POSITIVE_SETTING = 1e-6


def _real(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    """Validate a hyper-parameter as a finite real number within ``[-MAX_SETTING,
    MAX_SETTING]`` (positive ones: ``[MIN_POSITIVE_SETTING, MAX_SETTING]``) and return it as
    a Python float.

    Python floats (not NumPy scalars) so that they never promote a float32 array.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"activation {owner!r}: {name} must be a real number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float's range
        value = math.inf
    if not math.isfinite(value):
        raise ConfigError(f"activation {owner!r}: {name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"activation {owner!r}: {name} must be > 0, got {value!r}")
    low = MIN_POSITIVE_SETTING if positive else -MAX_SETTING
    if not low <= value <= MAX_SETTING:
        raise ConfigError(f"activation {owner!r}: {name} must be within [{low:g}, {MAX_SETTING:g}] "
                          f"(beyond it f or f' overflows), got {value!r}")
    return value


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|) (same dtype as z)."""
    # NOTE: np.logaddexp(0, z) is equally stable but much slower (it has no SIMD loop).
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), exact to a few ulp, same dtype as x, no warning."""
    if x.dtype == np.float32:
        # NOTE: e^-x overflows to inf for x < -88.7; 1 / (1 + inf) = 0 is then the right
        # limit, so the overflow is silenced here (and only here): faster than
        # scipy.special.expit, which has no SIMD loop.
        with np.errstate(over="ignore"):
            e = np.exp(-x)
        e += 1
        return np.reciprocal(e, out=e)
    return special.expit(x)


#: Abramowitz & Stegun 7.1.26: erfc(z) ~ t (a1 + t (a2 + ...)) e^{-z^2}, t = 1 / (1 + p z),
#: z >= 0, absolute error <= 1.5e-7 (below float32's resolution of Phi near 1).
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_cdf_pdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi(x) and phi(x), the standard normal CDF and density, same dtype as x.

    float64: ``scipy.special.ndtr`` (accurate in both tails). float32: A&S 7.1.26 with
    one SIMD ``exp`` shared by both (scipy's ndtr has no SIMD loop, so it is much slower);
    the error, <= 1e-7, is below float32's own. z is clipped at 11, where e^{-z^2}
    has underflowed to 0 in float32, so z^2 never overflows.
    """
    if x.dtype != np.float32:
        xc = np.clip(x, -40, 40)  # phi(40) underflows to 0 in float64 already
        pdf = np.exp(-0.5 * (xc * xc))
        pdf *= _INV_SQRT_2PI
        return special.ndtr(x), pdf
    z = np.abs(x)
    z *= _INV_SQRT2
    np.minimum(z, 11, out=z)
    t = z * _AS_P
    t += 1
    np.reciprocal(t, out=t)
    poly = t * _AS_A[0]
    for a in _AS_A[1:]:
        poly += a
        poly *= t
    e = z * z
    np.negative(e, out=e)
    np.exp(e, out=e)  # e^{-x^2 / 2}
    poly *= e
    poly *= 0.5  # Phi(-|x|) = erfc(|x| / sqrt 2) / 2
    cdf = 1 - 2 * poly
    cdf *= x >= 0
    cdf += poly  # Phi(x) = Phi(-|x|) for x < 0, 1 - Phi(-|x|) for x >= 0
    e *= _INV_SQRT_2PI
    return cdf, e


def _leaky(x: np.ndarray, slope: float) -> np.ndarray:
    """x if x > 0 else slope * x, exactly as torch (shared by LeakyReLU and RReLU eval)."""
    if 0.0 <= slope <= 1.0:
        return np.maximum(x, x * slope)  # slope*x <= x exactly when x > 0; |slope*x| <= |x|
    # NOTE: x * f'(x), not a choice between x and slope * x: slope * x overflows for a
    # large positive x (1e38 in float32 with slope 10) where f(x) = x is finite.
    return x * _leaky_derivative(x, slope)


def _leaky_derivative(x: np.ndarray, slope: float) -> np.ndarray:
    """1 if x > 0 else slope (slope at x = 0, as torch's leaky_relu_backward)."""
    d = (x <= 0).astype(x.dtype)
    d *= slope
    d += x > 0  # exact: one of the two terms is 0
    return d


# ---------------------------------------------------------------------------
# The catalog. Each class, in PyTorch's docstring order: the definition (f and f' as
# math, piecewise cases spelled out), the arguments with their defaults, the value of f'
# at the kink, ``Shape:``, a numerical note, the reference.
# ---------------------------------------------------------------------------

class Identity(Activation):
    r"""Identity (linear) activation.

    .. math:: f(x) = x, \qquad f'(x) = 1

    Shape:
        - Input: ``(*)``, any shape. Output: the same array (no copy for float input).

    Use: the output of a regression network (with mean squared error).
    """

    name = "identity"
    aliases = ("linear", "none")
    properties = Properties(
        formula="x", derivative="1", output_range="(-inf, inf)", saturating=False,
        zero_centred=True, monotonic=True, smooth=True, use="output (regression, with MSE)",
        problems="a network of identity units is a single linear map, whatever its depth",
        reference="Widrow & Hoff, Adaptive switching circuits (ADALINE), 1960",
    )

    def fn(self, x):
        return _as_float(x)

    def derivative(self, x):
        return np.ones_like(_as_float(x))

    def backward(self, grad_out):
        return grad_out


class Step(Activation):
    r"""Heaviside step function (the perceptron's threshold unit).

    .. math::
        f(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}, \qquad
        f'(x) = 0 \ (x \ne 0), \text{ undefined at } 0

    f(0) = 0, as ``torch.heaviside(x, values=torch.tensor(0.))``.
    ``derivative`` returns 0 everywhere (torch has no derivative for ``heaviside`` at all),
    which is why it cannot be trained by gradient descent: ``backward`` (and a network
    trained by backpropagation) raises :class:`NonDifferentiableError`.

    Shape:
        - Input: ``(*)``. Output: ``(*)``, values in {0, 1}.

    Reference: McCulloch & Pitts (1943); Rosenblatt, The Perceptron (1958).
    """

    name = "step"
    aliases = ("heaviside",)
    differentiable = False
    properties = Properties(
        formula="1 if x > 0 else 0", derivative="0 for x != 0; none at 0 (a jump), where relunet uses 0",
        output_range="{0, 1}", saturating=True, zero_centred=False, monotonic=True,
        smooth=False, kink="f(0) = 0; f' = 0 everywhere, at 0 too (torch has no derivative for heaviside): "
                           "no gradient",
        use="perceptron only (perceptron learning rule)",
        problems="zero gradient almost everywhere: gradient descent cannot train it",
        reference="McCulloch & Pitts 1943; Rosenblatt, The Perceptron, 1958",
    )

    def fn(self, x):
        x = _as_float(x)
        return (x > 0).astype(x.dtype)

    def derivative(self, x):
        return np.zeros_like(_as_float(x))

    def kinks(self):
        return (0.0,)

    def backward(self, grad_out):
        self.require_differentiable()
        return super().backward(grad_out)


class Sign(Activation):
    r"""Sign function (the bipolar threshold unit of ADALINE / the +-1 perceptron).

    .. math::
        f(x) = \begin{cases} 1 & x > 0 \\ 0 & x = 0 \\ -1 & x < 0 \end{cases}, \qquad
        f'(x) = 0 \ (x \ne 0), \text{ undefined at } 0

    f(0) = 0 and ``derivative`` is 0 everywhere, as ``torch.sign`` and its autograd.
    ``backward`` raises :class:`NonDifferentiableError`: no gradient passes through it.

    Shape:
        - Input: ``(*)``. Output: ``(*)``, values in {-1, 0, 1}.

    Reference: Widrow & Hoff, Adaptive switching circuits (1960).
    """

    name = "sign"
    aliases = ("signum",)
    differentiable = False
    properties = Properties(
        formula="1 if x > 0, 0 if x = 0, -1 if x < 0",
        derivative="0 for x != 0; none at 0 (a jump), where relunet uses 0",
        output_range="{-1, 0, 1}", saturating=True, zero_centred=True, monotonic=True,
        smooth=False, kink="f(0) = 0; f' = 0 everywhere, at 0 too (torch.sign's autograd): no gradient",
        use="perceptron only (bipolar targets, perceptron learning rule)",
        problems="zero gradient almost everywhere: gradient descent cannot train it",
        reference="Widrow & Hoff, Adaptive switching circuits, 1960",
    )

    def fn(self, x):
        return np.sign(_as_float(x))

    def derivative(self, x):
        return np.zeros_like(_as_float(x))

    def kinks(self):
        return (0.0,)

    def backward(self, grad_out):
        self.require_differentiable()
        return super().backward(grad_out)


class Sigmoid(Activation):
    r"""Logistic sigmoid.

    .. math::
        f(x) = \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad f'(x) = f(x)\,(1 - f(x))

    No arguments; no kink (smooth).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``1 / (1 + e^{-x})`` in float32, where ``e^{-x} = inf`` for x < -88.7 gives the
        right limit 0 (the overflow is expected and silenced); ``scipy.special.expit``
        in float64. No warning, no NaN. ``backward`` uses the cached output, as torch. Saturates:
        f' < 1e-3 for |x| > 6.9. For a binary output, use it fused with binary
        cross-entropy from the logits (relunet does this for output="sigmoid").

    Reference: Rumelhart, Hinton & Williams, Learning representations by
    back-propagating errors (1986).
    """

    name = "sigmoid"
    aliases = ("logistic",)
    properties = Properties(
        formula="1 / (1 + exp(-x))", derivative="f(x) (1 - f(x))", output_range="(0, 1)",
        saturating=True, zero_centred=False, monotonic=True, smooth=True,
        use="output (binary / multi-label, with binary cross-entropy)",
        problems="vanishing gradients when saturated (f' <= 1/4); outputs not zero-centred",
        reference="Rumelhart, Hinton & Williams, Learning representations by back-propagating errors, 1986",
    )

    def fn(self, x):
        return _sigmoid(_as_float(x))

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        self._check_forward()
        y = self._y
        return grad_out * (y * (1 - y))

    def derivative(self, x):
        s = self.fn(x)
        return s * (1 - s)


class Tanh(Activation):
    r"""Hyperbolic tangent.

    .. math::
        f(x) = \tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}, \qquad f'(x) = 1 - f(x)^2

    No arguments; no kink (smooth).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``np.tanh`` is exact to rounding and saturates to +-1 without overflow.
        ``backward`` uses the cached output, as torch. Zero-centred, which is why
        LeCun (1998) preferred it to the sigmoid for hidden layers.

    Reference: LeCun, Bottou, Orr & Mueller, Efficient BackProp (1998).
    """

    name = "tanh"
    properties = Properties(
        formula="tanh(x)", derivative="1 - tanh(x)^2", output_range="(-1, 1)",
        saturating=True, zero_centred=True, monotonic=True, smooth=True, use="hidden",
        problems="vanishing gradients when saturated (|x| > ~3)",
        reference="LeCun, Bottou, Orr & Mueller, Efficient BackProp, 1998",
    )

    def fn(self, x):
        return np.tanh(_as_float(x))

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        self._check_forward()
        y = self._y
        return grad_out * (1 - y * y)

    def derivative(self, x):
        t = self.fn(x)
        return 1 - t * t


class ReLU(Activation):
    r"""Rectified linear unit.

    .. math::
        f(x) = \max(0, x), \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    No arguments. At the kink f'(0) = 0, as torch (the subgradient its autograd picks).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``backward`` is ``grad_out * (x > 0)``: one comparison and one product.
        Units whose input is <= 0 for every sample get no gradient ("dying ReLU").

    Reference: Nair & Hinton (2010); Glorot, Bordes & Bengio, Deep sparse rectifier
    neural networks (2011).
    """

    name = "relu"
    init = "he"
    properties = Properties(
        formula="max(0, x)", derivative="1 if x > 0 else 0", output_range="[0, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=False,
        kink="f'(0) = 0 (PyTorch's choice of subgradient)", use="hidden",
        problems="dying ReLU: a unit with input <= 0 on every sample gets no gradient and never "
                 "recovers (too large a learning rate, a large negative bias); units that cannot die: "
                 "leaky_relu (negative_slope), prelu (a learned slope), rrelu (a random slope); "
                 "relunet diagnose and relunet doctor count dead units",
        reference="Nair & Hinton, Rectified Linear Units Improve RBMs, ICML 2010",
    )

    def fn(self, x):
        x = _as_float(x)
        return np.maximum(x, 0)

    def derivative(self, x):
        x = _as_float(x)
        return (x > 0).astype(x.dtype)

    def backward(self, grad_out):
        self._check_forward()
        return grad_out * (self._x > 0)

    def kinks(self):
        return (0.0,)


class ReLU6(Activation):
    r"""ReLU capped at 6.

    .. math::
        f(x) = \min(\max(0, x), 6), \qquad
        f'(x) = \begin{cases} 1 & 0 < x < 6 \\ 0 & \text{otherwise} \end{cases}

    No arguments. At the kinks f'(0) = f'(6) = 0, as torch (``relu6`` is
    ``hardtanh(x, 0, 6)``, whose gradient is 0 at both bounds).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        The cap keeps activations small enough for low-precision arithmetic.

    Reference: Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10 (2010);
    used in MobileNet (Howard et al., 2017).
    """

    name = "relu6"
    init = "he"
    properties = Properties(
        formula="min(max(0, x), 6)", derivative="1 if 0 < x < 6 else 0", output_range="[0, 6]",
        saturating=True, zero_centred=False, monotonic=True, smooth=False,
        kink="f'(0) = 0 and f'(6) = 0 (PyTorch)", use="hidden (mobile / quantised networks)",
        problems="dying units below 0 and above 6",
        reference="Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10, 2010",
    )

    def fn(self, x):
        return np.clip(_as_float(x), 0, 6)

    def derivative(self, x):
        x = _as_float(x)
        return ((x > 0) & (x < 6)).astype(x.dtype)

    def backward(self, grad_out):
        self._check_forward()
        x = self._x
        return grad_out * ((x > 0) & (x < 6))

    def kinks(self):
        return (0.0, 6.0)


class LeakyReLU(Activation):
    r"""Leaky rectified linear unit.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}

    Args:
        negative_slope (float): the slope ``a`` for x <= 0. Default: ``0.01``.

    At the kink f'(0) = a (torch's ``leaky_relu_backward`` tests ``x > 0``).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Any finite slope is accepted, as torch (a > 1 or a < 0 give a non-standard,
        still piecewise-linear unit). He initialisation uses the gain sqrt(2 / (1 + a^2)).

    Reference: Maas, Hannun & Ng, Rectifier nonlinearities improve neural network
    acoustic models (2013).
    """

    name = "leaky_relu"
    aliases = ("lrelu", "leakyrelu")
    init = "he"
    properties = Properties(
        formula="x if x > 0 else a x  (a = negative_slope = 0.01)",
        derivative="1 if x > 0 else a", output_range="(-inf, inf)", saturating=False,
        zero_centred=False, monotonic=True, smooth=False, kink="f'(0) = a (PyTorch)",
        use="hidden (a ReLU that cannot die: f' = a > 0 below 0 still passes a gradient)",
        problems="the slope a is a hyper-parameter; small a learns slowly below 0",
        reference="Maas, Hannun & Ng, Rectifier nonlinearities improve neural network acoustic models, ICML 2013",
    )

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = _real(self.name, "negative_slope", negative_slope)

    def config(self):
        return {"negative_slope": self.negative_slope}

    def fn(self, x):
        return _leaky(_as_float(x), self.negative_slope)

    def derivative(self, x):
        return _leaky_derivative(_as_float(x), self.negative_slope)

    def kinks(self):
        return (0.0,)


class PReLU(Activation):
    r"""Parametric ReLU: a leaky ReLU whose slope is learned.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}, \quad
        \frac{\partial f}{\partial x} = \begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}, \quad
        \frac{\partial L}{\partial a_c} = \sum_{n:\ x_{nc} \le 0} g_{nc}\, x_{nc}

    Args:
        num_parameters (int): 1 (one slope shared by every unit) or the number of units
            (one slope per unit; ``MLP`` accepts ``("prelu", {"num_parameters":
            "per_unit"})``). Default: ``1``.
        init (float): the initial slope. Default: ``0.25``.

    At the kink f'(0) = a and dL/da gets 0 from x = 0, as torch.

    Shape:
        - Input: ``(*)`` with one shared slope; ``(n_samples, C, *)`` with C slopes
          (the units are axis 1, torch's channel axis).
        - Output: the input's shape. ``weight``: ``shape (num_parameters,)``.

    Note:
        ``parameters()`` is ``[weight]`` and ``gradients()`` ``[dweight]``, the slope
        gradient summed over the batch (and every axis but the units), as torch's;
        ``dweight`` is overwritten in place by each ``backward``.

    Reference: He, Zhang, Ren & Sun, Delving deep into rectifiers (2015).
    """

    name = "prelu"
    init = "he"
    properties = Properties(
        formula="x if x > 0 else a x  (a learned, initially 0.25; one shared a, or one per unit: "
                "num_parameters = 'per_unit')",
        derivative="1 if x > 0 else a;  dL/da = sum over x <= 0 of g x",
        output_range="(-inf, inf)", saturating=False, zero_centred=False,
        monotonic=True, smooth=False, kink="f'(0) = a (PyTorch)", use="hidden",
        problems="a learned slope can overfit on small data; monotonic only while a >= 0",
        reference="He, Zhang, Ren & Sun, Delving Deep into Rectifiers, ICCV 2015",
    )

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        if (isinstance(num_parameters, (bool, np.bool_))
                or not isinstance(num_parameters, (int, np.integer)) or num_parameters < 1):
            raise ConfigError(
                f"activation 'prelu': num_parameters must be a positive integer (1 shared "
                f"slope or one per unit), got {num_parameters!r}"
            )
        self.num_parameters = int(num_parameters)
        self.init_value = _real(self.name, "init", init)
        self.weight = np.full(self.num_parameters, self.init_value, dtype=np.float64)
        self.dweight = np.zeros_like(self.weight)

    def config(self):
        return {"num_parameters": self.num_parameters, "init": self.init_value}

    def parameters(self):
        return [self.weight]

    def gradients(self):
        return [self.dweight]

    def astype(self, dtype):
        self.weight = self.weight.astype(dtype)
        self.dweight = np.zeros_like(self.weight)
        return self

    def _slopes(self, x: np.ndarray) -> np.ndarray:
        """The weight shaped to broadcast against x (units on axis 1)."""
        if self.num_parameters == 1:
            return self.weight
        if x.ndim < 2 or x.shape[1] != self.num_parameters:
            raise ConfigError(
                f"activation 'prelu' has {self.num_parameters} slopes (one per unit) but its "
                f"input has shape {x.shape}; expected (n_samples, {self.num_parameters}, ...)"
            )
        return self.weight.reshape((-1,) + (1,) * (x.ndim - 2))

    def _factor(self, x: np.ndarray) -> np.ndarray:
        """f'(x): 1 where x > 0, the slope elsewhere (exact, branch-free)."""
        f = (x <= 0) * self._slopes(x)
        f += x > 0
        return f.astype(x.dtype, copy=False)  # the input's dtype, whatever the slope's

    def fn(self, x):
        x = _as_float(x)
        return x * self._factor(x)

    def forward(self, x):
        x = _as_float(x)
        self._x = x
        self._d = self._factor(x)
        return x * self._d

    def derivative(self, x):
        return self._factor(_as_float(x))

    def backward(self, grad_out):
        self._check_forward()
        x = self._x
        # dL/da = g min(x, 0): masking g x by x <= 0 instead made inf * 0 = NaN from an
        # x = +inf, which does not touch the slope (torch: 0)
        contrib = np.minimum(x, 0)
        contrib *= grad_out
        if self.num_parameters == 1:
            self.dweight[...] = contrib.sum()
        else:
            axes = (0,) + tuple(range(2, x.ndim))
            self.dweight[...] = contrib.sum(axis=axes)
        return grad_out * self._d

    def kinks(self):
        return (0.0,)


class RReLU(Activation):
    r"""Randomized leaky ReLU.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ a & x \le 0 \end{cases}

    where, in training mode, ``a ~ U(lower, upper)`` is drawn afresh for every element
    at each ``forward`` (and reused by the matching ``backward``), and in evaluation
    mode ``a = (lower + upper) / 2``, i.e. ``leaky_relu(x, (lower + upper) / 2)``,
    exactly as ``torch.nn.functional.rrelu(x, training=False)``.

    Args:
        lower (float): lower bound of the uniform distribution. Default: ``1/8``.
        upper (float): upper bound of the uniform distribution. Default: ``1/3``.
        rng (numpy.random.Generator): the source of the slopes; also settable as the
            attribute ``rng`` (``MLP`` gives it the network's seeded generator).
            Default: ``np.random.default_rng()`` (unseeded).

    At the kink f'(0) = a, as torch (its noise is a for x <= 0).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``derivative(x)`` is the evaluation-mode derivative (slope (lower + upper) / 2);
        ``backward`` in training mode uses the slopes drawn by the last ``forward``.
        ``fn(x)`` is always the evaluation form, whatever the mode: the network's
        evaluation pass (``predict``) calls it, so a thread that switches the mode or trains
        never makes another thread's prediction random.
        lower > upper raises :class:`ConfigError`, as torch.

    Reference: Xu, Wang, Chen & Li, Empirical evaluation of rectified activations in
    convolutional network (2015).
    """

    name = "rrelu"
    init = "he"
    properties = Properties(
        formula="x if x > 0 else a x, a ~ U(1/8, 1/3) in training, (1/8 + 1/3)/2 in evaluation",
        derivative="1 if x > 0 else a", output_range="(-inf, inf)", saturating=False,
        zero_centred=False, monotonic=True, smooth=False, kink="f'(0) = a (PyTorch)",
        use="hidden (a mild regulariser)",
        problems="random in training: set eval() for deterministic predictions",
        reference="Xu, Wang, Chen & Li, Empirical Evaluation of Rectified Activations in Convolutional Network, 2015",
    )

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 rng: np.random.Generator | None = None):
        super().__init__()
        self.lower = _real(self.name, "lower", lower)
        self.upper = _real(self.name, "upper", upper)
        if self.lower > self.upper:
            raise ConfigError(
                f"activation 'rrelu': lower ({self.lower}) must be <= upper ({self.upper})"
            )
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ConfigError(f"activation 'rrelu': rng must be a numpy.random.Generator, got {rng!r}")
        self.rng = rng if rng is not None else np.random.default_rng()

    @property
    def eval_slope(self) -> float:
        return (self.lower + self.upper) / 2

    def config(self):
        return {"lower": self.lower, "upper": self.upper}

    def fn(self, x):
        return _leaky(_as_float(x), self.eval_slope)

    def forward(self, x):
        x = _as_float(x)
        self._x = x
        if not self.training:
            self._d = None
            return _leaky(x, self.eval_slope)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        slope = self.rng.random(x.shape, dtype=dtype).astype(x.dtype, copy=False)
        slope *= self.upper - self.lower
        slope += self.lower
        slope *= x <= 0
        slope += x > 0  # 1 where x > 0, a where x <= 0 (exact)
        self._d = slope
        return x * slope

    def backward(self, grad_out):
        self._check_forward()
        if self._d is None:
            return grad_out * _leaky_derivative(self._x, self.eval_slope)
        return grad_out * self._d

    def derivative(self, x):
        return _leaky_derivative(_as_float(x), self.eval_slope)

    def kinks(self):
        return (0.0,)


class ELU(Activation):
    r"""Exponential linear unit.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^x - 1) & x \le 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha\, e^x & x \le 0 \end{cases}

    Args:
        alpha (float): the value f tends to is -alpha for x -> -inf. Default: ``1.0``.

    At 0, f'(0) = alpha (torch's ``elu_backward`` tests ``x <= 0``); smooth when
    alpha = 1.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Computed as ``max(x, 0) + alpha * expm1(min(x, 0))``: the exponential only sees
        non-positive numbers (no overflow) and ``expm1`` keeps precision near 0.
        Any finite alpha is accepted, as torch.

    Reference: Clevert, Unterthiner & Hochreiter, Fast and accurate deep network
    learning by exponential linear units (ELUs) (2016).
    """

    name = "elu"
    init = "he"
    properties = Properties(
        formula="x if x > 0 else alpha (exp(x) - 1)  (alpha = 1)",
        derivative="1 if x > 0 else alpha exp(x)", output_range="(-alpha, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=True,
        kink="f'(0) = alpha (PyTorch); smooth only for alpha = 1",
        use="hidden", problems="exp makes it slower than ReLU; saturates to -alpha for x << 0",
        reference="Clevert, Unterthiner & Hochreiter, Fast and Accurate Deep Network Learning by ELUs, ICLR 2016",
    )

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = _real(self.name, "alpha", alpha)

    def config(self):
        return {"alpha": self.alpha}

    def fn(self, x):
        x = _as_float(x)
        return np.maximum(x, 0) + self.alpha * np.expm1(np.minimum(x, 0))

    def derivative(self, x):
        x = _as_float(x)
        d = np.exp(np.minimum(x, 0))
        d *= self.alpha
        d *= x <= 0
        d += x > 0
        return d

    def kinks(self):
        return () if self.alpha == 1.0 else (0.0,)


class SELU(Activation):
    r"""Scaled exponential linear unit (self-normalising).

    .. math::
        f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha\,(e^x - 1) & x \le 0 \end{cases},
        \qquad
        f'(x) = \lambda \begin{cases} 1 & x > 0 \\ \alpha\, e^x & x \le 0 \end{cases}

    with the fixed constants of the paper, as torch:
    ``alpha = 1.6732632423543772848170429916717``,
    ``scale = lambda = 1.0507009873554804934193349852946``. No arguments.

    At the kink f'(0) = lambda * alpha = 1.7581, as torch (``x <= 0`` branch).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``expm1`` of ``min(x, 0)``: no overflow. Self-normalisation assumes LeCun-normal
        weights (relunet's default for SELU) and standardised inputs.

    Reference: Klambauer, Unterthiner, Mayr & Hochreiter, Self-normalizing neural
    networks (2017).
    """

    name = "selu"
    init = "lecun"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    properties = Properties(
        formula="scale (x if x > 0 else alpha (exp(x) - 1)), alpha = 1.67326, scale = 1.05070",
        derivative="scale (1 if x > 0 else alpha exp(x))", output_range="(-scale alpha, inf) = (-1.7581, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=False,
        kink="f'(0) = scale alpha = 1.7581 (PyTorch)", use="hidden (self-normalising MLPs)",
        problems="self-normalisation needs LeCun-normal init, standardised inputs, no batch norm",
        reference="Klambauer, Unterthiner, Mayr & Hochreiter, Self-Normalizing Neural Networks, NeurIPS 2017",
    )

    def fn(self, x):
        x = _as_float(x)
        # torch: x * scale (x > 0), (alpha * scale) * expm1(x) (x <= 0)
        return np.maximum(x, 0) * self.scale + (self.alpha * self.scale) * np.expm1(np.minimum(x, 0))

    def derivative(self, x):
        x = _as_float(x)
        d = np.exp(np.minimum(x, 0))
        d *= self.alpha * self.scale
        d *= x <= 0
        d += (x > 0) * np.asarray(self.scale, dtype=x.dtype)
        return d

    def kinks(self):
        return (0.0,)


class CELU(Activation):
    r"""Continuously differentiable exponential linear unit.

    .. math::
        f(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x/\alpha} - 1) & x \le 0 \end{cases},
        \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ e^{x/\alpha} & x \le 0 \end{cases}

    Args:
        alpha (float): the scale of the negative part, > 0. Default: ``1.0``.

    f'(0) = 1 from both sides: C^1 for every alpha (unlike ELU).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``alpha * expm1(min(x, 0) / alpha)``: no overflow. torch rejects alpha = 0;
        relunet also rejects alpha < 0 (then e^{x/alpha} grows without bound as
        x -> -inf, and overflows for large |x|).

    Reference: Barron, Continuously differentiable exponential linear units (2017).
    """

    name = "celu"
    init = "he"
    properties = Properties(
        formula="x if x > 0 else alpha (exp(x / alpha) - 1)  (alpha = 1)",
        derivative="1 if x > 0 else exp(x / alpha)", output_range="(-alpha, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=True,
        use="hidden",
        problems="exp makes it slower than ReLU; saturates to -alpha for x << 0 "
                 "(f'(0) = 1 from both sides for every alpha: no kink, unlike ELU)",
        reference="Barron, Continuously Differentiable Exponential Linear Units, arXiv:1704.07483, 2017",
    )

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = _real(self.name, "alpha", alpha, positive=True)

    def config(self):
        return {"alpha": self.alpha}

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        """min(x, 0) / alpha, <= 0."""
        # NOTE: for alpha < 1, x / alpha overflows to -inf for x near the dtype's -max;
        # e^-inf = 0 is then the right limit, so that overflow (only) is silenced.
        with np.errstate(over="ignore"):
            return np.minimum(x, 0) * (1.0 / self.alpha)

    def fn(self, x):
        x = _as_float(x)
        return np.maximum(x, 0) + self.alpha * np.expm1(self._scaled(x))

    def derivative(self, x):
        x = _as_float(x)
        d = np.exp(self._scaled(x))
        d *= x <= 0
        d += x > 0
        return d


class GELU(Activation):
    r"""Gaussian error linear unit.

    .. math::
        f(x) = x\,\Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}\frac{x}{\sqrt 2}\right),
        \qquad f'(x) = \Phi(x) + x\,\varphi(x), \quad \varphi(x) = \frac{e^{-x^2/2}}{\sqrt{2\pi}}

    With ``approximate="tanh"``, :math:`u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)`:

    .. math::
        f(x) = \frac{x}{2}\,(1 + \tanh u), \qquad
        f'(x) = \frac{1 + \tanh u}{2} + \frac{x}{2}\,(1 - \tanh^2 u)\,\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2)

    Args:
        approximate (str): ``"none"`` (the exact erf form) or ``"tanh"``. Default: ``"none"``.

    No kink (smooth); f'(0) = 1/2.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Phi is ``scipy.special.ndtr`` in float64 (accurate in both tails, unlike
        ``1 + erf`` for x << 0) and Abramowitz & Stegun 7.1.26 in float32 (error
        <= 1e-7, SIMD ``exp``). The Gaussian and the cubic are evaluated on x clipped
        to [-40, 40] (resp. [-100, 100]), where they have already underflowed to 0
        (resp. tanh has saturated to +-1 exactly): no overflow for any x, same values.
        ``forward`` computes f' alongside f (they share Phi), so ``backward`` is one
        product.

    Reference: Hendrycks & Gimpel, Gaussian error linear units (GELUs) (2016).
    """

    name = "gelu"
    init = "he"
    properties = Properties(
        formula="x Phi(x) = x/2 (1 + erf(x / sqrt 2)); approximate='tanh': x/2 (1 + tanh u), "
                "u = sqrt(2/pi) (x + 0.044715 x^3)",
        derivative="Phi(x) + x phi(x), phi the normal density; approximate='tanh': (1 + tanh u)/2 "
                   "+ x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 0.134145 x^2)",
        output_range="[-0.170, inf)", saturating=False,
        zero_centred=False, monotonic=False, smooth=True, use="hidden (transformers)",
        problems="slower than ReLU (erf); non-monotonic with a minimum -0.17 at x = -0.75; the tanh "
                 "form is within 4.8e-4 of the exact f (8.7e-4 of f')",
        reference="Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs), arXiv:1606.08415, 2016",
    )

    _K = math.sqrt(2.0 / math.pi)
    _C = 0.044715

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ConfigError(
                f"activation 'gelu': approximate must be 'none' or 'tanh', got {approximate!r}"
            )
        self.approximate = approximate

    def config(self):
        return {"approximate": self.approximate}

    def _inner_tanh(self, x):
        xc = np.clip(x, -100, 100)
        return xc, np.tanh(self._K * (xc + self._C * (xc * xc * xc)))

    def _value_and_derivative(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.approximate == "tanh":
            xc, t = self._inner_tanh(x)
            y = (0.5 * x) * (1 + t)
            right = (0.5 * xc) * (1 - t * t)
            right *= self._K * (1 + (3 * self._C) * (xc * xc))
            return y, 0.5 * (1 + t) + right
        cdf, pdf = _normal_cdf_pdf(x)
        y = x * cdf
        pdf *= np.clip(x, -40, 40)  # pdf is exactly 0 beyond: the clip only avoids 0 * inf
        cdf += pdf
        return y, cdf

    def fn(self, x):
        x = _as_float(x)
        if self.approximate == "tanh":
            _, t = self._inner_tanh(x)
            return (0.5 * x) * (1 + t)
        return x * _normal_cdf_pdf(x)[0]

    def forward(self, x):
        x = _as_float(x)
        self._x = x
        y, self._d = self._value_and_derivative(x)  # f and f' share Phi (and the exp)
        return y

    def backward(self, grad_out):
        self._check_forward()
        return grad_out * self._d

    def derivative(self, x):
        return self._value_and_derivative(_as_float(x))[1]


class SiLU(Activation):
    r"""Sigmoid-weighted linear unit (swish with beta = 1).

    .. math::
        f(x) = x\,\sigma(x), \qquad f'(x) = \sigma(x)\,(1 + x\,(1 - \sigma(x)))

    No arguments; no kink (smooth); f'(0) = 1/2.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        sigma computed without overflow (see Sigmoid); at x = -1e30 sigma is exactly 0
        and f, f' are -0.0, never NaN.

    Reference: Hendrycks & Gimpel (2016); Elfwing, Uchibe & Doya, Sigmoid-weighted
    linear units (2018); Ramachandran, Zoph & Le, Searching for activation functions
    (2017) (as "swish").
    """

    name = "silu"
    aliases = ("swish",)
    init = "he"
    properties = Properties(
        formula="x sigmoid(x)", derivative="s (1 + x (1 - s)), s = sigmoid(x)",
        output_range="[-0.278, inf)", saturating=False, zero_centred=False, monotonic=False,
        smooth=True, use="hidden", problems="non-monotonic (minimum -0.278 at x = -1.278); slower than ReLU",
        reference="Elfwing, Uchibe & Doya, Sigmoid-Weighted Linear Units, Neural Networks 2018; "
                  "Ramachandran, Zoph & Le, Searching for Activation Functions, 2017",
    )

    def fn(self, x):
        x = _as_float(x)
        return x * _sigmoid(x)

    def forward(self, x):
        x = _as_float(x)
        self._x = x
        self._s = _sigmoid(x)
        return x * self._s

    def backward(self, grad_out):
        self._check_forward()
        return grad_out * self._derivative(self._x, self._s)

    @staticmethod
    def _derivative(x, s):
        d = x * (1 - s)
        d += 1
        d *= s
        return d

    def derivative(self, x):
        x = _as_float(x)
        return self._derivative(x, _sigmoid(x))


class Mish(Activation):
    r"""Mish: a self-regularised non-monotonic activation.

    .. math::
        f(x) = x \tanh(\operatorname{softplus}(x)), \qquad
        f'(x) = \tanh(\operatorname{softplus}(x)) + x\,\sigma(x)\,(1 - \tanh^2(\operatorname{softplus}(x)))

    No arguments; no kink (smooth); f'(0) = 0.6.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        softplus is ``max(x, 0) + log1p(exp(-|x|))`` (no overflow); torch's formula
        ``log1p(exp(x))`` gives the same values.

    Reference: Misra, Mish: a self regularized non-monotonic activation function (2019).
    """

    name = "mish"
    init = "he"
    properties = Properties(
        formula="x tanh(softplus(x))", derivative="t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))",
        output_range="[-0.309, inf)", saturating=False, zero_centred=False, monotonic=False,
        smooth=True, use="hidden", problems="non-monotonic (minimum -0.309 at x = -1.19); slower than ReLU",
        reference="Misra, Mish: A Self Regularized Non-Monotonic Activation Function, BMVC 2020 (arXiv:1908.08681)",
    )

    def fn(self, x):
        x = _as_float(x)
        return x * np.tanh(_softplus(x))

    def forward(self, x):
        x = _as_float(x)
        self._x = x
        self._t = np.tanh(_softplus(x))
        return x * self._t

    def backward(self, grad_out):
        self._check_forward()
        return grad_out * self._derivative(self._x, self._t)

    @staticmethod
    def _derivative(x, t):
        d = 1 - t * t
        d *= x
        d *= _sigmoid(x)
        d += t
        return d

    def derivative(self, x):
        x = _as_float(x)
        return self._derivative(x, np.tanh(_softplus(x)))


class Softplus(Activation):
    r"""Softplus: a smooth approximation of ReLU.

    .. math::
        f(x) = \begin{cases} \frac{1}{\beta}\log(1 + e^{\beta x}) & \beta x \le t \\
                              x & \beta x > t \end{cases}, \qquad
        f'(x) = \begin{cases} \sigma(\beta x) & \beta x \le t \\ 1 & \beta x > t \end{cases}

    Args:
        beta (float): sharpness, > 0. Default: ``1.0``.
        threshold (float): t, above which f is taken as the identity (as torch).
            Default: ``20.0``.

    Smooth; the switch to the identity at beta x = t changes f by log1p(e^-t)/beta
    (2e-9 for t = 20), as in torch.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Below the threshold ``log(1 + e^z) = max(z, 0) + log1p(e^{-|z|})``, which never
        overflows even for a huge threshold (torch's ``log1p(exp(z))`` would).
        torch accepts beta <= 0 (giving inf or a concave function); relunet raises
        :class:`ConfigError`.

    Reference: Dugas, Bengio, Belisle, Nadeau & Garcia, Incorporating second-order
    functional knowledge for better option pricing (2001); Glorot et al. (2011).
    """

    name = "softplus"
    init = "he"
    properties = Properties(
        formula="log(1 + exp(beta x)) / beta, x where beta x > threshold (beta = 1, threshold = 20)",
        derivative="sigmoid(beta x), 1 where beta x > threshold", output_range="(0, inf)",
        saturating=False, zero_centred=False, monotonic=True, smooth=True,
        use="hidden; positive outputs (scales, rates)",
        problems="f' -> 0 for x << 0 (saturates on the left); slower than ReLU; as torch, f is "
                 "taken as x where beta x > threshold (a jump of log1p(exp(-threshold)) / beta, "
                 "2e-9 by default)",
        reference="Dugas et al., Incorporating Second-Order Functional Knowledge for Better Option Pricing, NeurIPS 2001",
    )

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = _real(self.name, "beta", beta, positive=True)
        self.threshold = _real(self.name, "threshold", threshold)

    def config(self):
        return {"beta": self.beta, "threshold": self.threshold}

    def _bx(self, x):
        if self.beta == 1.0:
            return x
        with np.errstate(over="ignore"):  # an inf here is always past the threshold
            return x * self.beta

    def fn(self, x):
        x = _as_float(x)
        bx = self._bx(x)
        y = _softplus(bx)
        if self.beta != 1.0:
            y /= self.beta
        # NOTE: few elements pass the threshold: patching them is faster than np.where
        over = np.flatnonzero(bx > self.threshold)
        if over.size:
            y.flat[over] = x.flat[over]
        return y

    def derivative(self, x):
        x = _as_float(x)
        bx = self._bx(x)
        d = _sigmoid(bx)
        over = np.flatnonzero(bx > self.threshold)
        if over.size:
            d.flat[over] = 1
        return d



    def kinks(self):
        # NOTE: torch's switch to the identity makes f jump by log1p(e^-t)/beta at
        # beta x = t (2e-9 for the defaults, 0.0034 for beta=2, t=5): not differentiable there.
        return (self.threshold / self.beta,)


class Softsign(Activation):
    r"""Softsign.

    .. math::
        f(x) = \frac{x}{1 + |x|}, \qquad f'(x) = \frac{1}{(1 + |x|)^2}

    No arguments; smooth (C^1; f'' jumps at 0).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        f' is computed as ``(1 / (1 + |x|))**2``: squaring ``1 + |x|`` first would
        overflow float32 for |x| > 1.8e19. Saturates polynomially, not exponentially.

    Reference: Bergstra, Desjardins, Lamblin & Bengio, Quadratic polynomials learn
    better image features (2009).
    """

    name = "softsign"
    properties = Properties(
        formula="x / (1 + |x|)", derivative="1 / (1 + |x|)^2", output_range="(-1, 1)",
        saturating=True, zero_centred=True, monotonic=True, smooth=True, use="hidden",
        problems="saturates (polynomially, more gently than tanh)",
        reference="Bergstra, Desjardins, Lamblin & Bengio, Quadratic Polynomials Learn Better Image Features, 2009",
    )

    def fn(self, x):
        x = _as_float(x)
        return x / (1 + np.abs(x))

    def derivative(self, x):
        x = _as_float(x)
        d = np.abs(x)
        d += 1
        np.reciprocal(d, out=d)
        d *= d
        return d


class Hardtanh(Activation):
    r"""Hard tanh: tanh replaced by a clipped identity.

    .. math::
        f(x) = \begin{cases} \text{max\_val} & x > \text{max\_val} \\
                              \text{min\_val} & x < \text{min\_val} \\ x & \text{otherwise} \end{cases},
        \qquad f'(x) = \begin{cases} 1 & \text{min\_val} < x < \text{max\_val} \\ 0 & \text{otherwise} \end{cases}

    Args:
        min_val (float): the lower bound. Default: ``-1.0``.
        max_val (float): the upper bound, >= min_val. Default: ``1.0``.

    At the kinks f'(min_val) = f'(max_val) = 0, as torch's ``hardtanh_backward``.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        A piecewise-linear tanh: cheap and exact, but units outside the bounds get no
        gradient. min_val > max_val raises :class:`ConfigError`, as torch.

    Reference: Collobert, Large scale machine learning (PhD thesis, 2004).
    """

    name = "hardtanh"
    aliases = ("hard_tanh",)
    properties = Properties(
        formula="min(max(x, min_val), max_val)  (min_val = -1, max_val = 1)",
        derivative="1 if min_val < x < max_val else 0", output_range="[min_val, max_val] = [-1, 1]",
        saturating=True, zero_centred=True, monotonic=True, smooth=False,
        kink="f'(min_val) = f'(max_val) = 0 (PyTorch)", use="hidden",
        problems="no gradient outside [min_val, max_val]",
        reference="Collobert, Large Scale Machine Learning, PhD thesis, 2004",
    )

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        self.min_val = _real(self.name, "min_val", min_val)
        self.max_val = _real(self.name, "max_val", max_val)
        if self.min_val > self.max_val:
            raise ConfigError(
                f"activation 'hardtanh': min_val ({self.min_val}) must be <= max_val ({self.max_val})"
            )

    def config(self):
        return {"min_val": self.min_val, "max_val": self.max_val}

    def fn(self, x):
        return np.clip(_as_float(x), self.min_val, self.max_val)

    def derivative(self, x):
        x = _as_float(x)
        return ((x > self.min_val) & (x < self.max_val)).astype(x.dtype)

    def backward(self, grad_out):
        self._check_forward()
        x = self._x
        return grad_out * ((x > self.min_val) & (x < self.max_val))

    def kinks(self):
        return (self.min_val, self.max_val)


class Hardsigmoid(Activation):
    r"""Hard sigmoid: a piecewise-linear sigmoid.

    .. math::
        f(x) = \begin{cases} 0 & x \le -3 \\ 1 & x \ge 3 \\ x/6 + 1/2 & \text{otherwise} \end{cases},
        \qquad f'(x) = \begin{cases} 1/6 & -3 < x < 3 \\ 0 & \text{otherwise} \end{cases}

    No arguments. At the kinks f'(-3) = f'(3) = 0, as torch.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Computed as torch: ``min(max(x + 3, 0), 6) / 6``.

    Reference: Howard et al., Searching for MobileNetV3 (2019); Courbariaux, Bengio &
    David, BinaryConnect (2015).
    """

    name = "hardsigmoid"
    aliases = ("hard_sigmoid",)
    properties = Properties(
        formula="min(max(x + 3, 0), 6) / 6", derivative="1/6 if -3 < x < 3 else 0",
        output_range="[0, 1]", saturating=True, zero_centred=False, monotonic=True,
        smooth=False, kink="f'(-3) = f'(3) = 0 (PyTorch)", use="hidden / gates (mobile networks)",
        problems="no gradient outside (-3, 3)",
        reference="Howard et al., Searching for MobileNetV3, ICCV 2019",
    )

    def fn(self, x):
        return np.clip(_as_float(x) + 3, 0, 6) / 6

    def derivative(self, x):
        x = _as_float(x)
        d = ((x > -3) & (x < 3)).astype(x.dtype)
        d *= 1.0 / 6.0
        return d

    def kinks(self):
        return (-3.0, 3.0)


class Hardswish(Activation):
    r"""Hard swish: x times the hard sigmoid.

    .. math::
        f(x) = \begin{cases} 0 & x \le -3 \\ x & x \ge 3 \\ x\,(x + 3)/6 & \text{otherwise} \end{cases},
        \qquad f'(x) = \begin{cases} 0 & x \le -3 \\ x/3 + 1/2 & -3 < x < 3 \\ 1 & x \ge 3 \end{cases}

    No arguments. At the kinks f'(-3) = 0 and f'(3) = 1, as torch's
    ``hardswish_backward`` (the one-sided slopes are 0 and -1/2 at -3, 3/2 and 1 at 3).

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        Computed as torch, ``x * min(max(x + 3, 0), 6) / 6``, except where that is not
        finite: f = x for x > max / 6 (where ``6 x`` overflows; torch gives inf) and
        f(-inf) = -0 (torch: NaN). Non-monotonic:
        minimum -3/8 at x = -3/2.

    Reference: Howard et al., Searching for MobileNetV3 (2019).
    """

    name = "hardswish"
    aliases = ("hard_swish",)
    properties = Properties(
        formula="x min(max(x + 3, 0), 6) / 6", derivative="0 if x <= -3, x/3 + 1/2 if x < 3, else 1",
        output_range="[-0.375, inf)", saturating=False, zero_centred=False, monotonic=False,
        smooth=False, kink="f'(-3) = 0, f'(3) = 1 (PyTorch)", use="hidden (mobile networks)",
        problems="non-monotonic; no gradient below -3",
        reference="Howard et al., Searching for MobileNetV3, ICCV 2019",
    )
    init = "he"

    def fn(self, x):
        x = _as_float(x)
        with np.errstate(over="ignore", invalid="ignore"):  # the non-finite results: below
            y = x * np.clip(x + 3, 0, 6)
        y /= 6
        if not np.isfinite(y).all():
            # NOTE: 6 x overflows for x > max / 6 (f(1e38) was inf in float32) and -inf * 0
            # is NaN; f is x, resp. -0, there. Few elements: patched, not a second pass.
            bad = np.flatnonzero(~np.isfinite(y))
            xb = x.flat[bad]
            y.flat[bad] = np.maximum(xb, -3) * (np.clip(xb + 3, 0, 6) / 6)
        return y

    def derivative(self, x):
        x = _as_float(x)
        d = np.clip(x, -3, 3)  # f'(+-inf) = 1 or 0, not inf * 0 = NaN (as torch)
        d *= 1.0 / 3.0
        d += 0.5
        d *= (x > -3) & (x < 3)
        d += x >= 3
        return d

    def kinks(self):
        return (-3.0, 3.0)


class LogSigmoid(Activation):
    r"""Log of the sigmoid.

    .. math::
        f(x) = \log \sigma(x) = -\operatorname{softplus}(-x), \qquad
        f'(x) = 1 - \sigma(x) = \sigma(-x)

    No arguments; smooth.

    Shape:
        - Input: ``(*)``, any shape (usually ``(n_samples, n_units)``).
        - Output: ``(*)``, the input's shape and floating dtype.

    Note:
        ``min(x, 0) - log1p(exp(-|x|))``: never ``log(sigmoid(x))``, which is
        ``log(0) = -inf`` for x < -745. f(-1e30) = -1e30 exactly.

    Reference: the log-likelihood of logistic regression; torch.nn.LogSigmoid.
    """

    name = "logsigmoid"
    aliases = ("log_sigmoid",)
    properties = Properties(
        formula="log(1 / (1 + exp(-x))) = -softplus(-x)", derivative="1 - sigmoid(x) = sigmoid(-x)",
        output_range="(-inf, 0)", saturating=False, zero_centred=False, monotonic=True,
        smooth=True, use="inside losses (log-likelihood of a Bernoulli)",
        problems="saturates to 0 for x >> 0",
        reference="Cox, The regression analysis of binary sequences, 1958 (logistic log-likelihood)",
    )

    def fn(self, x):
        x = _as_float(x)
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def derivative(self, x):
        return _sigmoid(-_as_float(x))


class Softmax(Activation):
    r"""Softmax over the last axis.

    .. math::
        s_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j, \qquad
        \frac{\partial s_i}{\partial x_j} = s_i(\delta_{ij} - s_j)

    No arguments (the axis is the last, torch's ``dim=-1``).

    The Jacobian is not diagonal, so there is no element-wise ``derivative``;
    ``backward`` is the true vector-Jacobian product ``s * (g - sum(g * s))``.

    Shape:
        - Input: ``(*, n_classes)``, usually ``(n_samples, n_classes)``.
        - Output: the same shape; each row sums to 1.

    Note:
        Shifting by the max makes every exponent <= 0: no overflow for any finite logits
        (+-1e30 included). For training, use it fused with cross-entropy
        (``delta = (p - y) / N``), which is what relunet does when output="softmax" and
        loss="cross_entropy"; for log-probabilities use ``log_softmax``, never
        ``log(softmax)``.

    Reference: Bridle, Probabilistic interpretation of feedforward classification
    network outputs (1990).
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
        # the ufuncs' own reductions: np.max / np.sum call them (same results), at three
        # times the cost on one sample's row
        with np.errstate(over="ignore"):  # -max - max = -inf: e^-inf = 0 is the right limit
            z = x - np.maximum.reduce(x, axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= np.add.reduce(z, axis=-1, keepdims=True)
        return z

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        self._check_forward()
        s = self._y
        gs = grad_out * s
        gs -= s * np.sum(gs, axis=-1, keepdims=True)
        return gs

    def derivative(self, x):
        raise NotElementwiseError("softmax is not element-wise: its Jacobian is s_i (delta_ij - s_j); use backward()")


class LogSoftmax(Activation):
    r"""Log of the softmax over the last axis.

    .. math::
        y_i = x_i - m - \log \sum_j e^{x_j - m}, \quad m = \max_j x_j, \qquad
        \frac{\partial y_i}{\partial x_j} = \delta_{ij} - s_j

    No arguments (the axis is the last). ``backward`` is the vector-Jacobian product
    ``g - s * sum(g)`` with ``s = exp(y)`` the softmax, as torch's.

    Shape:
        - Input: ``(*, n_classes)``. Output: the same shape; ``exp`` of each row sums to 1.

    Note:
        The log-sum-exp with the max shift: exponents are <= 0 and the sum is >= 1, so
        no overflow and no ``log(0)`` for any finite logits; y = 0 for the largest
        logit when it dominates, never NaN. Pair it with the negative log-likelihood.

    Reference: Bridle (1990); torch.nn.LogSoftmax.
    """

    name = "log_softmax"
    aliases = ("logsoftmax",)
    elementwise = False
    properties = Properties(
        formula="x_i - log sum_j exp(x_j)", derivative="delta_ij - softmax_j",
        output_range="(-inf, 0]", saturating=False, zero_centred=False, monotonic=True,
        smooth=True, use="output (multi-class log-probabilities, with negative log-likelihood)",
        problems="outputs are log-probabilities: exponentiate for probabilities",
        reference="Bridle, Probabilistic interpretation of feedforward classification network outputs, 1990",
    )

    def fn(self, x):
        x = _as_float(x)
        with np.errstate(over="ignore"):  # -max - max = -inf, the right log-probability
            z = x - np.max(x, axis=-1, keepdims=True)
        z -= np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
        return z

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        self._check_forward()
        s = np.exp(self._y)
        s *= np.sum(grad_out, axis=-1, keepdims=True)
        return grad_out - s

    def derivative(self, x):
        raise NotElementwiseError("log_softmax is not element-wise: its Jacobian is delta_ij - s_j; use backward()")


class HierarchicalSoftmax(Activation):
    r"""Hierarchical softmax: class probabilities from the node scores of a binary tree.

    .. math::
        p_c = \prod_{l=1}^{D_c} \sigma(t_{cl}\, x_{j_{cl}}), \qquad
        \frac{\partial L}{\partial x_j} = \sigma(-x_j) \sum_{c \in \mathrm{left}(j)} g_c p_c
            - \sigma(x_j) \sum_{c \in \mathrm{right}(j)} g_c p_c

    where ``(j_c1, ..., j_cD)`` is the path from the root to class ``c`` and ``t = +1``
    (left) or ``-1`` (right) (Morin & Bengio 2005; word2vec's Huffman tree: Mikolov et
    al. 2013). Column ``j < K - 1`` of the input is the score of inner node ``j``; the
    last column is padding (the tree has ``K - 1`` inner nodes for ``K`` classes).

    Args:
        children: the tree (:class:`relunet.core.tree.Tree` or its ``children`` pairs);
            None: the balanced tree over the input's width.

    Shape:
        - Input: ``(n_samples, K)`` node scores (last column unused).
        - Output: ``(n_samples, K)`` exact class probabilities; each row sums to 1.

    Note:
        Computed in log space (``log sigma(x) = -logaddexp(0, -x)``), stable for any finite
        scores. For training, use it fused with ``loss="hierarchical_nll"``, whose fast
        path scores only the target's path: ``O(d log K)`` per sample instead of ``O(d K)``.
    """

    name = "hierarchical_softmax"
    aliases = ("hsoftmax", "hierarchical")
    elementwise = False
    properties = Properties(
        formula="p_c = prod over the path of c of sigma(+-x_j)", derivative="sigma(-x_j) sum_left g p - sigma(x_j) sum_right g p",
        output_range="(0, 1), sums to 1", saturating=True, zero_centred=False,
        monotonic=False, smooth=True,
        use="output over many classes (with hierarchical_nll)",
        problems="the tree decides which classes share decisions: a poor tree costs accuracy",
        reference="Morin & Bengio, Hierarchical probabilistic neural network language model, 2005",
    )

    def __init__(self, children: Any = None):
        super().__init__()
        if children is None or isinstance(children, Tree):
            self.tree = children
        else:
            self.tree = Tree(children)
        self._balanced: Tree | None = None

    def tree_for(self, width: int) -> Tree:
        """The tree over ``width`` classes: the given one (its width checked) or a balanced one."""
        if self.tree is not None:
            if self.tree.n_classes != width:
                raise ConfigError(f"hierarchical_softmax: the tree has {self.tree.n_classes} classes "
                                  f"but the input {width} columns")
            return self.tree
        if self._balanced is None or self._balanced.n_classes != width:
            self._balanced = Tree.balanced(width)
        return self._balanced

    def config(self):
        return {} if self.tree is None else {"children": self.tree.config()}

    def log_fn(self, x: np.ndarray) -> np.ndarray:
        """``log p``, ``shape (n, K)`` float64 (exact, for perplexities)."""
        x = np.atleast_2d(_as_float(x))
        return self.tree_for(x.shape[-1]).log_proba(x)

    def fn(self, x):
        x = _as_float(x)
        if np.atleast_2d(x).ndim != 2 or np.shape(x)[-1] < 2:
            raise ConfigError(f"hierarchical_softmax takes (n_samples, K >= 2) node scores, got shape {np.shape(x)}")
        p = np.exp(self.log_fn(x)).astype(x.dtype, copy=False)
        return p.reshape(x.shape)

    def forward(self, x):
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out):
        self._check_forward()
        x = np.atleast_2d(_as_float(self._x))
        tree = self.tree_for(x.shape[-1])
        g = tree.proba_vjp(x, np.atleast_2d(self._y), np.atleast_2d(grad_out))
        return g.astype(x.dtype, copy=False).reshape(np.shape(self._x))

    def derivative(self, x):
        raise NotElementwiseError("hierarchical_softmax is not element-wise: each probability depends "
                                  "on the scores along its path; use backward()")


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

ACTIVATIONS: dict[str, type[Activation]] = {}
#: the activation catalog's name table (:class:`relunet.core.registry.Registry`)
REGISTRY: Registry[type[Activation]] = Registry("activation", ACTIVATIONS, base=Activation, classes=True)

for _cls in (
    Identity, Step, Sign, Sigmoid, Tanh, ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, SELU,
    CELU, GELU, SiLU, Mish, Softplus, Softsign, Hardtanh, Hardsigmoid, Hardswish,
    LogSigmoid, Softmax, LogSoftmax, HierarchicalSoftmax,
):
    REGISTRY.register(_cls.name, _cls, _cls.aliases)
del _cls


def names() -> list[str]:
    """The canonical names of every activation in the catalog, sorted."""
    return REGISTRY.names()


def canonical_name(name: str) -> str:
    """Resolve an alias (``"linear"``, ``"swish"``, ...) to its canonical name.

    Raises :class:`UnknownNameError` listing the known names.
    """
    return REGISTRY.canonical_name(name)


def get(name: "str | Activation | type[Activation]", **params: Any) -> Activation:
    """Return a fresh activation instance.

    Args:
        name: a catalog name or alias (see :func:`names`), an ``Activation``
            instance (returned as is, ``params`` must then be empty) or an
            ``Activation`` subclass (instantiated with ``params``).
        **params: the activation's hyper-parameters, e.g. ``negative_slope=0.1``.

    Raises:
        UnknownNameError: for a name not in the catalog (the message lists them).
        ConfigError: for a hyper-parameter the activation does not take or a bad value.
    """
    return REGISTRY.get(name, **params)
