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
poisson                identity        (exp(z) - Y) / (N K)   (z is the log rate)
hierarchical_nll       hierarchical_   -t sigma(-t z_j) / N on the target's path
                       softmax         (z_j: node scores, t = +-1; 0 elsewhere)
=====================  ==============  =========================================

For any other pair the network backpropagates ``gradient(y_pred, Y)`` through the
output activation's own ``backward`` (correct, but usually a poor choice: see
``relunet doctor``). ``Loss.value_and_delta_from_logits`` is the one place that computes
the fused pair; the network's training step and the backprop trace both call it.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np

from relunet.core import activations, kernels
from relunet.core.registry import Registry
from relunet.core.tree import Tree, target_indices
from relunet.errors import DataError


# The stable forms live in the activation catalog (max-shifted softmax / log-sum-exp,
# overflow-free sigmoid); the losses use the same code rather than copies of it.
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
    #: True when the encoded targets are class indices, ``shape (n_samples, 1)``, rather
    #: than one column per output (a tree over tens of thousands of classes)
    index_targets: bool = False

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

    def value_and_delta_from_logits(
        self,
        z: np.ndarray,
        Y: np.ndarray,
        out: np.ndarray | None = None,
        col: np.ndarray | None = None,
        tmp: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """``(L, dL/dz)`` from the logits ``z`` of the natural output, in one pass.

        Valid **only** when the network's output activation is this loss's ``output``
        (the module's table): the output activation's Jacobian is then folded into the
        delta, which is never passed back through it.

        Args:
            z, Y: logits and targets, ``shape (n_samples, n_outputs)``.
            out: an array of z's shape to write the delta into (a work array); None: new.
            col, tmp: work arrays of ``shape (n_samples, 1)`` and z's shape, for losses
                that use scratch (cross-entropy); None: made when needed.
        """
        value = self.value_from_logits(z, Y)
        delta = self.delta_from_logits(z, Y)
        if out is None:
            return value, delta
        np.copyto(out, delta)
        return value, out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _indexed(z: np.ndarray, Y: np.ndarray) -> bool:
    """True when ``Y`` holds class indices, ``shape (n, 1)``, for the ``K > 1`` columns of ``z``."""
    return np.ndim(Y) == 2 and np.shape(Y)[1] == 1 and np.ndim(z) == 2 and np.shape(z)[1] > 1


def _one_hot(Y: np.ndarray, k: int, dtype: np.dtype) -> np.ndarray:
    """One-hot rows ``shape (n, k)`` from class indices ``shape (n, 1)``."""
    out = np.zeros((len(Y), k), dtype=dtype)
    out[np.arange(len(Y)), target_indices(Y, k)] = 1
    return out


class CrossEntropy(Loss):
    r"""Categorical cross-entropy with softmax output.

    .. math::
        L = -\frac{1}{N}\sum_n \sum_k Y_{nk} \log p_{nk}, \quad p = \mathrm{softmax}(z)

    From logits: :math:`L = \frac1N \sum_n (\mathrm{logsumexp}(z_n) - Y_n \cdot z_n)`, and
    :math:`\partial L/\partial z = (p - Y)/N`. On outputs, ``log`` is taken of ``p``
    clipped to the smallest positive normal of its dtype, so ``log(0)`` never occurs.

    ``Y`` may also be class indices, ``shape (n, 1)`` (as torch's ``CrossEntropyLoss``
    takes them): the same loss without a one-hot array of ``n K`` values, which is what
    ``MLP`` encodes for :data:`INDEX_TARGETS_FROM` classes or more (``index_targets``).
    """

    name = "cross_entropy"
    output = "softmax"
    task = "classification"
    formula = "-(1/N) sum_n sum_k y_nk log p_nk"

    def value(self, y_pred, Y):
        if _indexed(y_pred, Y):
            Y = _one_hot(Y, y_pred.shape[1], y_pred.dtype)
        _same_shape(y_pred, Y)
        tiny = np.finfo(y_pred.dtype).tiny
        return float(-np.sum(Y * np.log(np.maximum(y_pred, tiny))) / len(Y))

    def gradient(self, y_pred, Y):
        if _indexed(y_pred, Y):
            Y = _one_hot(Y, y_pred.shape[1], y_pred.dtype)
        _same_shape(y_pred, Y)
        tiny = np.finfo(y_pred.dtype).tiny
        return -Y / np.maximum(y_pred, tiny) / len(Y)

    def value_from_logits(self, z, Y):
        if _indexed(z, Y):
            idx = target_indices(Y, z.shape[1])
            return float(-np.sum(_LOG_SOFTMAX.fn(z)[np.arange(len(idx)), idx]) / len(idx))
        _same_shape(z, Y)
        return float(-np.sum(Y * _LOG_SOFTMAX.fn(z)) / len(Y))

    def delta_from_logits(self, z, Y):
        return self.value_and_delta_from_logits(z, Y)[1]

    def value_and_delta_from_logits(self, z, Y, out=None, col=None, tmp=None):
        r"""Softmax + cross-entropy from logits, fused: ``(L, (softmax(z) - Y) / N)``.

        Valid only for a softmax output with cross-entropy (the softmax Jacobian and the
        derivative of ``-log p`` cancel). On the given work arrays (none is allocated):

        .. math::
            s = z - \max_k z, \quad
            L = \frac1N \sum_n \Big(\big(\textstyle\sum_k Y_{nk}\big) \log \sum_k e^{s_{nk}}
                - \sum_k Y_{nk} s_{nk}\Big), \quad
            \delta = \frac{\mathrm{softmax}(z) - Y}{N}

        The max-shift makes every exponent <= 0 (no overflow) and the sum of exponentials
        >= 1 (its log is finite). One-hot (or soft) targets run
        :func:`relunet.core.kernels.softmax_cross_entropy` (compiled from
        ``kernels.LOSS_COMPILED_MIN`` logits on, bit for bit NumPy's steps). Class indices
        ``Y`` (``shape (n, 1)``) take the same steps with ``Y`` read at ``(n, y_n)`` (``tmp``
        is then unused).
        """
        if _indexed(z, Y):
            return self._indexed_value_and_delta(np.asarray(z), np.asarray(Y), out, col)
        _same_shape(z, Y)
        z, Y = np.asarray(z), np.asarray(Y)
        n = len(Y)
        dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
        if out is None:
            out = np.empty(z.shape, dtype=dtype)
        if col is None:
            col = np.empty((n, 1), dtype=dtype)
        if tmp is None:
            tmp = np.empty(z.shape, dtype=dtype)
        value = kernels.softmax_cross_entropy(z, Y, out, col, tmp)
        return value, out

    def _indexed_value_and_delta(self, z: np.ndarray, Y: np.ndarray, out: np.ndarray | None,
                                 col: np.ndarray | None) -> tuple[float, np.ndarray]:
        """The fused pass on class indices ``Y`` ``shape (n, 1)``."""
        n = len(z)
        idx = target_indices(Y, z.shape[1])
        rows = np.arange(n)
        dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
        if out is None or out.shape != z.shape:
            out = np.empty(z.shape, dtype=dtype)
        if col is None:
            col = np.empty((n, 1), dtype=dtype)
        np.maximum.reduce(z, axis=1, keepdims=True, out=col)
        s = np.subtract(z, col, out=out)
        ys = float(np.add.reduce(s[rows, idx].astype(np.float64)))
        e = np.exp(s, out=out)
        np.add.reduce(e, axis=1, keepdims=True, out=col)
        np.divide(e, col, out=out)
        np.log(col, out=col)
        value = (float(np.add.reduce(col, axis=None)) - ys) / n
        out[rows, idx] -= 1
        out /= n
        return value, out


#: ``MLP`` encodes cross-entropy targets as class indices (``index_targets``) from this
#: many classes on: one-hot rows of 50k words would take 50k values per sample
INDEX_TARGETS_FROM = 1024


class BinaryCrossEntropy(Loss):
    r"""Binary cross-entropy with sigmoid output (binary and multi-label).

    .. math::
        L = -\frac{1}{NK}\sum_{n,k} \left[Y \log p + (1 - Y)\log(1 - p)\right],
        \quad p = \sigma(z)

    From logits, as ``BCEWithLogitsLoss``:
    :math:`L = \mathrm{mean}(\max(z, 0) - zY + \log(1 + e^{-|z|}))`, and
    :math:`\partial L/\partial z = (\sigma(z) - Y)/(NK)`. On outputs, ``log`` terms are
    clamped at -100 as ``torch.nn.BCELoss`` does; the gradient on outputs clips p to
    ``[eps, 1 - eps]`` of its dtype, where torch clamps ``p (1 - p)`` at 1e-12 (at p = Y = 0
    torch gives 0, relunet the exact 1/(NK); at p = 0, Y = 1 torch -1e12, relunet -1/eps).
    Infinite logits give NaN where ``z Y`` is ``inf * 0`` (a diverged network).
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
        # NOTE: summed in float64: 64 float32 squares of 1e37 sum to inf in float32 (as
        # in torch) although their mean is a float32 number
        return float(np.mean(d * d, dtype=np.float64))

    def gradient(self, y_pred, Y):
        _same_shape(y_pred, Y)
        return (y_pred - Y) * (2.0 / Y.size)

    value_from_logits = value
    delta_from_logits = gradient


class PoissonNLL(Loss):
    r"""Poisson negative log-likelihood with a log link: the network's (identity) output
    is the log rate :math:`z = \log \lambda`, the prediction is :math:`e^z`.

    .. math::
        L = \frac{1}{NK}\sum_{n,k} \left(e^{z_{nk}} - Y_{nk} z_{nk}\right), \qquad
        \frac{\partial L}{\partial z} = \frac{e^{z} - Y}{NK}

    (PyTorch's ``PoissonNLLLoss(log_input=True, full=False)`` with mean reduction; the
    :math:`\log Y!` term, constant in the parameters, is left out.) Targets are counts or
    rates, ``Y >= 0``.
    """

    name = "poisson"
    output = "identity"
    task = "regression"
    formula = "(1/NK) sum (exp(z) - y z)"

    def value(self, y_pred, Y):
        _same_shape(y_pred, Y)
        return float(np.mean(np.exp(y_pred) - Y * y_pred, dtype=np.float64))  # as MSE: sum in float64

    def gradient(self, y_pred, Y):
        _same_shape(y_pred, Y)
        d = np.exp(y_pred)
        d -= Y
        d /= Y.size
        return d

    value_from_logits = value
    delta_from_logits = gradient


class HierarchicalNLL(Loss):
    r"""Negative log-likelihood of a hierarchical softmax (the exact loss of the tree model).

    With node scores :math:`z_j` and the target's path :math:`(j_1, t_1), ..., (j_D, t_D)`
    (:mod:`relunet.core.tree`; :math:`t = \pm 1`):

    .. math::
        L = \frac1N \sum_n \sum_{l=1}^{D_n} \log\big(1 + e^{-u_{nl}}\big), \quad
        u_{nl} = t_{nl}\, z_{n j_{nl}}, \qquad
        \frac{\partial L}{\partial u_{nl}} = -\frac{\sigma(-u_{nl})}{N}

    and :math:`\partial L / \partial z_j = t\, \partial L / \partial u` on the path, 0 off it.
    Targets are class indices, ``shape (n_samples, 1)`` (one-hot rows are accepted too).

    ``z`` is either every node score, ``shape (n, K)`` (K classes, the last column
    padding), or the *margins* ``u`` of the target paths alone, ``shape (n, D_max)`` with
    padding ``+inf`` (:class:`relunet.core.layers.TreeNodes`'s training fast path;
    ``D_max <= K - 1``, so the two never have the same width). The tree is the network's
    (set by ``MLP``), or a balanced one over ``K`` for a loss used on its own.
    """

    name = "hierarchical_nll"
    output = "hierarchical_softmax"
    task = "classification"
    formula = "-(1/N) sum_n sum_path log sigma(t_l z_j)"
    index_targets = True

    def __init__(self, tree: Tree | None = None):
        self.tree = tree

    def tree_for(self, width: int) -> Tree:
        if self.tree is not None and self.tree.n_classes == width:
            return self.tree
        return Tree.balanced(width)

    def margins(self, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The target paths' margins ``u`` (``+inf`` padding) from all node scores ``z``."""
        tree = self.tree_for(z.shape[1])
        idx = target_indices(Y, tree.n_classes)
        signs = tree.signs[idx]
        u = np.take_along_axis(np.asarray(z, dtype=np.float64), tree.nodes[idx], axis=1) * signs
        u[signs == 0] = np.inf
        return u

    def _path_margins(self, z: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, bool]:
        z = np.asarray(z)
        if z.ndim != 2 or len(z) != len(Y):
            raise DataError(f"node scores of shape {z.shape} for {len(Y)} targets")
        full = self.tree is None or z.shape[1] == self.tree.n_classes
        return (self.margins(z, Y) if full else np.asarray(z, dtype=np.float64)), full

    def value(self, y_pred, Y):
        y_pred = np.asarray(y_pred)
        idx = target_indices(Y, y_pred.shape[1])
        tiny = np.finfo(y_pred.dtype).tiny if y_pred.dtype.kind == "f" else 1e-300
        return float(-np.sum(np.log(np.maximum(y_pred[np.arange(len(idx)), idx], tiny))) / len(idx))

    def gradient(self, y_pred, Y):
        y_pred = np.asarray(y_pred)
        idx = target_indices(Y, y_pred.shape[1])
        g = np.zeros_like(y_pred, dtype=np.result_type(y_pred.dtype, np.float32))
        rows = np.arange(len(idx))
        tiny = np.finfo(g.dtype).tiny
        g[rows, idx] = -1.0 / np.maximum(y_pred[rows, idx], tiny) / len(idx)
        return g

    def value_from_logits(self, z, Y):
        u, _ = self._path_margins(z, Y)
        return float(np.sum(np.logaddexp(0.0, -u)) / len(u))

    def delta_from_logits(self, z, Y):
        return self.value_and_delta_from_logits(z, Y)[1]

    def value_and_delta_from_logits(self, z, Y, out=None, col=None, tmp=None):
        """``(L, dL/dz)``: on all node scores (a delta of z's shape, non-zero on the
        target's path only) or on path margins (a delta of the margins' shape). The work
        arrays are not used (the delta is ``D_max`` wide on the fast path)."""
        u, full = self._path_margins(z, Y)
        n = len(u)
        value = float(np.sum(np.logaddexp(0.0, -u)) / n)
        du = -_SIGMOID.fn(-u) / n  # 0 on the +inf padding
        dtype = z.dtype if np.asarray(z).dtype.kind == "f" else np.dtype(np.float64)
        if not full:
            return value, du.astype(dtype, copy=False)
        tree = self.tree_for(z.shape[1])
        idx = target_indices(Y, tree.n_classes)
        delta = np.zeros(np.shape(z), dtype=dtype)
        # the padding column receives 0 (sign 0); paths have distinct nodes: plain assignment
        np.put_along_axis(delta, tree.nodes[idx], (du * tree.signs[idx]).astype(dtype), axis=1)
        return value, delta


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (CrossEntropy, BinaryCrossEntropy, MeanSquaredError, PoissonNLL, HierarchicalNLL)
}
#: the loss catalog's name table (:class:`relunet.core.registry.Registry`)
REGISTRY: Registry[type[Loss]] = Registry("loss", LOSSES, base=Loss, classes=True, others_unknown=True, aliases={
    "ce": "cross_entropy", "categorical_cross_entropy": "cross_entropy", "nll": "cross_entropy",
    "bce": "binary_cross_entropy", "log_loss": "binary_cross_entropy",
    "mean_squared_error": "mse", "squared_error": "mse",
    "poisson_nll": "poisson", "half_poisson": "poisson",
    "hsoftmax": "hierarchical_nll", "hierarchical_softmax_nll": "hierarchical_nll",
})


