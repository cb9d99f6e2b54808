"""``relunet diagnose MODEL --data D``: dead units, saturation, activation statistics and
gradient norms of a saved model on a dataset.

Also the helpers behind ``relunet train --diagnose`` (:func:`add_option`,
:func:`make_tracker`, :func:`print_report`), so that training with diagnostics needs
three lines in ``cli/train.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

import numpy as np

from relunet.insight import diagnostics
from relunet.cli import CLIError, common
from relunet.core.network import MLP
from relunet.data import datasets
from relunet.data.datasets import Dataset

NAME = "diagnose"
HELP = "report dead and saturated units, activation statistics and gradient norms of a saved model"

_threshold = common.numeric(float, lambda v: 0 < v < math.inf, "a number", "expected a positive finite number")
_fraction = common.numeric(float, lambda v: 0 < v <= 1, "a fraction", "expected a fraction in (0, 1]")


def strict_json(obj: Any) -> Any:
    """``obj`` with NaN/inf floats as None, so ``--json`` prints strict JSON."""
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def add_saturation_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("diagnostics")
    g.add_argument("--saturation-threshold", type=_threshold, default=diagnostics.SATURATION_THRESHOLD,
                   help="|f'(z)| below this is the flat region (default: %(default)g)")
    g.add_argument("--saturation-min-fraction", type=_fraction, default=diagnostics.SATURATION_MIN_FRACTION,
                   help="a unit is saturated when flat on at least this fraction of samples "
                   "(default: %(default)g)")


class _DefaultData(str):
    """``--data``'s default (digits), told apart from the same name given on the command line:
    a model file that records its dataset is diagnosed on it."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file written by net.save / relunet train --save "
                   "(--data defaults to the dataset it was trained on, which a model file records)")
    common.add_data_args(p)
    p.set_defaults(data=_DefaultData("digits"))  # the model's own dataset, else digits
    p.add_argument("--seed", type=common.seed_arg, default=None,
                   help="seed of the dataset's train/test split (default: the one stored in the model "
                   "file, 0 for older files)")
    p.add_argument("--split", choices=["train", "test"], default="train",
                   help="diagnose on the training part (default) or the test part")
    add_saturation_args(p)
    p.add_argument("--json", action="store_true", help="print the diagnosis as one JSON object")


