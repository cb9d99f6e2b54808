"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`, drop-in
replacements for ``sklearn.neural_network``'s.

They wrap :class:`relunet.core.network.MLP` (kept, after ``fit``, as ``net_``) and train it
through relunet's engine (:class:`relunet.training.engine.Run`), with scikit-learn's
parameters, defaults and meaning (``alpha``, ``learning_rate`` 'constant' / 'invscaling' /
'adaptive', ``momentum`` + ``nesterovs_momentum`` for 'sgd', ``beta_1`` / ``beta_2`` /
``epsilon`` for 'adam', ``max_fun`` for 'lbfgs', ``tol``, ``n_iter_no_change`` (or
``np.inf``), ``batch_size='auto'``, ``early_stopping``), its fitted attributes (``coefs_`` /
``intercepts_`` settable, ``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``,
``best_validation_score_``, ``n_iter_``, ``t_``, ``n_layers_``, ``n_outputs_``,
``out_activation_``, ``classes_``), ``sample_weight``, sparse CSR/CSC input (never
densified: the first layer takes the sparse product), its warnings and its ``ValueError``
refusals. They pass scikit-learn's estimator checks and its own ``test_mlp.py``
(``tests/test_sklearn_upstream.py``).

The objective is scikit-learn's: the mean batch loss in scikit-learn's scale (see
:meth:`_BaseMLP._loss_scale`) plus ``(alpha / (2 n)) * sum ||W||^2`` (:func:`l2_penalty`),
reported as scikit-learn reports it (:meth:`_BaseMLP._scales`). Every random draw comes
from scikit-learn's ``RandomState`` in its order (the Glorot-uniform initial parameters,
the early-stopping split, each epoch's shuffle: :class:`_ScikitShuffle`), 'adam' is
scikit-learn's form of Adam (:class:`_ScikitAdam`) and 'sgd' keeps its momentum when the
rate changes (:class:`_Solver`), so every solver follows scikit-learn's path to rounding.
The deliberate differences (a single class refused, ``n_iter_`` counting on over
``partial_fit``, ...) are listed in ``docs/ecosystem.md``.

relunet's additions are extra parameters whose defaults keep scikit-learn's behaviour: any
activation of the catalog (or one per hidden layer), the output activation and loss, any
optimizer of :mod:`relunet.training.optimizers` (by name or instance, with
``optimizer_params``), CG, the weight initialisation and the dtype.

Targets:

* classifier, 1-D labels of 2 classes: one sigmoid unit + binary cross-entropy;
* classifier, 1-D labels of k > 2 classes: k softmax units + cross-entropy;
* classifier, 2-D 0/1 indicator matrix (multi-label): k sigmoid units + binary
  cross-entropy, ``predict`` gives the 0/1 matrix;
* regressor, ``shape (n_samples,)`` or ``(n_samples, n_outputs)``: identity + squared
  error, or with ``loss='poisson'`` the log link (the network outputs the log rate,
  ``predict`` its exponential).

NOTE: this module is ``relunet.sklearn``; every import is absolute
(``from __future__ import annotations`` + ``import sklearn...``), so ``sklearn`` below is
always scikit-learn itself, never this module.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle as sk_shuffle
from scipy import optimize, sparse
from scipy.special import expit, log_expit, log_softmax, logsumexp, softmax, xlogy
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from relunet.core import activations, losses
from relunet.core.finite import check_finite_output
from relunet.training import optimizers
from relunet.training.engine import Run
from relunet.training.minimizers import Minimizer
from relunet.errors import ConfigError, DataError, DivergenceError, NonFiniteWeightsError, TargetTypeError
from relunet.core.network import MLP

__all__ = ["MLPClassifier", "MLPRegressor", "EXPECTED_FAILED_CHECKS"]

#: scikit-learn estimator checks that cannot apply, with the reason (none at present:
#: both estimators pass every check of the installed scikit-learn).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

_FLOATS = [np.float64, np.float32]


def _is_spec(x: Any) -> bool:
    """One activation spec: a name, an Activation, or ``(name, {params})``."""
    return (isinstance(x, (str, activations.Activation))
            or (isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) and isinstance(x[1], dict)))


#: scikit-learn's activation names that relunet's catalog spells differently
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}
#: relunet's output activation names as scikit-learn reports them in ``out_activation_``
_SKLEARN_OUTPUTS = {"sigmoid": "logistic"}
_SCHEDULES = ("constant", "invscaling", "adaptive")
_NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain large values "
              "and need to be preprocessed.")


def l2_penalty(net: MLP, alpha: float, n: float) -> float:
    r"""scikit-learn's L2 penalty on a batch: adds :math:`(\alpha / n) W` to every weight
    gradient (biases excluded) of the last backward pass and returns the penalty term

    .. math:: \frac{\alpha}{2 n} \sum_l \lVert W_l \rVert_F^2

    to add to the mean batch loss; ``n`` is the batch's row count (or its weight sum).
    """
    total = 0.0
    coef = alpha / n
    for layer in net.dense_layers:
        W, dW = layer.W, layer.dW
        total += float(np.einsum("ij,ij->", W, W))
        dW += coef * W
    return 0.5 * coef * total


def _row_losses(net: MLP, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Each sample's loss at the logits ``z`` (their mean is the batch loss), for weighting."""
    name = net.loss.name if net.fused else None
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "cross_entropy":
            return logsumexp(z, axis=1) * Y.sum(axis=1) - np.sum(Y * z, axis=1)
        if name == "binary_cross_entropy":
            return np.mean(np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z))), axis=1)
        if name == "mse":
            return np.mean((z - Y) ** 2, axis=1)
        if name == "poisson":
            return np.mean(np.exp(z) - Y * z, axis=1)
    return np.array([net.loss_and_delta(z[i:i + 1], Y[i:i + 1])[0] for i in range(len(z))])


class _ScikitShuffle:
    """The generator the engine shuffles the estimators' batches with: ``permutation(n)``
    is scikit-learn's MLP shuffle, the previous epoch's order shuffled again by
    ``sklearn.utils.shuffle`` with the fit's RandomState, so that the same
    ``random_state`` gives scikit-learn's batches. ``bit_generator`` (the state the engine
    snapshots and restores) is the network's generator's."""

    def __init__(self, random_state: np.random.RandomState, rng: np.random.Generator):
        self.random_state, self.rng, self.order = random_state, rng, None

    @property
    def bit_generator(self) -> Any:
        return self.rng.bit_generator

    def permutation(self, n: int) -> np.ndarray:
        if self.order is None or len(self.order) != n:
            self.order = np.arange(n)
        self.order = sk_shuffle(self.order, random_state=self.random_state)
        return self.order


