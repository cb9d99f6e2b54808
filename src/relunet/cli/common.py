"""Arguments and helpers shared by the sub-commands that build, train or inspect a network."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from relunet.core import activations, kernels, losses
from relunet.core.contract import PIXEL_DIVISORS, DataContract
from relunet.core.network import MLP, output_for
from relunet.data import datasets, preprocessing
from relunet.data.datasets import Dataset
from relunet.errors import ConfigError, DataFormatError

#: ``--scale`` choices: the scalers' registry names, ``none`` first (the default)
SCALES = ["none", *(n for n in preprocessing.REGISTRY.names() if n != "none")]

#: per-dataset defaults where the general ones would be a poor start
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "xor": {"hidden": "8", "activation": "leaky_relu", "epochs": 2000, "batch_size": 4, "lr": 1.0, "momentum": 0.0},
    "and": {"hidden": "4", "activation": "leaky_relu", "epochs": 500, "batch_size": 4, "lr": 0.5, "momentum": 0.0},
    "or": {"hidden": "4", "activation": "leaky_relu", "epochs": 500, "batch_size": 4, "lr": 0.5, "momentum": 0.0},
    # plain SGD with cosine decay (500,500,500, --dropout 0.2): the README's results table;
    # MNIST: input dropout 0.2 and 100 epochs take --dropout 0.2 to >= 98.8% (docs/results-data.md)
    "mnist": {"epochs": 100, "batch_size": 64, "lr": 0.1, "momentum": 0.0, "schedule": "cosine",
              "input_dropout": 0.2},
    "fashion-mnist": {"epochs": 50, "batch_size": 64, "lr": 0.1, "momentum": 0.0, "schedule": "cosine"},
}
GENERAL_DEFAULTS: dict[str, Any] = {
    # SGD with momentum 0.9 at lr 0.01: digits test accuracy >= 0.964 for split seeds 0..4
    # (plain SGD at lr 0.1 ranged 0.89-0.98 over the same seeds)
    "hidden": "64", "activation": "relu", "epochs": 30, "batch_size": 32, "lr": 0.01, "momentum": 0.9,
}
#: the learning rate used when --optimizer is not sgd and no --lr is given (torch.optim's defaults)
OPTIMIZER_DEFAULT_LR: dict[str, float] = {
    "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-2, "adagrad": 1e-2, "cg": 1.0, "lbfgs": 1.0,
}
#: options that only the sgd defaults set
_SGD_ONLY = ("lr", "momentum")


def numeric(convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str,
            bound: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text (failing with "expected WHAT, got 'TEXT'"),
    then require ``ok(value)`` (failing with "BOUND, got TEXT"). NaN fails every bound."""

    def parse(s: str) -> Any:
        try:
            v = convert(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"{bound}, got {s}")
        return v

    return parse


#: argparse type: a fraction in (0, 1)
fraction_arg = numeric(float, lambda v: 0.0 < v < 1.0, "a fraction", "expected a fraction between 0 and 1")
_nonneg_float = numeric(float, lambda v: v >= 0 and np.isfinite(v), "a number", "expected a number >= 0")
#: argparse type: a finite number > 0
positive_float_arg = numeric(float, lambda v: v > 0 and np.isfinite(v), "a number", "expected a positive number")
_nonneg_int = numeric(int, lambda v: v >= 0, "an integer", "expected an integer >= 0")
_rate = numeric(float, lambda v: 0.0 <= v < 1.0, "a dropout rate", "expected a rate in [0, 1)")


def dropout_arg(s: str) -> "float | list[float]":
    """argparse type of ``--dropout``: one rate, or rates comma-separated (one per hidden layer)."""
    parts = [t.strip() for t in s.split(",")]
    rates = [_rate(t) for t in parts]
    return rates[0] if len(rates) == 1 else rates
#: argparse type of ``--seed``: an integer >= 0 (what numpy's generators take)
seed_arg = numeric(int, lambda v: v >= 0, "an integer seed >= 0", "a seed must be >= 0")


