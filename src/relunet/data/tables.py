"""Tables with text (categorical) feature columns: one-hot encoded, categories kept.

A CSV column whose cells are all text (none a number) is a categorical feature: it becomes one
input per category, ``NAME=CATEGORY`` (1 for the row's category, 0 for the others), the
categories sorted as text. The categories are part of the model's data contract
(:class:`relunet.core.contract.DataContract` ``categories``), so a table given to
``relunet predict`` later is encoded the same way; a category the model never saw is an
error naming it, the column and the line.

Missing values (:func:`is_missing`, the one rule of every CSV reader: training's loader,
``data info`` and ``predict``): an empty cell, a number that is NaN (``nan``, ``NaN``,
``-nan``, ...), or one of pandas' default missing-value markers (:data:`MISSING_VALUES`:
``NA``, ``N/A``, ``n/a``, ``null``, ``NULL``, ``None``, ``#N/A``, ``<NA>``, ...), compared
after stripping spaces, case as written. They are refused with their column and line, in
categorical columns as in numeric ones; with ``missing_ok`` (imputation asked for) a missing
numeric cell is NaN, to be filled, while a missing text cell stays an error. So in a text
column these markers are never categories: a category written ``NA`` (say, North America)
reads as missing; rename it (``N.A.``) to keep it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from relunet.core.checks import whole_numbers
from relunet.errors import DataError, MissingValueError, NonNumericValueError


def parse_number(text: str) -> float:
    """A CSV cell's number: ``float``'s syntax (``1``, ``-2.5e3``, ``nan``, ``inf``, spaces
    around it) without Python's own extras, which spreadsheets and pandas read as text:
    underscores between digits (``1_000``) and non-ASCII digits (``\u0661\u0662``).

    Raises:
        ValueError: ``text`` is not such a number.
    """
    if "_" in text or not text.isascii():
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def is_number(text: str) -> bool:
    """True when ``text`` reads as a number (:func:`parse_number`)."""
    try:
        parse_number(text)
    except ValueError:
        return False
    return True


#: the cells read as missing besides empty ones and NaN numbers: pandas.read_csv's default
#: ``na_values``, so that a table pandas writes (``to_csv(na_rep=...)``, exports from R or a
#: spreadsheet) means the same here
MISSING_VALUES = frozenset({
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def is_missing(text: str) -> bool:
    """True for a missing value: ``text`` (a cell with its spaces stripped) empty, one of
    :data:`MISSING_VALUES`, or a number that is NaN (``NAN``, ``+nan``)."""
    if not text or text in MISSING_VALUES:
        return True
    try:
        value = parse_number(text)
    except ValueError:
        return False
    return value != value  # NaN


def missing_cell(text: str, what: str = "value") -> str:
    """How an error names a missing cell: an empty one, or the marker it holds."""
    return f"an empty (missing) {what}" if not text else f"a missing {what} ({text!r})"


def target_values(path: Any, labels: list[str], lines: list[int], where: str, fix: str = "") -> np.ndarray:
    """The target column of a CSV file, one reading for every reader (training, text
    features, ``predict``): its stripped cells ``labels`` as numbers (:func:`parse_number`;
    ``int64`` when every one is whole, :func:`relunet.core.checks.whole_numbers`), else as
    text, the class names (such as "cat", "dog"). ``where`` names the column in messages
    ("column 'label'"), ``lines[i]`` is cell i's line in the file, ``fix`` what to do about
    a missing cell.

    Raises:
        DataError: a missing cell (:func:`is_missing`), or a number that is not finite
            ("inf"), naming ``where`` and the line.
    """
    gap = next((i for i, v in enumerate(labels) if is_missing(v)), None)
    if gap is not None:
        raise DataError(f"{path}: {missing_cell(labels[gap], 'target')} in {where}, line {lines[gap]}"
                        + (f"; {fix}" if fix else ""))
    try:
        y: np.ndarray = np.array([parse_number(v) for v in labels])
    except ValueError:
        return np.array(labels)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise DataError(f"{path}: {labels[bad[0]]} target in {where}, line {lines[bad[0]]}")
    return y.astype(np.int64) if whole_numbers(y) else y


def missing_fix(text: str, categorical: bool, missing_ok: bool) -> str:
    """What to do about a missing cell ``text`` (in a text column when ``categorical``)."""
    if not categorical:
        return "fill or drop it first, or fill missing numbers with --impute mean"
    marker = (f"; {text!r} is one of pandas' missing-value markers: rename a category written so "
              f"(e.g. {text + '_'!r})") if text else ""
    return ("--impute fills numeric columns only, " if missing_ok else "") + "fill or drop it first" + marker


def text_columns(header: list[str], rows: list[tuple[int, list[str]]], skip: int | None) -> list[int]:
    """The positions of the text columns (other than ``skip``): no cell a number (missing
    cells aside). A column mixing numbers and text is not one (a typo in a numeric column
    stays an error)."""
    found = []
    for i in range(len(header)):
        cells = [r[i].strip() for _, r in rows if i < len(r) and not is_missing(r[i].strip())]
        if i != skip and cells and not any(is_number(v) for v in cells):
            found.append(i)
    return found


def expanded_names(columns: list[str], categories: dict[str, list[str]]) -> list[str]:
    """The network's input names: a numeric column as it is, a categorical one as ``NAME=CAT``."""
    out: list[str] = []
    for c in columns:
        out += [f"{c}={v}" for v in categories[c]] if c in categories else [c]
    return out


