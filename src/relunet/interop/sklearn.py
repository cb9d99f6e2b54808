"""scikit-learn compatible estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They wrap :class:`relunet.core.network.MLP` (kept, after ``fit``, as ``net_``) behind the
scikit-learn estimator API, so they work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``clone`` and pickling, and they pass scikit-learn's own
estimator checks (``sklearn.utils.estimator_checks``; the few checks that cannot
apply are listed in :data:`EXPECTED_FAILED_CHECKS` with the reason).

Parameters follow ``sklearn.neural_network`` where they mean the same thing
(``hidden_layer_sizes``, ``solver``, ``learning_rate_init``, ``batch_size``,
``max_iter``, ``tol``, ``n_iter_no_change``, ``early_stopping``,
``validation_fraction``, ``random_state``, ``warm_start``, ``verbose``) and add
relunet's: any activation of the catalog (or one per hidden layer), the output
activation and loss, any optimizer of :mod:`relunet.optimizers` with its
hyper-parameters, the weight initialisation and the dtype.

Targets:

* classifier, 1-D labels of 2 classes: one sigmoid unit + binary cross-entropy;
* classifier, 1-D labels of k > 2 classes: k softmax units + cross-entropy;
* classifier, 2-D 0/1 indicator matrix (multi-label): k sigmoid units + binary
  cross-entropy, ``predict`` gives the 0/1 matrix;
* regressor, ``shape (n_samples,)`` or ``(n_samples, n_outputs)``: identity + MSE.

Stopping: an epoch-based solver stops after ``max_iter`` epochs, or once more than
``n_iter_no_change`` epochs in a row fail to improve the training loss (or, with
``early_stopping``, the validation score on a held-out ``validation_fraction``) by
``tol``; with early stopping the best validated weights are kept. The full-batch solvers
(``lbfgs``, ``cg``) run up to ``max_iter`` iterations under their own line-search rule,
on all the data (``early_stopping`` does not apply), and have no ``partial_fit``.

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
from sklearn.utils import check_random_state
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from relunet.core import activations, losses
from relunet.training import optimizers
from relunet.training.engine import Run
from relunet.training.minimizers import Minimizer
from relunet.errors import ConfigError, DataError, DivergenceError, TargetTypeError
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


class _BaseMLP(BaseEstimator):
    """Parameters, validation and the training loop shared by both estimators."""

    _default_output = "identity"

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: Any = "relu",
        *,
        output: str = "auto",
        loss: str = "auto",
        solver: "str | optimizers.Optimizer" = "adam",
        learning_rate_init: float = 0.001,
        optimizer_params: dict[str, Any] | None = None,
        batch_size: int | str | None = "auto",
        max_iter: int = 200,
        shuffle: bool = True,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        init: str | None = None,
        dtype: Any = "auto",
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output = output
        self.loss = loss
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.init = init
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

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
        for s in specs:  # unknown names fail here, listing the known ones
            activations.canonical_name(s[0] if isinstance(s, tuple) else getattr(s, "name", s))
        return specs

    def _check_params(self) -> None:
        def positive_int(name: str) -> int:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
            return int(v)

        positive_int("max_iter")
        positive_int("n_iter_no_change")
        if not isinstance(self.learning_rate_init, Real) or not self.learning_rate_init > 0:
            raise ConfigError(f"learning_rate_init must be > 0, got {self.learning_rate_init!r}")
        if not isinstance(self.tol, Real) or self.tol < 0:
            raise ConfigError(f"tol must be >= 0, got {self.tol!r}")
        if not (isinstance(self.validation_fraction, Real) and 0 < self.validation_fraction < 1):
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        bs = self.batch_size
        if not (bs is None or bs == "auto" or (isinstance(bs, Integral) and not isinstance(bs, bool) and bs >= 1)):
            raise ConfigError(f"batch_size must be 'auto', None (full batch) or an integer >= 1, got {bs!r}")
        if self.optimizer_params is not None and not isinstance(self.optimizer_params, dict):
            raise ConfigError(f"optimizer_params must be a dict or None, got {self.optimizer_params!r}")
        if not (isinstance(self.dtype, str) and self.dtype == "auto"):
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                dtype = None
            if dtype not in (np.float32, np.float64):
                raise ConfigError(f"dtype must be 'auto', float32 or float64, got {self.dtype!r}")

    def _work_dtype(self, X: np.ndarray) -> np.dtype:
        """The network's dtype: ``dtype``, or with "auto" the input's (float32 stays float32)."""
        if hasattr(self, "net_") and not self._fresh:
            return self.net_.dtype
        if isinstance(self.dtype, str) and self.dtype == "auto":
            return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
        return np.dtype(self.dtype)

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, Integral) and not isinstance(rs, bool) and rs >= 0:
            return int(rs)  # random_state=k is relunet's seed=k
        try:
            generator = check_random_state(rs)
        except ValueError:
            raise ConfigError(f"random_state must be None, an integer >= 0 or a numpy RandomState, got {rs!r}") from None
        return int(generator.randint(np.iinfo(np.int32).max))

    def _stochastic(self) -> bool:
        """partial_fit exists only for per-batch solvers (not for full-batch L-BFGS / CG)."""
        if isinstance(self.solver, (optimizers.Optimizer, Minimizer)):
            return not isinstance(self.solver, Minimizer)
        cls = optimizers.OPTIMIZERS.get(str(self.solver).strip().lower().replace("-", "_"))
        return not (isinstance(cls, type) and issubclass(cls, Minimizer))

    def _make_optimizer(self) -> "optimizers.Optimizer | Minimizer":
        if isinstance(self.solver, (optimizers.Optimizer, Minimizer)):  # a copy: each fit starts afresh
            return copy.deepcopy(self.solver)
        return optimizers.get(self.solver, lr=self.learning_rate_init, **(self.optimizer_params or {}))

    def _build(self, n_features: int, n_outputs: int, output: str, dtype: np.dtype) -> MLP:
        hidden = self._hidden()
        loss = None if self.loss == "auto" else self.loss
        return MLP([n_features, *hidden, n_outputs], activation=self._activation_spec(len(hidden)),
                   output=output, loss=loss, init=self.init, dtype=dtype, seed=self._seed())

    # -- training --------------------------------------------------------------
    def _batch(self, n: int) -> int:
        if self.batch_size is None:
            return n
        if self.batch_size == "auto":
            return min(200, n)
        return min(int(self.batch_size), n)

    def _run(self, X: np.ndarray, Y: np.ndarray,
             validation: tuple[np.ndarray, np.ndarray] | None = None) -> Run:
        """The engine's run on ``(X, Y)`` with the persistent network and optimizer, its
        epochs numbered on from ``n_iter_``, started (training mode, first snapshot)."""
        run = Run(self.net_, X, Y, self._optimizer, batch_size=self._batch(len(X)), shuffle=self.shuffle,
                  validation=validation, metrics=False, epochs=self.n_iter_ + self.max_iter,
                  epochs_done=self.n_iter_)
        run.start()
        return run

    def _train(self, X: np.ndarray, Y: np.ndarray, y_raw: Any, incremental: bool) -> None:
        """Epochs of training (one when incremental), with the stopping rules of sklearn's MLP.

        The epochs are the engine's (:class:`relunet.training.Run`): a diverging run raises
        :class:`relunet.errors.DivergenceError` with the network at its last good state.
        """
        if incremental:
            run = self._run(X, Y)
            self._record(run.epoch()["loss"])
            run.finish()
            return
        if isinstance(self._optimizer, Minimizer):  # L-BFGS / CG: their own stopping rule, all the data
            self._run_full_batch(X, Y, self.max_iter)
            return
        X_val = Y_val = y_val = None
        if self.early_stopping:
            X, X_val, Y, Y_val, y_raw, y_val = self._split(X, Y, y_raw)
        # with early stopping the engine evaluates the validation set too: a validation loss
        # that overflows is divergence, before the score below would see NaN or inf
        run = self._run(X, Y, None if X_val is None else (X_val, Y_val))
        best_params = self._epochs(run, X_val, y_val)
        run.finish()
        if best_params is not None:  # early stopping: keep the best validated weights
            for p, b in zip(self.net_.parameters(), best_params):
                p[...] = b

    def _split(self, X: np.ndarray, Y: np.ndarray, y_raw: Any) -> tuple[Any, ...]:
        """``(X, X_val, Y, Y_val, y_raw, y_val)``: ``validation_fraction`` held out, stratified
        for 1-D class labels where every class is large enough."""
        stratify = y_raw if (isinstance(self, ClassifierMixin) and np.ndim(y_raw) == 1) else None
        seed = int(self.net_.rng.integers(np.iinfo(np.int32).max))
        try:
            return tuple(train_test_split(X, Y, y_raw, test_size=self.validation_fraction, random_state=seed,
                                          stratify=stratify))
        except ValueError:  # a class too small to stratify
            try:
                return tuple(train_test_split(X, Y, y_raw, test_size=self.validation_fraction, random_state=seed))
            except ValueError:  # a split with no training or no validation sample
                raise DataError(
                    f"early_stopping holds out validation_fraction={self.validation_fraction} of "
                    f"{len(X)} samples: that leaves no training or no validation sample"
                ) from None

    def _epochs(self, run: Run, X_val: np.ndarray | None, y_val: Any) -> list[np.ndarray] | None:
        """Up to ``max_iter`` epochs of ``run``, stopping as scikit-learn's MLP does; returns
        the best validated parameters (early stopping) or None."""
        best, no_improvement, best_params = np.inf, 0, None
        for _ in range(self.max_iter):
            loss = run.epoch()["loss"]
            self._record(loss)
            if X_val is not None:
                score = self._validation_score(X_val, y_val)
                self.validation_scores_.append(score)
                if self.verbose:
                    print(f"Validation score: {score:.6f}", file=sys.stdout)
                if score > self.best_validation_score_:
                    best_params = [p.copy() for p in self.net_.parameters()]
                no_improvement = no_improvement + 1 if score < self.best_validation_score_ + self.tol else 0
                self.best_validation_score_ = max(self.best_validation_score_, score)
            else:
                no_improvement = no_improvement + 1 if loss > best - self.tol else 0
                best = min(best, loss)
            if no_improvement > self.n_iter_no_change:
                if self.verbose:
                    print(f"No improvement for {self.n_iter_no_change} consecutive epochs: stopping.")
                return best_params
        warnings.warn(
            f"{type(self).__name__}: maximum iterations ({self.max_iter}) reached and the "
            "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        return best_params

    def _run_full_batch(self, X: np.ndarray, Y: np.ndarray, max_iter: int) -> None:
        self.net_.train()
        try:
            result = self._optimizer.minimize(self.net_, X, Y, max_iter=max_iter,
                                              callback=lambda it, loss: self._record(loss) and None)
        finally:
            self.net_.eval()
        if not np.isfinite(result.loss):
            raise DivergenceError(f"{self.solver} ended with loss {result.loss}")

    def _record(self, loss: float) -> None:
        self.loss_curve_.append(float(loss))
        self.loss_ = float(loss)
        self.best_loss_ = min(self.best_loss_, float(loss))
        self.n_iter_ += 1
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}", file=sys.stdout)

    def _fit(self, X: Any, y: Any, incremental: bool, classes: Any = None):
        self._check_params()
        first = not hasattr(self, "net_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=first, dtype=_FLOATS, multi_output=True,
                             y_numeric=not isinstance(self, ClassifierMixin))
        if not first:
            self._check_continuable()
        self._fresh = first
        dtype = self._work_dtype(X)
        n_outputs, output, y = self._targets(y, first, classes, dtype)
        if first:
            self.net_ = self._build(X.shape[1], n_outputs, output, dtype)
            if isinstance(self, ClassifierMixin):
                if self.net_.task != "classification":
                    raise ConfigError(f"loss {self.net_.loss.name!r} is not a classification loss")
                self.net_.classes_ = self.classes_
            self.net_.eval()
            self._optimizer = self._make_optimizer()
            if incremental and isinstance(self._optimizer, Minimizer):
                raise ConfigError(f"partial_fit needs a stochastic solver, not the full-batch {self.solver!r}")
            self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
            self.loss_, self.best_loss_ = np.inf, np.inf
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
            else:
                self.validation_scores_ = self.best_validation_score_ = None
        elif not incremental and self.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        self._fresh = False
        Y = self.net_.encode_targets(y, len(y), fit=False)  # the classes are the estimator's
        Xn = np.ascontiguousarray(X, dtype=self.net_.dtype)
        self._train(Xn, Y, y, incremental)
        self.t_ += len(Xn)
        self.n_outputs_ = n_outputs
        self.out_activation_ = self.net_.output_activation.name
        return self

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

    def fit(self, X: Any, y: Any):
        """Train on ``X`` (``shape (n_samples, n_features)``) and ``y``; returns self."""
        return self._fit(X, y, incremental=False)

    def _output(self, X: Any, logits: bool = False, native: bool = False) -> np.ndarray:
        """The network's output (or, with ``logits``, its pre-activation ``z_L``) on
        validated X, ``shape (n_samples, n_outputs)``, in float64 (with ``native``: in X's
        float dtype, as scikit-learn's MLP: float32 inputs give float32 predictions)."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        out_dtype = X.dtype if native else np.float64
        X = self.net_.check_X(np.asarray(X, dtype=self.net_.dtype))
        if not logits:
            return self.net_.predict_output(X).astype(out_dtype, copy=False)
        return self.net_.logits(X, training=False).astype(np.float64)  # never switches the shared mode

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    # -- conveniences ------------------------------------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of ``shape (n_in, n_out)`` (as sklearn's MLP)."""
        check_is_fitted(self, "net_")
        return [d.W for d in self.net_.dense_layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of ``shape (n_out,)``."""
        check_is_fitted(self, "net_")
        return [d.b for d in self.net_.dense_layers]

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
        est.out_activation_ = out
        history = getattr(net, "history_", None)
        est.loss_curve_ = [float(v) for v in history["loss"]] if history else []
        est.n_iter_, est.t_ = len(est.loss_curve_), 0
        est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else np.inf
        est.best_loss_ = min(est.loss_curve_, default=np.inf)
        est.validation_scores_ = est.best_validation_score_ = None
        est._fresh = False
        est._optimizer = est._make_optimizer()
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

    def _targets(self, y: Any, first: bool, classes: Any, dtype: np.dtype) -> tuple[int, str, Any]:
        """``(n_outputs, output activation, y)``: the classes (set on the first call) and the
        network's output for ``y``; the network encodes ``y`` itself (``encode_targets``)."""
        output = "sigmoid" if self.output == "auto" else activations.canonical_name(self.output)
        if np.ndim(y) == 2 and np.shape(y)[1] > 1:
            if type_of_target(y) != "multilabel-indicator":
                raise TargetTypeError(
                    "a 2-D target for MLPClassifier must be a 0/1 multi-label indicator matrix; "
                    f"got {type_of_target(y)!r}"
                )
            y = np.asarray(y)
            if first:
                self.classes_ = np.arange(y.shape[1])
                self._multilabel = True
            elif not getattr(self, "_multilabel", False) or y.shape[1] != len(self.classes_):
                raise DataError(f"y has {y.shape[1]} labels; the model was fitted on {len(self.classes_)} classes")
            if output != "sigmoid":
                raise ConfigError("multi-label classification needs output='sigmoid' (or 'auto')")
            return y.shape[1], output, y
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
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
        else:
            if getattr(self, "_multilabel", False):
                raise TargetTypeError("the model was fitted on a multi-label target; y is 1-D")
            if classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
                raise ConfigError(f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}")
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise DataError(f"y holds labels not seen in the first fit: {unseen[:5].tolist()}")
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

    @available_if(lambda self: self._stochastic())
    def partial_fit(self, X: Any, y: Any, classes: Any = None):
        """One epoch on ``(X, y)``, continuing from the previous call.

        ``classes`` (all the labels there will be) is required on the first call for 1-D
        labels, since a batch need not hold every class.
        """
        if not hasattr(self, "net_") and classes is None and np.ndim(y) == 1:
            raise ConfigError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

    # Predictions come from the logits z (float64), so that labels, probabilities and
    # log-probabilities agree exactly: label = argmax proba; p(class 0) of a binary
    # sigmoid is expit(-z), not 1 - expit(z) (which rounds to 0 once z > 37); the log
    # probabilities are log_expit / log_softmax, finite for any finite z.

    def _validation_score(self, X: np.ndarray, y: Any) -> float:
        pred = self._labels(self.net_.logits(X, training=False).astype(np.float64))
        if pred.ndim == 2:
            return float(np.mean(np.all(pred == y, axis=1)))
        return float(np.mean(pred == y))

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
        return self._labels(self._output(X, logits=True))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``shape (n_samples, n_classes)`` (per-label for multi-label)."""
        z = self._output(X, logits=True)
        if getattr(self, "_multilabel", False):
            return expit(z)
        if z.shape[1] == 1:
            return np.hstack([expit(-z), expit(z)])
        if self.out_activation_ == "softmax":
            return softmax(z, axis=1)
        return np.exp(self._log_proba(z))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, computed stably from the logits (finite everywhere)."""
        return self._log_proba(self._output(X, logits=True))

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

    def _targets(self, y: Any, first: bool, classes: Any, dtype: np.dtype) -> tuple[int, str, Any]:
        """``(n_outputs, output activation, y)`` after checking that ``y`` is numeric and
        finite in ``dtype``; the network encodes ``y`` itself (``encode_targets``)."""
        y = np.asarray(y)
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
        if not first and Y.shape[1] != self.n_outputs_:
            raise DataError(f"y has {Y.shape[1]} outputs; the model was fitted on {self.n_outputs_}")
        output = "identity" if self.output == "auto" else activations.canonical_name(self.output)
        return Y.shape[1], output, y

    @available_if(lambda self: self._stochastic())
    def partial_fit(self, X: Any, y: Any):
        """One epoch on ``(X, y)``, continuing from the previous call."""
        return self._fit(X, y, incremental=True)

    def _validation_score(self, X: np.ndarray, y: Any) -> float:
        out = self.net_.predict_output(X).astype(np.float64)
        y = np.asarray(y).reshape(out.shape)
        if len(y) < 2:  # R^2 is undefined on one sample: use minus the squared error
            return -float(np.mean((out - y) ** 2))
        return float(r2_score(y, out))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, ``shape (n_samples,)`` for one output, else ``(n_samples, n_outputs)``,
        in X's float dtype (float32 inputs give float32 predictions, as scikit-learn's MLP)."""
        out = self._output(X, native=True)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