def run(args: argparse.Namespace) -> int:
    from relunet import load

    net = load(args.model)
    c = getattr(net, "contract", None)
    if isinstance(args.data, _DefaultData) and c is not None and c.dataset is not None:
        args.data = c.dataset
    data, X, y = contract_data(args, net)
    if isinstance(args.data, _DefaultData) and np.ndim(X) == 2 and np.shape(X)[1] != net.n_features:
        raise CLIError(f"{args.model} does not record the data it was trained on, and its {net.n_features} "
                       f"inputs do not fit {args.data} (the default, {np.shape(X)[1]} features); give --data")
    if getattr(net, "classes_", None) is None and net.task == "classification":
        y = None  # labels cannot be encoded without the model's classes: no gradient norms
    diag = diagnostics.diagnose(net, X, y, saturation_threshold=args.saturation_threshold,
                                saturation_min_fraction=args.saturation_min_fraction)
    if args.json:
        json.dump(strict_json({"model": args.model, "data": data.name, "split": args.split, **diag.to_dict()}),
                  sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(f"{net}  on {data.name} ({args.split})")
        print(diag.report())
    return 0


def contract_data(args: argparse.Namespace, net: MLP) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """``(dataset, X, y)`` of the part asked for, as the network sees it: a model with a data
    contract takes its stored split (seed, test fraction) for the dataset it was trained on,
    its target column and its stored scaling (columns matched by name); an older model file
    takes ``--seed`` (default 0) and ``--scale`` as given."""
    c = getattr(net, "contract", None)
    if c is None:
        if args.seed is None:
            args.seed = 0
        data = common.load_data(args)
        return (data, *((data.X_train, data.y_train) if args.split == "train" else (data.X_test, data.y_test)))
    from relunet.core.contract import column_order

    if args.scale is not None and args.scale != c.scale:
        raise CLIError(f"--scale {args.scale}: the model was trained with scaling {c.scale!r}, which it "
                       "stores and applies itself; leave --scale out")
    if c.impute is not None and getattr(args, "impute", None) not in (None, c.impute):
        raise CLIError(f"--impute {args.impute}: the model fills missing values with its training {c.impute}, "
                       "which it stores and applies itself; leave --impute out")
    name = str(args.data)
    is_file = datasets.is_path(name)
    same = c.dataset is not None and (os.path.abspath(name) == c.dataset if is_file else
                                      name in datasets.REGISTRY and datasets.REGISTRY.canonical_name(name) == c.dataset)
    if args.seed is None:
        args.seed = c.seed if same and c.seed is not None else 0
    if same and c.test_size is not None and args.test_size is None:
        args.test_size = c.test_size
    table = is_file and os.path.splitext(name)[1].lower() == ".csv"  # target and fill name a table's columns
    by_position = table and datasets.csv_header(name, c.known_columns()) is None  # as predict: by position, the target last
    if table and args.target is None and c.target is not None and not by_position:
        args.target = c.target
    if same and name.lower().endswith(".npy") and args.target is None and c.target is not None:
        args.target = c.target  # the targets' .npy the model was trained with
    if table and c.impute is not None and c.fill is not None:
        args.impute = c.impute  # missing cells filled with the stored values, whichever the file
        names = c.features if c.features is not None and not by_position else [str(i) for i in range(len(c.fill))]
        args.fill = dict(zip(names, c.fill.tolist()))
    args.scale = "none"  # the contract scales
    data = common.load_data(args)
    X, y = (data.X_train, data.y_train) if args.split == "train" else (data.X_test, data.y_test)
    columns = data.info.get("columns")
    if by_position and c.features is not None and c.features != columns:
        print(f"relunet: warning: {name} has no header row: its columns are taken by position as the model's "
              f"features {c.features}, the target last; add the header to have them matched by name",
              file=sys.stderr)
    elif columns is not None and c.features is not None:
        X = X[:, column_order(columns, c.features, name)[0]]
    return data, c.transform(X), (c.transform_target(y) if net.task == "regression" else y)


# -- relunet train --diagnose ------------------------------------------------------


def add_option(p: argparse.ArgumentParser) -> None:
    """Add ``--diagnose`` (and the saturation thresholds) to a training command."""
    p.add_argument("--diagnose", action="store_true",
                   help="record dead units, saturation, activation statistics and gradient norms "
                   "after every epoch and report them after training")
    if p.get_default("saturation_threshold") is None:  # not added yet (doctor adds them too)
        add_saturation_args(p)


class HistoryDiagnosticsTracker(diagnostics.DiagnosticsTracker):
    """``--diagnose``'s tracker: at the end of training it also stores its per-epoch series in
    the history's ``info["diagnostics"]``, so a ``--history`` file holds them (``relunet plot
    dead-units`` / ``gradients`` read it, as they read the ``--json`` output)."""

    def on_train_end(self, net: MLP, *args: Any, **kwargs: Any) -> None:
        super().on_train_end(net, *args, **kwargs)
        history = args[0] if args else kwargs.get("history")
        if history is not None and hasattr(history, "info"):
            history.info["diagnostics"] = strict_json({"epochs": self.to_dict()})


def make_tracker(args: argparse.Namespace, data: Any) -> diagnostics.DiagnosticsTracker | None:
    """The per-epoch tracker ``--diagnose`` asks for (None without it); pass it in ``callbacks``."""
    if not getattr(args, "diagnose", False):
        return None
    return HistoryDiagnosticsTracker(
        data.X_train, data.y_train,
        saturation_threshold=getattr(args, "saturation_threshold", diagnostics.SATURATION_THRESHOLD),
        saturation_min_fraction=getattr(args, "saturation_min_fraction", diagnostics.SATURATION_MIN_FRACTION),
        seed=getattr(args, "seed", 0) or 0,
    )


def print_report(tracker: diagnostics.DiagnosticsTracker | None, net: MLP, result: dict[str, Any] | None = None,
                 stream: Any = None) -> None:
    """After training: with ``result`` (the ``--json`` dict) add ``diagnostics`` to it,
    else print the per-epoch table and the final diagnosis."""
    if tracker is None:
        return
    if result is not None:
        result["diagnostics"] = strict_json(
            {"epochs": tracker.to_dict(), "final": tracker.diagnosis(net).to_dict()})
        return
    out = stream or sys.stdout
    print("\nper-epoch diagnostics (on up to 2000 training samples):", file=out)
    print(tracker.report(), file=out)
    print("", file=out)
    print(tracker.diagnosis(net).report(), file=out)
