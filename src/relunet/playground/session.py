"""One playground session: a data set, a network and its training run, and the views of it.

Training goes through the engine: per-batch optimizers through
:class:`relunet.training.engine.Run` (``start`` once, one ``epoch()`` per tick), CG and
L-BFGS through :func:`relunet.training.engine.fit` with the minimizer, paced so that each
tick lets exactly one iteration run (one ``minimize`` call for the whole run, as
``relunet train --optimizer cg --epochs N`` makes, so the run is the same). Nothing here
trains by itself: a session advances only when the page asks it to (:meth:`Session.train`),
by at most ``MAX_EPOCHS_PER_CALL`` epochs and about ``budget`` seconds per call, and by at
most ``max_epochs`` epochs in all.

The views (:meth:`Session.state`) are read from the network through the library's own
passes: the evaluation-mode ``forward`` with ``record=`` on a grid over the inputs (the
decision boundary, or the regression curve, and every unit's output),
:func:`relunet.insight.diagnostics.diagnose` (dead units, per-layer gradient norms),
:func:`relunet.insight.doctor.examine` (the doctor's findings about the set-up, without
the learning-rate probe) and :func:`relunet.insight.trace.trace_steps` on a copy of the
network (one backpropagation step on one sample, with its numbers).
"""

from __future__ import annotations

import base64
import copy
import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from relunet.core.layers import ActivationLayer, Dense
from relunet.errors import ConfigError, RelunetError
from relunet.insight.diagnostics import can_die, diagnose
from relunet.insight.doctor import examine
from relunet.insight.trace import trace_steps
from relunet.playground import settings as settings_mod
from relunet.playground.settings import Settings
from relunet.training import engine
from relunet.training.engine import Run

__all__ = ["Session", "SessionStore", "MAX_EPOCHS_PER_CALL", "GRID", "UNIT_GRID", "CURVE_POINTS"]

#: most epochs one call of :meth:`Session.train` runs
MAX_EPOCHS_PER_CALL = 100
#: points per axis of the grid of the decision boundary (2-D inputs)
GRID = 64
#: points per axis of each unit's heat map (every GRID // UNIT_GRID-th grid point)
UNIT_GRID = 32
#: points of the regression curve (1-D inputs)
CURVE_POINTS = 120
#: history records kept per session are bounded by max_epochs; this many go per answer at most
MAX_RECORDS_PER_ANSWER = 2000


def _finite(x: Any) -> float | None:
    """A float for JSON (NaN and infinities as None)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _bytes(values: np.ndarray) -> str:
    """Values in [0, 1] as base64 of one byte each (0..255): a heat map's compact form."""
    return base64.b64encode(np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8).tobytes()).decode("ascii")


# -- the trainers: the engine's Run, or the engine's fit with a minimizer -------------------
class _StepTrainer:
    """Per-batch optimizer steps: the engine's :class:`Run`, one ``epoch()`` per tick."""

    def __init__(self, net: Any, X: np.ndarray, Y: np.ndarray, validation: tuple[np.ndarray, np.ndarray],
                 s: Settings):
        self.run = Run(net, X, Y, settings_mod.make_optimizer(s), batch_size=settings_mod.batch_size(s, len(X)),
                       validation=validation)
        self.run.start()
        self.finished = False

    def epoch(self) -> dict[str, Any] | None:
        return self.run.epoch()

    def close(self) -> None:
        self.finished = True


class _Pacer:
    """The minimizer's epoch callback that hands over control once per iteration: the
    training thread waits in :meth:`on_epoch_end` until the next tick is asked for."""

    def __init__(self) -> None:
        self.go = threading.Semaphore(0)
        self.done = threading.Semaphore(0)
        self.record: dict[str, Any] | None = None
        self.stop = False

    def on_epoch_end(self, epoch: int, record: dict[str, Any], net: Any) -> bool:
        self.record = dict(record)
        self.done.release()
        self.go.acquire()
        return self.stop


