r"""Optimizers: each a small object with explicit state, updating parameters in place.

Interface of every first-order optimizer (SGD, Adagrad, RMSprop, Adam, AdamW):

* ``opt = get(name, lr=..., **hyper)`` (or the class); ``opt.lr`` may be changed between
  steps (that is how :mod:`relunet.schedules` act);
* ``opt.step(params, grads)`` updates the arrays in ``params`` **in place** from ``grads``
  (same order, same shapes). Per-parameter state is created on the first step, in each
  parameter's dtype (float32 parameters stay float32: no float64 promotion);
* ``opt.state_dict()`` / ``opt.load_state_dict(d)``: ``{"lr": float, "step": int,
  "state": {name: [array per parameter]}}`` -- plain scalars and numpy arrays only, so a
  checkpoint can store it in ``.npz`` or JSON without pickle;
* every optimizer takes ``max_grad_norm=None``: when set, the gradients are first scaled in
  place so that their global L2 norm is at most ``max_grad_norm`` (:func:`clip_grad_norm`,
  as ``torch.nn.utils.clip_grad_norm_`` followed by ``optimizer.step()``).

Update rules, defaults and the order of floating-point operations follow ``torch.optim``
(PyTorch 2.x, the single-tensor CPU path), so a user moving between the two sees the same
numbers to rounding; ``tests/test_optimizers.py`` checks 20 steps against torch to 1e-10.
Not bit for bit: each product and each sum here is rounded on its own (NumPy's arithmetic,
which the fused kernels of :mod:`relunet.core.kernels` repeat exactly), where torch's CPU
``add_(x, alpha=a)`` rounds ``y + a x`` once (a fused multiply-add on AVX2/AVX-512 CPUs).
The running averages (SGD's and RMSprop's momentum buffers, Adam's and RMSprop's averages)
hold no subnormal numbers: values below the smallest normal number become zeros
(:func:`relunet.core.kernels.flush_subnormal`, which says why), where torch keeps them.
``step`` does not check its gradients (a pass over them would cost a tenth to a quarter of
an Adam or momentum step): NaN or infinite gradients give NaN or infinite parameters, as in
torch. The training loop's divergence policy (:mod:`relunet.training.divergence`) stops such
a run with a :class:`relunet.errors.DivergenceError` and puts back the last good epoch.
The rules, with :math:`g_t` the gradient, :math:`\lambda` the weight decay and
:math:`\eta` the learning rate, are given in each class's docstring.

Weight decay is *coupled* (L2: :math:`g_t \leftarrow g_t + \lambda\theta`) in SGD, Adagrad,
RMSprop and Adam, and *decoupled* (:math:`\theta \leftarrow \theta(1 - \eta\lambda)`) in
AdamW, exactly as in torch. One core, many faces: AdamW is Adam with decoupled decay.

The full-batch methods (``"cg"``, ``"lbfgs"``) are in the same registry, so ``get("lbfgs")``
and ``fit(optimizer="lbfgs")`` work, but they are not optimizers: they are
:class:`relunet.training.minimizers.Minimizer` objects, with no ``step``, that train with
``minimize(net, X, Y, max_iter=..., callback=...)`` over the whole data set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.linalg import blas

from relunet.core import kernels
from relunet.core.checks import check_number, check_writeable
from relunet.core.registry import Registry
from relunet.errors import ConfigError
from relunet.training.minimizers import CG, LBFGS, Minimizer

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "CG",
    "LBFGS",
    "clip_grad_norm",
    "MIN_EPS",
    "get",
    "names",
    "canonical_name",
    "OPTIMIZERS",
    "REGISTRY",
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False, not {value!r}")
    return bool(value)


#: the smallest ``eps`` of Adagrad, RMSprop and Adam: float32's smallest normal number
MIN_EPS = float(np.finfo(np.float32).tiny)


def _eps(value: Any) -> float:
    """``eps`` checked: a finite number of at least :data:`MIN_EPS`.

    The update divides by ``sqrt(v) + eps``, and ``v`` is 0 for a parameter whose
    gradient has always been 0 (a dead unit, an input feature that is always 0): with
    ``eps = 0`` (or one that is 0 in float32) that step is 0 / 0 = NaN. torch accepts
    ``eps = 0``; scikit-learn's ``epsilon`` must be > 0.
    """
    eps = check_number("eps", value)
    if eps < MIN_EPS:
        raise ConfigError(
            f"eps must be at least {MIN_EPS:.3g} (float32's smallest normal number), got {value!r}: the "
            "update divides by sqrt(v) + eps, and a parameter whose gradient is 0 (a dead unit, an input "
            "that is always 0) has v = 0, so it would divide 0 by 0"
        )
    return eps


# OpenBLAS runs ?axpy single-threaded for n <= 10000 elements.
_AXPY_CHUNK = 8192


def _axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y += a * x`` in place, without allocating (BLAS ``?axpy`` on contiguous arrays).

    NOTE: scipy ships its own OpenBLAS, separate from numpy's. On arrays above 10,000
    elements OpenBLAS spreads axpy over its threads; interleaved with numpy's
    multi-threaded GEMMs (in user code: relunet's own layers use scipy's BLAS, see
    ``relunet.core.blas``) the two thread pools fight for the cores, and on a loaded
    machine a single multi-threaded call can take orders of magnitude longer than a
    single-threaded one. Calling it on chunks of 8192 keeps every call single-threaded
    and immune to both; ``benchmarks/bench_optimizers.py`` compares it with the ufunc
    forms (``np.multiply(g, -lr, out=buf); np.add(p, buf, out=p)`` and ``p -= lr * g``).

    NOTE: f2py silently copies ``y`` when it is not contiguous or not of the routine's
    dtype, and the update would then be lost; such arrays take the numpy path.
    """
    if (
        y.dtype == x.dtype
        and y.dtype.char in "fd"
        and y.flags.c_contiguous
        and y.flags.writeable
        and x.flags.c_contiguous
    ):
        fn = blas.saxpy if y.dtype.char == "f" else blas.daxpy
        xf, yf = x.reshape(-1), y.reshape(-1)
        n = yf.size
        if n <= _AXPY_CHUNK:
            fn(xf, yf, a=a)
        else:
            for i in range(0, n, _AXPY_CHUNK):
                fn(xf[i : i + _AXPY_CHUNK], yf[i : i + _AXPY_CHUNK], a=a)
    else:
        y += a * x