def _poisson_constant(Y: np.ndarray, w: np.ndarray | None) -> float:
    r"""What scikit-learn's Poisson loss (the half deviance
    :math:`\sum_j \operatorname{mean}_i (y \log(y / \mu) - y + \mu)`) adds to relunet's
    (:math:`\mu - y \log \mu` per output): :math:`\sum_j \operatorname{mean}_i (y \log y - y)`,
    a term of the targets alone (weighted by ``w``); it moves no gradient."""
    Y = np.asarray(Y, dtype=np.float64)
    return float(np.sum(np.average(xlogy(Y, Y) - Y, weights=w, axis=0)))


class _Trainee:
    """The network as the engine trains it for the estimators: scikit-learn's L2 penalty
    (``alpha``), sample weights, rows gathered from a sparse (or weighted) ``X``, and its
    loss: gradients scaled by ``scale``, the loss reported scaled by ``value_scale`` (with
    scikit-learn's constant term for Poisson).

    In row mode (``source`` given) the engine batches and shuffles the row numbers
    ``arange(n)[:, None]``; each batch's rows of ``source`` (and weights) are gathered here,
    a sparse matrix's rows as a sparse batch, never densified: the first dense layer takes
    the sparse product. Every other member is the network's.
    """

    def __init__(self, net: MLP, alpha: float, source: Any = None, weights: np.ndarray | None = None,
                 scale: float = 1.0, value_scale: float | None = None,
                 random_state: np.random.RandomState | None = None):
        self.net, self.alpha, self.source, self.weights = net, float(alpha), source, weights
        self.scale = float(scale)
        self.value_scale = self.scale if value_scale is None else float(value_scale)
        self.poisson = net.loss.name == "poisson"
        if random_state is not None:  # the engine shuffles with this rng, as scikit-learn
            self.rng = _ScikitShuffle(random_state, net.rng)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["net"], name)

    def rows(self, idx: Any) -> tuple[Any, np.ndarray | None]:
        """``(X rows, their weights)`` for row numbers ``idx`` in the network's dtype (a
        sparse X stays sparse: the first layer takes the sparse product)."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        xb = self.source[idx]
        if sparse.issparse(xb):
            xb = xb.astype(self.net.dtype, copy=False)
        else:
            xb = np.ascontiguousarray(xb, dtype=self.net.dtype)
        return xb, None if self.weights is None else self.weights[idx]

    def batch_loss(self, xb: np.ndarray, yb: np.ndarray, wb: np.ndarray | None) -> tuple[float, float]:
        """``(mean loss, rows)``: one forward and backward pass (gradients filled); with
        weights the weighted mean, rows being the weights' sum."""
        net = self.net
        if wb is None:
            value, total = net.loss_and_gradients(xb, yb), float(xb.shape[0])
        else:
            z = net.logits(xb, training=True)  # the backward pass needs the training caches
            per_row = _row_losses(net, z, yb)
            delta = net.loss_and_delta(z, yb)[1]
            total = float(np.sum(wb))
            delta *= (wb * (len(wb) / total)).astype(delta.dtype)[:, None]
            net.backward(delta)
            value = float(per_row @ wb) / total
        if self.scale != 1.0:
            for g in net.gradients():
                g *= self.scale
        if self.poisson and np.isfinite(value):
            value = value * self.value_scale + _poisson_constant(yb, wb)
            return value, total
        return value * self.value_scale, total

    def train_step(self, xb: np.ndarray, yb: np.ndarray, optimizer: Any) -> float:
        """The engine's step: the network's own where there is nothing to add."""
        wb = None
        if self.source is not None:
            xb, wb = self.rows(xb)
        if wb is None and not self.alpha and self.scale == self.value_scale == 1.0 and not self.poisson:
            return self.net.train_step(xb, yb, optimizer)
        value, n = self.batch_loss(xb, yb, wb)
        if not np.isfinite(value):
            return value
        if self.alpha:
            value += l2_penalty(self.net, self.alpha, n)
        optimizer.step(self.net.parameters(), self.net.gradients())
        return value

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray) -> float:
        """The full-batch objective (CG, L-BFGS): loss + penalty, gradients filled; in row
        mode ``X`` holds the row numbers."""
        wb = None
        if self.source is not None:
            X, wb = self.rows(X)
        value, n = self.batch_loss(X, Y, wb)
        return value + (l2_penalty(self.net, self.alpha, n) if self.alpha and np.isfinite(value) else 0.0)


class _Solver:
    """A per-batch optimizer with scikit-learn's learning-rate rules (``learning_rate``):
    'constant', 'invscaling' (``lr = learning_rate_init / (t + 1) ** power_t`` after each
    epoch, ``t`` the samples seen) and 'adaptive' (the rate divided by 5 each time training
    stalls, stopping once it is below 1e-6). ``opt`` is the relunet optimizer or minimizer."""

    def __init__(self, opt: Any, schedule: str = "constant", lr_init: float = 1e-3, power_t: float = 0.5):
        self.opt, self.schedule, self.lr_init, self.power_t = opt, schedule, lr_init, power_t

    @property
    def learning_rate(self) -> float:
        """The rate of the next step (scikit-learn's name)."""
        return float(self.opt.lr)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        r"""A new rate that keeps scikit-learn's momentum. scikit-learn's velocity
        :math:`v \leftarrow \mu v - \eta_t g` holds the rate of each past step; relunet's
        buffer :math:`b \leftarrow \mu b + g` (step :math:`-\eta b`) does not, so a rate
        change from :math:`\eta` to :math:`\eta'` scales :math:`b` by :math:`\eta / \eta'`
        (then :math:`-\eta' b` is scikit-learn's velocity, and the next steps are its steps)."""
        old, value = float(self.opt.lr), float(value)
        self.opt.lr = value
        if value > 0 and value != old:
            for buf in self.opt.state.get("momentum_buffer", ()):
                buf *= old / value

    lr = learning_rate

    def iteration_ends(self, t: int) -> None:
        if self.schedule == "invscaling":
            self.learning_rate = float(self.lr_init) / (t + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        """True to stop; with 'adaptive', the rate is divided by 5 instead while >= 1e-6."""
        if self.schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.opt.lr <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate = self.opt.lr / 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.opt.lr:f}")
        return False


