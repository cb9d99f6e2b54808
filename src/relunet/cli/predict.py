"""``relunet predict``: predictions of a saved model on a dataset or a data file."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from relunet.core.checks import check_labels
from relunet.core.contract import DataContract, column_order
from relunet.data import datasets, tables
from relunet.errors import DataError, DataFormatError, FeatureCountError, TargetTypeError
from relunet.io.modelfile import load as load_model
from relunet.cli import CLIError, common
from relunet.core.network import MLP

NAME = "predict"
HELP = "predict with a saved model (relunet train --save / net.save) and write CSV or JSON"

FORMATS = ("csv", "json")
#: a single-label classifier with more classes than this writes only its TOP_K most probable
#: classes per row (``--all-probabilities``: every class's)
TOP_ABOVE = 20
TOP_K = 5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a model file written by net.save / relunet train --save")
    p.add_argument("--data", required=True,
                   help="a dataset name, or a data file: .npy (X), .npz (X [, y]; or X_train, X_test [, "
                        "y_train, y_test]: every row) or .csv (numeric columns; a last extra column is taken "
                        "as the target)")
    p.add_argument("--split", default=None, choices=["test", "train", "all"],
                   help="which part of a named dataset or a data directory, or of the data file the model "
                        "was trained on, to predict on (default: test for a named dataset, every row of a file "
                        "or directory)")
    p.add_argument("--out", help="output file, .csv or .json (default: CSV on stdout)")
    p.add_argument("--format", choices=FORMATS, help="output format (default: from --out's suffix, else csv)")
    p.add_argument("--seed", type=common.seed_arg, default=None,
                   help="seed of a named dataset's train/test split (default: the one the model was "
                        "trained on, stored in its file; 0 for older files)")
    p.add_argument("--scale", default=None, choices=common.SCALES,
                   help="for a model without a data contract (older files) and a named dataset: rescale "
                        "inputs as relunet train --scale did (same --seed); a model file written by this "
                        "relunet stores its scaling and applies it to any data")
    p.add_argument("--data-dir", default=None, help="directory holding the MNIST / Fashion-MNIST IDX files")
    p.add_argument("--all-probabilities", action="store_true",
                   help=f"write every class's probability; by default a classifier with more than {TOP_ABOVE} "
                        f"classes writes only its {TOP_K} most probable classes per row (columns top1, p_top1, "
                        f"..., top{TOP_K}, p_top{TOP_K}; JSON: top_classes, top_probabilities)")


# -- data ---------------------------------------------------------------------


def _read_file(path: str, n_features: int) -> tuple[np.ndarray, np.ndarray | None]:
    """X (and y when the file has one) from a .npy, .npz or .csv file."""
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npy":
            return datasets.check_inputs(path, datasets.read_npy(Path(path))), None  # memory-mapped, never unpickled
        if suffix == ".npz":
            with datasets.NpzArchive(path) as z:  # headers and sizes checked before memory is taken
                names = [k for k in NPZ_ARRAYS if k in z.files]  # only these are read
                if not names:
                    raise DataFormatError(f"{path}: an .npz data file needs an array named 'X' (has {sorted(z.files)})")
                return _read_npz(path, dict(zip(names, z.read(*names))))
        if suffix == ".csv":
            return _read_csv(path, n_features)
    except UnicodeDecodeError as exc:
        raise DataFormatError(common.not_text(path, exc)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # a truncated or corrupted .npz: zipfile / zlib errors (were tracebacks)
        if isinstance(exc, (FileNotFoundError, DataError)):
            raise
        raise DataFormatError(f"{path}: cannot read data ({datasets.load_failure_reason(exc)})") from None
    raise DataFormatError(f"{path}: unknown data file type {suffix!r}; use .csv, .npy or .npz")


#: the arrays of an .npz that predict reads (any others are left unread)
NPZ_ARRAYS = ("X", "y", "X_train", "y_train", "X_test", "y_test")


def _read_npz(path: str, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """X (and y) of an .npz: ``X`` (``y``); every row of a train/test file (``X_train`` then
    ``X_test``, as training reads it); or ``X_test`` (``y_test``) alone."""
    if "X" not in arrays and {"X_train", "X_test"} <= arrays.keys():
        parts = [datasets.check_inputs(path, arrays[k], k[1:]) for k in ("X_train", "X_test")]
        if parts[0].shape[1] != parts[1].shape[1]:
            raise DataFormatError(f"{path}: X_train has {parts[0].shape[1]} features but X_test {parts[1].shape[1]}")
        ys = [arrays.get("y_train"), arrays.get("y_test")]
        y = None if ys[0] is None or ys[1] is None else np.concatenate([np.ravel(ys[0]), np.ravel(ys[1])])
        return np.concatenate(parts), y
    for xk, yk in (("X", "y"), ("X_test", "y_test")):
        if xk in arrays:
            return datasets.check_inputs(path, arrays[xk]), arrays.get(yk)
    raise DataFormatError(f"{path}: an .npz data file needs an array named 'X' (has {sorted(arrays)})")


def _read_csv(path: str, n_features: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A CSV of numeric feature columns (optional header: :func:`relunet.data.datasets.is_header`),
    with one extra column taken as the target (numeric or class labels). Errors name the file's
    line (blank lines counted): ragged rows, empty cells, text, NaN/inf, a field over
    ``csv.field_size_limit()``; a FIFO or a device is refused (:func:`relunet.data.datasets.csv_rows`)."""
    with contextlib.closing(datasets.csv_rows(path)) as lines:
        rows = list(lines)
    header = None
    if datasets.is_header(rows):
        header, rows = [h.strip().lower() for h in rows[0][1]], rows[1:]
    if not rows:
        raise DataFormatError(f"{path}: no data rows" + (" below its header row" if header is not None else ""))
    width = len(header) if header is not None else len(rows[0][1])
    first = rows[0][1] if header is None else header
    datasets.check_separator(path, first)
    for line, r in rows:
        if len(r) != width:
            raise DataFormatError(f"{path}: line {line} has {len(r)} values, "
                                  f"{'the header has' if header is not None else 'the first row has'} {width}")
    t = None
    if width == n_features + 1:  # one column more than the model takes: the target
        names = [i for i, h in enumerate(header or []) if h in ("target", "y", "label", "class")]
        t = names[0] if names else width - 1
    cols = [c for c in range(width) if c != t]
    where = [f"column {h!r}" for h in header] if header is not None else [f"column {c + 1}" for c in range(width)]
    return parse_table(path, rows, width, cols, t, where)