def add_data_args(p: argparse.ArgumentParser, default: str = "digits") -> None:
    """``--data`` (defaulting to ``default``, which its help names), ``--data-dir``, ``--target``, ..."""
    g = p.add_argument_group("data")
    g.add_argument("--data", default=default,
                   help="a built-in dataset (" + ", ".join(datasets.names()) + ") or a data file: "
                   ".csv (header row), .npz (X, y), .npy (X, memory-mapped; --target y.npy) "
                   f"or a directory with X.npy, y.npy (default: {default})")
    g.add_argument("--data-dir", default=None,
                   help="directory holding the MNIST / Fashion-MNIST IDX files (default: "
                   "$RELUNET_DATA, then ~/.cache/relunet/NAME, then system packages)")
    g.add_argument("--target", default=None,
                   help="CSV: the target column's name (default: the last column); "
                   ".npy: the targets' .npy file")
    g.add_argument("--task", default="auto", choices=["auto", "classification", "regression"],
                   help="for data files: the task (auto: integer targets with few values are classes)")
    g.add_argument("--scale", default=None, choices=SCALES,
                   help="rescale inputs with statistics of the training part (default: standard for a "
                   ".csv table, none for built-in datasets and .npy/.npz arrays); the model file "
                   "stores it and predict, diagnose and export apply it")
    g.add_argument("--impute", default=None, choices=["mean", "median"],
                   help="fill missing numeric cells (empty, NaN, NA, N/A, null, None, ...: pandas' markers) "
                   "of a .csv table with each column's mean or median over the "
                   "training part (stored in the model, which fills them the same way later; default: a "
                   "missing value is an error naming its column and line)")
    g.add_argument("--test-size", type=fraction_arg, default=None,
                   help="fraction held out as the test set where a dataset has no fixed one (default 0.25)")
    g.add_argument("--train-samples", type=positive_int_arg, default=None,
                   help="use only the first N training samples (quick runs)")
    g.add_argument("--noise", type=_nonneg_float, default=None, metavar="SIGMA",
                   help="the Gaussian noise of a generated dataset (" + ", ".join(datasets.GENERATED)
                   + "; default: the dataset's own)")


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``datasets.load`` options the data arguments ask for (only those that apply)."""
    name = str(args.data)
    opts: dict[str, Any] = {"scale": resolved_scale(args)}
    if getattr(args, "train_samples", None):
        opts["train_samples"] = args.train_samples
    if getattr(args, "augment", None) is not None and not random_augment(args):  # the loader's fixed copies
        opts["augment"] = args.augment
    if datasets.is_path(name):
        target = getattr(args, "target", None)
        if target is not None and os.path.splitext(name)[1].lower() not in (".csv", ".npy"):
            raise ConfigError(f"--target applies to .csv and .npy data files; {name} holds its targets itself "
                              "(an .npz: arrays X and y; a directory: y.npy)")
        opts.update(target=getattr(args, "target", None), task=getattr(args, "task", "auto"),
                    test_size=getattr(args, "test_size", None), impute=getattr(args, "impute", None),
                    fill=getattr(args, "fill", None))
        if getattr(args, "data_dir", None):
            raise ConfigError("--data-dir is for MNIST / Fashion-MNIST, not for a data file")
        if getattr(args, "augment", None) is not None:
            raise ConfigError(f"--augment {args.augment} transforms the images of {', '.join(datasets.IMAGE_SHAPES)}, "
                              f"not a data file ({name})")
        if getattr(args, "noise", None) is not None:
            raise ConfigError(f"--noise applies to the generated datasets ({', '.join(datasets.GENERATED)}), "
                              "not to a data file")
        return opts
    key = name.strip().lower().replace("_", "-")
    for flag, attr in (("--target", "target"), ("--impute", "impute")):
        if getattr(args, attr, None) is not None:
            raise ConfigError(f"{flag} applies to data files (.csv, .npy), not to the built-in {name!r}")
    if getattr(args, "noise", None) is not None:
        if key not in datasets.GENERATED:
            raise ConfigError(f"--noise applies to the generated datasets ({', '.join(datasets.GENERATED)}), "
                              f"not to {name!r}")
        opts["noise"] = args.noise
    if getattr(args, "task", "auto") != "auto":
        raise ConfigError(f"--task applies to data files, not to the built-in {name!r}")
    if getattr(args, "data_dir", None):
        if key not in datasets.IDX_DATASETS:
            raise ConfigError(f"--data-dir applies to {', '.join(datasets.IDX_DATASETS)}, not {name!r}")
        opts["data_dir"] = args.data_dir
    if getattr(args, "test_size", None) is not None:
        if key in ("xor", "and", "or", *datasets.IDX_DATASETS):
            raise ConfigError(f"{name!r} has a fixed test set; --test-size does not apply")
        opts["test_size"] = args.test_size
    return opts


# -- the data contract: default scaling, and what the model file records -------------


def resolved_scale(args: argparse.Namespace) -> str:
    """``--scale``, or its default: ``standard`` for a ``.csv`` table (columns on very
    different scales leave every ReLU unit dead without it), ``none`` for the built-in
    datasets (already scaled by their loaders) and for ``.npy`` / ``.npz`` arrays."""
    scale = getattr(args, "scale", None)
    if scale is not None:
        return str(scale)
    name = str(getattr(args, "data", ""))
    return "standard" if datasets.is_path(name) and name.lower().endswith(".csv") else "none"


def scale_target(args: argparse.Namespace, data: Dataset) -> None:
    """Standardise the regression target of a data file whose inputs are scaled (the default
    for a .csv table) with the training part's mean and std, as the inputs are: a target in
    the hundreds makes the first steps of SGD diverge. The model stores both numbers and
    predicts in the target's units; ``data.info["y_test_raw"]`` keeps the raw test targets."""
    if data.task != "regression" or not datasets.is_path(str(args.data)) or resolved_scale(args) == "none":
        return
    y = np.asarray(data.y_train, dtype=np.float64)
    if y.ndim != 1:
        return
    mean, std = float(y.mean()), float(y.std())
    std = std if std > 0 and np.isfinite(std) else 1.0
    data.info["y_test_raw"] = data.y_test
    data.info["target_scale"] = (mean, std)
    data.y_train = ((y - mean) / std).astype(np.float32)
    data.y_test = ((np.asarray(data.y_test, dtype=np.float64) - mean) / std).astype(np.float32)