def _with_decay(g: np.ndarray, p: np.ndarray, wd: float, out: np.ndarray) -> np.ndarray:
    """``g + wd * p`` into ``out`` (torch's ``grad.add(param, alpha=wd)``); ``g`` untouched.

    The gradient belongs to the network, so the coupled (L2) weight decay goes to scratch.
    """
    np.multiply(p, wd, out=out)
    out += g
    return out


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm: float, norm_type: float = 2.0) -> float:
    r"""Scale ``grads`` in place so that their global norm is at most ``max_norm``.

    .. math::
        \|g\| = \Big(\sum_i \|g_i\|_p^p\Big)^{1/p}, \qquad
        g_i \leftarrow g_i \cdot \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    as ``torch.nn.utils.clip_grad_norm_`` (the 1e-6 keeps the quotient finite when every
    gradient is 0). ``norm_type`` is 2 (default) or ``inf`` (largest absolute entry).

    Args:
        grads: the gradient arrays (modified in place).
        max_norm: the largest allowed norm, > 0.
        norm_type: the ``p`` of the norm: a positive number or ``math.inf``.

    Returns:
        The total norm of the gradients *before* clipping.
    """
    max_norm = check_number("max_norm", max_norm, low_open=True)
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise ConfigError(f"norm_type must be a positive number or inf, not {norm_type!r}") from None
    if not p > 0:
        raise ConfigError(f"norm_type must be a positive number or inf, not {norm_type!r}")
    if not grads:
        return 0.0
    if math.isinf(p):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = np.array([np.linalg.norm(g.reshape(-1), ord=p) for g in grads], dtype=np.float64)
        total = float(np.linalg.norm(norms, ord=p))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


# ---------------------------------------------------------------------------
# First-order optimizers
# ---------------------------------------------------------------------------