class _LineSearchTrainer:
    """CG / L-BFGS: ``engine.fit`` with the minimizer, up to ``max_epochs`` iterations, in a
    thread that stops after each iteration until :meth:`epoch` lets the next one run."""

    def __init__(self, net: Any, X: np.ndarray, Y: np.ndarray, validation: tuple[np.ndarray, np.ndarray],
                 s: Settings, max_epochs: int):
        self.pacer = _Pacer()
        self.error: BaseException | None = None
        self.finished = False
        self.thread = threading.Thread(target=self._fit, args=(net, X, Y, validation, s, max_epochs),
                                       name="relunet-playground-linesearch", daemon=True)

    def _fit(self, net: Any, X: np.ndarray, Y: np.ndarray, validation: Any, s: Settings, epochs: int) -> None:
        try:
            engine.fit(net, X, Y, epochs=epochs, optimizer=settings_mod.make_optimizer(s),
                       validation_data=validation, callbacks=[self.pacer])
        except BaseException as exc:  # handed to the caller of epoch(), in the request's thread
            self.error = exc
        finally:
            self.finished = True
            self.pacer.record = None
            self.pacer.done.release()

    def epoch(self) -> dict[str, Any] | None:
        """One more iteration (its record), or None when the method has finished."""
        if self.finished:
            return None
        if self.thread.ident is None:
            self.thread.start()
        else:
            self.pacer.go.release()
        self.pacer.done.acquire()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.pacer.record

    def close(self) -> None:
        if self.thread.ident is not None and not self.finished:
            self.pacer.stop = True
            self.pacer.go.release()
            self.thread.join(timeout=10)
        self.finished = True