def make_contract(args: argparse.Namespace, data: Dataset) -> DataContract:
    """The data contract of a network trained on ``data`` as the arguments loaded it."""
    name = str(args.data)
    is_file = datasets.is_path(name)
    key = None if is_file else datasets.REGISTRY.canonical_name(name)
    split = "split" in data.info or key not in (None, "xor", "and", "or", *datasets.IDX_DATASETS)
    test_size = getattr(args, "test_size", None) or data.info.get("test_size") or 0.25
    return DataContract.from_scaler(
        data.info.get("scaler"), features=data.info.get("columns"), target=data.info.get("target"),
        task=data.task, dtype=np.asarray(data.X_train[:1]).dtype.name,
        dataset=os.path.abspath(name) if is_file else key,
        seed=int(args.seed) if split else None, test_size=float(test_size) if split else None,
        pixels=PIXEL_DIVISORS.get(key or ""),
        target_offset=data.info["target_scale"][0] if "target_scale" in data.info else None,
        target_divisor=data.info["target_scale"][1] if "target_scale" in data.info else None,
        columns=data.info.get("raw_columns"), categories=data.info.get("categories"),
        impute=data.info.get("impute"), fill=data.info.get("fill"))


def add_network_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network")
    g.add_argument("--hidden", help="hidden layer sizes, comma-separated, e.g. 64,64 ('' for none)")
    g.add_argument("--activation", help="hidden activation(s): one name, or one per hidden layer, comma-separated")
    g.add_argument("--output", default="auto",
                   help="output activation (auto: softmax for >2 classes, sigmoid for 2, identity for regression)")
    g.add_argument("--loss", default="auto", help="loss (auto: the one natural for the output)")
    g.add_argument("--tree", default=None, choices=["balanced", "huffman"],
                   help="the class tree of --output hierarchical_softmax: balanced (default) or huffman "
                        "(by the training labels' frequencies)")
    g.add_argument("--init", default=None, help="weight initialisation: he, xavier, lecun (default: follows the activation)")
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    g.add_argument("--seed", type=seed_arg, default=0, help="random seed (weights, shuffling, split)")
    g = p.add_argument_group("regularization")
    g.add_argument("--dropout", type=dropout_arg, default=None, metavar="P",
                   help="dropout rate after every hidden layer, or one per hidden layer, comma-separated "
                   "(inverted dropout, training only; default 0)")
    g.add_argument("--input-dropout", type=_rate, default=None, metavar="P",
                   help="dropout rate on the inputs (default 0)")
    g.add_argument("--l2", type=_nonneg_float, default=None, metavar="A",
                   help="L2 penalty on the weights, A/(2n)*||W||^2 per batch of n (scikit-learn's alpha; "
                   "default 0)")
    g.add_argument("--max-norm", type=positive_float_arg, default=None, metavar="C",
                   help="cap each unit's incoming weight vector at norm C after every step (default: none)")