def load_inputs(spec: str, n_features: int, split: str | None = None, seed: int | None = None,
                **options: Any) -> tuple[np.ndarray, Any, str]:
    """``(X, y or None, description)`` for a dataset name or a data file path.

    A data file is predicted on whole (every row; ``split`` is for named datasets): a
    ``.npy`` of X, an ``.npz`` with ``X`` (and optionally ``y``), or a numeric ``.csv``
    (optional header; one column more than the model's inputs is taken as the target,
    the column named target/y/label/class if there is one, else the last). A directory
    goes through :func:`relunet.datasets.load` (X.npy, y.npy, ...): every row, or the part
    ``split`` names.
    """
    options = {k: v for k, v in options.items() if v not in (None, "none")}
    if os.path.isfile(spec):
        given = [*(f"--{k.replace('_', '-')}" for k in options), *(["--split"] if split is not None else []),
                 *(["--seed"] if seed is not None else [])]
        if given:
            raise CLIError(f"{', '.join(given)} apply to named datasets; a data file is predicted on "
                           "as it is, every row (scale it beforehand)")
        X, y = _read_file(spec, n_features)
        return X, y, spec
    split = split or ("all" if os.path.isdir(spec) else "test")  # a directory: every row unless asked
    if options.get("data_dir") and spec.strip().lower().replace("_", "-") not in datasets.IDX_DATASETS:
        raise CLIError(f"--data-dir applies to {', '.join(datasets.IDX_DATASETS)}, not {spec!r}")
    d = common.load_dataset(spec, seed=seed or 0, **options)
    if split == "all":
        return (np.concatenate([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test]), f"{d.name} (all)")
    if split == "train":
        return d.X_train, d.y_train, f"{d.name} (train)"
    return d.X_test, d.y_test, f"{d.name} (test)"