class Optimizer:
    """Base: ``lr``, optional gradient clipping, a step counter and the per-parameter state.

    ``self.state`` maps a state name (``"exp_avg"``, ...) to a list with one array per
    parameter, created on the first :meth:`step` in each parameter's dtype. A subclass
    lists its state names in :meth:`state_names` and implements :meth:`_update`.

    The element-wise updates run without parameter-sized temporaries: intermediate results
    go to scratch arrays from :meth:`_scratch` (made once, like the state, but not part of
    it: never in :meth:`state_dict`, never pickled or deep-copied) via ufuncs with ``out=``.
    ``y += a * x`` is written ``w *= a; y += w`` into scratch ``w`` (two roundings, as the
    fused kernels round), on layer-sized arrays faster than the chunked :func:`_axpy`,
    which makes one f2py call per chunk (``benchmarks/bench_optimizers.py``).
    """

    name = ""

    def __init__(self, lr: float, max_grad_norm: float | None = None):
        self.lr = check_number("lr", lr, low_open=True)
        self.max_grad_norm = (
            None if max_grad_norm is None else check_number("max_grad_norm", max_grad_norm, low_open=True)
        )
        self.n_steps = 0
        self.state: dict[str, list[np.ndarray]] = {}
        self._checked = True  # False after load_state_dict: the next step checks shapes/dtypes
        self._work: list[list[np.ndarray]] = []  # scratch, per parameter (not state)

    def __getstate__(self) -> dict[str, Any]:
        # Scratch arrays are not state: never pickled or deep-copied.
        state = self.__dict__.copy()
        state["_work"] = []
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"

    def config(self) -> dict[str, Any]:
        """The hyper-parameters, as keyword arguments of the constructor."""
        out: dict[str, Any] = {"lr": self.lr}
        if self.max_grad_norm is not None:
            out["max_grad_norm"] = self.max_grad_norm
        return out

    def state_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays this configuration keeps."""
        return ()

    # -- the step ----------------------------------------------------------
    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (same order and shapes)."""
        if len(params) != len(grads) or any(p.shape != g.shape for p, g in zip(params, grads)):
            raise ConfigError(
                f"{len(params)} parameters of shapes {[p.shape for p in params]} but "
                f"{len(grads)} gradients of shapes {[g.shape for g in grads]}"
            )
        check_writeable(params)  # before anything changes
        if self.max_grad_norm is not None:
            clip_grad_norm(grads, self.max_grad_norm)
        if not self._checked or (self.state_names() and not self.state):
            self._prepare_state(params)
        self.n_steps += 1
        self._update(params, grads)

    def fused_sgd_lr(self) -> float | None:
        """The learning rate ``lr`` when this update is the plain SGD step
        ``p -= lr * g``, which the caller may then fuse into its backward pass; else None.

        Asked by ``Network.train_step`` once per batch, right before the backward pass: a
        float is a promise that the caller makes this step itself (``step`` is not called),
        and it is counted in ``n_steps`` here, as ``step`` counts its own. This base class
        never fuses; plain SGD does.
        """
        return None

    def _update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        raise NotImplementedError

    def _scratch(self, params: Sequence[np.ndarray], n: int) -> list[list[np.ndarray]]:
        """``n`` scratch arrays per parameter (contents undefined), made on the first call
        and again whenever the parameters' number, shapes or dtypes change."""
        work = self._work
        if len(work) != len(params) or any(
            len(ws) < n or ws[0].shape != p.shape or ws[0].dtype != p.dtype
            for ws, p in zip(work, params)
        ):
            work = self._work = [[np.empty_like(p) for _ in range(n)] for p in params]
        return work

    def _initial_state(self, name: str, p: np.ndarray) -> np.ndarray:
        return np.zeros_like(p)

    def _prepare_state(self, params: Sequence[np.ndarray]) -> None:
        """Create the state (first step) or check a loaded one against the parameters."""
        if not self.state:
            self.state = {
                name: [self._initial_state(name, p) for p in params] for name in self.state_names()
            }
        else:
            for name, arrays in self.state.items():
                if len(arrays) != len(params):
                    raise ConfigError(
                        f"optimizer state {name!r} holds {len(arrays)} arrays for {len(params)} parameters"
                    )
                for i, (a, p) in enumerate(zip(arrays, params)):
                    if a.shape != p.shape:
                        raise ConfigError(
                            f"optimizer state {name!r}[{i}] has shape {a.shape}, the parameter {p.shape}"
                        )
                    if a.dtype != p.dtype:
                        arrays[i] = a.astype(p.dtype)
        self._checked = True

    # -- checkpoints -------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"lr": float, "step": int, "state": {name: [arrays]}}`` (copies)."""
        return {
            "lr": float(self.lr),
            "step": int(self.n_steps),
            "state": {k: [a.copy() for a in v] for k, v in self.state.items()},
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (arrays are copied)."""
        try:
            lr, step, state = d["lr"], d["step"], d.get("state", {})
        except (KeyError, TypeError):
            raise ConfigError("an optimizer state dict needs the keys 'lr', 'step' and 'state'") from None
        step = int(step)
        state = {str(k): [np.array(a, copy=True) for a in v] for k, v in dict(state).items()}
        expected = set(self.state_names()) if step > 0 else set()
        if set(state) != expected and state:
            raise ConfigError(
                f"optimizer state holds {sorted(state)}, but {self.name} with these "
                f"hyper-parameters keeps {sorted(self.state_names())}"
            )
        if step > 0 and expected and not state:
            raise ConfigError(f"optimizer state is empty after {step} steps; expected {sorted(expected)}")
        self.lr = check_number("lr", lr, low=0.0)
        self.n_steps = step
        self.state = state
        self._checked = False


class SGD(Optimizer):
    r"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1}                     &&\text{(if } \lambda \ne 0)\\
        b_t &= \begin{cases} g_t & t = 1 \\
                             \mu b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases}
                                                                       &&\text{(if } \mu \ne 0)\\
        g_t &\leftarrow \begin{cases} g_t + \mu b_t & \text{Nesterov} \\
                                      b_t & \text{otherwise} \end{cases}\\
        \theta_t &= \theta_{t-1} - \eta\, g_t

    (PyTorch's form of momentum: the learning rate multiplies the buffer, not the gradient.)
    With batch size 1 and no momentum this is the per-pattern (online) delta rule.

    Args:
        lr: learning rate :math:`\eta` (> 0).
        momentum: :math:`\mu \ge 0`. Default: 0.
        dampening: :math:`\tau`. Default: 0.
        nesterov: Nesterov momentum (Sutskever et al. 2013); needs momentum > 0 and
            dampening = 0. Default: False.
        weight_decay: L2 penalty :math:`\lambda \ge 0`. Default: 0.
        max_grad_norm: clip the global gradient norm first (None: no clipping).

    References:
        Polyak, "Some methods of speeding up the convergence of iteration methods", 1964;
        Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and momentum
        in deep learning", ICML 2013.
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0,
                 max_grad_norm: float | None = None):
        super().__init__(lr, max_grad_norm)
        self.momentum = check_number("momentum", momentum)
        self.dampening = check_number("dampening", dampening)
        self.nesterov = _flag("nesterov", nesterov)
        self.weight_decay = check_number("weight_decay", weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and dampening = 0")

    def config(self):
        return {**super().config(), "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def state_names(self):
        return ("momentum_buffer",) if self.momentum else ()

    def fused_sgd_lr(self):
        # Only the plain rule fuses: no momentum, weight decay, Nesterov or clipping, and
        # no subclass that changes the update.
        cls = type(self)
        if (self.momentum or self.weight_decay or self.nesterov or self.max_grad_norm is not None
                or cls._update is not SGD._update or cls.step is not Optimizer.step):
            return None
        self.n_steps += 1
        return float(self.lr)

    def _update(self, params, grads):
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        if not mu and not wd:
            # The hot path of plain (online / mini-batch) SGD: one BLAS axpy per array,
            # no temporary arrays.
            for p, g in zip(params, grads):
                _axpy(-lr, g, p)
            return
        work = self._scratch(params, 2 if wd else 1)
        bufs = self.state.get("momentum_buffer")
        # one fused pass per parameter (kernels.sgd_step_numpy states the arithmetic)
        for i, (p, g) in enumerate(zip(params, grads)):
            kernels.sgd_step(p, g, bufs[i] if mu else None, work[i][0], work[i][1] if wd else None,
                             lr=lr, momentum=mu, dampening=self.dampening, nesterov=self.nesterov,
                             weight_decay=wd, first=self.n_steps == 1)


class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate learning rates from the sum of squared gradients.

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \qquad \text{(if } \lambda \ne 0)\\
        \tilde\eta_t &= \eta / (1 + (t - 1)\,\text{lr\_decay})\\
        s_t &= s_{t-1} + g_t^2, \qquad s_0 = \text{initial\_accumulator\_value}\\
        \theta_t &= \theta_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)

    Args:
        lr: learning rate :math:`\eta`. Default: 0.01.
        lr_decay: learning-rate decay per step (>= 0). Default: 0.
        weight_decay: L2 penalty :math:`\lambda`. Default: 0.
        initial_accumulator_value: :math:`s_0 \ge 0`. Default: 0.
        eps: :math:`\epsilon \ge` :data:`MIN_EPS`, added to the root for stability (0
            would make 0 / 0 of a parameter whose gradients are all 0). Default: 1e-10.
        max_grad_norm: clip the global gradient norm first (None: no clipping).

    Reference:
        Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 12, 2011.
    """

    name = "adagrad"

    def __init__(self, lr: float = 0.01, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 max_grad_norm: float | None = None):
        super().__init__(lr, max_grad_norm)
        self.lr_decay = check_number("lr_decay", lr_decay)
        self.weight_decay = check_number("weight_decay", weight_decay)
        self.initial_accumulator_value = check_number("initial_accumulator_value", initial_accumulator_value)
        self.eps = _eps(eps)

    def config(self):
        return {**super().config(), "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}

    def state_names(self):
        return ("sum",)

    def _initial_state(self, name, p):
        return np.full_like(p, self.initial_accumulator_value)

    def _update(self, params, grads):
        clr, wd = self.lr / (1 + (self.n_steps - 1) * self.lr_decay), self.weight_decay
        work = self._scratch(params, 2 if wd else 1)
        for p, g, s, ws in zip(params, grads, self.state["sum"], work):
            w = ws[0]
            if wd:
                g = _with_decay(g, p, wd, ws[1])
            np.multiply(g, g, out=w)
            s += w
            np.sqrt(s, out=w)  # w = std = sqrt(s) + eps
            w += self.eps
            np.divide(g, w, out=w)  # p -= clr * g / std
            w *= -clr
            p += w


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running root mean square of recent gradients.

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \qquad \text{(if } \lambda \ne 0)\\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2\\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g_t, \quad
        \tilde v_t = v_t - \bar g_t^2 \qquad \text{(centered; else } \tilde v_t = v_t)\\
        b_t &= \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon), \quad
        \theta_t = \theta_{t-1} - \eta\, b_t \qquad \text{(if } \mu > 0)\\
        \theta_t &= \theta_{t-1} - \eta\, g_t / (\sqrt{\tilde v_t} + \epsilon) \qquad \text{(else)}

    Args:
        lr: learning rate :math:`\eta`. Default: 0.01.
        alpha: smoothing constant :math:`\alpha \in [0, 1)` (torch accepts 1, where the
            average never moves from 0). Default: 0.99.
        eps: :math:`\epsilon \ge` :data:`MIN_EPS`, added to the root. Default: 1e-8.
        weight_decay: L2 penalty :math:`\lambda`. Default: 0.
        momentum: :math:`\mu \ge 0`. Default: 0.
        centered: normalise by the estimated variance instead of the raw second moment
            (Graves 2013). Default: False.
        max_grad_norm: clip the global gradient norm first (None: no clipping).

    Reference:
        Tieleman, Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for Machine
        Learning, 2012; Graves, "Generating Sequences With Recurrent Neural Networks", 2013.
    """

    name = "rmsprop"

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 max_grad_norm: float | None = None):
        super().__init__(lr, max_grad_norm)
        self.alpha = check_number("alpha", alpha)
        if self.alpha >= 1:
            raise ConfigError(f"alpha must be a number in [0, 1), got {alpha!r}: with alpha = 1 the average of "
                              "g^2 keeps its start, 0, and every step would be lr g / eps")
        self.eps = _eps(eps)
        self.weight_decay = check_number("weight_decay", weight_decay)
        self.momentum = check_number("momentum", momentum)
        self.centered = _flag("centered", centered)

    def config(self):
        return {**super().config(), "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum,
                "centered": self.centered}

    def state_names(self):
        return (("square_avg",) + (("grad_avg",) if self.centered else ())
                + (("momentum_buffer",) if self.momentum > 0 else ()))

    def _update(self, params, grads):
        a, wd, st = self.alpha, self.weight_decay, self.state
        work = self._scratch(params, 2 if wd else 1)
        for i, (p, g) in enumerate(zip(params, grads)):
            w = work[i][0]
            if wd:
                g = _with_decay(g, p, wd, work[i][1])
            v = st["square_avg"][i]
            v *= a
            np.multiply(g, g, out=w)  # v += (1 - a) g^2
            w *= 1 - a
            v += w
            kernels.flush_subnormal(v, w)  # as Adam's and SGD's state: no subnormal numbers
            if self.centered:
                m = st["grad_avg"][i]
                np.subtract(g, m, out=w)  # m += (1 - a)(g - m): torch's lerp(m, g, 1 - a)
                w *= 1 - a
                m += w
                kernels.flush_subnormal(m, w)
                np.multiply(m, m, out=w)  # w = v - m^2
                np.subtract(v, w, out=w)
                # NOTE: v - m^2 >= 0 in exact arithmetic (Cauchy-Schwarz), but rounding can
                # make it -1 ulp when all gradients are equal; clip so sqrt stays finite.
                np.maximum(w, 0, out=w)
                np.sqrt(w, out=w)
            else:
                np.sqrt(v, out=w)
            w += self.eps  # w = avg
            np.divide(g, w, out=w)  # w = g / avg
            if self.momentum > 0:
                b = st["momentum_buffer"][i]
                b *= self.momentum
                b += w
                kernels.flush_subnormal(b, w)
                np.multiply(b, -self.lr, out=w)  # p -= lr * b
            else:
                w *= -self.lr  # p -= lr * g / avg
            p += w


class Adam(Optimizer):
    r"""Adam: bias-corrected running averages of the gradient and its square.

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \qquad \text{(L2, if } \lambda \ne 0
              \text{ and not decoupled)}\\
        \theta_{t-1} &\leftarrow \theta_{t-1} (1 - \eta\lambda) \qquad \text{(decoupled: AdamW)}\\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2\\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \quad \text{(AMSGrad; else } \hat v_t = v_t)\\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
                   \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Args:
        lr: learning rate :math:`\eta`. Default: 0.001.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1). Default: (0.9, 0.999).
            ``b1=`` / ``b2=`` (optax's names) may be given instead.
        eps: :math:`\epsilon \ge` :data:`MIN_EPS` (0 would make 0 / 0 of a parameter whose
            gradients are all 0; torch accepts it). Default: 1e-8.
        weight_decay: :math:`\lambda`. Default: 0 (Adam, coupled L2), 0.01 (AdamW).
        amsgrad: use the running maximum of :math:`v_t` (Reddi et al.). Default: False.
        decoupled_weight_decay: AdamW's decay (Loshchilov & Hutter). Default: False.
        max_grad_norm: clip the global gradient norm first (None: no clipping).

    References:
        Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
        Reddi, Kale, Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
    """

    name = "adam"

    def __init__(self, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 decoupled_weight_decay: bool = False, max_grad_norm: float | None = None,
                 b1: float | None = None, b2: float | None = None):
        super().__init__(lr, max_grad_norm)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ConfigError(f"betas must be a pair (beta1, beta2), not {betas!r}") from None
        beta1 = beta1 if b1 is None else b1
        beta2 = beta2 if b2 is None else b2
        self.b1 = check_number("beta1", beta1, high=1.0, high_open=True)
        self.b2 = check_number("beta2", beta2, high=1.0, high_open=True)
        self.eps = _eps(eps)
        self.weight_decay = check_number("weight_decay", weight_decay)
        self.amsgrad = _flag("amsgrad", amsgrad)
        self.decoupled_weight_decay = _flag("decoupled_weight_decay", decoupled_weight_decay)

    def config(self):
        return {**super().config(), "betas": (self.b1, self.b2), "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad,
                "decoupled_weight_decay": self.decoupled_weight_decay}

    def state_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, params, grads):
        lr, b1, b2, wd, t, st = self.lr, self.b1, self.b2, self.weight_decay, self.n_steps, self.state
        step_size = lr / (1 - b1**t)
        bc2_sqrt = (1 - b2**t) ** 0.5
        coupled = bool(wd) and not self.decoupled_weight_decay
        decay = wd if coupled else (1 - lr * wd if wd else 0.0)
        work = self._scratch(params, 2 if coupled else 1)
        vmaxes = st.get("max_exp_avg_sq") if self.amsgrad else None
        # one fused pass per parameter (kernels.adam_step_numpy states the arithmetic: m by
        # torch's lerp(m, g, 1 - b1), v += (1 - b2) g^2, denom = sqrt(v) / sqrt(1 - b2^t) + eps)
        for i, (p, g) in enumerate(zip(params, grads)):
            kernels.adam_step(p, g, st["exp_avg"][i], st["exp_avg_sq"][i],
                              None if vmaxes is None else vmaxes[i], work[i][0],
                              work[i][1] if coupled else None, b1=b1, b2=b2, step_size=step_size,
                              bc2_sqrt=bc2_sqrt, eps=self.eps, decay=decay, coupled=coupled)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay :math:`\theta \leftarrow \theta(1 - \eta\lambda)`
    applied before the Adam step, instead of adding :math:`\lambda\theta` to the gradient.

    Same arguments as :class:`Adam`, with ``weight_decay=0.01`` by default (as torch).

    Reference:
        Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    name = "adamw"

    def __init__(self, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
                 max_grad_norm: float | None = None,
                 b1: float | None = None, b2: float | None = None):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True,
                         max_grad_norm=max_grad_norm, b1=b1, b2=b2)

    def config(self):
        out = super().config()
        del out["decoupled_weight_decay"]
        return out


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

#: the per-batch optimizers and, under the same names, the full-batch minimizers (cg, lbfgs)
OPTIMIZERS: dict[str, "type[Optimizer] | type[Minimizer]"] = {
    cls.name: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW, CG, LBFGS)
}
#: the optimizer catalog's name table (:class:`relunet.core.registry.Registry`)
REGISTRY: Registry["type[Optimizer] | type[Minimizer]"] = Registry(
    "optimizer", OPTIMIZERS, base=Optimizer, classes=True, list_aliases=False,
    aliases={"l_bfgs": "lbfgs", "conjugate_gradient": "cg"},
)


def names() -> list[str]:
    """The names of every optimizer, sorted."""
    return REGISTRY.names()


def canonical_name(name: str) -> str:
    """Resolve an alias (``l-bfgs``, ``conjugate_gradient``) to its canonical name.

    Raises:
        UnknownNameError: for an unknown name (the message lists the known ones).
    """
    return REGISTRY.canonical_name(name)


def get(name: "str | Optimizer | Minimizer | type[Optimizer] | type[Minimizer]",
        **hyper: Any) -> "Optimizer | Minimizer":
    """An optimizer by name (see :func:`names`) or class with its hyper-parameters, or an instance.

    An instance is returned as it is (``hyper`` is then ignored, so the training loop may
    always pass ``lr=``).

    Raises:
        UnknownNameError: for an unknown name (the message lists the known ones).
        ConfigError: for a hyper-parameter the optimizer does not take, or a bad value.
    """
    if isinstance(name, (Optimizer, Minimizer)):
        return name
    if isinstance(name, type) and issubclass(name, Minimizer):  # CG / LBFGS given as a class
        try:
            return name(**hyper)
        except TypeError as exc:
            raise ConfigError(f"optimizer {name.name!r}: {exc}") from None
    return REGISTRY.get(name, **hyper)