def add_training_args(p: argparse.ArgumentParser) -> None:
    """Epochs, batch size, learning rate, optimizer (and its hyper-parameters), schedule.

    :func:`training_kwargs` turns them into keyword arguments of ``fit``.
    """
    from relunet.training import optimizers
    from relunet.training.engine import SCHEDULE_SYNTAX

    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_nonneg_int,
                   help="epochs to train (cg/lbfgs: maximum iterations); with --resume, the total")
    g.add_argument("--batch-size", type=_batch_size, action=_GivenAction,
                   help="1 = online, N = mini-batch, 'full' = full batch")
    g.add_argument("--lr", type=positive_float_arg, help="learning rate (the schedule's base rate)")
    g.add_argument("--optimizer", default="sgd",
                   help="optimizer: " + ", ".join(optimizers.names()) + " (default: sgd)")
    g.add_argument("--momentum", type=_nonneg_float, default=None,
                   help="momentum (sgd, rmsprop; default 0)")
    g.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd; needs --momentum)")
    g.add_argument("--weight-decay", type=_nonneg_float, default=None,
                   help="weight decay on every parameter, biases included (torch's): L2 (sgd, adagrad, "
                        "rmsprop, adam) or decoupled (adamw)")
    g.add_argument("--schedule", default=None, metavar="SPEC",
                   help="learning-rate schedule, " + SCHEDULE_SYNTAX.replace("%", "%%"))
    g.add_argument("--threads", type=threads_arg, default=None, metavar="N",
                   help="threads for the matrix products and the element-wise kernels while training "
                   "(default: every core this process may use)")


def optimizer_params(args: argparse.Namespace) -> dict[str, Any]:
    """The optimizer hyper-parameters given (or defaulted): momentum, nesterov, weight_decay."""
    params: dict[str, Any] = {}
    if getattr(args, "momentum", None) is not None:
        params["momentum"] = args.momentum
    if getattr(args, "nesterov", False):
        params["nesterov"] = True
    if getattr(args, "weight_decay", None) is not None:
        params["weight_decay"] = args.weight_decay
    return params


def random_augment(args: argparse.Namespace) -> bool:
    """True when ``--augment`` names random per-batch transforms (``flip``, ``shift``) for
    ``fit(augment=)``, not one of the loader's fixed copies (``hflip``, :data:`datasets.AUGMENTATIONS`)."""
    return getattr(args, "augment", None) not in (None, *datasets.AUGMENTATIONS)