def encode_rows(path: Any, rows: list[tuple[int, list[str]]], positions: list[int], columns: list[str],
                categories: dict[str, list[str]], missing_ok: bool = False) -> np.ndarray:
    """The float64 input matrix of ``rows``: the cells at ``positions`` (one per entry of
    ``columns``), numbers as they are, categories one-hot.

    Raises:
        DataError: an empty cell, text in a numeric column or a category not in
            ``categories``, naming the column and the file's line.
    """
    width = len(expanded_names(columns, categories))
    X = np.zeros((len(rows), width))
    for k, (line, r) in enumerate(rows):
        j = 0
        for col, pos in zip(columns, positions):
            text = r[pos].strip()
            known = col in categories and text in categories[col]  # a model's category written like a marker
            if is_missing(text) and not known:
                if missing_ok and col not in categories:
                    X[k, j] = np.nan
                    j += 1
                    continue
                raise MissingValueError(f"{path}: {missing_cell(text)} in column {col!r}, line {line}; "
                                f"{missing_fix(text, col in categories, missing_ok)}")
            if col in categories:
                cats = categories[col]
                if text not in cats:
                    raise DataError(f"{path}: category {text!r} in column {col!r}, line {line}, was never "
                                    f"seen in training (known: {cats[:20]})")
                X[k, j + cats.index(text)] = 1.0
                j += len(cats)
                continue
            try:
                X[k, j] = parse_number(text)
            except ValueError:
                raise NonNumericValueError(f"{path}: non-numeric value {text!r} in column {col!r}, line {line}") from None
            j += 1
    bad = np.isinf(X) if missing_ok else ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{path}: {X[r, c]} in line {rows[r][0]}; clean or impute it first")
    return X


#: the most one-hot inputs the text columns of a table may expand to, all together: each is a
#: float per row (50,000 rows of an identifier column asked 18.6 GiB), and a column of
#: thousands of distinct texts is an identifier or free text rather than categories
MAX_ONE_HOT = 10_000


def check_one_hot_width(path: Any, categories: dict[str, list[str]]) -> None:
    """Raise :class:`DataError` when the categories would expand to more than
    :data:`MAX_ONE_HOT` inputs, naming the column with the most."""
    width = sum(len(c) for c in categories.values())
    if width > MAX_ONE_HOT:
        col = max(categories, key=lambda c: len(categories[c]))
        raise DataError(f"{path}: the text column(s) would become {width} one-hot inputs, over the limit of "
                        f"{MAX_ONE_HOT}; column {col!r} alone holds {len(categories[col])} distinct values: an "
                        "identifier or free text, not categories? drop it, or encode it as numbers first")


def read_categorical_csv(path: "str | os.PathLike[str]", rows: list[tuple[int, list[str]]], target: str | None,
                         missing_ok: bool = False) -> tuple[np.ndarray, np.ndarray, list[str], list[str], dict[str, list[str]]] | None:
    """A CSV with text feature columns: ``(X, y, input_names, columns, categories)``, or
    None when every feature column is numeric (the plain reader's case).

    ``rows`` are the file's ``(line, cells)`` (``datasets.csv_rows``), its header row first
    (the caller decides that the first row is one: ``datasets.is_header``).
    ``columns`` are the feature columns of the file (without the target), ``input_names``
    the network's inputs (``NAME=CAT`` for each category), ``categories`` the sorted
    categories of each text column.
    """
    if len(rows) < 2:
        return None
    header = [h.strip() for h in rows[0][1]]
    rows = rows[1:]
    if target is None:
        t = len(header) - 1
    elif target in header:
        t = header.index(target)
    else:
        return None
    for line, r in rows:
        if len(r) != len(header):
            raise DataError(f"{path}: line {line} has {len(r)} values, the header has {len(header)}")
    text = text_columns(header, rows, t)
    if not text:
        return None
    positions = [i for i in range(len(header)) if i != t]
    columns = [header[i] for i in positions]
    categories = {header[i]: sorted({r[i].strip() for _, r in rows if not is_missing(r[i].strip())})
                  for i in text}
    check_one_hot_width(path, categories)
    X = encode_rows(path, rows, positions, columns, categories, missing_ok)
    y = target_values(path, [r[t].strip() for _, r in rows], [line for line, _ in rows], f"column {header[t]!r}")
    return X.astype(np.float32), y, expanded_names(columns, categories), columns, categories