class _ScikitAdam(optimizers.Adam):
    r"""scikit-learn's Adam (``solver='adam'``): relunet's
    :class:`~relunet.training.optimizers.Adam` with epsilon added to :math:`\sqrt{v_t}`
    before the bias correction, as scikit-learn (and Kingma & Ba's Algorithm 1) place it,

    .. math:: \theta_t = \theta_{t-1} - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
              \frac{m_t}{\sqrt{v_t} + \epsilon}

    which is relunet's (PyTorch's) update with :math:`\epsilon / \sqrt{1 - \beta_2^t}` in
    place of :math:`\epsilon`. The two differ most in the first steps (about 32 times the
    epsilon at t = 1 with the defaults), where a gradient is as small as epsilon: a unit
    whose only gradient is the L2 penalty moves at nearly the full rate in PyTorch's form.
    ``epsilon`` keeps the value asked for; ``eps`` is the one of the current step.
    """

    def __init__(self, lr: float, betas: tuple[float, float], eps: float, **params: Any):
        super().__init__(lr=lr, betas=betas, eps=eps, **params)
        self.epsilon = self.eps

    def config(self) -> dict[str, Any]:
        return {**super().config(), "eps": self.epsilon}

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Adam's step ``t = n_steps + 1`` with scikit-learn's epsilon."""
        self.eps = self.epsilon / np.sqrt(1.0 - self.b2 ** (self.n_steps + 1))
        super().step(params, grads)


def _nonfinite(err: DivergenceError) -> NonFiniteWeightsError:
    new = NonFiniteWeightsError(f"{_NONFINITE} ({err})")
    new.__dict__.update(err.__dict__)
    return new


class _BaseMLP(BaseEstimator):
    """Parameters, validation and the training loop shared by both estimators."""

    _default_output = "identity"

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: Any = "relu",
        *,
        solver: "str | optimizers.Optimizer" = "adam",
        alpha: float = 0.0001,
        batch_size: int | str | None = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        output: str = "auto",
        loss: str = "auto",
        optimizer_params: dict[str, Any] | None = None,
        init: str | None = None,
        dtype: Any = "auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.output = output
        self.loss = loss
        self.optimizer_params = optimizer_params
        self.init = init
        self.dtype = dtype

    # -- parameters ----------------------------------------------------------
    def _hidden(self) -> list[int]:
        h = self.hidden_layer_sizes
        if isinstance(h, Integral) and not isinstance(h, bool):
            h = [h]
        try:
            sizes = [int(s) for s in h]
            ok = all(isinstance(s, Integral) and not isinstance(s, bool) for s in h)
        except (TypeError, ValueError):
            ok = False
        if not ok or any(s < 1 for s in sizes):
            raise ConfigError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        return sizes

    def _activation_spec(self, n_hidden: int) -> Any:
        act = self.activation
        if _is_spec(act):
            specs = [act] * n_hidden
        elif isinstance(act, (list, tuple)) and all(_is_spec(a) for a in act):
            if len(act) != n_hidden:
                raise ConfigError(f"activation lists {len(act)} activations for {n_hidden} hidden layers")
            specs = list(act)
        else:
            raise ConfigError(
                "activation must be a catalog name, (name, {params}), or a list with one per "
                f"hidden layer; got {act!r}"
            )
        specs = [_SKLEARN_ACTIVATIONS.get(s, s) if isinstance(s, str) else s for s in specs]
        for s in specs:  # unknown names fail here, listing the known ones
            activations.canonical_name(s[0] if isinstance(s, tuple) else getattr(s, "name", s))
        return specs

    def _check_params(self) -> None:
        def positive_int(name: str) -> int:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
            return int(v)

        def number(name: str, low: float, high: float = np.inf, low_open: bool = False,
                   high_open: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, Real) and not isinstance(v, bool) and (v > low if low_open else v >= low) and (
                v < high if high_open else v <= high)
            if not ok:
                raise ConfigError(f"{name} must be a number in {'(' if low_open else '['}{low}, {high}"
                                  f"{')' if high_open else ']'}, got {v!r}")

        positive_int("max_iter")
        positive_int("max_fun")
        if not (self.n_iter_no_change == np.inf and not isinstance(self.n_iter_no_change, bool)):
            positive_int("n_iter_no_change")
        number("learning_rate_init", 0, low_open=True)
        number("alpha", 0)
        number("tol", 0)
        number("power_t", 0)
        number("momentum", 0, 1)
        number("beta_1", 0, 1, high_open=True)
        number("beta_2", 0, 1, high_open=True)
        number("epsilon", 0, low_open=True)
        number("validation_fraction", 0, 1, low_open=True, high_open=True)
        if self.learning_rate not in _SCHEDULES:
            raise ConfigError(f"learning_rate must be one of {', '.join(_SCHEDULES)}; got {self.learning_rate!r}")
        bs = self.batch_size
        if not (bs is None or bs == "auto" or (isinstance(bs, Integral) and not isinstance(bs, bool) and bs >= 1)):
            raise ConfigError(f"batch_size must be 'auto', None (full batch) or an integer >= 1, got {bs!r}")
        if self.optimizer_params is not None and not isinstance(self.optimizer_params, dict):
            raise ConfigError(f"optimizer_params must be a dict or None, got {self.optimizer_params!r}")
        if "lr" in (self.optimizer_params or {}):
            raise ConfigError("optimizer_params cannot set 'lr': the learning rate is learning_rate_init")
        if not (isinstance(self.dtype, str) and self.dtype == "auto"):
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                dtype = None
            if dtype not in (np.float32, np.float64):
                raise ConfigError(f"dtype must be 'auto', float32 or float64, got {self.dtype!r}")

    def _work_dtype(self, X: Any, first: bool) -> np.dtype:
        """The network's dtype: ``dtype``, or with "auto" the input's (float32 stays float32)."""
        if hasattr(self, "net_") and not first:
            return self.net_.dtype
        if isinstance(self.dtype, str) and self.dtype == "auto":
            return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
        return np.dtype(self.dtype)

    def _check_random_state(self) -> np.random.RandomState:
        """scikit-learn's ``check_random_state(random_state)``: the RandomState that each
        ``fit`` draws, in scikit-learn's order, the initial parameters and then the
        early-stopping split from (an integer gives a new one for each ``fit``)."""
        rs = self.random_state
        bad = isinstance(rs, Integral) and not 0 <= rs <= np.iinfo(np.uint32).max
        try:
            if not bad:
                return check_random_state(rs)
        except ValueError:
            pass
        raise ConfigError(f"random_state must be None, an integer in [0, 2**32 - 1] or a numpy RandomState, "
                          f"got {rs!r}")

    def _seed(self) -> int:
        """The network's seed (its generator shuffles the batches): ``random_state`` itself when
        an integer, else a draw from a copy of this fit's RandomState, so that the RandomState
        itself gives the initial parameters as scikit-learn's would."""
        rs = self.random_state
        if isinstance(rs, Integral):
            return int(rs)  # random_state=k is relunet's seed=k
        return int(copy.deepcopy(self._random_state).randint(np.iinfo(np.int32).max))

    def _solver_name(self) -> str | None:
        return None if not isinstance(self.solver, str) else self.solver.strip().lower().replace("-", "_")

    def _stochastic(self) -> bool:
        """partial_fit exists only for per-batch solvers (not for full-batch L-BFGS / CG)."""
        if isinstance(self.solver, (optimizers.Optimizer, Minimizer)):
            return not isinstance(self.solver, Minimizer)
        cls = optimizers.OPTIMIZERS.get(self._solver_name())
        return not (isinstance(cls, type) and issubclass(cls, Minimizer))

    def _make_optimizer(self) -> _Solver:
        """The solver: scikit-learn's 'sgd' (momentum, Nesterov) and 'adam' (beta_1, beta_2,
        epsilon) mapped onto relunet's optimizers, or any relunet optimizer by name or instance."""
        if isinstance(self.solver, (optimizers.Optimizer, Minimizer)):  # a copy: each fit starts afresh
            return _Solver(copy.deepcopy(self.solver))
        name, extra = self._solver_name(), dict(self.optimizer_params or {})
        if name == "sgd":
            extra = {"momentum": self.momentum, "nesterov": bool(self.nesterovs_momentum and self.momentum > 0),
                     **extra}
        elif name == "adam":
            extra = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, **extra}
        opt = optimizers.get(self.solver, lr=self.learning_rate_init, **extra)  # checks the parameters
        if name == "adam":  # scikit-learn's form of Adam (its epsilon placement)
            opt = _ScikitAdam(lr=self.learning_rate_init, **extra)
        schedule = self.learning_rate if name == "sgd" else "constant"
        return _Solver(opt, schedule, self.learning_rate_init, self.power_t)

    def _build(self, n_features: int, n_outputs: int, output: str, dtype: np.dtype) -> MLP:
        """The network; with ``init=None`` its parameters drawn as scikit-learn draws them."""
        hidden = self._hidden()
        net = MLP([n_features, *hidden, n_outputs], activation=self._activation_spec(len(hidden)),
                  output=output, loss=self._loss_name(), init=self.init, dtype=dtype, seed=self._seed())
        if self.init is None:
            self._glorot(net, self._random_state)
        return net

    def _glorot(self, net: MLP, random_state: np.random.RandomState) -> None:
        r"""scikit-learn's initialisation, drawn as scikit-learn draws it from ``random_state``
        (the same seed gives the same initial parameters): weights and biases
        :math:`\sim U(-l, l)`, :math:`l = \sqrt{f / (n_{in} + n_{out})}`, with :math:`f = 2`
        for logistic hidden units and 6 otherwise (Glorot & Bengio, 2010)."""
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        draw = random_state.uniform
        for layer in net.dense_layers:
            bound = np.sqrt(factor / (layer.n_in + layer.n_out))
            layer.W[...] = draw(-bound, bound, layer.W.shape)
            layer.b[...] = draw(-bound, bound, layer.b.shape)

    def _loss_name(self) -> str | None:
        return None if self.loss == "auto" else self.loss

    # -- the parameters as scikit-learn shows them ----------------------------------
    def _expose(self) -> None:
        """``coefs_`` / ``intercepts_``: lists of the network's own arrays (in-place edits
        reach the network; a list item replaced is copied in by :meth:`_adopt`)."""
        net = self.net_
        self.coefs_ = [d.W for d in net.dense_layers]
        self.intercepts_ = [d.b for d in net.dense_layers]
        self.n_layers_ = len(net.sizes)

    def _adopt(self) -> None:
        """Copy arrays assigned to ``coefs_`` / ``intercepts_`` into the network."""
        layers = self.net_.dense_layers
        for name, attr in (("coefs_", "W"), ("intercepts_", "b")):
            given = getattr(self, name, None)
            if given is None:
                continue
            if len(given) != len(layers):
                raise ConfigError(f"{name} holds {len(given)} arrays; the network has {len(layers)} layers")
            for i, (arr, layer) in enumerate(zip(given, layers)):
                own = getattr(layer, attr)
                if arr is own:
                    continue
                arr = np.asarray(arr, dtype=own.dtype)
                if arr.size != own.size:
                    raise ConfigError(f"{name}[{i}] has shape {arr.shape}; the network's is {own.shape}")
                arr = arr.reshape(own.shape)
                if np.array_equal(arr, own):  # the same values (an unpickled copy): nothing to do
                    continue
                if own.flags.writeable:
                    own[...] = arr
                else:  # a read-only (memory-mapped) network array: the layer gets its own copy
                    setattr(layer, attr, arr.copy())
        self._expose()

    # -- training --------------------------------------------------------------
    def _batch(self, n: int) -> int:
        if self.batch_size is None:
            return n
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
        return min(int(self.batch_size), n)

    def _init_state(self) -> None:
        """The fitted attributes of a fresh start."""
        self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
        self.loss_ = np.inf
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _fit(self, X: Any, y: Any, incremental: bool, classes: Any = None, sample_weight: Any = None):
        self._check_params()
        if incremental and self.early_stopping:
            raise ConfigError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "coefs_") or not (incremental or self.warm_start)
        self._random_state = self._check_random_state()
        X, y = validate_data(self, X, y, reset=first, accept_sparse=["csr", "csc"], dtype=_FLOATS,
                             multi_output=True, y_numeric=not isinstance(self, ClassifierMixin))
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        if not first and hasattr(self, "net_"):
            self._check_continuable()
        dtype = self._work_dtype(X, first)
        n_outputs, output, y = self._targets(y, first, classes, dtype, incremental)
        if first or not hasattr(self, "net_"):
            self._start(X, n_outputs, output, dtype, first)
            self.net_.check_pairing(stacklevel=4)  # a poor output and loss pair, as MLP.fit: once per start
        self._adopt()
        Y = self.net_.encode_targets(y, len(y), fit=False)  # the classes are the estimator's
        X = X.tocsr() if sparse.issparse(X) else np.ascontiguousarray(X, dtype=self.net_.dtype)
        solver = getattr(self, "_optimizer", None)
        if not incremental or not isinstance(solver, _Solver) or isinstance(solver.opt, Minimizer):
            self._optimizer = self._make_optimizer()  # each fit starts its solver afresh, as scikit-learn
        self.__dict__.setdefault("_no_improvement_count", 0)
        if self._solver_name() == "lbfgs":
            self._fit_lbfgs(_Trainee(self.net_, self.alpha, *self._source(X, sw), **self._scales()), X, Y)
        elif isinstance(self._optimizer.opt, Minimizer):
            self._fit_minimizer(X, Y, sw)
        else:
            self._fit_stochastic(X, Y, y, sw, incremental)
        if isinstance(self._optimizer.opt, Minimizer):  # full batch: no early stopping, as scikit-learn
            self.best_loss_ = min(self.loss_curve_[-self.n_iter_:] if self.n_iter_ else [], default=self.loss_)
            self.validation_scores_ = self.best_validation_score_ = None
        self.n_outputs_ = n_outputs
        self._expose()
        return self

    def _start(self, X: Any, n_outputs: int, output: str, dtype: np.dtype, first: bool) -> None:
        """A new network (with ``coefs_`` / ``intercepts_`` set by hand and kept when not
        ``first``), a new solver and the fitted attributes of a fresh start."""
        self.net_ = self._build(X.shape[1], n_outputs, output, dtype)
        if isinstance(self, ClassifierMixin):
            if self.net_.task != "classification":
                raise ConfigError(f"loss {self.net_.loss.name!r} is not a classification loss")
            self.net_.classes_ = self.classes_
        self.net_.eval()
        if first:
            self.coefs_ = self.intercepts_ = None
            self._init_state()
        self._optimizer = self._make_optimizer()
        self.out_activation_ = self._out_activation()

    def _out_activation(self) -> str:
        name = self.net_.output_activation.name
        if self.net_.loss.name == "poisson":
            return "exp"
        return _SKLEARN_OUTPUTS.get(name, name)

    def _loss_scale(self) -> float:
        """The factor from relunet's loss (a mean over every output, PyTorch's convention) to
        scikit-learn's (a mean over samples of the sum over outputs; half the squared error),
        so that the gradient, ``alpha`` and ``tol`` mean what they mean in scikit-learn."""
        k = self.net_.n_outputs
        return {"mse": k / 2, "binary_cross_entropy": float(k), "poisson": float(k)}.get(self.net_.loss.name, 1.0)

    def _scales(self) -> dict[str, float]:
        """A :class:`_Trainee`'s ``scale`` and ``value_scale``: the loss reported as
        scikit-learn reports it, where its squared error is the mean over outputs too
        (``0.5 mean((y - p)^2)``) while its gradient is that of the sum over outputs; so
        with several outputs ``loss_``, ``loss_curve_`` (and the ``tol`` stopping rule on
        them) and the L-BFGS objective's value are scikit-learn's."""
        scale = self._loss_scale()
        return {"scale": scale, "value_scale": 0.5 if self.net_.loss.name == "mse" else scale}

    def _loss_grad_lbfgs(self, packed: np.ndarray, X: Any, Y: np.ndarray, sample_weight: Any = None,
                         *unused: Any) -> tuple[float, np.ndarray]:
        """scikit-learn's objective on packed parameters (every ``coefs_`` then every
        ``intercepts_``, raveled) and encoded targets: ``(loss, gradient)``, same packing."""
        self._adopt()
        layers, i = self.net_.dense_layers, 0
        for attr in ("W", "b"):
            for layer in layers:
                arr = getattr(layer, attr)
                arr[...] = packed[i:i + arr.size].reshape(arr.shape)
                i += arr.size
        X = X.tocsr() if sparse.issparse(X) else np.ascontiguousarray(X, dtype=self.net_.dtype)
        Y = np.asarray(Y, dtype=self.net_.dtype).reshape(X.shape[0], -1)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        source, weights = self._source(X, sw)
        trainee = _Trainee(self.net_, self.alpha, source, weights, **self._scales())
        Xr = np.arange(X.shape[0], dtype=np.int64)[:, None] if source is not None else X
        value = trainee.loss_and_gradients(Xr, Y)
        grads = [layer.dW for layer in layers] + [layer.db for layer in layers]
        return value, np.concatenate([g.ravel() for g in grads]).astype(np.float64)

    @staticmethod
    def _source(X: Any, sw: np.ndarray | None) -> tuple[Any, Any]:
        """``(source, weights)`` of a :class:`_Trainee`: row mode for sparse or weighted X."""
        if sparse.issparse(X) or sw is not None:
            return X, sw
        return None, None

    def _fit_stochastic(self, X: Any, Y: np.ndarray, y_raw: Any, sw: np.ndarray | None, incremental: bool) -> None:
        """Epochs of the engine's :class:`relunet.training.Run` (one when incremental), with
        scikit-learn's stopping rules, ``n_iter_`` counted from 0 by each ``fit``."""
        val = None
        if self.early_stopping:
            X, Y, sw, val = self._split(X, Y, y_raw, sw)
        if not incremental:
            self.n_iter_ = 0
        source, weights = self._source(X, sw)
        trainee = _Trainee(self.net_, self.alpha, source, weights, **self._scales(),
                           random_state=self._random_state)
        Xr = np.arange(X.shape[0], dtype=np.int64)[:, None] if source is not None else X
        # dense validation data goes to the engine too: an overflowing validation pass is divergence
        engine_val = None if (val is None or sparse.issparse(val[0])) else val[:2]
        run = Run(trainee, Xr, Y, self._optimizer.opt, batch_size=self._batch(X.shape[0]), shuffle=self.shuffle,
                  validation=engine_val, metrics=False, epochs=self.n_iter_ + self.max_iter,
                  epochs_done=self.n_iter_)
        run.start()
        try:
            self._epochs(run, X.shape[0], val, incremental)
        finally:
            run.finish()
        if self.early_stopping and getattr(self, "_best_params", None) is not None:
            for p, b in zip(self.net_.parameters(), self._best_params):
                p[...] = b

    def _epochs(self, run: Run, n: int, val: Any, incremental: bool) -> None:
        for _ in range(self.max_iter):
            try:
                loss = run.epoch()["loss"]
            except DivergenceError as err:
                if val is None:
                    raise _nonfinite(err) from err
                self._diverged_under_early_stopping(err)
                return
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(loss)
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}", file=sys.stdout)
            self._update_no_improvement_count(val)
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if val is not None else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                       "consecutive epochs.")
                if self._optimizer.trigger_stopping(msg, self.verbose):
                    return
                self._no_improvement_count = 0
            if incremental:
                return
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=5)

    def _diverged_under_early_stopping(self, err: DivergenceError) -> None:
        """As scikit-learn: the epoch's validation score is NaN and the best validated
        weights are kept; the network is back at its last good epoch and training stops."""
        self.n_iter_ += 1
        self.loss_ = float("nan")
        self.loss_curve_.append(self.loss_)
        self.validation_scores_.append(float("nan"))
        warnings.warn(f"training stopped: {err}; the best validated weights are kept", ConvergenceWarning,
                      stacklevel=5)

    def _update_no_improvement_count(self, val: Any) -> None:
        if val is None:
            last = self.loss_curve_[-1]
            self._no_improvement_count = self._no_improvement_count + 1 if last > self.best_loss_ - self.tol else 0
            self.best_loss_ = min(self.best_loss_, last)
            return
        score = self._validation_score(val[0], val[2], val[3])
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}", file=sys.stdout)
        best = self.best_validation_score_
        self._no_improvement_count = self._no_improvement_count + 1 if not score >= best + self.tol else 0
        if score > best:
            self.best_validation_score_ = score
            self._best_params = [p.copy() for p in self.net_.parameters()]

    def _split(self, X: Any, Y: np.ndarray, y_raw: Any, sw: np.ndarray | None) -> tuple[Any, ...]:
        """``validation_fraction`` held out as scikit-learn holds it out: the same rows, in
        the same order, drawn by ``train_test_split`` from this fit's RandomState after the
        initial parameters; stratified for binary labels only (scikit-learn stratifies when
        the network has one output, so multi-class and multi-label splits are plain random
        ones): ``(X, Y, sw, (X_val, Y_val, y_val, sw_val))``."""
        stratify = None
        if isinstance(self, ClassifierMixin) and not getattr(self, "_multilabel", False) and len(self.classes_) == 2:
            stratify = Y.astype(bool)  # scikit-learn stratifies on the encoded target
        try:
            tr, va = train_test_split(np.arange(X.shape[0]), random_state=self._random_state,
                                      test_size=self.validation_fraction, stratify=stratify)
        except ValueError as exc:  # scikit-learn's reason: an empty side, a class too small to stratify
            raise DataError(f"early_stopping cannot hold out validation_fraction={self.validation_fraction} of "
                            f"{X.shape[0]} samples: {exc}") from None
        if len(va) < 2:
            raise DataError("The validation set is too small. Increase 'validation_fraction' or the size of "
                            "your dataset.")
        y_raw = np.asarray(y_raw)
        self._best_params = None
        pick = (lambda a, i: None if a is None else a[i])
        return X[tr], Y[tr], pick(sw, tr), (X[va], Y[va], y_raw[va], pick(sw, va))

    def _fit_lbfgs(self, trainee: _Trainee, X: Any, Y: np.ndarray) -> None:
        """scikit-learn's L-BFGS: scipy's L-BFGS-B on loss + penalty, ``maxiter=max_iter``,
        ``maxfun=max_fun``, ``gtol=tol``; a ConvergenceWarning when a limit stops it."""
        net = self.net_
        Xr = np.arange(X.shape[0], dtype=np.int64)[:, None] if trainee.source is not None else X

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            net.set_flat_parameters(theta)
            with np.errstate(over="ignore", invalid="ignore"):
                return float(trainee.loss_and_gradients(Xr, Y)), net.flat_gradients()

        def record(intermediate_result: optimize.OptimizeResult) -> None:
            self.loss_curve_.append(float(intermediate_result.fun))
            if self.verbose:
                print(f"Iteration {len(self.loss_curve_)}, loss = {intermediate_result.fun:.8f}", file=sys.stdout)

        net.eval()  # a deterministic objective for the line search
        res = optimize.minimize(objective, net.flat_parameters(), method="L-BFGS-B", jac=True, callback=record,
                                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        net.set_flat_parameters(np.asarray(res.x))
        self.n_iter_ = min(int(res.nit), self.max_iter)
        self.loss_ = float(res.fun)
        if not all(np.isfinite(p).all() for p in net.parameters()) or not np.isfinite(self.loss_):
            raise NonFiniteWeightsError(_NONFINITE)
        if res.status != 0:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={res.status}): "
                          f"{res.message}. Increase the number of iterations (max_iter) or the number of "
                          "function evaluations (max_fun), or scale the data.", ConvergenceWarning, stacklevel=4)

    def _fit_minimizer(self, X: Any, Y: np.ndarray, sw: np.ndarray | None) -> None:
        """relunet's full-batch minimizers (CG, or a Minimizer instance), penalty included."""
        if sw is not None:
            raise ConfigError(f"sample_weight is not supported by the full-batch solver {self.solver!r}")
        X = X.toarray() if sparse.issparse(X) else X
        trainee = _Trainee(self.net_, self.alpha, scale=self._loss_scale())

        def record(it: int, loss: float) -> None:
            self.loss_curve_.append(float(loss))
            self.loss_ = float(loss)
            self.n_iter_ += 1

        self.n_iter_ = 0
        self.net_.eval()
        try:
            self._optimizer.opt.minimize(trainee, X, Y, max_iter=self.max_iter, callback=record)
        except DivergenceError as err:
            raise _nonfinite(err) from err

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train on ``X`` (``shape (n_samples, n_features)``, dense or sparse CSR/CSC) and
        ``y``, each sample weighted by ``sample_weight`` (None: all 1); returns self."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _check_continuable(self) -> None:
        """With ``warm_start`` or ``partial_fit``, training continues on ``net_``: refuse
        parameters changed (``set_params``) since it was built, which it cannot honour."""
        net = self.net_
        hidden = self._hidden()
        if list(net.sizes[1:-1]) != hidden:
            raise ConfigError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} differs from the fitted network's "
                f"{tuple(net.sizes[1:-1])}; training cannot continue on it (warm_start / partial_fit): "
                "set warm_start=False or fit a new estimator"
            )
        from relunet.core.network import activation_from_spec

        acts = [l.activation for l in net.layers[1::2]]
        for i, (spec, act) in enumerate(zip(self._activation_spec(len(hidden)), acts)):
            want = activation_from_spec(spec, net.sizes[i + 1]).activation
            if (want.name, want.config()) != (act.name, act.config()):
                raise ConfigError(
                    f"activation {spec!r} differs from the fitted network's {act.name!r} in hidden "
                    f"layer {i + 1}; training cannot continue on it (warm_start / partial_fit): "
                    "set warm_start=False or fit a new estimator"
                )
        changed = []
        if self.output != "auto" and activations.canonical_name(self.output) != acts[-1].name:
            changed.append(f"output={self.output!r} (the network's is {acts[-1].name!r})")
        if self.loss != "auto":
            if losses.get(self.loss).name != net.loss.name:
                changed.append(f"loss={self.loss!r} (the network's is {net.loss.name!r})")
        if not (isinstance(self.dtype, str) and self.dtype == "auto") and np.dtype(self.dtype) != net.dtype:
            changed.append(f"dtype={self.dtype!r} (the network's is {net.dtype.name})")
        if changed:
            raise ConfigError(
                f"{', '.join(changed)} differs from the fitted network; training cannot continue on "
                "it (warm_start / partial_fit): set warm_start=False or fit a new estimator"
            )

    def _output(self, X: Any, logits: bool = False) -> tuple[np.ndarray, np.dtype]:
        """The network's output (or, with ``logits``, its pre-activation ``z_L``) on
        validated X (dense, or sparse CSR/CSC), ``shape (n_samples, n_outputs)``, in the
        network's dtype, and the dtype scikit-learn's MLP answers in: the result type of X's
        and the parameters' (float32 only when both are float32)."""
        check_is_fitted(self, "net_")
        self._adopt()
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=_FLOATS)
        return self._pass(X, logits), np.result_type(X.dtype, self.net_.dtype)

    def _pass(self, X: Any, logits: bool) -> np.ndarray:
        """The evaluation pass (a sparse X through the first layer's sparse product)."""
        net = self.net_
        if sparse.issparse(X):
            X = X.tocsr().astype(net.dtype, copy=False)
        else:
            X = net.check_X(np.asarray(X, dtype=net.dtype))
        if logits:  # the evaluation pass by argument: never switches the shared mode
            return net.logits(X, training=False)
        return check_finite_output(net.forward(X, training=False), X, net.parameters())

    def _finite_predictions(self, X: Any) -> np.ndarray | None:
        """The validation predictions (float64 logits), or None where they are not finite."""
        with np.errstate(over="ignore", invalid="ignore"):
            z = self._pass(X, logits=True).astype(np.float64)
        return z if np.isfinite(z).all() else None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @classmethod
    def from_net(cls, net: MLP, **params: Any):
        """A fitted estimator around an existing :class:`~relunet.core.network.MLP` (e.g. one from
        :func:`relunet.load` or ``relunet train --save``), for use in scikit-learn code.

        The estimator's parameters describe the network; ``params`` set the others (solver,
        learning rate, ...) used by a later ``partial_fit``. The network is not copied.
        """
        if not isinstance(net, MLP):
            raise ConfigError(f"from_net takes a relunet MLP, not {type(net).__name__}")
        acts = [l.activation for l in net.layers[1::2]]
        hidden = [a.name if not a.config() else (a.name, a.config()) for a in acts[:-1]]
        out = acts[-1].name
        is_clf = issubclass(cls, ClassifierMixin)
        if is_clf != (net.task == "classification"):
            raise ConfigError(f"a network trained for {net.task} cannot become a {cls.__name__}")
        if is_clf and net.classes_ is None:
            raise ConfigError("the network's classes are not known (it was never fitted)")
        est = cls(hidden_layer_sizes=tuple(net.sizes[1:-1]),
                  activation=hidden[0] if len(set(map(repr, hidden))) == 1 else hidden,
                  output=out, loss=net.loss.name, init=net.init, dtype=net.dtype.name,
                  random_state=net.seed, **params)
        est.net_ = net
        est.n_features_in_ = net.n_features
        est.n_outputs_ = net.n_outputs
        est.out_activation_ = est._out_activation()
        history = getattr(net, "history_", None)
        est.loss_curve_ = [float(v) for v in history["loss"]] if history else []
        est.n_iter_, est.t_ = len(est.loss_curve_), 0
        est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else np.inf
        est.best_loss_ = min(est.loss_curve_, default=np.inf)
        est.validation_scores_ = est.best_validation_score_ = None
        est._no_improvement_count = 0
        est._optimizer = est._make_optimizer()
        est._expose()
        if is_clf:
            est.classes_ = np.asarray(net.classes_)
            est._multilabel = net.loss.name == "binary_cross_entropy" and net.n_outputs > 1
        return est

    @classmethod
    def load(cls, path: Any, **params: Any):
        """:meth:`from_net` of the network in a relunet model file."""
        from relunet.io.modelfile import load

        return cls.from_net(load(path), **params)

    def save(self, path: Any) -> None:
        """Save the fitted network (``net_``) as a relunet model file (see :mod:`relunet.io.modelfile`)."""
        check_is_fitted(self, "net_")
        self.net_.save(path)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer-perceptron classifier (binary, multi-class, multi-label).

    See the module docstring for the parameters. After ``fit``: ``classes_``,
    ``loss_curve_``, ``n_iter_``, ``n_features_in_``, ``net_`` (the
    :class:`relunet.core.network.MLP`), ``best_loss_``, ``t_`` (samples seen),
    ``validation_scores_`` / ``best_validation_score_`` with ``early_stopping``.

    Example:
        >>> from relunet.sklearn import MLPClassifier
        >>> clf = MLPClassifier((32,), activation="gelu", random_state=0)  # doctest: +SKIP
        >>> clf.fit(X, y).predict_proba(X)                                 # doctest: +SKIP
    """

    def _targets(self, y: Any, first: bool, classes: Any, dtype: np.dtype,
                 incremental: bool = False) -> tuple[int, str, Any]:
        """``(n_outputs, output activation, y)``: the classes (set on the first call) and the
        network's output for ``y``; the network encodes ``y`` itself (``encode_targets``)."""
        output = "sigmoid" if self.output == "auto" else activations.canonical_name(self.output)
        known = hasattr(self, "classes_") and not first
        if np.ndim(y) == 2 and np.shape(y)[1] > 1:
            if type_of_target(y) != "multilabel-indicator":
                raise TargetTypeError(
                    "a 2-D target for MLPClassifier must be a 0/1 multi-label indicator matrix; "
                    f"got {type_of_target(y)!r}"
                )
            y = np.asarray(y)
            if not known:
                self.classes_ = np.arange(y.shape[1])
                self._multilabel = True
            elif not getattr(self, "_multilabel", False) or y.shape[1] != len(self.classes_):
                raise DataError(f"y has {y.shape[1]} labels; the model was fitted on {len(self.classes_)} classes")
            if output != "sigmoid":
                raise ConfigError("multi-label classification needs output='sigmoid' (or 'auto')")
            return y.shape[1], output, y
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not known:
            self._first_classes(y, classes)
        else:
            self._same_classes(y, classes, incremental)
        k = len(self.classes_)
        if self.output == "auto":
            output = "sigmoid" if k == 2 else "softmax"
        if k == 2 and output == "sigmoid":
            if self.loss != "auto" and losses.get(self.loss).name == "cross_entropy":
                raise ConfigError("loss 'cross_entropy' needs one output per class; one sigmoid unit for two "
                                  "classes takes loss='binary_cross_entropy' (or 'auto'), or use output='softmax'")
            return 1, output, y
        if output not in ("softmax", "sigmoid"):
            raise ConfigError(f"a classifier's output must be 'softmax', 'sigmoid' or 'auto', not {self.output!r}")
        return k, output, y

    def _first_classes(self, y: np.ndarray, classes: Any) -> None:
        if classes is not None:
            found = np.asarray(unique_labels(classes))
            unseen = np.setdiff1d(unique_labels(y), found)
            if len(unseen):
                raise DataError(f"y holds labels not in classes: {unseen[:5].tolist()}")
        else:
            found = unique_labels(y)
        if len(found) < 2:
            raise TargetTypeError(
                f"MLPClassifier needs samples of at least 2 classes; y has only one class ({found[0]!r})"
            )
        self.classes_ = found
        self._multilabel = False

    def _same_classes(self, y: np.ndarray, classes: Any, incremental: bool) -> None:
        """Training continues on the fitted classes: warm_start needs the same set in ``y``
        (as scikit-learn), partial_fit a subset."""
        if getattr(self, "_multilabel", False):
            raise TargetTypeError("the model was fitted on a multi-label target; y is 1-D")
        if classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ConfigError(f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}")
        found = unique_labels(y)
        if self.warm_start and not incremental and set(found) != set(self.classes_):
            raise DataError("warm_start can only be used where `y` has the same classes as in the previous "
                            f"call to fit. Previously got {self.classes_}, `y` has {found}")
        unseen = np.setdiff1d(found, self.classes_)
        if len(unseen):
            raise DataError(f"y holds labels not seen in the first fit: {unseen[:5].tolist()}")

    @available_if(lambda self: self._stochastic())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None):
        """One epoch on ``(X, y)``, continuing from the previous call.

        ``classes`` (all the labels there will be) is required on the first call for 1-D
        labels, since a batch need not hold every class.
        """
        if not hasattr(self, "classes_") and classes is None and np.ndim(y) == 1:
            raise ConfigError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    # Predictions come from the logits z (float64), so that labels, probabilities and
    # log-probabilities agree exactly: label = argmax proba; p(class 0) of a binary
    # sigmoid is expit(-z), not 1 - expit(z) (which rounds to 0 once z > 37); the log
    # probabilities are log_expit / log_softmax, finite for any finite z.

    def _validation_score(self, X: Any, y: Any, sample_weight: np.ndarray | None = None) -> float:
        """Accuracy on a validation set (subset accuracy for multi-label); NaN where the
        network's outputs are not finite."""
        z = self._finite_predictions(X)
        if z is None:
            return float("nan")
        pred = self._labels(z)
        hit = np.all(pred == y, axis=1) if pred.ndim == 2 else (pred == y)
        return float(np.average(hit, weights=sample_weight))

    def _labels(self, z: np.ndarray) -> np.ndarray:
        if getattr(self, "_multilabel", False):
            return (z > 0).astype(int)  # sigmoid(z) > 1/2
        if z.shape[1] == 1:
            return self.classes_[(z[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]  # softmax and sigmoid are monotonic

    def _log_proba(self, z: np.ndarray) -> np.ndarray:
        if getattr(self, "_multilabel", False):
            return log_expit(z)
        if z.shape[1] == 1:
            return np.hstack([log_expit(-z), log_expit(z)])
        if self.out_activation_ == "softmax":
            return log_softmax(z, axis=1)
        lp = log_expit(z)  # one-vs-rest sigmoids: normalise the rows
        return lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Labels, ``shape (n_samples,)`` (a 0/1 matrix ``(n_samples, n_labels)`` for multi-label)."""
        return self._labels(self._output(X, logits=True)[0])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``shape (n_samples, n_classes)`` (per-label for multi-label),
        computed in float64 from the logits and returned in scikit-learn's dtype: float32 when
        both X and the network are float32, else float64."""
        z, dtype = self._output(X, logits=True)
        return self._proba(z.astype(np.float64)).astype(dtype, copy=False)

    def _proba(self, z: np.ndarray) -> np.ndarray:
        if getattr(self, "_multilabel", False):
            return expit(z)
        if z.shape[1] == 1:
            return np.hstack([expit(-z), expit(z)])
        if self.out_activation_ == "softmax":
            return softmax(z, axis=1)
        return np.exp(self._log_proba(z))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities: ``log(predict_proba)`` where that is representable (so
        both give the same argmax), computed stably from the logits where a probability
        rounds to 0 (finite everywhere); in :meth:`predict_proba`'s dtype."""
        z, dtype = self._output(X, logits=True)
        z = z.astype(np.float64)
        proba = self._proba(z)
        with np.errstate(divide="ignore"):
            return np.where(proba > 0, np.log(proba), self._log_proba(z)).astype(dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # multi-label needs independent sigmoid outputs; softmax makes the labels exclusive
        tags.classifier_tags.multi_label = self.output in ("auto", "sigmoid")
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer-perceptron regressor (single or multi-output), MSE on an identity output.

    See the module docstring for the parameters; attributes as :class:`MLPClassifier`
    but for ``classes_``.
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: Any = "relu",
        *,
        solver: "str | optimizers.Optimizer" = "adam",
        alpha: float = 0.0001,
        batch_size: int | str | None = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        output: str = "auto",
        loss: str = "squared_error",
        optimizer_params: dict[str, Any] | None = None,
        init: str | None = None,
        dtype: Any = "auto",
    ):
        super().__init__(
            hidden_layer_sizes, activation,
            solver=solver, alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            output=output, loss=loss, optimizer_params=optimizer_params, init=init, dtype=dtype)

    def _targets(self, y: Any, first: bool, classes: Any, dtype: np.dtype,
                 incremental: bool = False) -> tuple[int, str, Any]:
        """``(n_outputs, output activation, y)`` after checking that ``y`` is numeric and
        finite in ``dtype``; the network encodes ``y`` itself (``encode_targets``). A column
        vector ``(n_samples, 1)`` is raveled with scikit-learn's DataConversionWarning."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        try:
            with np.errstate(over="ignore"):  # values beyond float32: reported below
                Y = y.reshape(len(y), -1).astype(dtype)
        except (TypeError, ValueError):
            raise TargetTypeError(
                f"MLPRegressor needs numeric targets; y holds {y.dtype} values (e.g. {y.flat[0]!r}): "
                "for class labels use MLPClassifier"
            ) from None
        if not np.isfinite(Y).all():  # y itself is finite (validate_data checked it)
            raise DataError(
                f"y holds a value too large for {np.dtype(dtype).name} (the largest is "
                f"{np.finfo(dtype).max:.3g}); rescale the targets or use dtype='float64'"
            )
        if not first and hasattr(self, "n_outputs_") and Y.shape[1] != self.n_outputs_:
            raise DataError(f"y has {Y.shape[1]} outputs; the model was fitted on {self.n_outputs_}")
        if self._loss_name() is not None and losses.get(self.loss).name == "poisson" and (Y < 0).any():
            raise DataError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        output = "identity" if self.output == "auto" else activations.canonical_name(self.output)
        return Y.shape[1], output, y

    @available_if(lambda self: self._stochastic())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None):
        """One epoch on ``(X, y)``, continuing from the previous call."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _values(self, z: np.ndarray) -> np.ndarray:
        """Predictions from the network's outputs: ``exp`` of the log rate for Poisson."""
        if self.net_.loss.name == "poisson":
            with np.errstate(over="ignore"):
                return np.exp(z)
        return z

    def _validation_score(self, X: Any, y: Any, sample_weight: np.ndarray | None = None) -> float:
        """R^2 on a validation set; NaN where the predictions are not finite."""
        if self.net_.output_activation.name == "identity":
            z = self._finite_predictions(X)
            out = None if z is None else self._values(z)
        else:
            try:
                out = self._pass(X, logits=False).astype(np.float64)
            except (DivergenceError, DataError):
                out = None
        if out is None or not np.isfinite(out).all():
            return float("nan")
        y = np.asarray(y).reshape(out.shape)
        if len(y) < 2:  # R^2 is undefined on one sample: use minus the squared error
            return -float(np.mean((out - y) ** 2))
        return float(r2_score(y, out, sample_weight=sample_weight))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, ``shape (n_samples,)`` for one output, else ``(n_samples, n_outputs)``,
        float32 when both X and the network are float32, else float64 (as scikit-learn's MLP)."""
        out, dtype = self._output(X)
        out = self._values(out.astype(dtype, copy=False))
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