def batch_augment(args: argparse.Namespace, data: Dataset) -> Any:
    """The random per-batch transform ``--augment flip[:P],shift[:K]`` asks for
    (:class:`relunet.data.augment.ImageAugment`, given to ``fit(augment=)``), for an image
    set kept in its [0, 1] pixels, so that pixels shifted in from outside are background (0)."""
    from relunet.data.augment import parse_augment

    shape = datasets.IMAGE_SHAPES.get(data.name)
    if shape is None:
        raise ConfigError(f"--augment {args.augment} transforms the images of {', '.join(datasets.IMAGE_SHAPES)}, "
                          f"not {data.name}")
    if resolved_scale(args) != "none":
        raise ConfigError(f"--augment {args.augment} mirrors and shifts the images' own [0, 1] pixels (a shift "
                          "brings in a background of 0; a per-pixel scaling differs between a pixel and its "
                          f"mirror), not pixels rescaled by --scale {resolved_scale(args)}")
    return parse_augment(args.augment, shape)


def training_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``fit`` keyword arguments from :func:`add_training_args`' options (after
    :func:`resolve_defaults`): epochs, batch_size, lr, optimizer, its hyper-parameters and
    the schedule (and ``threads`` when ``--threads`` is given). Unknown optimizer or schedule names raise ``UnknownNameError`` here,
    listing the known ones."""
    from relunet.training import optimizers
    from relunet.training.engine import parse_schedule
    from relunet.training.minimizers import Minimizer

    params = optimizer_params(args)
    try:
        opt = optimizers.get(args.optimizer, lr=args.lr, **params)  # fails early, listing names
    except ConfigError as exc:
        bad = [k for k in params if f"'{k}'" in str(exc) and "unexpected keyword" in str(exc)]
        if bad:
            raise ConfigError(f"--{bad[0].replace('_', '-')} does not apply to optimizer "
                              f"{args.optimizer!r}") from None
        raise
    if isinstance(opt, Minimizer) and getattr(args, "lr_given", False):
        raise ConfigError(f"--lr does not apply to --optimizer {args.optimizer}: it chooses each "
                          "step by line search (leave --lr out)")
    # the instance carries the learning rate (fit refuses an lr= beside an instance)
    out: dict[str, Any] = {"epochs": args.epochs, "batch_size": args.batch_size, "optimizer": opt}
    spec = getattr(args, "schedule", None)
    if spec:
        parse_schedule(spec, args.epochs)  # validate now (bad names fail before data loading)
        out["schedule"] = spec
    if getattr(args, "threads", None) is not None:
        out["threads"] = args.threads
    return out


def check_outputs(args: argparse.Namespace, *flags: str, inputs: tuple[str, ...] = ()) -> None:
    """Fail now, before any training, when an output file given by one of ``flags``
    (e.g. ``"--history"``) cannot be written: its folder is missing, it is a directory, ...,
    or it is one of the command's input files: ``--data``, ``--target`` and the options named
    in ``inputs`` (e.g. ``("--model",)``)."""
    from relunet.io.archive import output_target

    # inputs an output must never overwrite (a typo such as --history data.csv would destroy them)
    taken = {os.path.realpath(p): f for f in ("--data", "--target", *inputs)
             if (p := getattr(args, f.lstrip("-"), None)) and isinstance(p, str) and os.path.exists(p)}
    for flag in flags:
        path = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if not path:
            continue
        try:
            real, _ = output_target(path)
        except OSError as exc:
            raise ConfigError(f"{flag} {path}: {exc.strerror}") from None
        if real in taken:
            raise ConfigError(f"{flag} {path} is also {taken[real]}: it would be overwritten; give another file")
        taken[real] = flag


#: argparse type: an integer >= 1
positive_int_arg = numeric(int, lambda v: v >= 1, "an integer", "expected an integer >= 1")


def threads_arg(s: str) -> int:
    """An argparse ``type`` for ``--threads``: an integer from 1 to the cores this process may
    use (:func:`relunet.core.kernels.check_threads`)."""
    n = positive_int_arg(s)
    try:
        return kernels.check_threads(n)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"expected at most {kernels.default_threads()}, the cores this "
                                         f"process may use, got {n}") from None


class _GivenAction(argparse.Action):
    """Store the value and remember that it was given: ``--batch-size full`` is None (full
    batch), which :func:`resolve_defaults` must not mistake for "not given"."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_given", True)


