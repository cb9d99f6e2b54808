"""``relunet data``: list the datasets, describe one, or download MNIST / Fashion-MNIST.

* ``relunet data list``: the built-in datasets;
* ``relunet data info NAME [--data-dir DIR]``: where a dataset comes from, its shapes,
  task and classes (for MNIST / Fashion-MNIST: the files found and verified);
* ``relunet data convert NAME OUT_DIR``: the same as float32 ``.npy`` files, written in
  chunks, which ``--data OUT_DIR`` memory-maps (out-of-core training);
* ``relunet data fetch NAME [--data-dir DIR]``: download the four IDX files from the
  official mirrors into the per-user cache (or DIR), verifying their md5s; without a
  network it fails with the URLs it tried (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from relunet.core.contract import PIXEL_DIVISORS
from relunet.errors import ConfigError, DataError, MissingValueError
from relunet.data import datasets
from relunet.cli import common

NAME = "data"
HELP = "list, describe or download datasets (MNIST, Fashion-MNIST, ...)"

_seconds = common.numeric(float, lambda v: v > 0 and np.isfinite(v), "a number of seconds",
                          "expected a positive number of seconds")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    sub.add_parser("list", help="list the built-in datasets")
    info = sub.add_parser("info", help="describe a dataset (shapes, task, classes, files)")
    info.add_argument("name", help="a built-in dataset or a data file")
    info.add_argument("--data-dir", default=None, help="directory holding the IDX files")
    info.add_argument("--target", default=None, help="CSV target column / .npy targets file")
    info.add_argument("--scale", default=None, choices=common.SCALES,
                      help="the input scaling the contract would hold (default: as relunet train's)")
    info.add_argument("--impute", default=None, choices=["mean", "median"],
                      help="preview filling a .csv table's missing numeric cells (as relunet train --impute)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    fetch = sub.add_parser("fetch", help="download MNIST or Fashion-MNIST (checksums verified)")
    fetch.add_argument("name", choices=sorted(datasets.IDX_DATASETS))
    fetch.add_argument("--data-dir", default=None,
                       help="where to put the files (default: ~/.cache/relunet/NAME or $XDG_CACHE_HOME)")
    fetch.add_argument("--mirror", action="append", default=None, metavar="URL",
                       help="base URL to download from instead of the official mirrors (repeatable)")
    fetch.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per connection (default 30)")
    fetch.add_argument("--force", action="store_true", help="download even files already present and verified")
    conv = sub.add_parser("convert", help="write MNIST / Fashion-MNIST as float32 .npy files (out-of-core training)")
    conv.add_argument("name", choices=sorted(datasets.IDX_DATASETS))
    conv.add_argument("out_dir", help="directory for X.npy, y.npy, X_test.npy, y_test.npy")
    conv.add_argument("--data-dir", default=None, help="directory holding the IDX files")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        for name in datasets.names():
            print(name)
        return 0
    if args.data_command == "fetch":
        dest = datasets.fetch(args.name, args.data_dir, mirrors=args.mirror, timeout=args.timeout,
                              force=args.force)
        datasets.load(args.name, data_dir=dest, pixels="raw")  # re-read: every file validated
        print(f"{args.name}: 4 files verified in {dest}")
        return 0
    if args.data_command == "convert":
        out = datasets.convert(args.name, args.out_dir, args.data_dir)
        print(f"{args.name}: float32 X.npy, y.npy, X_test.npy, y_test.npy in {out}; "
              f"train with: relunet train --data {out}")
        return 0
    opts = {}
    if args.data_dir is not None:
        opts["data_dir"] = args.data_dir
    if args.target is not None:
        opts["target"] = args.target
    if args.name.strip().lower() in datasets.IDX_DATASETS:
        opts["pixels"] = "raw"  # describing needs no float copy
    if args.impute is not None:
        if not datasets.is_path(args.name):
            raise ConfigError(f"--impute applies to data files (.csv), not to the built-in {args.name!r}")
        opts["impute"] = args.impute
    try:
        ds = common.load_dataset(args.name, **opts)
    except DataError as exc:
        if not isinstance(exc, MissingValueError) or "impute" in opts:
            raise
        try:  # to describe the rest; what imputation cannot fill (a text cell, a target) still fails
            ds = common.load_dataset(args.name, **opts, impute="mean")
        except DataError as again:
            if isinstance(again, MissingValueError):  # a text cell: its error as read without --impute, not given here
                raise exc from None
            raise
        ds.info["impute_needed"] = str(exc)
    out = {
        "name": ds.name,
        "description": ds.description,
        "task": ds.task,
        "n_train": int(len(ds.X_train)),
        "n_test": int(len(ds.X_test)),
        "n_features": ds.n_features,
        "n_outputs": ds.n_outputs,
        "dtype": str(ds.X_train.dtype),
    }
    if ds.task == "classification":
        labels, counts = np.unique(ds.y_train, return_counts=True)
        out["train_class_counts"] = {str(k): int(v) for k, v in zip(labels, counts)}
    for key in ("files", "verified", "classes", "path", "columns", "split"):
        if ds.info.get(key):
            out[key] = ds.info[key]
    out["contract"] = contract_preview(args, ds)
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        for k, v in out.items():
            if k == "contract":
                print_contract(v)
            elif k == "train_class_counts":
                print("\n".join(class_count_lines(v)))
            else:
                print(f"{k}: {v}")
    return 0


#: above this many classes, ``data info`` prints the SHOWN_CLASSES most frequent (``--json``: all)
MANY_CLASSES = 20
SHOWN_CLASSES = 10


def class_count_lines(counts: dict[str, int]) -> list[str]:
    """The text lines of the training part's class counts: all of them for up to
    :data:`MANY_CLASSES` classes, else the :data:`SHOWN_CLASSES` most frequent (equal
    counts in label order) and a line summing up the rest."""
    if len(counts) <= MANY_CLASSES:
        return [f"train_class_counts: {counts}"]
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: equal counts keep label order
    top, rest = dict(ranked[:SHOWN_CLASSES]), [v for _, v in ranked[SHOWN_CLASSES:]]
    return [f"train_class_counts (the {SHOWN_CLASSES} most frequent of {len(counts)} classes): {top}",
            f"  ... and {len(rest)} more classes (min count {min(rest)}, max {max(rest)})"]


def contract_preview(args: argparse.Namespace, ds: datasets.Dataset) -> dict[str, Any]:
    """What the data contract of a model trained on ``ds`` by ``relunet train`` would hold:
    the scaling, the feature columns with their ranges, the target, the task, the label type
    and classes."""
    args.data = args.name
    scale = common.resolved_scale(args)
    X = ds.X_train
    lo = np.asarray(X.min(axis=0), dtype=np.float64)
    hi = np.asarray(X.max(axis=0), dtype=np.float64)
    names = ds.info.get("columns") or [str(i) for i in range(ds.n_features)]
    preview: dict[str, Any] = {"scale": scale, "features": names[:50], "n_features": ds.n_features,
                               "target": ds.info.get("target"), "task": ds.task}
    if ds.info.get("categories"):
        preview["categories"] = {k: v[:50] for k, v in ds.info["categories"].items()}
    key = None if datasets.is_path(args.name) else datasets.REGISTRY.canonical_name(args.name)
    if key in PIXEL_DIVISORS:
        preview["pixels"] = (f"the loader's pixels in [0, 1]; the model also takes raw pixels (0..{PIXEL_DIVISORS[key]:g}),"
                             f" a row over 1 divided by {PIXEL_DIVISORS[key]:g}")
    if ds.n_features <= 50:
        preview["feature_ranges"] = {n: [float(a), float(b)] for n, a, b in zip(names, lo, hi)}
    span = np.maximum(np.abs(lo), np.abs(hi))
    if scale == "none" and span.size and span.max() > 5 * max(float(np.median(span)), 1e-12):
        preview["warning"] = (f"features on very different scales (largest |value| {span.max():.3g}, median "
                              f"{np.median(span):.3g}) and no scaling: use --scale standard")
    if ds.info.get("missing"):
        preview["missing"] = ds.info["missing"]
        preview["impute"] = (ds.info["impute"] if "impute_needed" not in ds.info else
                             "none: relunet train refuses the missing values; add --impute mean (or median)")
    if ds.task == "classification":
        classes = np.unique(np.concatenate([ds.y_train, ds.y_test]))
        preview["label_type"] = "text" if classes.dtype.kind not in "biuf" else (
            "integer" if classes.dtype.kind in "biu" else "number")
        preview["classes"] = classes.tolist()[:100]
    elif datasets.is_path(args.name) and scale != "none":
        preview["target_scaling"] = "standard (predictions are mapped back to the target's units)"
    return preview


def print_contract(preview: dict[str, Any]) -> None:
    """The contract preview, one fact a line (feature ranges as ``name: [min, max]``)."""
    print("contract (what relunet train --save would store):")
    for key, value in preview.items():
        if key == "feature_ranges":
            print("  feature ranges (training part):")
            for name, (lo, hi) in value.items():
                print(f"    {name}: [{lo:.4g}, {hi:.4g}]")
        elif key in ("features", "classes") and len(value) > 20:
            print(f"  {key}: {', '.join(map(str, value[:20]))}, ...")
        else:
            print(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
