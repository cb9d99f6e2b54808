"""The playground's settings: what the page sends, checked field by field, and what it
builds (the dataset, the network, the optimizer) through the library's own catalogs.

A setting the page sends is a JSON object; :func:`parse` checks every field (type, range,
name in its registry) and raises :class:`relunet.errors.ConfigError` naming the field and
the value, so the page can show one clear message. :func:`command` and :func:`python`
write the ``relunet train`` command and the Python snippet that reproduce a run of
``epochs`` epochs with these settings exactly (same data split, same initial weights, same
batches: the page's run and theirs go through the same ``Run``).
"""

from __future__ import annotations

import inspect
import math
import shlex
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from relunet.core import activations, losses
from relunet.core.network import MLP, output_for
from relunet.data import datasets
from relunet.data.datasets import Dataset
from relunet.errors import ConfigError
from relunet.training import optimizers
from relunet.training.minimizers import Minimizer

__all__ = ["Settings", "DATASETS", "BATCH_MODES", "STEP_OPTIMIZERS", "LIMITS", "parse", "catalog",
           "load_data", "build_network", "make_optimizer", "command", "python"]

#: the data sets the page offers (all two-dimensional classification, and the 1-D sine)
DATASETS = ("xor", "circles", "gaussians", "spirals", "moons", "sine")
#: how the samples are batched: online (1), mini-batch (B), full batch, or full batch by a
#: line search (CG, L-BFGS: a minimizer, no learning rate)
BATCH_MODES = ("online", "minibatch", "full", "cg", "lbfgs")
#: the per-batch optimizers (the minimizers are batch modes)
STEP_OPTIMIZERS = tuple(n for n in optimizers.names()
                        if not issubclass(optimizers.OPTIMIZERS[n], Minimizer))
#: optimizers that take a momentum
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")

#: bounds of every numeric setting: (low, high); they keep one session's memory and time small
LIMITS: dict[str, tuple[float, float]] = {
    "noise": (0.0, 2.0),
    "test_size": (0.1, 0.9),
    "layers": (0, 6),
    "units": (1, 32),
    "batch_size": (1, 1000),
    "lr": (1e-6, 100.0),
    "momentum": (0.0, 0.999),
    "dropout": (0.0, 0.9),
    "l2": (0.0, 10.0),
    "seed": (0, 2**31 - 1),
    "param": (-1e6, 1e6),
}


@dataclass(frozen=True)
class Settings:
    """One run's settings, as checked by :func:`parse` (see the module docstring).

    ``noise`` and ``test_size`` apply to the generated data sets (XOR is its four
    patterns, train = test); ``batch_size`` to the mini-batch mode; ``optimizer``, ``lr``
    and ``momentum`` to the modes that take optimizer steps (``momentum`` to sgd and
    rmsprop only).
    """

    dataset: str = "spirals"
    noise: float = 0.2
    test_size: float = 0.5
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    activation_params: dict[str, Any] = field(default_factory=dict)
    output: str = "auto"
    loss: str = "auto"
    batch_mode: str = "minibatch"
    batch_size: int = 10
    optimizer: str = "adam"
    lr: float = 0.03
    momentum: float = 0.0
    dropout: float = 0.0
    l2: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @property
    def generated(self) -> bool:
        """True for a generated data set (noise and the test fraction apply)."""
        return self.dataset in datasets.GENERATED

    @property
    def line_search(self) -> bool:
        """True when the batch mode is CG or L-BFGS (no optimizer steps, no learning rate)."""
        return self.batch_mode in ("cg", "lbfgs")


# -- checking -------------------------------------------------------------------------
def _number(name: str, value: Any, integer: bool = False, label: str | None = None) -> float:
    """``value`` checked against ``LIMITS[name]``; the message names ``label`` (default: ``name``)."""
    lo, hi = LIMITS[name]
    name = label or name
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind} from {lo:g} to {hi:g}, got {value!r}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be from {lo:g} to {hi:g}, got {value!r}")
    return int(value) if integer else float(value)


def _choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _hidden(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"hidden must be a list of layer sizes, e.g. [8, 8]; got {value!r}")
    lo, hi = LIMITS["layers"]
    if not lo <= len(value) <= hi:
        raise ConfigError(f"hidden may have {lo:g} to {hi:g} layers, got {len(value)}")
    return tuple(_number("units", v, integer=True) for v in value)


def activation_parameters(name: str) -> list[dict[str, Any]]:
    """The hyper-parameters of an activation (from its constructor): name, default and kind
    (``"number"`` or ``"text"``); the generator of RReLU is the network's, not a setting."""
    cls = activations.REGISTRY.lookup(name)
    out = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.name == "rng" or p.default is inspect.Parameter.empty:
            continue
        kind = "number" if isinstance(p.default, (int, float)) and not isinstance(p.default, bool) else "text"
        out.append({"name": p.name, "default": p.default, "kind": kind})
    return out