def _batch_size(s: str) -> int | None:
    if s.lower() in ("full", "all", "batch"):
        return None
    v = _nonneg_int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("batch size must be >= 1 (or 'full')")
    return v


def resolve_defaults(args: argparse.Namespace) -> None:
    """Fill options left unset with the dataset's defaults, then the general ones."""
    data = str(args.data)
    specific = DATASET_DEFAULTS.get(datasets.REGISTRY.canonical_name(data), {}) if data in datasets.REGISTRY else {}
    from relunet.training import optimizers
    from relunet.training.minimizers import Minimizer

    optimizer = str(getattr(args, "optimizer", "sgd") or "sgd").strip().lower()
    if optimizer in optimizers.REGISTRY:  # an alias (l-bfgs) takes its optimizer's defaults
        optimizer = optimizers.canonical_name(optimizer)
    opt_cls = optimizers.OPTIMIZERS.get(optimizer)
    full_batch = isinstance(opt_cls, type) and issubclass(opt_cls, Minimizer)
    for key, value in {**GENERAL_DEFAULTS, **specific}.items():
        if optimizer != "sgd" and key in _SGD_ONLY:
            continue  # sgd's learning rate and momentum are no defaults for adam, cg, ...
        if full_batch and key in ("schedule", "batch_size", "input_dropout"):
            continue  # cg / lbfgs take no learning-rate schedule (line search) and no dropout, full batch
        if getattr(args, key, None) is None and hasattr(args, key) and not getattr(args, f"{key}_given", False):
            setattr(args, key, value)
    if hasattr(args, "lr"):
        args.lr_given = args.lr is not None
    if hasattr(args, "lr") and args.lr is None:
        args.lr = OPTIMIZER_DEFAULT_LR.get(optimizer, GENERAL_DEFAULTS["lr"])