# -- data by the model's data contract ----------------------------------------


def contract_inputs(net: MLP, spec: str, split: str | None, seed: int | None, scale: str | None,
                    data_dir: str | None) -> tuple[Any, Any, str]:
    """``(X, y or None, description)`` for a model with a data contract: raw inputs (the
    model applies its stored transform), columns matched by name, the stored split."""
    c = net.contract
    if scale is not None and scale != c.scale:
        raise CLIError(f"--scale {scale}: the model was trained with scaling {c.scale!r}, which it stores "
                       "and applies itself; leave --scale out")
    if os.path.isfile(spec):
        trained_on = c.dataset is not None and os.path.isfile(c.dataset) and os.path.samefile(spec, c.dataset)
        seeded = "" if c.seed is None else f", split seed {c.seed}"  # None: the file's own train/test parts
        if split is not None or seed is not None or data_dir is not None:
            if not trained_on or data_dir is not None or seed is not None:
                raise CLIError("--split applies to named datasets and to the data file the model was trained "
                               f"on ({c.dataset}{seeded}); a data file is predicted on whole, "
                               "every row (--seed and --data-dir do not apply to it)")
            return _training_file_part(net, spec, split)
        if trained_on:
            print(f"relunet: note: {spec} is the file the model was trained on: every row is predicted, "
                  "training rows included; --split test gives its test part"
                  + ("" if c.seed is None else f" (split seed {c.seed})"), file=sys.stderr)
        if os.path.splitext(spec)[1].lower() == ".csv":
            X, y = read_table(spec, net)
            return X, y, spec
        X, y = _read_file(spec, net.n_features)
        return X, y, spec
    key = datasets.REGISTRY.canonical_name(spec) if spec in datasets.REGISTRY else None
    same = key is not None and key == c.dataset
    if os.path.isdir(spec):  # the data directory the model was trained on: its stored split
        same = c.dataset is not None and os.path.isdir(c.dataset) and os.path.samefile(spec, c.dataset)
    seed = seed if seed is not None else (c.seed if same and c.seed is not None else 0)
    options: dict[str, Any] = {"data_dir": data_dir}
    if same and c.test_size is not None:
        options["test_size"] = c.test_size
    return load_inputs(spec, net.n_features, split, seed, **options)


def _training_file_part(net: MLP, spec: str, split: str) -> tuple[Any, Any, str]:
    """The train / test part (or all) of the file the model was trained on, split as in training."""
    c = net.contract
    fill = None if c.fill is None or c.features is None else dict(zip(c.features, c.fill.tolist()))
    d = common.load_dataset(spec, seed=c.seed or 0, target=c.target, task=c.task, test_size=c.test_size,
                            impute=c.impute, fill=fill)  # the stored fill values, as for every other file
    if split == "all":
        X, y = np.concatenate([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test])
    else:
        X, y = (d.X_train, d.y_train) if split == "train" else (d.X_test, d.y_test)
    columns = d.info.get("columns")
    if columns is not None and c.features is not None:
        X = np.asarray(X)[:, column_order(columns, c.features, spec)[0]]
    return X, y, f"{spec} ({split}" + ("" if c.seed is None else f", split seed {c.seed}") + ")"