class Pairing(NamedTuple):
    """Why an output activation and loss train poorly together, and the fix."""

    rule: str  #: the doctor's rule that explains it (``relunet doctor``)
    why: str  #: what goes wrong, in one clause
    fix: str  #: the settings to use instead


#: output activation and loss pairs that train, but poorly: ``(output, loss) -> Pairing``.
#: ``MLP.fit`` warns of them (:class:`relunet.errors.ConfigWarning`); the doctor's rules of
#: the same names explain them.
POOR_PAIRS: dict[tuple[str, str], Pairing] = {
    ("softmax", "mse"): Pairing(
        "softmax-with-mse",
        "mean squared error on softmax probabilities gets almost no gradient from a confidently wrong prediction",
        "keep the softmax output and use loss='cross_entropy'"),
    ("softmax", "binary_cross_entropy"): Pairing(
        "softmax-with-bce",
        "binary cross-entropy scores each output as an independent yes/no, but softmax outputs sum to 1",
        "use loss='cross_entropy' with the softmax (one class per sample), or output='sigmoid' with "
        "loss='binary_cross_entropy' (several labels per sample)"),
}


def is_probability_range(text: str) -> bool:
    """Whether an activation's ``output_range`` text (``"(0, 1)"``, ``"[0, 1]"``, ...) lies
    within [0, 1]: outputs that a loss may read as probabilities."""
    t = text.replace(" ", "")
    return t.startswith(("(0,1)", "[0,1]", "(0,1]", "[0,1)"))


def log_of_non_probabilities(output: activations.Activation, loss: "Loss") -> Pairing | None:
    """The output and loss that cannot train at any learning rate, else None: a
    classification loss that takes the log of predicted probabilities (binary cross-entropy;
    cross-entropy on outputs) on an output activation whose range is not within [0, 1]
    (identity, tanh, ReLU). The loss is then clipped or undefined and its gradient
    meaningless. The doctor's rule ``output-loss-mismatch`` at its ``error`` severity."""
    name, rng = output.name, output.properties.output_range
    if (loss.task != "classification" or name == loss.output or name in ("softmax", "sigmoid")
            or is_probability_range(rng)):
        return None
    return Pairing(
        "output-loss-mismatch",
        f"{loss.name} takes the log of predicted probabilities, which the {name} output (range {rng}) "
        "does not keep in (0, 1), at any learning rate",
        f"use output='{loss.output}' with loss='{loss.name}'")


#: natural loss for each output activation
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy", "identity": "mse",
                "hierarchical_softmax": "hierarchical_nll"}


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