def parse_hidden(text: str) -> list[int]:
    text = text.strip()
    if not text:
        return []
    try:
        sizes = [int(t) for t in text.split(",")]
    except ValueError:
        raise ConfigError(f"--hidden takes comma-separated integers, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def load_data(args: argparse.Namespace) -> Dataset:
    """The dataset ``--data`` (with ``--data-dir``, ``--target``, ``--scale``, ...) names."""
    return load_dataset(args.data, seed=args.seed, **data_options(args))


def load_dataset(name: str, **options: Any) -> Dataset:
    """``datasets.load``, with a binary file given as a CSV reported as one line naming it."""
    try:
        return datasets.load(name, **options)
    except UnicodeDecodeError as exc:
        raise DataFormatError(not_text(name, exc)) from None


def check_output_units(output: str, units: int, task: str) -> None:
    """Refuse a softmax or log_softmax output over a single unit: it is constant.

    Both normalise over the output units, so over one unit softmax is always 1 and
    log_softmax always ``log 1 = 0``, whatever the input: the gradient is 0 and nothing is
    learned. Two classes get one output unit unless the output is softmax. A hierarchical
    softmax, a distribution over classes, is refused on a regression target too.

    Raises:
        ConfigError: naming the output and what to use instead.
    """
    if output == "hierarchical_softmax" and task != "classification":
        raise ConfigError("--output hierarchical_softmax is a distribution over classes, and these targets "
                          "are a regression; use --output identity (a linear output)")
    if units != 1 or output not in ("softmax", "log_softmax"):
        return
    value = "1" if output == "softmax" else "0 (log 1)"
    if task == "classification":
        why, fix = ("two classes get one output unit", "use --output sigmoid (one unit, binary cross-entropy) "
                    "or --output softmax (two units, cross-entropy)")
    else:
        why, fix = ("one target column is one output unit", "use --output identity (a linear output)")
    raise ConfigError(f"--output {output}: {why}, and {output} over a single unit is always {value}, so "
                      f"nothing can be learned; {fix}")


def not_text(path: str, exc: UnicodeDecodeError) -> str:
    """The message for a file that should hold text but does not decode as UTF-8."""
    return (f"{path}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "is it a binary file or in another encoding?")


def split_activations(text: str) -> list[str]:
    """``--activation``'s list: the names split at the commas outside parentheses
    (``"relu,rrelu(lower=0.1, upper=0.3)"`` is two activations)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_activation(text: str) -> Any:
    """One activation of ``--activation``: a catalog name, or ``NAME(PARAM=VALUE, ...)`` with
    its hyper-parameters as numbers (``leaky_relu(negative_slope=0.2)``; a value that is not
    a number is kept as text, e.g. PReLU's ``num_parameters=per_unit``).

    Returns:
        the name, or ``(name, params)`` as :class:`relunet.core.network.MLP` takes it.

    Raises:
        UnknownNameError: an unknown name (listing the known ones); ConfigError: a
            malformed parameter list or a parameter the activation does not take.
    """
    text = text.strip()
    if "(" not in text and ")" not in text:
        activations.canonical_name(text)  # unknown names fail here, listing the known ones
        return text
    if not (text.endswith(")") and text.count("(") == 1 and text.count(")") == 1):
        raise ConfigError(f"--activation {text!r}: write NAME or NAME(PARAM=VALUE, ...), "
                          "e.g. leaky_relu(negative_slope=0.2)")
    name, body = text[:-1].split("(")
    name = activations.canonical_name(name.strip())
    params: dict[str, Any] = {}
    for item in filter(None, (t.strip() for t in body.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ConfigError(f"--activation {text!r}: {item!r} is not PARAM=VALUE")
        try:
            params[key.strip()] = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            try:
                params[key.strip()] = float(value)
            except ValueError:
                params[key.strip()] = value.strip()
    activations.get(name, **{k: v for k, v in params.items() if v != "per_unit"})  # bad parameters fail now
    return (name, params)


def build_network(args: argparse.Namespace, data: Dataset, *, refuse_constant_output: bool = True) -> MLP:
    """The MLP the arguments describe, sized for ``data``.

    Raises:
        ConfigError: unknown names, a mismatched ``--activation`` list, or (unless
            ``refuse_constant_output`` is False, as for ``relunet doctor``, which reports
            it as a finding) a softmax / log_softmax output over a single unit, which is
            constant (see :func:`check_output_units`).
    """
    hidden = parse_hidden(args.hidden)
    acts = [parse_activation(a) for a in split_activations(str(args.activation))]
    if len(acts) == 1:
        act_spec: Any = acts[0]
    elif len(acts) == len(hidden):
        act_spec = acts
    else:
        raise ConfigError(f"--activation lists {len(acts)} names for {len(hidden)} hidden layers")
    output, n_out = output_for(data.task, data.n_outputs, args.output)
    if refuse_constant_output:
        check_output_units(output, n_out, data.task)
    loss = None if args.loss == "auto" else losses.get(args.loss)
    dropout = getattr(args, "dropout", None) or 0.0
    if isinstance(dropout, list) and len(dropout) != len(hidden):
        raise ConfigError(f"--dropout lists {len(dropout)} rates for {len(hidden)} hidden layers")
    return MLP([data.n_features, *hidden, n_out], activation=act_spec, output=output,
               loss=loss, init=args.init, dtype=args.dtype, seed=args.seed, dropout=dropout,
               input_dropout=getattr(args, "input_dropout", None) or 0.0,
               l2=getattr(args, "l2", None) or 0.0, max_norm=getattr(args, "max_norm", None),
               tree=getattr(args, "tree", None))