def _activation_params(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"activation_params must be an object of parameter values, got {value!r}")
    known = {p["name"]: p for p in activation_parameters(name)}
    params: dict[str, Any] = {}
    for key, v in value.items():
        if key not in known:
            takes = ", ".join(known) or "no parameters"
            raise ConfigError(f"activation {name!r} takes {takes}; not {key!r}")
        if known[key]["kind"] == "number":
            integer = isinstance(known[key]["default"], int) and isinstance(v, int)
            params[key] = _number("param", v, integer=integer, label=key)
        elif not isinstance(v, str) or not v.isidentifier():
            raise ConfigError(f"activation parameter {key!r} must be a word, got {v!r}")
        else:
            params[key] = v
    activations.get(name, **params)  # a value the activation refuses fails here, with its message
    return {k: v for k, v in params.items() if v != known[k]["default"]}


def parse(raw: Any, base: Settings | None = None) -> Settings:
    """Check the page's settings (all or some fields, over ``base``) and return them.

    Raises:
        ConfigError: an unknown field, or a value of the wrong type, out of its range or
            not in its catalog; the message names the field and the value.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"settings must be a JSON object, got {type(raw).__name__}")
    names = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(sorted(names))}")
    s = replace(base or Settings(), **{k: v for k, v in raw.items() if k != "activation_params"})
    act = s.activation
    if not isinstance(act, str) or act not in activations.REGISTRY:
        raise ConfigError(f"activation must be one of {', '.join(activations.names())}; got {act!r}")
    act = activations.canonical_name(act)
    params = raw.get("activation_params", {} if "activation" in raw else s.activation_params)
    out = s.output if s.output == "auto" else _choice("output", s.output, activations.names())
    batch_mode = _choice("batch_mode", s.batch_mode, BATCH_MODES)
    return Settings(
        dataset=_choice("dataset", s.dataset, DATASETS),
        noise=_number("noise", s.noise),
        test_size=_number("test_size", s.test_size),
        hidden=_hidden(list(s.hidden) if isinstance(s.hidden, tuple) else s.hidden),
        activation=act,
        activation_params=_activation_params(act, params),
        output=out,
        loss=_choice("loss", s.loss, ["auto", *losses.names()]),
        batch_mode=batch_mode,
        batch_size=_number("batch_size", s.batch_size, integer=True),
        optimizer=_choice("optimizer", s.optimizer, STEP_OPTIMIZERS),
        lr=_number("lr", s.lr),
        momentum=_number("momentum", s.momentum),
        dropout=_number("dropout", s.dropout),
        l2=_number("l2", s.l2),
        seed=_number("seed", s.seed, integer=True),
    )


def catalog() -> dict[str, Any]:
    """What the page's controls offer: the data sets, every activation with its
    parameters, the losses, optimizers, batch modes, the limits and the defaults."""
    return {
        "datasets": [{"name": n, "generated": n in datasets.GENERATED,
                      "task": "regression" if n == "sine" else "classification"} for n in DATASETS],
        "activations": [{"name": n, "params": activation_parameters(n),
                         "differentiable": activations.REGISTRY.lookup(n).differentiable}
                        for n in activations.names()],
        "losses": losses.names(),
        "optimizers": list(STEP_OPTIMIZERS),
        "momentum_optimizers": list(MOMENTUM_OPTIMIZERS),
        "batch_modes": list(BATCH_MODES),
        "limits": {k: list(v) for k, v in LIMITS.items()},
        "defaults": Settings().to_dict(),
    }


# -- building ---------------------------------------------------------------------------
def load_data(s: Settings) -> Dataset:
    """The data set, as ``relunet train --data NAME --noise ... --test-size ... --seed ...`` loads it."""
    options: dict[str, Any] = {"noise": s.noise, "test_size": s.test_size} if s.generated else {}
    return datasets.load(s.dataset, seed=s.seed, **options)


def _activation_spec(s: Settings) -> Any:
    return (s.activation, dict(s.activation_params)) if s.activation_params else s.activation


def build_network(s: Settings, data: Dataset) -> MLP:
    """The network, as ``relunet train`` builds it from the same options (the output and
    its number of units from :func:`relunet.core.network.output_for`)."""
    output, n_out = output_for(data.task, data.n_outputs, s.output)
    return MLP([data.n_features, *s.hidden, n_out], activation=_activation_spec(s), output=output,
               loss=None if s.loss == "auto" else losses.get(s.loss), seed=s.seed,
               dropout=s.dropout if s.hidden else 0.0, l2=s.l2)


def batch_size(s: Settings, n_train: int) -> int | None:
    """The engine's batch size: 1 (online), B (mini-batch), None (full batch)."""
    return {"online": 1, "minibatch": min(s.batch_size, n_train)}.get(s.batch_mode)


