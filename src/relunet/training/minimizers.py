r"""Full-batch training by conjugate gradient or L-BFGS over the flattened parameter vector.

The whole network is one function of one vector :math:`\theta` (all weights and biases,
concatenated by ``net.flat_parameters()``):

.. math::
    L(\theta) = \text{loss}(f_\theta(X), Y), \qquad \nabla L(\theta) \text{ by backpropagation}

and is handed to ``scipy.optimize.minimize`` with ``jac=True``: every evaluation writes
:math:`\theta` into the network (``set_flat_parameters``, cast to the network's dtype),
runs one forward and backward pass over the *whole* training set
(``loss_and_gradients``) and returns the loss and the exact gradient
(``flat_gradients``) in float64. The optimizer works in float64; use a float64 network
when tight tolerances matter, since a float32 network's loss is only accurate to ~1e-7.

* ``method="cg"``: nonlinear conjugate gradient, Polak-Ribiere with a Wolfe line search
  (scipy's ``"CG"``; Nocedal & Wright, *Numerical Optimization*, algorithm 5.4).
* ``method="lbfgs"``: limited-memory BFGS (scipy's ``"L-BFGS-B"`` without bounds;
  Liu & Nocedal 1989), keeping ``history_size`` correction pairs.

Both line searches enforce a sufficient decrease, so the loss recorded after each
iteration never increases.

The contract with the training loop is :class:`Minimizer`, not the per-batch optimizer's
``step``: :class:`CG` and :class:`LBFGS` (``optimizers.get("cg")`` / ``"lbfgs"`` give them
too) have no ``step``; ``relunet.training.fit`` chooses them in one ``if`` and calls, once::

    result = minimizer.minimize(net, X, Y, max_iter=epochs, callback=cb)

where ``cb(iteration, loss)`` runs after each iteration (return True to stop early) and
``result`` is a :class:`FullBatchResult`. An exception raised inside (Ctrl-C, a callback
error) leaves the network at the last completed iteration's parameters before it propagates.
Stochastic activations (RReLU in training mode) make the objective random and defeat the
line search: put such a network in evaluation mode first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relunet.training.protocol import Differentiable, Trainable

import numpy as np
from scipy import optimize

from relunet.core.checks import check_number
from relunet.core.layers import Dropout
from relunet.core.finite import overflow_advice, wider_dtype
from relunet.errors import ConfigError, DataError, DivergenceError

__all__ = ["FullBatchResult", "Minimizer", "CG", "LBFGS", "minimize", "METHODS"]

#: relunet's method names and scipy's.
METHODS = {"cg": "CG", "lbfgs": "L-BFGS-B"}
_ALIASES = {"l_bfgs": "lbfgs", "l_bfgs_b": "lbfgs", "conjugate_gradient": "cg"}


@dataclass
class FullBatchResult:
    """What :func:`minimize` did.

    Attributes:
        method: ``"cg"`` or ``"lbfgs"``.
        loss: the final loss (at ``x``).
        nit: iterations done.
        nfev: loss-and-gradient evaluations (each one forward and backward pass over X).
        success: scipy's convergence flag (False also when ``max_iter`` was reached or the
            callback stopped the run).
        message: scipy's message.
        history: the loss at the start, then after each iteration (``nit + 1`` values).
        x: the final flattened parameters, float64, ``shape (n_parameters,)``.
        seconds: wall time.
    """

    method: str
    loss: float
    nit: int
    nfev: int
    success: bool
    message: str
    history: list[float] = field(default_factory=list)
    x: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain scalars and lists (JSON-ready), without ``x``."""
        return {"method": self.method, "loss": self.loss, "nit": self.nit, "nfev": self.nfev,
                "success": self.success, "message": self.message, "history": list(self.history),
                "seconds": self.seconds}


