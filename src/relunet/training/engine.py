"""The training loop behind ``MLP.fit`` and ``relunet train``.

One epoch visits every training sample once, in batches:

* ``batch_size=1``: online learning, one update per pattern;
* ``batch_size=B``: mini-batch, one update per B patterns (the last batch may be smaller);
* ``batch_size=None`` (or >= n_samples): full-batch (batch) learning, one update per epoch.

Each batch is one call of ``net.train_step(xb, yb, optimizer)`` (forward, backward, step).
Samples are shuffled each epoch with the network's seeded generator ``net.rng``, so the
same seed and data give the same parameters bit for bit.

Around the batches, per epoch, in this order:

1. the record: ``epoch``, ``loss`` (mean of the batch losses, each taken before its
   update), ``accuracy`` (classifiers, evaluation mode, after the epoch), ``val_loss`` /
   ``val_accuracy`` (with validation data), ``lr`` (the rate used in the epoch), ``seconds``;
2. the schedule: ``opt.lr = schedule.step(metric)`` gives the next epoch's rate
   (reduce-on-plateau gets the monitored metric);
3. callbacks' ``on_epoch_end`` (early stopping is one; any may ask to stop);
4. the checkpoint (if a path is given), written atomically.

Guards:

* **divergence**: a NaN/inf loss (or a floating-point overflow raised as an error) stops
  training with :class:`relunet.errors.DivergenceError` naming the epoch and batch and
  suggesting a smaller learning rate; parameters, optimizer state and generator are put
  back to the end of the last completed epoch (the last good state), so no NaN is left;
* **Ctrl-C** (KeyboardInterrupt): the network is put back to the end of the last completed
  epoch, a checkpoint is written if a path was given, and ``fit`` *returns* the history with
  ``history.interrupted = True`` (the CLI then exits with status 130).

Full-batch optimizers (``opt.full_batch``: CG, L-BFGS) are run with ``opt.minimize`` once,
one history record per iteration, the iteration and function-evaluation counts in
``history.info``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from relunet.training import checkpoint as ckpt_mod
from relunet.training import optimizers
from relunet.training import schedules as schedules_mod
from relunet.training.callbacks import EarlyStopping, as_callback, monitor_mode
from relunet.errors import ConfigError, DataError, DivergenceError, ModelFileError, RelunetError
from relunet.training.progress import Progress


@dataclass
class History:
    """Per-epoch records and facts about the run.

    ``history.records[i]`` is the dict of epoch ``i + 1`` (``epoch``, ``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``, ...); ``history["loss"]`` is the
    list of one metric over the epochs. ``history.info`` holds run-level facts: the
    ``optimizer`` and its ``optimizer_config``; ``stopped_early``, ``best_epoch`` (early
    stopping); ``iterations`` and ``nfev`` (full-batch optimizers); ``resumed_from``;
    ``interrupted`` (Ctrl-C).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def __getitem__(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def epochs(self) -> int:
        """Completed epochs (for full-batch optimizers: iterations)."""
        return len(self.records)

    @property
    def final_loss(self) -> float:
        return float(self.records[-1]["loss"]) if self.records else float("nan")

    @property
    def interrupted(self) -> bool:
        """True when training was stopped by Ctrl-C (KeyboardInterrupt)."""
        return bool(self.info.get("interrupted", False))

    @property
    def stopped_early(self) -> bool:
        return bool(self.info.get("stopped_early", False))

    def keys(self) -> list[str]:
        """Metric names present in any record, in first-seen order."""
        out: dict[str, None] = {}
        for r in self.records:
            out.update(dict.fromkeys(r))
        return list(out)

    def to_dict(self) -> dict[str, Any]:
        return {"records": _jsonable(self.records), "info": _jsonable(self.info)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        if not isinstance(d, dict) or not isinstance(d.get("records"), list):
            raise DataError("a history needs a list under 'records'")
        return cls(records=[dict(r) for r in d["records"]], info=dict(d.get("info") or {}))

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as strict JSON (``{"records": [...], "info": {...}}``; NaN and
        infinities become ``null``), atomically: a failed write leaves any previous file intact."""
        from relunet.io.archive import write_atomic

        write_atomic(path, json.dumps(_json_safe(self.to_dict()), indent=1, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        """Read a history written by :meth:`save`."""
        with open(path) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as exc:
                raise DataError(f"{os.fspath(path)}: not a JSON history ({exc})") from None
        return cls.from_dict(d)


def _json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# -- evaluation -------------------------------------------------------------------
#: fewest rows per block when fit evaluates through the work arrays: on 784-500-500-500-10
#: the 60k-sample pass took 0.74 s in 32-row blocks, 0.46 s in 128-row, 0.37 s in 1024-row
#: (2 cores; benchmarks/bench_evaluation.py); 128 rows of work arrays is a few MB at most
EVAL_MIN_ROWS = 128


def evaluate(net: Any, X: np.ndarray, Y: np.ndarray, *, loss: bool = True,
             work_rows: int | None = None) -> dict[str, float]:
    """Loss (and accuracy for classifiers) in evaluation mode, on encoded targets:
    ``net.evaluate(X, Y, loss=loss, work_rows=work_rows)`` (see
    :meth:`relunet.core.network.Network.evaluate`, which runs it in blocks of rows)."""
    return net.evaluate(X, Y, loss=loss, work_rows=work_rows)


# -- validation split ---------------------------------------------------------------
def _labels_for_stratification(net: Any, Y: np.ndarray) -> np.ndarray | None:
    if getattr(net, "task", None) != "classification":
        return None
    if net.loss.name == "cross_entropy":
        return np.argmax(Y, axis=1)
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    return None  # multi-label: plain random split


def validation_indices(
    net: Any, Y: np.ndarray, fraction: float, rng: np.random.Generator, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: a seeded split holding out ``fraction`` of the samples.

    Classification is stratified: each class gives ``round(fraction * n_class)`` samples
    (so the validation set has the class proportions of the data). With
    ``stratify=False`` the *last* ``fraction`` of the samples is held out, as given
    (Keras' convention; no randomness). Both index arrays are sorted.
    """
    n = len(Y)
    if not 0 < fraction < 1:
        raise ConfigError(f"validation_split must be in (0, 1), got {fraction}")
    if not stratify:
        n_val = int(math.ceil(fraction * n))
        val = np.arange(n - n_val, n)
    else:
        labels = _labels_for_stratification(net, Y)
        if labels is None:
            n_val = int(round(fraction * n))
            val = np.sort(rng.permutation(n)[:n_val])
        else:
            parts = []
            for c in np.unique(labels):
                idx = np.flatnonzero(labels == c)
                k = int(round(fraction * len(idx)))
                parts.append(rng.permutation(idx)[:k])
            val = np.sort(np.concatenate(parts))
    if len(val) == 0 or len(val) == n:
        raise ConfigError(
            f"validation_split={fraction} of {n} samples leaves "
            f"{'no validation' if len(val) == 0 else 'no training'} samples"
        )
    train = np.setdiff1d(np.arange(n), val)
    return train, val


# -- schedules ---------------------------------------------------------------------
#: the values a schedule spec ``name:v1:v2`` gives, in order (see :func:`parse_schedule`)
SCHEDULE_POSITIONAL: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("T_max", "eta_min"),
    "reduce_on_plateau": ("patience", "factor"),
    "warmup": ("warmup_epochs",),
}

SCHEDULE_SYNTAX = (
    "NAME[:VALUE...][:KEY=VALUE...]: step:STEP_SIZE[:GAMMA] (e.g. step:10:0.5), "
    "exponential:GAMMA, cosine[:T_MAX[:ETA_MIN]] (T_MAX defaults to the epochs), "
    "plateau[:PATIENCE[:FACTOR]] (reduce on plateau of the monitored metric), "
    "warmup:EPOCHS[:SCHEDULE...] (linear warm-up, then e.g. cosine: warmup:5:cosine), constant"
)


def _canonical_schedule(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return schedules_mod.canonical_name(key) if key in schedules_mod.REGISTRY else key


def _value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def parse_schedule(spec: str, epochs: int, monitor: str = "val_loss") -> "schedules_mod.Schedule":
    """A schedule from the text form ``NAME[:VALUE...][:KEY=VALUE...]`` (``--schedule``).

    Positional values follow :data:`SCHEDULE_POSITIONAL` (``step:10:0.5`` is
    ``StepDecay(step_size=10, gamma=0.5)``); ``KEY=VALUE`` sets any constructor argument
    (``plateau:patience=3:factor=0.5``). ``warmup:W`` may be followed by the spec of the
    schedule that comes after the warm-up (``warmup:5:cosine``). See :data:`SCHEDULE_SYNTAX`.

    Raises:
        UnknownNameError: unknown schedule name (lists the known ones).
        ConfigError: too many values or a bad value.
    """
    tokens = [t.strip() for t in str(spec).split(":")]
    name, rest = tokens[0], tokens[1:]
    key = _canonical_schedule(name)
    if key not in schedules_mod.SCHEDULES:
        schedules_mod.get(name)  # raises UnknownNameError listing the known names
    positional = SCHEDULE_POSITIONAL.get(key, ())
    params: dict[str, Any] = {}
    after: str | None = None
    n_pos = 0
    for i, tok in enumerate(rest):
        if "=" in tok:
            k, _, v = tok.partition("=")
            if k.strip() in params:
                raise ConfigError(f"schedule {key!r}: {k.strip()} is given twice in {spec!r}")
            params[k.strip()] = _value(v.strip())
        elif key == "warmup" and n_pos >= len(positional):
            after = ":".join(rest[i:])
            break
        elif n_pos < len(positional):
            if positional[n_pos] in params:
                raise ConfigError(f"schedule {key!r}: {positional[n_pos]} is given twice in {spec!r}")
            params[positional[n_pos]] = _value(tok)
            n_pos += 1
        else:
            raise ConfigError(
                f"schedule {key!r} takes at most {len(positional)} values "
                f"({', '.join(positional) or 'none'}), got {spec!r}; syntax: {SCHEDULE_SYNTAX}"
            )
    if key == "warmup" and after:
        w = int(params.get("warmup_epochs", 5))
        params["after"] = parse_schedule(after, max(1, epochs - w), monitor)
    return make_schedule((key, params), epochs, monitor)


def _needs_metric(schedule: Any) -> bool:
    """Whether ``schedule.step`` needs the monitored metric (reduce-on-plateau, also after a warm-up)."""
    if isinstance(schedule, schedules_mod.ReduceOnPlateau):
        return True
    after = getattr(schedule, "after", None)
    return after is not None and _needs_metric(after)


def make_schedule(spec: Any, epochs: int, monitor: str) -> "schedules_mod.Schedule | None":
    """A schedule from a name or spec string, ``(name, params)`` or an instance; None for none.

    Defaults filled from the run: ``cosine`` anneals over ``T_max = epochs``;
    ``reduce_on_plateau`` takes its mode from the monitored metric (max for accuracies).
    NOTE: a default taken from ``epochs`` makes a 3-epoch run a different schedule from a
    5-epoch one; to stop after 3 and resume to 5 exactly, give ``T_max`` explicitly (a run
    interrupted by Ctrl-C or a crash, resumed with the same arguments, is exact anyway).
    """
    if spec is None:
        return None
    if isinstance(spec, schedules_mod.Schedule):
        return spec
    if isinstance(spec, str):
        return parse_schedule(spec, epochs, monitor)
    try:
        name, params = spec
        params = dict(params)
    except (TypeError, ValueError):
        raise ConfigError(f"a schedule is a name, (name, params) or a Schedule, not {spec!r}") from None
    key = _canonical_schedule(str(name))
    if key == "cosine":
        params.setdefault("T_max", max(1, epochs))
    elif key == "reduce_on_plateau":
        params.setdefault("mode", monitor_mode(monitor))
    return schedules_mod.get(key if key in schedules_mod.SCHEDULES else str(name), **params)


# -- the loop ------------------------------------------------------------------------
class _Diverged(Exception):
    def __init__(self, epoch: int, batch: int | None, value: Any, cause: BaseException | None = None):
        self.epoch, self.batch, self.value, self.cause = epoch, batch, value, cause


@dataclass
class _Snapshot:
    """The state at the end of the last completed epoch (the last good state)."""

    params: list[np.ndarray]
    optimizer: dict[str, Any]
    rng_state: dict[str, Any] | None
    schedule: dict[str, Any] | None
    #: True while :meth:`retake` runs: the snapshot is half old, half new
    retaking: bool = False

    @classmethod
    def take(cls, net: Any, opt: Any, schedule: Any) -> "_Snapshot":
        return cls(
            [p.copy() for p in net.parameters()],
            opt.state_dict(),  # its arrays are copies already
            ckpt_mod.capture_rng(net),
            None if schedule is None else copy.deepcopy(schedule.state_dict()),
        )

    def retake(self, net: Any, opt: Any, schedule: Any) -> "_Snapshot":
        """Take the state again, the parameters copied into this snapshot's arrays (so a
        new snapshot never coexists with the old one: one copy of the parameters, not two)."""
        params = net.parameters()
        if len(params) != len(self.params) or any(
            p.shape != s.shape or p.dtype != s.dtype for p, s in zip(params, self.params)
        ):
            return self.take(net, opt, schedule)
        self.retaking = True
        for p, saved in zip(params, self.params):
            np.copyto(saved, p)
        self.optimizer = {}  # the old state goes before the new copy is made
        self.optimizer = opt.state_dict()
        self.rng_state = ckpt_mod.capture_rng(net)
        self.schedule = None if schedule is None else copy.deepcopy(schedule.state_dict())
        self.retaking = False
        return self

    def restore(self, net: Any, opt: Any, schedule: Any) -> None:
        if self.retaking:
            # interrupted (Ctrl-C) while retaking: the snapshot is torn, but retake only
            # reads, so the network, optimizer, rng and schedule still hold exactly the state
            # it was taking (the epoch just completed): nothing to restore
            return
        for p, saved in zip(net.parameters(), self.params):
            p[...] = saved
        opt.load_state_dict(self.optimizer)  # copies the arrays
        if self.rng_state is not None:
            net.rng.bit_generator.state = self.rng_state
        if schedule is not None and self.schedule is not None:
            schedule.load_state_dict(copy.deepcopy(self.schedule))


class _Gathered:
    """``X[order]`` gathered batch by batch into one reused buffer.

    Slicing gives ``X[order[s:e]]`` written into the same ``(batch_size, ...)`` array each
    time (``np.take(..., out=)``), so an epoch never copies the whole data set: a
    memory-mapped X is read one batch at a time, and an in-memory X needs no second
    full-size copy. The returned array is overwritten by the next slice, which is safe
    because ``train_step`` is done with a batch before the next one is gathered.
    """

    def __init__(self, X: np.ndarray, order: np.ndarray, batch_size: int):
        self.X, self.order = X, order
        self.buf = np.empty((min(batch_size, len(order)),) + X.shape[1:], dtype=X.dtype)

    def __getitem__(self, sl: slice) -> np.ndarray:
        idx = self.order[sl]
        out = self.buf[: len(idx)]
        # mode="clip" writes straight into out (mode="raise" would gather into a temporary);
        # idx is a permutation of range(n), so clipping never changes an index
        np.take(self.X, idx, axis=0, out=out, mode="clip")
        return out


def _has_hook(cb: Any, name: str) -> bool:
    """True when ``cb`` defines ``name`` itself (not the base class's no-op)."""
    from relunet.training.callbacks import Callback

    fn = getattr(type(cb), name, None)
    if fn is None:
        return hasattr(cb, name)
    return fn is not getattr(Callback, name, None)


def fit(
    net: Any,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    lr: float = 0.01,
    optimizer: "str | optimizers.Optimizer" = "sgd",
    schedule: Any = None,
    shuffle: bool = True,
    verbose: int = 0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
    stratify: bool = True,
    early_stopping: "int | bool | EarlyStopping | None" = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    restore_best_weights: bool = True,
    callbacks: Any = (),
    checkpoint: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    stream: TextIO | None = None,
    **optimizer_params: Any,
) -> History:
    """Train ``net`` on encoded data; returns the per-epoch :class:`History`.

    Args:
        net: a :class:`relunet.core.network.Network` (usually an MLP) with a seeded ``rng``.
        X: ``shape (n_samples, n_features)`` in the network's dtype.
        Y: encoded targets ``shape (n_samples, n_outputs)``.
        epochs: the epoch to train up to. After ``resume`` from epoch ``k``, epochs
            ``k+1 .. epochs`` are run (so rerunning the same call with ``resume=`` finishes
            the intended run). For full-batch optimizers: the maximum number of iterations.
        batch_size: 1 (online), B (mini-batch) or None (full batch).
        lr: learning rate (the schedule's base rate).
        optimizer: name or instance (see :mod:`relunet.optimizers`); ``**optimizer_params``
            go to its constructor (``momentum``, ``nesterov``, ``weight_decay``, ...).
        schedule: a name, ``(name, params)`` or :class:`relunet.schedules.Schedule`.
        shuffle: reshuffle the training samples every epoch (with ``net.rng``).
        verbose: 0 silent; 1 a live progress bar on a terminal, else one line per epoch;
            2 one line per epoch always (see :mod:`relunet.training.progress`).
        validation_data: encoded ``(X_val, Y_val)``.
        validation_split: hold out this fraction of ``(X, Y)`` for validation (ignored when
            ``validation_data`` is given); drawn once with ``net.rng``.
        stratify: stratified split for classifiers (default); False holds out the last part.
        early_stopping: patience (int), True (patience 10) or an
            :class:`relunet.callbacks.EarlyStopping`.
        monitor: metric for early stopping and reduce-on-plateau; default ``val_loss`` with
            validation data, ``loss`` without (early stopping requires validation data
            unless ``monitor`` is given).
        min_delta, restore_best_weights: for early stopping (see EarlyStopping).
        callbacks: objects following :mod:`relunet.callbacks`' protocol (or functions used
            as ``on_epoch_end``).
        checkpoint: path of a checkpoint written after every epoch (and on Ctrl-C).
        resume: path of a checkpoint to continue from (see :mod:`relunet.training.checkpoint`).
        stream: where progress goes (default stdout).

    Returns:
        The history. ``history.interrupted`` is True when Ctrl-C stopped training; the
        network then holds the parameters of the last completed epoch.

    Raises:
        DivergenceError: a NaN/inf loss; the network keeps the last good parameters.
        ConfigError: bad settings; ModelFileError: an unusable ``resume`` file.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(f"epochs must be an integer >= 0, got {epochs!r}")
    epochs = int(epochs)
    if verbose not in (0, 1, 2, True, False):
        raise ConfigError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    verbose = int(verbose)
    if monitor is not None and not isinstance(monitor, str):
        raise ConfigError(f"monitor must be a metric name such as 'val_loss' or 'loss', got {monitor!r}")
    if checkpoint is not None:  # a folder that is missing fails now, not after the first epoch
        from relunet.io.archive import output_target

        output_target(checkpoint)
    if isinstance(optimizer, optimizers.Optimizer) and optimizer_params:
        raise ConfigError(f"{', '.join(sorted(optimizer_params))} would be ignored: the optimizer is given as an "
                          f"instance, {optimizer!r}; set them on it, or give the optimizer by name")
    opt = optimizers.get(optimizer, lr=lr, **optimizer_params)
    opt_name = getattr(opt, "name", type(opt).__name__)
    state = getattr(opt, "state", None)
    if isinstance(state, dict) and state:  # an instance that already trained: its state must be this net's
        shapes = [p.shape for p in net.parameters()]
        for name, arrays in state.items():
            if isinstance(arrays, list) and [np.shape(a) for a in arrays] != shapes:
                raise ConfigError(
                    f"this {opt_name} instance holds state ({name!r}) of another network; give each network "
                    f"its own optimizer (a fresh instance, or the name {opt_name!r})"
                )

    # -- resume: read first (its validation split and epoch decide what follows) --
    restored = None
    if resume is not None:
        restored = ckpt_mod.load(resume)
        if restored.optimizer_name != opt_name:
            raise ConfigError(
                f"{os.fspath(resume)} was written by optimizer {restored.optimizer_name!r}, "
                f"this run uses {opt_name!r}; resume with the same optimizer"
            )
        _check_resume(resume, restored, net, opt, epochs)
        had_split = "val_idx" in restored.extra
        if had_split and not validation_split and validation_data is None:
            raise ConfigError(f"{os.fspath(resume)} was written by a run that held out a validation split; "
                              "resume with validation_split (--validation-split) too: the same samples are held out")
        if not had_split and validation_split:
            raise ConfigError(f"{os.fspath(resume)} was written by a run without a validation split; "
                              "resume without validation_split (--validation-split, --early-stopping)")

    # -- validation data ---------------------------------------------------------
    val_idx = None
    if validation_data is not None:
        try:
            Xv, Yv = validation_data
        except (TypeError, ValueError):
            raise ConfigError("validation_data must be a pair (X_val, Y_val)") from None
        # arrays in the training data's dtypes (lists, float64 for a float32 network, ...),
        # but never an integer one: integer training targets (counts) must not truncate
        # float validation targets (2.5 -> 2), nor uint8 pixels scaled validation inputs
        xd, yd = (d if d.kind == "f" else np.dtype(getattr(net, "dtype", np.float64)) for d in (X.dtype, Y.dtype))
        try:
            Xv, Yv = np.asarray(Xv, dtype=xd), np.asarray(Yv, dtype=yd)
        except (TypeError, ValueError) as exc:
            raise DataError(f"validation_data must be numeric arrays (X_val, Y_val): {exc}") from None
        if len(Xv) != len(Yv) or len(Xv) == 0:
            raise DataError(f"validation_data: X_val has {len(Xv)} samples, Y_val {len(Yv)}")
        if np.ndim(Xv) != 2 or np.shape(Xv)[1] != X.shape[1] or np.ndim(Yv) != 2 or np.shape(Yv)[1] != Y.shape[1]:
            raise DataError(
                f"validation_data has shapes {np.shape(Xv)}, {np.shape(Yv)}; the training data "
                f"{X.shape}, {Y.shape} (give encoded targets here, or raw labels to MLP.fit)"
            )
        validation: tuple[np.ndarray, np.ndarray] | None = (Xv, Yv)
    elif validation_split:
        if restored is not None and "val_idx" in restored.extra:
            val_idx = np.asarray(restored.extra["val_idx"], dtype=np.int64)
            if len(val_idx) and val_idx.max() >= len(X):
                raise ConfigError(f"{os.fspath(resume)}: its validation split does not fit {len(X)} samples")
            train_idx = np.setdiff1d(np.arange(len(X)), val_idx)
        else:
            train_idx, val_idx = validation_indices(net, Y, float(validation_split), net.rng, stratify)
        validation = (X[val_idx], Y[val_idx])
        X, Y = X[train_idx], Y[train_idx]
    else:
        validation = None

    if (isinstance(early_stopping, (int, np.integer)) and not isinstance(early_stopping, (bool, np.bool_))
            and early_stopping < 1):
        raise ConfigError(f"early_stopping={early_stopping!r}: a patience is an integer >= 1 "
                          "(None or False turn early stopping off)")
    if monitor is None:
        monitor = "val_loss" if validation is not None else "loss"
        if early_stopping not in (None, False) and validation is None and not isinstance(early_stopping, EarlyStopping):
            raise ConfigError(
                "early stopping needs validation data to monitor val_loss: give validation_split or "
                "validation_data (or monitor='loss' to stop on the training loss)"
            )
    if monitor.startswith("val_") and validation is None:
        raise ConfigError(f"monitor={monitor!r} needs validation data (validation_split or validation_data)")

    # -- callbacks -----------------------------------------------------------------
    if isinstance(callbacks, (str, bytes)):
        raise ConfigError(f"callbacks must be a list of callbacks, got the string {callbacks!r}")
    if callbacks is not None and (callable(callbacks) or hasattr(callbacks, "on_epoch_end")
                                  or hasattr(callbacks, "on_batch_end")):
        callbacks = [callbacks]  # one callback given on its own
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise ConfigError(f"callbacks must be a list of callbacks, got {callbacks!r}") from None
    cbs = [as_callback(c) for c in callbacks]
    if early_stopping not in (None, False):
        if isinstance(early_stopping, EarlyStopping):
            stopper = early_stopping
        else:
            if not isinstance(early_stopping, (int, np.integer)):
                raise ConfigError(f"early_stopping is a patience (an integer >= 1), True, or an EarlyStopping; "
                                  f"got {early_stopping!r}")
            patience = 10 if early_stopping is True else int(early_stopping)
            stopper = EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta,
                                    restore_best_weights=restore_best_weights)
        if not any(cb is stopper for cb in cbs):  # given twice: one stopper, called once per epoch
            cbs.append(stopper)
    schedule_obj = make_schedule(schedule, epochs, monitor)

    _check_target_scale(net, Y)
    history = History(info={"optimizer": opt_name, "optimizer_config": _config(opt)})
    n = len(X)
    if n == 0:
        raise DataError("no training samples")
    if getattr(opt, "full_batch", False):
        if schedule_obj is not None:
            raise ConfigError(f"{opt_name!r} chooses its step by line search: a learning-rate schedule does not apply")
        return _fit_full_batch(net, X, Y, opt, epochs, validation, cbs, history, verbose, stream,
                               checkpoint, restored, resume)

    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, float, np.integer, np.floating))
        or int(batch_size) != batch_size or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be an integer >= 1 or None (full batch), got {batch_size!r}")
    if batch_size is None or batch_size >= n:
        batch_size = n
    batch_size = int(batch_size)
    n_batches = -(-n // batch_size)
    # the epoch's evaluation runs through the work arrays in blocks of the batch size, or of
    # EVAL_MIN_ROWS for smaller batches (online learning would otherwise evaluate row by row)
    eval_rows = max(batch_size, EVAL_MIN_ROWS)
    if hasattr(net, "reserve_work"):
        net.reserve_work(min(eval_rows, max(n, len(validation[0]) if validation is not None else 0)))

    for cb in cbs:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(net)

    # what a checkpoint records of the run, so that a resume continues this run and no other
    run_config: dict[str, Any] = {
        "batch_size": batch_size, "shuffle": bool(shuffle), "lr": float(opt.lr),
        "schedule": None if schedule_obj is None else _jsonable({"name": schedule_obj.name,
                                                                 **schedule_obj.config()}),
        "data": _fingerprint(X),
    }
    first_epoch = 1
    if restored is not None:
        _check_resume_run(resume, restored.extra.get("config") or {}, run_config)
        ckpt_mod.restore_params(net, restored, resume)
        try:
            opt.load_state_dict(restored.optimizer)
        except RelunetError:
            raise
        except (TypeError, ValueError, KeyError) as exc:  # a corrupted (but checksummed) state
            raise ModelFileError(f"{os.fspath(resume)}: bad optimizer state ({exc})") from None
        if schedule_obj is not None and restored.schedule is not None:
            schedule_obj.load_state_dict(restored.schedule)
        for key, cb in _stateful(cbs).items():
            if key in restored.callbacks:
                cb.load_state_dict(restored.callbacks[key])
        history = History.from_dict(restored.history) if restored.history else history
        history.info["resumed_from"] = restored.epoch
        history.info.pop("interrupted", None)
        first_epoch = restored.epoch + 1
        if restored.extra.get("stopped"):
            first_epoch = epochs + 1  # the run had already ended (early stop)
    if schedule_obj is not None:
        opt.lr = schedule_obj.start(opt.lr)

    progress = Progress(epochs, n, n_batches, verbose, stream, first_epoch=first_epoch)
    batch_cbs = [cb for cb in cbs if _has_hook(cb, "on_batch_end")]
    bar = progress.mode == "bar"
    net.train()
    good = _Snapshot.take(net, opt, schedule_obj)
    train_step = net.train_step
    isfinite = math.isfinite
    stopped = False
    epoch = first_epoch - 1

    def save_checkpoint(done_epoch: int) -> None:
        extra: dict[str, Any] = {"stopped": stopped, "config": run_config,
                                 "network": repr(net), "optimizer_config": _resume_config(opt)}
        if val_idx is not None:
            extra["val_idx"] = val_idx
        ckpt_mod.save(checkpoint, ckpt_mod.Checkpoint(
            epoch=done_epoch,
            params=net.parameters(),
            rng_state=ckpt_mod.capture_rng(net),
            optimizer_name=opt_name,
            optimizer=opt.state_dict(),
            schedule=None if schedule_obj is None else schedule_obj.state_dict(),
            callbacks={k: cb.state_dict() for k, cb in _stateful(cbs).items()},
            history=history.to_dict(),
            extra=extra,
        ))

    try:
        for epoch in range(first_epoch, epochs + 1):
            t0 = time.perf_counter()
            progress.epoch_begin(epoch)
            if shuffle and batch_size < n:
                Xe = Ye = order = None  # last epoch's order and buffers go before the new ones come
                order = net.rng.permutation(n)
                # gather batch by batch into reused buffers: no full copy of X per epoch
                # (a memory-mapped X is read one batch at a time)
                Xe, Ye = _Gathered(X, order, batch_size), _Gathered(Y, order, batch_size)
            else:
                Xe, Ye = X, Y
            total = 0.0
            lr_used = float(opt.lr)
            try:
                for b in range(n_batches):
                    s = b * batch_size
                    e = s + batch_size
                    try:
                        loss = train_step(Xe[s:e], Ye[s:e], opt)
                    except (FloatingPointError, RuntimeWarning) as exc:
                        raise _Diverged(epoch, b + 1, "a floating-point overflow", exc) from None
                    if not isfinite(loss):
                        raise _Diverged(epoch, b + 1, loss)
                    total += float(loss) * (min(e, n) - s)
                    if bar:
                        progress.batch_end(b + 1, min(e, n), total)
                    if batch_cbs:
                        for cb in batch_cbs:
                            if _wants_stop(cb.on_batch_end(epoch, b + 1, float(loss), net), cb, "on_batch_end"):
                                stopped = True
                record: dict[str, Any] = {"epoch": epoch, "loss": total / n}
                try:
                    record.update(evaluate(net, X, Y, loss=False, work_rows=eval_rows))
                    if validation is not None:
                        for k, v in evaluate(net, *validation, work_rows=eval_rows).items():
                            record["val_" + k] = v
                except (FloatingPointError, RuntimeWarning) as exc:
                    raise _Diverged(epoch, None, "a floating-point overflow", exc) from None
                bad = [k for k, v in record.items() if isinstance(v, float) and not isfinite(v)]
                if bad:
                    raise _Diverged(epoch, None, f"{bad[0]}={record[bad[0]]}")
            except _Diverged as d:
                good.restore(net, opt, schedule_obj)
                progress.close()
                raise _divergence_error(d, lr_used, batch_size, history, opt) from d.cause
            record["lr"] = lr_used
            record["seconds"] = time.perf_counter() - t0
            history.append(record)
            if schedule_obj is not None:
                if monitor not in record and _needs_metric(schedule_obj):
                    raise ConfigError(
                        f"the {schedule_obj.name} schedule monitors {monitor!r}, which the epoch record does "
                        f"not have (it has {', '.join(record)}); give validation data or monitor 'loss'"
                    )
                opt.lr = schedule_obj.step(record.get(monitor))
            for cb in cbs:
                if hasattr(cb, "on_epoch_end") and _wants_stop(cb.on_epoch_end(epoch, record, net), cb, "on_epoch_end"):
                    stopped = True
            good = good.retake(net, opt, schedule_obj)
            if checkpoint is not None:
                save_checkpoint(epoch)
            progress.epoch_end(record)
            if stopped:
                break
    except KeyboardInterrupt:
        # Back to the end of the last completed epoch: consistent with the history and
        # with the checkpoint, so a resume continues exactly.
        good.restore(net, opt, schedule_obj)
        history.info["interrupted"] = True
        done = history.records[-1]["epoch"] if history.records else first_epoch - 1
        if checkpoint is not None:
            save_checkpoint(done)
        progress.message(
            f"interrupted during epoch {epoch}; parameters are those of epoch {done}"
            + (f"; checkpoint saved to {os.fspath(checkpoint)}" if checkpoint is not None else "")
        )
        progress.close()
        net.eval()
        return history

    for cb in _train_end(cbs, net, history):
        if cb.stopped_epoch:
            progress.message(
                f"early stopping at epoch {cb.stopped_epoch}: {cb.monitor} has not improved for "
                f"{cb.patience} epochs; best {cb.monitor} {cb.best:.4g} at epoch {cb.best_epoch}"
            )
    progress.close()
    net.eval()
    return history


def _train_end(cbs: list[Any], net: Any, history: History) -> list[EarlyStopping]:
    """Run the callbacks' ``on_train_end``, then record early stopping's outcome in
    ``history.info``; returns the EarlyStopping callbacks (the caller may report them)."""
    for cb in cbs:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(net, history)
    stops = [cb for cb in cbs if isinstance(cb, EarlyStopping)]
    for cb in stops:
        history.info["stopped_early"] = cb.stopped_epoch > 0
        history.info["best_epoch"] = cb.best_epoch
    return stops


def _resume_config(opt: Any) -> dict[str, Any]:
    """The optimizer settings a resumed run must share (the lr is restored from the state)."""
    return {k: v for k, v in _config(opt).items() if k != "lr"}


def _check_resume(path: Any, restored: Any, net: Any, opt: Any, epochs: int) -> None:
    """A checkpoint continues only the run that wrote it: same network, optimizer settings,
    and fewer epochs done than the total asked for. (Checked where the file records them.)"""
    where = os.fspath(path)
    saved_net = restored.extra.get("network")
    if saved_net is not None and saved_net != repr(net):
        raise ModelFileError(f"{where}: the checkpoint's network {saved_net} and this run's {net!r} do not fit; "
                             "resume with the same network options")
    saved_opt = restored.extra.get("optimizer_config")
    if saved_opt is not None and _jsonable(saved_opt) != _resume_config(opt):
        raise ConfigError(f"{where} was written with optimizer settings {saved_opt}, this run uses "
                          f"{_resume_config(opt)}; resume with the same options")
    if restored.epoch > epochs:
        raise ConfigError(f"{where} already holds {restored.epoch} epochs but --epochs/epochs asks for "
                          f"{epochs} in total; give at least {restored.epoch}")


def _fingerprint(X: np.ndarray) -> dict[str, Any]:
    """The training data's shape, dtype and a checksum of up to 16 rows spread over it:
    cheap even for a memory-mapped 60k x 784 X, and different for another data set or
    another split of the same one."""
    n = len(X)
    crc = 0
    for i in np.unique(np.linspace(0, n - 1, min(n, 16)).astype(np.int64)):
        crc = zlib.crc32(np.ascontiguousarray(X[int(i)]).tobytes(), crc)
    return {"rows": int(n), "shape": [int(d) for d in X.shape[1:]], "dtype": str(X.dtype), "crc32": int(crc)}


def _check_resume_run(path: Any, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """The checkpoint's run settings against this run's (those the file records: older
    checkpoints hold only the batch size)."""
    what = {"batch_size": "batch size", "lr": "learning rate", "schedule": "schedule",
            "data": "training data", "shuffle": "shuffle"}
    for key, name in what.items():
        if key in saved and _jsonable(saved[key]) != _jsonable(now[key]):
            if key == "data" and isinstance(saved[key], dict):
                raise ConfigError(
                    f"{os.fspath(path)} was written while training on other data ({saved[key].get('rows')} rows, "
                    f"checksum {saved[key].get('crc32')}; this run: {now[key]['rows']} rows, checksum "
                    f"{now[key]['crc32']}); resume on the same data, split and scaling (same --seed, --scale, ...)"
                )
            raise ConfigError(f"{os.fspath(path)} was written with {name} {saved[key]}, this run uses "
                              f"{now[key]}; resume with the same options")


def _config(opt: Any) -> dict[str, Any]:
    cfg = getattr(opt, "config", None)
    try:
        return _jsonable(cfg()) if callable(cfg) else {"lr": float(opt.lr)}
    except Exception:  # a user's optimizer with an odd config(): not worth failing for
        return {"lr": float(opt.lr)}


def _stateful(cbs: list[Any]) -> dict[str, Any]:
    """Callbacks with state to checkpoint, keyed by position and class name."""
    return {
        f"{i}:{type(cb).__name__}": cb
        for i, cb in enumerate(cbs)
        if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict")
    }


def _wants_stop(value: Any, cb: Any, hook: str) -> bool:
    """A hook's answer: True (or 1) stops training; False, 0 or None goes on; anything else
    (an array, a string: their truth is ambiguous) is a mistake."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return bool(value)
    raise ConfigError(f"{type(cb).__name__}.{hook} returned {value!r}: return True to stop training, "
                      "False or None to go on")


def _check_target_scale(net: Any, Y: np.ndarray) -> None:
    """Refuse regression targets whose squared error cannot be represented: training would
    only report a divergence, blaming the learning rate."""
    if getattr(getattr(net, "loss", None), "name", None) != "mse" or Y.dtype.kind != "f" or not Y.size:
        return
    limit = float(np.sqrt(np.finfo(Y.dtype).max))
    largest = float(np.max(np.abs(Y)))
    if largest > limit:
        raise DataError(
            f"regression targets reach {largest:.3g}: their squared error overflows {Y.dtype} "
            f"(above {limit:.3g}); scale the targets first (e.g. divide by their standard deviation)"
        )


def _divergence_error(d: _Diverged, lr: float, batch_size: int, history: History,
                      opt: Any = None) -> DivergenceError:
    where = f"epoch {d.epoch}, batch {d.batch}" if d.batch is not None else f"the end of epoch {d.epoch}"
    what = d.value if isinstance(d.value, str) else f"the loss became {d.value}"
    kept = history.records[-1]["epoch"] if history.records else 0
    advice = f"the learning rate is probably too large: try a smaller one (e.g. {lr / 10:g})"
    wd = _number(getattr(opt, "weight_decay", 0.0))
    momentum = _number(getattr(opt, "momentum", 0.0))
    if momentum >= 1:
        advice = f"momentum {momentum:g} >= 1 lets the steps grow without bound: use momentum < 1 (e.g. 0.9)"
    elif getattr(opt, "name", "") != "adamw" and lr * wd > 1:
        # L2 decay shrinks w by the factor (1 - lr * wd) each step: beyond 1 it overshoots 0
        advice = (f"the weight decay is too large for this learning rate (lr x weight_decay = {lr * wd:g} > 1): "
                  f"try a weight decay below {1 / lr:g}, e.g. {0.01 / lr:g}")
    err = DivergenceError(
        f"training diverged: {what} at {where} (learning rate {lr:g}, batch size {batch_size}); "
        f"{advice}. The parameters are those of the last good state (end of epoch {kept})."
    )
    err.epoch, err.batch, err.history = d.epoch, d.batch, history  # type: ignore[attr-defined]
    return err


def _number(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _fit_full_batch(net, X, Y, opt, epochs, validation, cbs, history, verbose, stream,
                    checkpoint, restored, resume) -> History:
    """Run a full-batch optimizer (CG, L-BFGS): one record per iteration.

    Resuming restarts the method from the checkpoint's parameters (scipy's internal
    state is not saved), so it continues but is not bit-identical to an uninterrupted run.
    """
    if restored is not None:
        ckpt_mod.restore_params(net, restored, resume)
        if restored.history:
            history.records = list(History.from_dict(restored.history).records)
        history.info["resumed_from"] = restored.epoch
    start = len(history.records)
    for cb in cbs:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(net)
    progress = Progress(epochs, len(X), 1, verbose, stream, first_epoch=start + 1)
    progress.mode = "lines" if progress.mode == "bar" else progress.mode
    state = {"t": time.perf_counter(), "stopped": False}
    # the validation set in blocks of the training set's rows (the work arrays the passes
    # already hold), but never fewer than EVAL_MIN_ROWS: a small training set (XOR's 4
    # rows) would otherwise take a large validation set a few rows at a time
    val_rows = max(len(X), min(EVAL_MIN_ROWS, len(validation[0]))) if validation is not None else None

    def save_checkpoint() -> None:
        ckpt_mod.save(checkpoint, ckpt_mod.Checkpoint(
            epoch=len(history.records), params=net.parameters(), rng_state=ckpt_mod.capture_rng(net),
            optimizer_name=opt.name, optimizer=opt.state_dict(), history=history.to_dict(),
            extra={"stopped": bool(state["stopped"]), "network": repr(net)},
        ))

    def callback(iteration: int, loss: float) -> bool:
        epoch = start + int(iteration)
        record: dict[str, Any] = {"epoch": epoch, "loss": float(loss)}
        record.update(evaluate(net, X, Y, loss=False, work_rows=len(X)))
        if validation is not None:
            for k, v in evaluate(net, *validation, work_rows=val_rows).items():
                record["val_" + k] = v
        now = time.perf_counter()
        record["seconds"] = now - state["t"]
        state["t"] = now
        history.append(record)
        stop = False
        for cb in cbs:
            if hasattr(cb, "on_epoch_end") and _wants_stop(cb.on_epoch_end(epoch, record, net), cb, "on_epoch_end"):
                stop = True
        progress.epoch_end(record)
        state["stopped"] = stop
        if checkpoint is not None:  # after every iteration, as for the per-batch optimizers
            save_checkpoint()
        return stop

    # Evaluation mode: a line search needs a deterministic objective (RReLU's random slopes
    # would defeat it; RReLU then uses its mean slope).
    net.eval()
    remaining = epochs - start
    interrupted = False
    if remaining > 0:
        try:
            result = opt.minimize(net, X, Y, max_iter=remaining, callback=callback)
        except KeyboardInterrupt:
            interrupted = True
            history.info["interrupted"] = True
            result = None
        if result is not None:
            history.info.update({
                "iterations": int(result.nit), "nfev": int(getattr(result, "nfev", 0)),
                "success": bool(getattr(result, "success", True)),
                "message": str(getattr(result, "message", "")),
            })
            if not math.isfinite(float(result.loss)):
                raise DivergenceError(f"{opt.name}: the loss became {result.loss}")
    if not interrupted:
        _train_end(cbs, net, history)
    if checkpoint is not None:
        save_checkpoint()
    progress.close()
    net.eval()
    return history