def read_table(path: str, net: MLP) -> tuple[np.ndarray, np.ndarray | None]:
    """A CSV read by the model's contract: feature columns found by name (any order; extra
    columns ignored with a note; missing ones an error naming them), the target by its
    stored name. A file without a header is matched by position, with a warning."""
    c = net.contract
    with contextlib.closing(datasets.csv_rows(path)) as lines:  # the file's line numbers, FIFOs refused
        rows = list(lines)
    if not rows:
        raise DataFormatError(f"{path}: no data rows")
    header = [h.strip() for h in rows[0][1]] if datasets.is_header(rows, c.known_columns()) else None
    if header is not None:
        rows = rows[1:]
    if not rows:
        raise DataFormatError(f"{path}: no data rows below its header row")
    datasets.check_separator(path, header or rows[0][1])
    width = len(header) if header is not None else len(rows[0][1])
    for line, r in rows:
        if len(r) != width:
            raise DataFormatError(f"{path}: line {line} has {len(r)} values, "
                                  f"{'the header has' if header is not None else 'the first row has'} {width}")
    if c.categories:
        return _read_categorical(path, rows, header, c)
    features = c.features
    unnamed = features is None or features == [str(i) for i in range(len(features))]
    if header is None or unnamed:
        cols, t = _positional_columns(path, width, net.n_features, c, header is None and not unnamed)
    else:
        t = header.index(c.target) if c.target is not None and c.target in header else None
        names = [h for i, h in enumerate(header) if i != t]
        order, extra = column_order(names, features, path)
        positions = [i for i in range(width) if i != t]
        cols = [positions[k] for k in order]
        if extra:
            print(f"relunet: note: {path}: column(s) {extra} are not features of the model; ignored",
                  file=sys.stderr)
    names = header or [str(i) for i in range(width)]
    X, y = parse_table(path, rows, width, cols, t, [f"column {n!r}" for n in names], missing_ok=c.fill is not None)
    return c.scale_pixels(X, path, [line for line, _ in rows]), y  # an error names the file's line


def _read_categorical(path: str, rows: list[tuple[int, list[str]]], header: list[str] | None,
                      c: DataContract) -> tuple[np.ndarray, np.ndarray | None]:
    """A table with text columns, encoded as in training: columns by name, each category
    one-hot by the stored categories (an unseen category is an error naming it)."""
    if header is None or c.columns is None:
        raise DataFormatError(f"{path}: the model takes named columns with categories "
                              f"({', '.join(c.categories or {})}); the file needs its header row")
    width = len(header)
    t = header.index(c.target) if c.target is not None and c.target in header else None
    names = [h for i, h in enumerate(header) if i != t]
    order, extra = column_order(names, c.columns, path)
    positions = [i for i in range(width) if i != t]
    if extra:
        print(f"relunet: note: {path}: column(s) {extra} are not features of the model; ignored", file=sys.stderr)
    X = tables.encode_rows(path, rows, [positions[k] for k in order], c.columns, c.categories or {},
                           missing_ok=c.fill is not None)
    if t is None:
        return X, None
    return X, _target_labels(path, rows, t, f"column {header[t]!r}")


def _positional_columns(path: str, width: int, n: int, c: Any, warn: bool) -> tuple[list[int], int | None]:
    """Columns of a table matched by position: ``n`` features, and the target where the
    contract's target name says (a position, for a file without a header) or last."""
    if width not in (n, n + 1):
        raise FeatureCountError(f"{path} has {width} columns but the model takes {n} features "
                                "(and optionally the target)")
    t = None
    if width == n + 1:
        t = int(c.target) if c.target is not None and c.target.isdigit() and int(c.target) < width else width - 1
    if warn:
        print(f"relunet: warning: {path} has no header row: its columns are taken by position as the "
              f"model's features {c.features}; add the header to have them matched by name", file=sys.stderr)
    return [i for i in range(width) if i != t], t