def _optimizer_params(s: Settings) -> dict[str, Any]:
    return {"momentum": s.momentum} if s.optimizer in MOMENTUM_OPTIMIZERS else {}


def make_optimizer(s: Settings) -> "optimizers.Optimizer | Minimizer":
    """The optimizer instance (or the minimizer of the CG / L-BFGS modes)."""
    if s.line_search:
        return optimizers.get(s.batch_mode)
    return optimizers.get(s.optimizer, lr=s.lr, **_optimizer_params(s))


# -- reproducing a run ------------------------------------------------------------------
def _cli_activation(s: Settings) -> str:
    if not s.activation_params:
        return s.activation
    return f"{s.activation}({', '.join(f'{k}={v}' for k, v in s.activation_params.items())})"


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def command_args(s: Settings, epochs: int) -> list[str]:
    """The arguments of ``relunet train`` that reproduce ``epochs`` epochs of this run."""
    args = ["relunet", "train", "--data", s.dataset]
    if s.generated:
        args += ["--noise", _fmt(s.noise), "--test-size", _fmt(s.test_size)]
    args += ["--hidden", ",".join(map(str, s.hidden)), "--activation", _cli_activation(s),
             "--output", s.output, "--loss", s.loss]
    if s.line_search:
        args += ["--optimizer", s.batch_mode]
    else:
        bs = {"online": "1", "minibatch": str(s.batch_size), "full": "full"}[s.batch_mode]
        args += ["--batch-size", bs, "--optimizer", s.optimizer, "--lr", _fmt(s.lr)]
        if s.optimizer in MOMENTUM_OPTIMIZERS:
            args += ["--momentum", _fmt(s.momentum)]
    if s.dropout and s.hidden:
        args += ["--dropout", _fmt(s.dropout)]
    if s.l2:
        args += ["--l2", _fmt(s.l2)]
    return args + ["--epochs", str(int(epochs)), "--seed", str(s.seed)]


def command(s: Settings, epochs: int) -> str:
    """The ``relunet train`` command line (quoted for a POSIX shell)."""
    return " ".join(shlex.quote(a) for a in command_args(s, epochs))


def python(s: Settings, epochs: int) -> str:
    """A Python snippet that reproduces ``epochs`` epochs of this run and prints the test score."""
    data_opts = f", noise={_fmt(s.noise)}, test_size={_fmt(s.test_size)}" if s.generated else ""
    net_opts = f', loss="{s.loss}"' if s.loss != "auto" else ""
    if s.dropout and s.hidden:
        net_opts += f", dropout={_fmt(s.dropout)}"
    if s.l2:
        net_opts += f", l2={_fmt(s.l2)}"
    if s.line_search:
        fit_opts = f'optimizer="{s.batch_mode}"'
    else:
        bs = {"online": "1", "minibatch": str(s.batch_size), "full": "None"}[s.batch_mode]
        fit_opts = f'batch_size={bs}, optimizer="{s.optimizer}", lr={_fmt(s.lr)}'
        fit_opts += "".join(f", {k}={_fmt(v)}" for k, v in _optimizer_params(s).items())
    hidden = "".join(f"{h}, " for h in s.hidden)
    return "\n".join([
        "from relunet import MLP",
        "from relunet.core.network import output_for",
        "from relunet.data import datasets",
        "",
        f'data = datasets.load("{s.dataset}", seed={s.seed}{data_opts})',
        f'output, n_out = output_for(data.task, data.n_outputs, "{s.output}")',
        f"net = MLP([data.n_features, {hidden}n_out], activation={_activation_spec(s)!r},",
        f"          output=output{net_opts}, seed={s.seed})",
        f"history = net.fit(data.X_train, data.y_train, epochs={int(epochs)}, {fit_opts})",
        'print("test score (accuracy, or R^2 for regression):", net.score(data.X_test, data.y_test))',
        "",
    ])


def encode(net: MLP, data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, Y_train, X_test, Y_test)`` checked and encoded as ``net.fit`` does."""
    X = net.check_X(data.X_train)
    Y = net.encode_targets(data.y_train, len(X), fit=True)
    Xt = net.check_X(data.X_test)
    return X, Y, Xt, net.encode_targets(data.y_test, len(Xt), fit=False)