# -- the session ------------------------------------------------------------------------------
class Session:
    """A data set, a network and its run, for one page (see the module docstring).

    Args:
        s: the settings (:func:`relunet.playground.settings.parse`).
        max_epochs: the most epochs (CG / L-BFGS: iterations) the run may take.
        budget: seconds of training one :meth:`train` call may spend (it finishes the
            epoch it is in; at least one epoch runs).

    Every public method takes the session's lock: one request at a time per session.
    """

    def __init__(self, s: Settings, *, max_epochs: int = 5000, budget: float = 0.05,
                 clock: Callable[[], float] = time.monotonic):
        self.id = secrets.token_urlsafe(12)
        self.lock = threading.RLock()
        self.max_epochs, self.budget, self.clock = int(max_epochs), float(budget), clock
        self.last_used = clock()
        self.trainer: _StepTrainer | _LineSearchTrainer | None = None
        self.configure(s)

    # -- set-up -----------------------------------------------------------------------
    def configure(self, s: Settings) -> None:
        """New settings: a new data set, network and run (epoch 0). Everything is built
        before anything is replaced, so settings that fail to build leave the session as it was."""
        data = settings_mod.load_data(s)
        net = settings_mod.build_network(s, data)
        X, Y, X_test, Y_test = settings_mod.encode(net, data)
        findings = [f.to_dict() for f in examine(net, X, data.y_train, probe=False)]
        with self.lock:
            self.close()
            self.settings, self.data, self.net, self.findings = s, data, net, findings
            self.X, self.Y, self.X_test, self.Y_test = X, Y, X_test, Y_test
            self.records: list[dict[str, Any]] = []
            self.status, self.message = "ready", None
            errors = [f for f in findings if f["severity"] == "error"]
            if errors:
                self.status = "blocked"
                self.message = f"the doctor found an error, so training is off: {errors[0]['title']}"
            self.extent = self._extent()
            self.grid = self._grid()

    def reset(self) -> None:
        """The same settings from epoch 0 (the same initial weights: the seed is the same)."""
        self.configure(self.settings)

    def close(self) -> None:
        """Stop the run's thread (CG / L-BFGS) if there is one."""
        with self.lock:
            if self.trainer is not None:
                self.trainer.close()
            self.trainer = None

    def touch(self) -> None:
        self.last_used = self.clock()

    @property
    def epoch(self) -> int:
        return len(self.records)

    # -- training ----------------------------------------------------------------------
    def _trainer(self) -> _StepTrainer | _LineSearchTrainer:
        if self.trainer is None:
            validation = (self.X_test, self.Y_test)
            if self.settings.line_search:
                self.trainer = _LineSearchTrainer(self.net, self.X, self.Y, validation, self.settings,
                                                  self.max_epochs)
            else:
                self.trainer = _StepTrainer(self.net, self.X, self.Y, validation, self.settings)
        return self.trainer

    def train(self, epochs: Any = 1) -> int:
        """Train up to ``epochs`` more epochs (at most :data:`MAX_EPOCHS_PER_CALL`, within
        the time budget and the session's epoch limit); returns how many ran.

        Raises:
            ConfigError: ``epochs`` is not an integer from 1 to MAX_EPOCHS_PER_CALL.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS_PER_CALL:
            raise ConfigError(f"epochs must be an integer from 1 to {MAX_EPOCHS_PER_CALL}, got {epochs!r}")
        with self.lock:
            if self.status in ("blocked", "diverged", "limit", "finished"):
                return 0
            t0, done = time.perf_counter(), 0
            while done < epochs and self.epoch < self.max_epochs:
                if not self._tick():
                    break
                done += 1
                if time.perf_counter() - t0 > self.budget:
                    break
            if self.epoch >= self.max_epochs and self.status == "ready":
                self.status = "limit"
                self.message = f"the session's limit of {self.max_epochs} epochs is reached; reset to train again"
            return done

    def _tick(self) -> bool:
        """One epoch (one CG / L-BFGS iteration); False when training cannot go on."""
        try:
            record = self._trainer().epoch()
        except RelunetError as exc:  # divergence (the network is back at its last good epoch), ...
            self.status, self.message = "diverged", str(exc)
            self.close()
            return False
        if record is None:
            self.status = "finished"
            self.message = f"{self.settings.batch_mode} has converged (or cannot improve further)"
            self.close()
            return False
        self.records.append({k: _finite(v) for k, v in record.items()
                             if k in ("loss", "val_loss", "accuracy", "val_accuracy")})
        return True

    # -- the views ------------------------------------------------------------------------
    def _extent(self) -> list[float]:
        X = np.vstack([self.X, self.X_test]).astype(np.float64)
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1e-3) + 0.05
        return [v for pair in zip(lo - pad, hi + pad) for v in map(float, pair)]

    def _grid(self) -> np.ndarray:
        e = self.extent
        if len(e) == 2:
            return np.linspace(e[0], e[1], CURVE_POINTS, dtype=self.net.dtype)[:, None]
        xs = np.linspace(e[0], e[1], GRID)
        ys = np.linspace(e[3], e[2], GRID)  # row 0 at the top of the picture
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()]).astype(self.net.dtype)

    def _activations(self, X: np.ndarray) -> list[np.ndarray]:
        """Every activation layer's output on ``X`` (evaluation mode, the network's forward)."""
        outputs: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            self.net.forward(X, record=outputs, training=False)
        return [a for layer, a in zip(self.net.layers, outputs) if isinstance(layer, ActivationLayer)]

    @staticmethod
    def _score(out: np.ndarray) -> np.ndarray:
        """The class-1 score of a two-class output: p(1) of a softmax pair, else the one unit."""
        return out[:, 1] if out.shape[1] == 2 else out[:, 0]

    def _grid_view(self) -> dict[str, Any]:
        acts = self._activations(self.grid)
        if len(self.extent) == 2:  # 1-D input: curves
            return {"kind": "curve", "x": self.grid[:, 0].round(4).tolist(),
                    "output": [_finite(v) for v in acts[-1][:, 0]],
                    "units": [[[_finite(v) for v in a[:, j]] for j in range(a.shape[1])] for a in acts[:-1]]}
        step = GRID // UNIT_GRID
        units = []
        for a in acts[:-1]:
            maps = a.reshape(GRID, GRID, -1)[::step, ::step].astype(np.float64)
            layer = []
            for j in range(maps.shape[2]):
                m = np.nan_to_num(maps[:, :, j], nan=0.0, posinf=1e30, neginf=-1e30)
                scale = float(np.max(np.abs(m)))
                layer.append({"map": _bytes(0.5 + 0.5 * m / scale if scale > 0 else np.full(m.shape, 0.5)),
                              "scale": _finite(scale)})
            units.append(layer)
        score = np.nan_to_num(self._score(acts[-1]).astype(np.float64), nan=0.5)
        return {"kind": "map", "n": GRID, "unit_n": UNIT_GRID, "output": _bytes(score), "units": units}

    def _predictions(self, X: np.ndarray) -> list[Any]:
        out = self._activations(X)[-1]
        if self.data.task == "regression":
            return [_finite(v) for v in out[:, 0]]
        return (self._score(out) > 0.5).astype(int).tolist()

    def _test_score(self) -> dict[str, Any]:
        """The test set's score as ``net.score`` gives it (what the page's snippet prints):
        accuracy for a classifier, R^2 for a regression network (also a classification data
        set learnt with a regression loss such as MSE); None when it is not finite or the
        network cannot score these targets."""
        name = "R^2" if self.net.task == "regression" else "accuracy"
        try:
            with np.errstate(all="ignore"):
                return {"name": name, "value": _finite(self.net.score(self.data.X_test, self.data.y_test))}
        except RelunetError:
            return {"name": name, "value": None}

    def _inside(self) -> dict[str, Any]:
        """Dead units per activation layer (None where the activation cannot die) and the
        gradient norm per dense layer, on the training set."""
        with np.errstate(all="ignore"):
            diag = diagnose(self.net, self.X, self.Y)
        dead = [layer.dead_units if layer.dead_fraction is not None else None for layer in diag.layers]
        grads = [_finite(d.grad_norm) if d.grad_norm is not None else None for d in diag.dense]
        return {"dead": dead, "grad_norms": grads}

    def _weights(self) -> list[dict[str, Any]]:
        return [{"W": np.round(d.W.astype(np.float64), 4).tolist(), "b": np.round(d.b.astype(np.float64), 4).tolist()}
                for d in self.net.dense_layers]

    def layout(self) -> dict[str, Any]:
        """What does not change while training: the data, the layers, the findings."""
        acts = [l.activation for l in self.net.layers if isinstance(l, ActivationLayer)]

        def points(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
            return {"x": np.round(np.asarray(X, dtype=np.float64), 4).tolist(),
                    "y": [_finite(v) for v in np.asarray(y, dtype=np.float64)]}

        return {
            "task": self.data.task, "description": self.data.description, "extent": self.extent,
            "train": points(self.data.X_train, self.data.y_train),
            "test": points(self.data.X_test, self.data.y_test),
            "sizes": list(self.net.sizes), "activations": [a.name for a in acts],
            "can_die": [can_die(a) for a in acts], "loss": self.net.loss.name,
            "findings": self.findings,
        }

    def state(self, since: Any = 0, layout: bool = False) -> dict[str, Any]:
        """The session as the page draws it; ``since``: the history records the page has.

        Raises:
            ConfigError: ``since`` is not an integer >= 0.
        """
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ConfigError(f"since must be an integer >= 0, got {since!r}")
        with self.lock:
            since = min(since, self.epoch)
            records = self.records[since:since + MAX_RECORDS_PER_ANSWER]
            out: dict[str, Any] = {
                "id": self.id, "epoch": self.epoch, "max_epochs": self.max_epochs,
                "status": self.status, "message": self.message, "settings": self.settings.to_dict(),
                "history": {"since": since, "records": records},
                "last": self.records[-1] if self.records else None,
                "score": self._test_score(),
                "views": {**self._grid_view(), **self._inside(), "weights": self._weights(),
                          "pred": {"train": self._predictions(self.X), "test": self._predictions(self.X_test)}},
                "code": {"command": settings_mod.command(self.settings, self.epoch),
                         "python": settings_mod.python(self.settings, self.epoch)},
            }
            if layout:
                out["layout"] = self.layout()
            return out

    def trace(self, part: Any = "train", index: Any = 0) -> dict[str, Any]:
        """One backpropagation step (plain SGD at the session's learning rate) on one sample,
        on a copy of the network: every number of the forward pass, the deltas, f'(z), the
        gradients and the update (:func:`relunet.insight.trace.trace_steps`).

        Raises:
            ConfigError: ``part`` is not train/test or ``index`` not a sample of it.
        """
        if part not in ("train", "test"):
            raise ConfigError(f"part must be 'train' or 'test', got {part!r}")
        with self.lock:
            X = self.data.X_train if part == "train" else self.data.X_test
            y = self.data.y_train if part == "train" else self.data.y_test
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(X):
                raise ConfigError(f"index must be an integer from 0 to {len(X) - 1}, got {index!r}")
            if self.status == "blocked":
                raise ConfigError(self.message or "training is off")
            lr = 0.1 if self.settings.line_search else self.settings.lr
            with np.errstate(all="ignore"):
                t = trace_steps(copy.deepcopy(self.net), X[index:index + 1], y[index:index + 1], lr=lr, steps=1)
            step = t.to_dict()["steps"][0]
            return {"part": part, "index": index, "lr": lr, "loss_name": t.loss_name,
                    "x": np.asarray(X[index], dtype=np.float64).tolist(), "y": _finite(y[index]),
                    "step": _json_safe(step)}


def _json_safe(obj: Any) -> Any:
    """Nested lists and dicts with NaN/inf floats as None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float):
        return _finite(obj)
    return obj