def parse_table(path: str, rows: list[tuple[int, list[str]]], width: int, cols: list[int], t: int | None,
                where: list[str], missing_ok: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The numeric feature columns ``cols`` (in that order) of ``rows`` and the target column
    ``t`` (numbers, or class labels as text); ``where[c]`` names column ``c`` in errors, which
    name the file's line: ragged rows, missing cells, text, inf. A missing cell is what the
    training loader calls one (:func:`relunet.data.tables.is_missing`: empty, NaN, ``NA``,
    ``null``, ...); with ``missing_ok`` (a model that fills missing values) it is NaN."""
    X = np.empty((len(rows), len(cols)))
    for k, (line, r) in enumerate(rows):
        if len(r) != width:
            raise DataFormatError(f"{path}: line {line} has {len(r)} values, the first row has {width}")
        for j, col in enumerate(cols):
            text = r[col].strip()
            if tables.is_missing(text) and missing_ok:
                X[k, j] = np.nan
                continue
            if tables.is_missing(text):
                raise DataFormatError(f"{path}: {tables.missing_cell(text)} in {where[col]}, line {line} (the "
                                      "model was trained without --impute)")
            try:
                v = tables.parse_number(text)
            except ValueError:
                raise DataFormatError(f"{path}: non-numeric value {text!r} in {where[col]}, line {line}") from None
            if not np.isfinite(v):
                raise DataFormatError(f"{path}: {text} in {where[col]}, line {line}; clean or impute it first")
            X[k, j] = v
    if t is None:
        return X, None
    return X, _target_labels(path, rows, t, where[t])


def _target_labels(path: str, rows: list[tuple[int, list[str]]], t: int, where: str) -> np.ndarray:
    """The target column ``t`` as training reads it (:func:`relunet.data.tables.target_values`):
    numbers, or class labels as text that the model's ``classes_`` decode."""
    return tables.target_values(path, [r[t].strip() for _, r in rows], [line for line, _ in rows], where,
                                fix="fill it, drop the row, or drop the target column to predict without a metric")


def _is_float(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


# -- output -------------------------------------------------------------------


def top_classes(proba: np.ndarray, k: int) -> np.ndarray:
    """The column indices of the ``k`` largest probabilities of each row, most probable
    first (equal probabilities: the lower class index first), ``shape (n, min(k, K))`` for
    ``proba`` of ``shape (n, K)``."""
    n, width = proba.shape
    k = min(k, width)
    if n == 0 or k == 0:
        return np.empty((n, k), dtype=np.intp)
    if k == width:
        return np.argsort(-proba, axis=1, kind="stable")
    # argpartition is O(K) a row but picks arbitrarily among probabilities equal to the k-th
    # largest; the rows where such a tie crosses the cut are sorted whole (stable: lower index first)
    idx = np.argpartition(-proba, k - 1, axis=1)[:, :k]
    p = np.take_along_axis(proba, idx, axis=1)
    idx = np.take_along_axis(idx, np.lexsort((idx, -p), axis=1), axis=1)
    kth = np.take_along_axis(proba, idx[:, -1:], axis=1)
    tied = np.flatnonzero((proba >= kth).sum(axis=1) > k)
    if tied.size:
        idx[tied] = np.argsort(-proba[tied], axis=1, kind="stable")[:, :k]
    return idx


def predictions(net: MLP, X: np.ndarray, all_probabilities: bool = False) -> dict[str, Any]:
    """Labels (and probabilities) for a classifier, values for a regressor, as lists.

    A single-label classifier with more than :data:`TOP_ABOVE` classes gives, unless
    ``all_probabilities``, only each row's :data:`TOP_K` most probable classes
    (``top_classes``) and their probabilities (``top_probabilities``), most probable first,
    instead of every class's ``probabilities``."""
    if getattr(net, "contract", None) is None:  # with one, the contract converts the raw inputs
        X = net.check_X(X)
    out: dict[str, Any] = {"task": net.task, "n_samples": int(len(X))}
    if net.task == "classification":
        proba = net.predict_proba(X)
        pred = net.predict(X)
        classes = np.asarray(net.classes_)
        out["classes"] = classes.tolist()
        out["predictions"] = pred.tolist()
        if all_probabilities or pred.ndim > 1 or len(classes) <= TOP_ABOVE:
            out["probabilities"] = proba.astype(float).tolist()
        else:
            idx = top_classes(proba, TOP_K)
            out["top_classes"] = classes[idx].tolist()
            out["top_probabilities"] = np.take_along_axis(proba, idx, axis=1).astype(float).tolist()
    else:
        out["predictions"] = net.predict(X).astype(float).tolist()
    return out


def to_csv(result: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    preds = result["predictions"]
    multi = bool(preds) and isinstance(preds[0], list)
    if "top_classes" in result:
        k = len(result["top_classes"][0]) if preds else TOP_K
        w.writerow(["prediction", *(f"{c}{i}" for i in range(1, k + 1) for c in ("top", "p_top"))])
        for p, top, pr in zip(preds, result["top_classes"], result["top_probabilities"]):
            w.writerow([p, *(v for c, q in zip(top, pr) for v in (c, repr(float(q))))])
    elif result["task"] == "classification":
        classes = result["classes"]
        head = [f"label_{c}" for c in classes] if multi else ["prediction"]
        w.writerow(head + [f"p_{c}" for c in classes])
        for p, pr in zip(preds, result["probabilities"]):
            w.writerow((p if multi else [p]) + [repr(float(v)) for v in pr])
    else:
        width = len(preds[0]) if multi else 1
        w.writerow([f"prediction_{i}" for i in range(width)] if multi else ["prediction"])
        for p in preds:
            w.writerow([repr(float(v)) for v in (p if multi else [p])])
    return buf.getvalue()


def _metric(net: MLP, X: np.ndarray, y: Any) -> str:
    try:
        if net.task == "classification":
            return f"accuracy: {net.score(X, y):.4f}"
        pred = net.predict(X)
        return f"mse: {float(np.mean((pred - np.asarray(y, dtype=float).reshape(pred.shape)) ** 2)):.6g}"
    except Exception:  # a target that does not fit the model: just no metric
        return ""


def _checked_targets(net: MLP, X: np.ndarray, y: Any) -> Any:
    """``y`` checked against the model and ``X`` (labels by the model's classes), or None.

    Raises:
        FeatureCountError, DataError, TargetTypeError: naming what does not fit.
    """
    if X.ndim == 2 and X.shape[1] != net.n_features:
        raise FeatureCountError(f"X has {X.shape[1]} features but the model takes {net.n_features}")
    if y is None:
        return None
    if len(np.atleast_1d(y)) != len(X):  # else the metric would silently be left out
        raise DataError(f"X has {len(X)} samples but y has {len(np.atleast_1d(y))}")
    if net.task == "classification" and getattr(net, "classes_", None) is not None:
        return check_labels(y, net.classes_)  # labels of another type or unseen classes: an error naming them
    if net.task == "regression" and np.asarray(y).dtype.kind not in "biuf":
        text = next(v for v in np.ravel(y).tolist() if not _is_float(v))
        raise TargetTypeError(f"the target holds text ({text!r}); the model regresses a numeric target")
    return y


def run(args: argparse.Namespace) -> int:
    common.check_outputs(args, "--out", inputs=("--model",))  # --out data.csv would destroy the data
    net = load_model(args.model)
    if getattr(net, "contract", None) is not None:
        X, y, what = contract_inputs(net, args.data, args.split, args.seed, args.scale, args.data_dir)
    else:
        X, y, what = load_inputs(args.data, net.n_features, args.split, args.seed,
                                 scale=args.scale, data_dir=args.data_dir)
    X = np.asarray(X)
    try:
        y = _checked_targets(net, X, y)
        result = predictions(net, X, args.all_probabilities)
    except DataError as exc:  # "X has no samples" alone does not say which file
        raise type(exc)(str(exc) if str(exc).startswith(what) else f"{what}: {exc}") from None
    result = {"model": args.model, "data": what, **result}
    fmt = args.format
    if fmt is None:
        suffix = os.path.splitext(args.out)[1].lower().lstrip(".") if args.out else "csv"
        if suffix not in FORMATS:
            raise CLIError(f"--out {args.out!r}: use a .csv or .json file, or give --format")
        fmt = suffix
    text = json.dumps(result) + "\n" if fmt == "json" else to_csv(result)
    if args.out:
        from relunet.io.archive import write_atomic

        write_atomic(args.out, text)  # folder checked, symlinks followed, devices written in place
    else:
        sys.stdout.write(text)
    if y is not None:  # the metric goes to stderr, so stdout stays the predictions alone
        metric = _metric(net, X, y)
        if metric:
            where = f" written to {args.out}" if args.out else ""
            n = result["n_samples"]
            print(f"{what}: {n} prediction{'' if n == 1 else 's'}{where}; {metric}", file=sys.stderr)
    return 0
