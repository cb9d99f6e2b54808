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

Contract with the training loop (``relunet.training.fit``): the optimizers ``"cg"`` and
``"lbfgs"`` in :mod:`relunet.optimizers` have ``full_batch = True``; the loop calls, once,
instead of per-batch ``step``::

    result = opt.minimize(net, X, Y, max_iter=epochs, callback=cb)

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

import numpy as np
from scipy import optimize

from relunet.errors import ConfigError, DataError, DivergenceError

__all__ = ["FullBatchResult", "minimize", "METHODS"]

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


def _check_data(net: Any, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
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
    if Y.ndim != 2 or Y.shape != (len(X), net.n_outputs):
        raise DataError(
            f"Y must be the encoded targets, shape ({len(X)}, {net.n_outputs}); got {Y.shape}"
        )
    if len(X) == 0:
        raise DataError("X has no samples")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise DataError("X or Y contains NaN or infinite values")
    return X, Y


def minimize(
    net: Any,
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
        net: a :class:`relunet.core.network.Network`.
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
        ConfigError: unknown method or a bad ``max_iter`` / ``tol`` / ``history_size``.
        DataError: X or Y of the wrong shape or not finite.
        DivergenceError: the loss became NaN or infinite (the network keeps the last
            completed iteration's parameters).
    """
    key = str(method).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in METHODS:
        raise ConfigError(f"unknown full-batch method {method!r}; known: {', '.join(sorted(METHODS))}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ConfigError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and tol > 0):
        raise ConfigError(f"tol must be a positive number or None, got {tol!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, (int, np.integer)) or history_size < 1:
        raise ConfigError(f"history_size must be an integer >= 1, got {history_size!r}")
    if hasattr(net, "check_trainable"):
        net.check_trainable()
    X, Y = _check_data(net, X, Y)

    theta0 = net.flat_parameters()
    history: list[float] = []
    best = {"x": theta0.copy(), "it": 0}

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        net.set_flat_parameters(theta)
        loss = float(net.loss_and_gradients(X, Y))
        if not np.isfinite(loss):
            raise DivergenceError(
                f"{key}: the loss became {loss} during iteration {best['it'] + 1}; the network "
                "keeps the parameters of the last completed iteration"
            )
        if not history:
            history.append(loss)  # scipy's first evaluation is at theta0
        return loss, net.flat_gradients()

    def on_iteration(intermediate_result: optimize.OptimizeResult) -> None:
        best["x"] = np.array(intermediate_result.x, dtype=np.float64, copy=True)
        best["it"] += 1
        loss = float(intermediate_result.fun)
        history.append(loss)
        if callback is not None:
            net.set_flat_parameters(best["x"])  # the callback sees this iteration's point
        if callback is not None and callback(best["it"], loss) is True:
            raise StopIteration

    options: dict[str, Any] = {"maxiter": int(max_iter)}
    if key == "lbfgs":
        options["maxcor"] = int(history_size)
    t0 = time.perf_counter()
    try:
        res = optimize.minimize(fun, theta0, jac=True, method=METHODS[key], tol=tol,
                                callback=on_iteration, options=options)
    except BaseException:
        net.set_flat_parameters(best["x"])
        raise
    x = np.asarray(res.x, dtype=np.float64)
    net.set_flat_parameters(x)
    return FullBatchResult(
        method=key,
        loss=float(res.fun),
        nit=int(res.nit),
        nfev=int(res.nfev),
        success=bool(res.success),
        message=str(res.message),
        history=history,
        x=x.copy(),
        seconds=time.perf_counter() - t0,
    )