# -- the sessions of a server -----------------------------------------------------------------
class SessionStore:
    """The server's sessions, bounded in number and evicted when idle.

    Args:
        max_sessions: the most sessions at once; a new one past it evicts the least
            recently used.
        idle: seconds without a request after which a session is evicted.
        session_options: keyword arguments of every :class:`Session` (``max_epochs``,
            ``budget``).
    """

    def __init__(self, max_sessions: int = 32, idle: float = 600.0, clock: Callable[[], float] = time.monotonic,
                 **session_options: Any):
        if max_sessions < 1 or idle <= 0:
            raise ConfigError(f"max_sessions must be >= 1 and idle > 0, got {max_sessions}, {idle}")
        self.max_sessions, self.idle, self.clock = int(max_sessions), float(idle), clock
        self.options = session_options
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.sessions)

    def create(self, s: Settings) -> Session:
        session = Session(s, clock=self.clock, **self.options)  # built outside the lock: it loads data
        with self.lock:
            evicted = self._evict_idle()
            while len(self.sessions) >= self.max_sessions:
                evicted.append(self.sessions.popitem(last=False)[1])
            self.sessions[session.id] = session
        for old in evicted:  # outside the lock: a session closes when its request is done
            old.close()
        return session

    def get(self, sid: str) -> Session | None:
        """The session (marked as used now), or None when there is none by that id."""
        with self.lock:
            evicted = self._evict_idle()
            session = self.sessions.get(sid)
            if session is not None:
                session.touch()
                self.sessions.move_to_end(sid)
        for old in evicted:
            old.close()
        return session

    def remove(self, sid: str) -> bool:
        with self.lock:
            session = self.sessions.pop(sid, None)
        if session is not None:
            session.close()
        return session is not None

    def close(self) -> None:
        with self.lock:
            sessions = list(self.sessions.values())
            self.sessions.clear()
        for s in sessions:
            s.close()

    def _evict_idle(self) -> list[Session]:
        """Take the idle sessions out (the caller closes them, outside the lock)."""
        now = self.clock()
        return [self.sessions.pop(sid) for sid in [k for k, s in self.sessions.items()
                                                    if now - s.last_used > self.idle]]