def _check_data(net: Differentiable, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    dtype = net.dtype
    try:
        X = np.ascontiguousarray(X, dtype=dtype)
        Y = np.ascontiguousarray(Y, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise DataError(f"X and Y must be numeric arrays: {exc}") from None
    if X.ndim != 2 or X.shape[1] != net.n_features:
        raise DataError(
            f"X must have shape (n_samples, {net.n_features}); got {X.shape}"
        )
    width = getattr(net, "target_width", net.n_outputs)  # 1: class indices (a tree's loss)
    if Y.ndim != 2 or Y.shape != (len(X), width):
        raise DataError(
            f"Y must be the encoded targets, shape ({len(X)}, {width}); got {Y.shape}"
        )
    if len(X) == 0:
        raise DataError("X has no samples")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise DataError("X or Y contains NaN or infinite values")
    return X, Y


def minimize(
    net: Differentiable,
    X: np.ndarray,
    Y: np.ndarray,
    method: str = "lbfgs",
    max_iter: int = 200,
    tol: float | None = None,
    callback: Callable[[int, float], Any] | None = None,
    history_size: int = 10,
) -> FullBatchResult:
    """Minimise the network's loss on ``(X, Y)`` by CG or L-BFGS; the network is updated.

    Args:
        net: a :class:`relunet.core.network.Network` (anything :class:`Differentiable`).
        X: inputs, ``shape (n_samples, n_features)`` (cast to the network's dtype).
        Y: encoded targets, ``shape (n_samples, n_outputs)`` (see ``MLP.encode_targets``).
        method: ``"cg"`` (Polak-Ribiere) or ``"lbfgs"``.
        max_iter: the most iterations (>= 1).
        tol: scipy's ``tol``: for CG the gradient tolerance ``gtol`` (max-norm), for
            L-BFGS-B both ``ftol`` (relative loss reduction) and ``gtol``. None: scipy's
            defaults (CG: gtol=1e-5; L-BFGS-B: ftol=2.2e-9, gtol=1e-5).
        callback: ``callback(iteration, loss)`` after each iteration (1-based); returning
            True stops the run.
        history_size: L-BFGS correction pairs (scipy's ``maxcor``); ignored by CG.

    Returns:
        A :class:`FullBatchResult`; the network holds the parameters ``result.x``.

    Raises:
        ConfigError: unknown method or a bad ``max_iter`` / ``tol`` / ``history_size``; a
            network with a max-norm cap (a projection the line search does not make) or
            with dropout in training mode (a new mask at every evaluation: a random
            objective; ``net.eval()`` first makes it the plain network's).
        DataError: X or Y of the wrong shape or not finite.
        DivergenceError: the loss or its gradient became NaN or infinite, at the start (the
            data overflow the network) or at a trial step of the line search (the network
            keeps the last completed iteration's parameters); the message says which.
    """
    key = _method(method)
    _check_settings(max_iter, tol, history_size)
    _check_fixed_objective(net, key)
    X, Y = _check_data(net, X, Y)
    objective = _Objective(net, X, Y, key, callback)
    options: dict[str, Any] = {"maxiter": int(max_iter)}
    if key == "lbfgs":
        options["maxcor"] = int(history_size)
    t0 = time.perf_counter()
    try:
        res = optimize.minimize(objective, objective.best, jac=True, method=METHODS[key], tol=tol,
                                callback=objective.on_iteration, options=options)
    except BaseException:
        net.set_flat_parameters(objective.best)
        raise
    x = np.asarray(res.x, dtype=np.float64)
    net.set_flat_parameters(x)
    return FullBatchResult(method=key, loss=float(res.fun), nit=int(res.nit), nfev=int(res.nfev),
                           success=bool(res.success), message=str(res.message),
                           history=objective.history, x=x.copy(), seconds=time.perf_counter() - t0)


def _method(method: str) -> str:
    """relunet's method name for ``method`` (aliases: ``l-bfgs``, ``conjugate_gradient``)."""
    key = str(method).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in METHODS:
        raise ConfigError(f"unknown full-batch method {method!r}; known: {', '.join(sorted(METHODS))}")
    return key


def _check_settings(max_iter: Any, tol: Any, history_size: Any) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ConfigError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and tol > 0):
        raise ConfigError(f"tol must be a positive number or None, got {tol!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, (int, np.integer)) or history_size < 1:
        raise ConfigError(f"history_size must be an integer >= 1, got {history_size!r}")


def _check_fixed_objective(net: Any, method: str) -> None:
    """Refuse what a line search over the raw parameters cannot honour: ``max_norm`` and
    training-mode dropout."""
    if getattr(net, "max_norm", None) is not None:
        raise ConfigError(f"{method} minimizes by line search over the raw weights: max_norm={net.max_norm} "
                          "(a projection after each step) does not apply; set max_norm=None or train with "
                          "a per-batch optimizer (sgd, adam, ...)")
    rates = [layer.p for layer in getattr(net, "layers", ()) if isinstance(layer, Dropout) and layer.p > 0]
    if rates and getattr(net, "training", True):
        raise ConfigError(f"{method} needs a fixed objective, but dropout (rates {rates}) draws a new mask at "
                          "every evaluation of the loss; train without dropout, call net.eval() first (the "
                          "plain network's loss), or use a per-batch optimizer (sgd, adam, ...)")


class _Objective:
    """The loss of the network as a function of its flattened parameters, for scipy.

    Calling it writes :math:`\theta` into the network and returns ``(loss, gradient)``;
    :meth:`on_iteration` (scipy's callback) keeps the last completed iteration's point in
    ``best`` (put back if the run fails) and the loss curve in ``history``.
    """

    def __init__(self, net: Differentiable, X: np.ndarray, Y: np.ndarray, method: str,
                 callback: Callable[[int, float], Any] | None):
        self.net, self.X, self.Y, self.method, self.callback = net, X, Y, method, callback
        self.best = net.flat_parameters().copy()
        self.iteration = 0
        self.history: list[float] = []

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.net.set_flat_parameters(theta)
        # NOTE: an overflow makes the loss or the gradient non-finite, which is reported
        # below with its cause; NumPy's warnings on the way are noise (and a NaN gradient
        # handed to scipy ended the run as "success: False" with no error)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss = float(self.net.loss_and_gradients(self.X, self.Y))
            grad = self.net.flat_gradients()
        if not np.isfinite(loss):
            raise self.diverged(f"the loss became {loss}")
        if not np.isfinite(grad).all():
            raise self.diverged(f"the gradient became NaN or infinite (the loss, {loss:.6g}, is finite)")
        if not self.history:
            self.history.append(loss)  # scipy's first evaluation is at theta0
        return loss, grad

    def diverged(self, what: str) -> DivergenceError:
        """The error for a non-finite loss or gradient, with where it happened and why."""
        dtype = np.dtype(getattr(self.net, "dtype", np.float64))
        if not self.history:
            return DivergenceError(f"{self.method}: {what} at the starting parameters, before any step, so no step "
                                   f"caused it: {overflow_advice(dtype)}")
        return DivergenceError(
            f"{self.method}: {what} at a trial step of the line search in iteration {self.iteration + 1} "
            f"(the last accepted loss was {self.history[-1]:.6g}): the step overflowed {dtype.name}; scale the "
            f"inputs and targets{wider_dtype(dtype)}. The network keeps the parameters of the last completed "
            "iteration"
        )

    def on_iteration(self, intermediate_result: optimize.OptimizeResult) -> None:
        self.best = np.array(intermediate_result.x, dtype=np.float64, copy=True)
        self.iteration += 1
        loss = float(intermediate_result.fun)
        self.history.append(loss)
        if self.callback is None:
            return
        self.net.set_flat_parameters(self.best)  # the callback sees this iteration's point
        if self.callback(self.iteration, loss) is True:
            raise StopIteration


class Minimizer:
    """A full-batch method over the flattened parameter vector: the training loop's
    contract for CG and L-BFGS, instead of the per-batch optimizer's ``step``.

    ``fit`` calls, once, with the whole (encoded) training set::

        result = minimizer.minimize(net, X, Y, max_iter=epochs, callback=cb)

    ``cb(iteration, loss)`` is called after every iteration (return True to stop);
    ``result`` is a :class:`FullBatchResult` (``nit``, ``nfev``, ``loss``, ``history``,
    ``success``, ``message``). The network is left at the best point found. A minimizer has
    the checkpoint interface of an optimizer (``name``, ``lr``, ``n_steps``, ``config``,
    ``state_dict``, ``load_state_dict``): ``lr`` is accepted (so ``get(name, lr=...)``
    works) and ignored, the step length comes from the line search.

    Args:
        lr: ignored (kept for a uniform constructor).
        max_iter: iterations when ``minimize`` is not given ``max_iter``. Default: 200.
        tol: scipy's ``tol`` (gradient tolerance for CG; ``ftol`` and ``gtol`` for L-BFGS-B);
            None for scipy's defaults.
    """

    name = ""

    def __init__(self, lr: float = 1.0, max_iter: int = 200, tol: float | None = None,
                 max_grad_norm: float | None = None):
        if max_grad_norm is not None:
            raise ConfigError(f"{self.name} is a full-batch line-search method: max_grad_norm does not apply")
        self.lr = check_number("lr", lr, low_open=True)
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ConfigError(f"max_iter must be an integer >= 1, got {max_iter!r}")
        self.max_iter = int(max_iter)
        self.tol = None if tol is None else check_number("tol", tol, low_open=True)
        self.n_steps = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"

    def config(self) -> dict[str, Any]:
        """The hyper-parameters, as keyword arguments of the constructor."""
        return {"lr": self.lr, "max_iter": self.max_iter, "tol": self.tol}

    def options(self) -> dict[str, Any]:
        """Method-specific keyword arguments of :func:`minimize`."""
        return {}

    def minimize(self, net: Trainable, X: np.ndarray, Y: np.ndarray, max_iter: int | None = None,
                 callback: Callable[[int, float], Any] | None = None) -> FullBatchResult:
        """Train ``net`` on all of ``(X, Y)``; see :func:`minimize`."""
        net.check_trainable()
        result = minimize(net, X, Y, method=self.name, max_iter=self.max_iter if max_iter is None else max_iter,
                          tol=self.tol, callback=callback, **self.options())
        self.n_steps += result.nit
        return result

    def state_dict(self) -> dict[str, Any]:
        """``{"lr", "step", "state"}`` as an optimizer's (a line search keeps no state between runs)."""
        return {"lr": float(self.lr), "step": int(self.n_steps), "state": {}}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        try:
            self.lr, self.n_steps = float(d["lr"]), int(d["step"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("an optimizer state dict needs the keys 'lr', 'step' and 'state'") from None


class CG(Minimizer):
    """Nonlinear conjugate gradient (Polak-Ribiere), ``scipy.optimize.minimize(method="CG")``.

    Reference: Polak, Ribiere, "Note sur la convergence de methodes de directions
    conjuguees", 1969; Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 5.2.
    """

    name = "cg"


class LBFGS(Minimizer):
    """Limited-memory BFGS, ``scipy.optimize.minimize(method="L-BFGS-B")`` without bounds.

    Args:
        history_size: number of correction pairs kept (scipy's ``maxcor``). Default: 10.

    Reference: Liu, Nocedal, "On the limited memory BFGS method for large scale
    optimization", Math. Programming 45, 1989; Byrd, Lu, Nocedal, Zhu, 1995 (L-BFGS-B).
    """

    name = "lbfgs"

    def __init__(self, lr: float = 1.0, max_iter: int = 200, tol: float | None = None,
                 history_size: int = 10, max_grad_norm: float | None = None):
        super().__init__(lr, max_iter, tol, max_grad_norm)
        _check_settings(1, None, history_size)
        self.history_size = int(history_size)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "history_size": self.history_size}

    def options(self) -> dict[str, Any]:
        return {"history_size": self.history_size}
