"""Learning-rate schedules from their text form (``--schedule step:10:0.5``) or from a
``(name, params)`` pair, with the defaults a run gives them (:func:`parse_schedule`,
:func:`make_schedule`)."""

from __future__ import annotations

from typing import Any

from relunet.errors import ConfigError
from relunet.training import schedules as schedules_mod
from relunet.training.callbacks import monitor_mode

__all__ = ["SCHEDULE_POSITIONAL", "SCHEDULE_SYNTAX", "make_schedule", "needs_metric", "parse_schedule"]


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


def needs_metric(schedule: Any) -> bool:
    """Whether ``schedule.step`` needs the monitored metric (reduce-on-plateau, also after a warm-up)."""
    if isinstance(schedule, schedules_mod.ReduceOnPlateau):
        return True
    after = getattr(schedule, "after", None)
    return after is not None and needs_metric(after)


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
