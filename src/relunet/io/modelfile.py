"""Model files: one safe file holding a network's architecture and weights.

``save(net, path)`` writes, through :func:`relunet.io.archive.write_archive` (atomic; a zip of
JSON + ``.npy``, never a pickle):

* the architecture as JSON: ``sizes``, each layer's activation ``name`` and ``config``
  (the hyper-parameters that rebuild it with ``activations.get(name, **config)``), the
  loss, dtype, init scheme, seed, the random generator's state, the class labels' kind,
  the regularization (``dropout`` per hidden layer, ``input_dropout``, ``l2``,
  ``max_norm``: training settings that inference ignores, absent in older files) and the
  model format version;
* the data contract, when the network has one (``net.contract``, a
  :class:`relunet.core.contract.DataContract`): ``meta["contract"]``, plain JSON (the
  scaling's statistics, feature and target names, the dataset and split); such a file is
  format version 2, one without a contract version 1;
* the arrays: ``W0, b0, W1, b1, ...`` (dense layers, input first), ``act{i}_p{j}`` (the
  j-th parameter of the i-th activation, e.g. PReLU's learned slopes) and ``classes``
  (the labels of a classifier, when known).

``load(path)`` never executes anything from the file: it reads JSON and plain arrays
(``allow_pickle=False``), checks every name, shape and dtype against the architecture
the JSON describes, and only then builds the :class:`relunet.core.network.MLP`. Any problem
(truncated, flipped byte, a PNG, a plain ``.npz``, a checkpoint, a newer format)
raises :class:`relunet.errors.ModelFileError` naming it; no half-built model escapes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from relunet.core import activations
from relunet.core import losses
from relunet.core.checks import duplicates
from relunet.core.contract import DataContract, fits_dtype
from relunet.errors import ModelFileError, RelunetError
from relunet.io.archive import MAX_ARCHIVE_BYTES, NPY_HEADER_BYTES, read_archive, write_archive
from relunet.core.layers import ActivationLayer, Dense, Dropout
from relunet.core.network import MLP

#: the kind tag of model archives (checkpoints use another)
KIND = "model"
#: version of the layout described in this module's docstring (2: with a data contract;
#: a model without one is still written as version 1)
FORMAT_VERSION = 2
#: the version of files without a data contract (older relunet reads them)
PLAIN_FORMAT_VERSION = 1
#: the most parameter arrays one activation may declare (PReLU has 1; a file claiming more is refused)
MAX_ACTIVATION_PARAMETERS = 64
#: the default limit on the parameters (weights, biases, activation parameters) a model file
#: may declare; ``load(path, max_parameters=...)`` overrides it. 10**8 float64 parameters
#: take 800 MB.
MAX_PARAMETERS = 10**8
#: the most bytes ``meta.json`` of a model may take (an architecture is a few kilobytes)
MAX_META_BYTES = 4 * 2**20
#: the most bytes one class label may take in the file (as NumPy stores it: 4 per character)
MAX_LABEL_BYTES = 4 * 1024

_JSON_SCALARS = (bool, int, float, str, type(None))


def _json_value(name: str, key: str, value: Any) -> Any:
    """A config value as plain JSON (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_json_value(name, key, v) for v in value]
    if not isinstance(value, _JSON_SCALARS):
        raise ModelFileError(
            f"cannot save activation {name!r}: its setting {key}={value!r} is not a plain "
            "number, string or boolean"
        )
    return value


def describe(net: MLP) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``(meta, arrays)`` pair that :func:`save` writes for ``net``."""
    from relunet.core.network import MLP

    if not isinstance(net, MLP):
        raise ModelFileError(f"only an MLP can be saved, not a {type(net).__name__}")
    arrays: dict[str, np.ndarray] = {}
    acts = []
    i_dense = i_act = 0
    for layer in net.layers:
        if isinstance(layer, Dense):
            arrays[f"W{i_dense}"] = layer.W
            arrays[f"b{i_dense}"] = layer.b
            i_dense += 1
        elif isinstance(layer, ActivationLayer):
            act = layer.activation
            cfg = {k: _json_value(act.name, k, v) for k, v in act.config().items()}
            params = act.parameters()
            for j, p in enumerate(params):
                arrays[f"act{i_act}_p{j}"] = p
            acts.append({"name": act.name, "config": cfg, "n_parameters": len(params)})
            i_act += 1
        elif isinstance(layer, Dropout):
            continue  # no parameters: the rates are in "regularization"
        else:
            raise ModelFileError(f"cannot save a layer of type {type(layer).__name__}")
    classes = getattr(net, "classes_", None)
    classes_kind = None
    if classes is not None:
        classes = np.asarray(classes)
        if classes.dtype.kind == "S":  # bytes (np.save of b"cat"): stored as the text they encode
            try:
                classes = np.char.decode(classes, "utf-8")
            except UnicodeDecodeError:
                raise ModelFileError(f"cannot save class labels {classes.tolist()[:5]}: bytes that are "
                                     "not UTF-8 text") from None
        if classes.dtype.kind not in "iubU":
            try:  # e.g. an object array of strings or ints
                classes = np.asarray(classes.tolist())
            except (TypeError, ValueError):
                pass
        if classes.dtype.kind == "f" and classes.ndim == 1 and np.isfinite(classes).all():
            classes = classes.astype(np.float64)  # e.g. labels 1.0, 2.0, 3.0 read from a CSV file
        if classes.dtype.kind not in "iubUf" or classes.ndim != 1:
            raise ModelFileError(
                f"cannot save class labels of dtype {classes.dtype} (only integers, booleans, "
                "finite real numbers or strings are stored without pickle)"
            )
        arrays["classes"] = classes
        classes_kind = classes.dtype.kind
    state = net.rng.bit_generator.state
    meta = {
        "format_version": PLAIN_FORMAT_VERSION,
        "model": "MLP",
        "sizes": [int(s) for s in net.sizes],
        "activations": acts,
        "loss": net.loss.name,
        "dtype": net.dtype.name,
        "init": net.init,
        "seed": None if net.seed is None else int(net.seed),
        "rng": state if state.get("bit_generator") == "PCG64" else None,
        "classes": classes_kind,
        "regularization": {k: _json_value("regularization", k, v)
                           for k, v in net.regularization().items()},
    }
    add_contract(meta, net)
    return meta, arrays


# -- the data contract ----------------------------------------------------------


def add_contract(meta: dict[str, Any], net: MLP) -> None:
    """Put ``net.contract`` (a :class:`~relunet.core.contract.DataContract`) into ``meta``
    as ``meta["contract"]``; a file with one is format version 2 (older relunet refuses
    it rather than predicting without the scaling)."""
    contract = getattr(net, "contract", None)
    if contract is None:
        return
    if not isinstance(contract, DataContract):
        raise ModelFileError(f"net.contract must be a DataContract, not {type(contract).__name__}")
    if contract.n_features is not None and contract.n_features != net.n_features:
        raise ModelFileError(f"the data contract describes {contract.n_features} features, "
                             f"the network takes {net.n_features}")
    problem = contract_problem(contract, np.dtype(net.dtype).name)
    if problem is not None:  # a file load would refuse is never written
        raise ModelFileError(f"the data contract cannot be saved: {problem}")
    meta["contract"] = contract.to_dict()
    meta["format_version"] = FORMAT_VERSION


def read_contract(path: str, meta: dict[str, Any]) -> DataContract | None:
    """The data contract of a checked architecture (None for files without one).

    Beyond :meth:`DataContract.from_dict`'s checks: a file of format version 2 must hold one
    (the version says its inputs are scaled), feature names are unique, and every statistic
    stays finite (a divisor also non-zero) in the dtype it is applied in: the contract's for
    the input transform, the network's for the target's.
    """
    if meta.get("contract") is None:
        if meta.get("format_version", PLAIN_FORMAT_VERSION) >= FORMAT_VERSION:
            raise _fail(path, f"format version {meta['format_version']} promises a data contract "
                              "(the inputs' scaling), but the file holds none")
        return None
    try:
        contract = DataContract.from_dict(meta["contract"], meta["sizes"][0])
    except ValueError as exc:
        raise _fail(path, f"data contract: {exc}") from None
    problem = contract_problem(contract, meta["dtype"])
    if problem is not None:
        raise _fail(path, f"data contract: {problem}")
    return contract


def contract_problem(contract: DataContract, net_dtype: str) -> str | None:
    """What makes ``contract`` unusable by a network of ``net_dtype`` (None: nothing):
    duplicate feature names, or a statistic that is not finite (a divisor also non-zero) in
    the dtype it is applied in, the contract's for the inputs, the network's for the target."""
    names = contract.features or []
    if len(set(names)) != len(names):
        return f"duplicate feature names {duplicates(names)[:10]}"
    stats = [("offset", contract.offset, contract.dtype), ("divisor", contract.divisor, contract.dtype),
             ("fill", contract.fill, contract.dtype), ("target_offset", contract.target_offset, net_dtype),
             ("target_divisor", contract.target_divisor, net_dtype)]
    for key, value, dtype in stats:
        if value is not None and not fits_dtype(value, dtype, nonzero=key.endswith("divisor")):
            return (f"{key} does not fit in {dtype} (beyond its range"
                    f"{' or rounding to 0' if key.endswith('divisor') else ''})")
    return None


def save(net: MLP, path: str | os.PathLike) -> None:
    """Write ``net`` (an :class:`~relunet.core.network.MLP`) to one file at ``path``, atomically."""
    meta, arrays = describe(net)
    write_archive(path, KIND, meta, arrays)


# -- loading ----------------------------------------------------------------


def _fail(path: str, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: invalid model file: {what}")


def _check_meta(path: str, meta: Any) -> None:
    """Validate the JSON architecture (types and ranges) before anything is built."""
    if not isinstance(meta, dict):
        raise _fail(path, "the architecture is not a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail(path, "no format_version")
    if version < 1:
        raise _fail(path, f"format_version must be >= 1, got {version}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this relunet reads "
            f"(<= {FORMAT_VERSION}); upgrade relunet"
        )
    if meta.get("model") != "MLP":
        raise _fail(path, f"unknown model type {meta.get('model')!r}")
    sizes = meta.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        raise _fail(path, f"sizes must be a list of at least two positive integers, got {sizes!r}")
    acts = meta.get("activations")
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise _fail(path, f"expected {len(sizes) - 1} activations for sizes {sizes}")
    for a in acts:
        n_params = a.get("n_parameters") if isinstance(a, dict) else None
        if (not isinstance(a, dict) or not isinstance(a.get("name"), str)
                or not isinstance(a.get("config"), dict)
                or not isinstance(n_params, int) or isinstance(n_params, bool)
                or not 0 <= n_params <= MAX_ACTIVATION_PARAMETERS):
            # bounded: a tampered count (10**9) must not make the loader build a billion names
            raise _fail(path, f"bad activation entry {a!r}")
        if not all(isinstance(v, (*_JSON_SCALARS, list)) for v in a["config"].values()):
            raise _fail(path, f"activation {a['name']!r} has non-scalar settings")
        try:
            activations.canonical_name(a["name"])
        except RelunetError:
            raise _fail(path, f"unknown activation {a['name']!r} (written by a newer relunet?)") from None
    if not isinstance(meta.get("loss"), str):
        raise _fail(path, "no loss")
    try:
        losses.get(meta["loss"])
    except RelunetError:
        raise _fail(path, f"unknown loss {meta['loss']!r}") from None
    if meta.get("dtype") not in ("float32", "float64"):
        raise _fail(path, f"dtype must be float32 or float64, got {meta.get('dtype')!r}")
    if meta.get("init") is not None and not isinstance(meta.get("init"), str):
        raise _fail(path, "init must be a name or null")
    seed = meta.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise _fail(path, f"seed must be a non-negative integer or null, got {seed!r}")
    if meta.get("classes") not in (None, "i", "u", "b", "U", "f"):
        raise _fail(path, f"bad class label kind {meta.get('classes')!r}")
    _check_regularization(path, meta.get("regularization"), len(sizes) - 2)
    read_contract(path, meta)  # checked before anything is built
    if meta.get("rng") is not None:
        try:
            check_rng_state(meta["rng"])
        except ValueError as exc:
            raise _fail(path, f"rng: {exc}") from None


def _check_regularization(path: str, reg: Any, n_hidden: int) -> None:
    """The optional ``regularization`` entry: rates in [0, 1), l2 >= 0, max_norm > 0 or null."""
    if reg is None:
        return
    if not isinstance(reg, dict) or set(reg) - {"dropout", "input_dropout", "l2", "max_norm"}:
        raise _fail(path, f"bad regularization entry {reg!r}")

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))

    rates = reg.get("dropout", 0.0)
    listed = rates if isinstance(rates, list) else [rates]
    if (isinstance(rates, list) and len(rates) != n_hidden) or not all(
            number(r) and 0 <= r < 1 for r in listed):
        raise _fail(path, f"dropout must be a rate in [0, 1) or {n_hidden} of them, got {rates!r}")
    inp = reg.get("input_dropout", 0.0)
    if not (number(inp) and 0 <= inp < 1):
        raise _fail(path, f"input_dropout must be a rate in [0, 1), got {inp!r}")
    l2 = reg.get("l2", 0.0)
    if not (number(l2) and l2 >= 0):
        raise _fail(path, f"l2 must be a number >= 0, got {l2!r}")
    c = reg.get("max_norm")
    if c is not None and not (number(c) and c > 0):
        raise _fail(path, f"max_norm must be a number > 0 or null, got {c!r}")


def _check_sizes(path: str, meta: dict[str, Any], max_parameters: int) -> None:
    """The sizes the architecture declares, against ``max_parameters``, before anything is
    allocated: the weights and biases it implies, and every integer setting of an
    activation (PReLU's ``num_parameters``), which may not exceed its layer's width."""
    sizes = meta["sizes"]
    total = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    for i, a in enumerate(meta["activations"]):
        width = sizes[i + 1]
        for key, value in a["config"].items():
            if isinstance(value, int) and not isinstance(value, bool):
                if value > width:  # the constructor checks the lower bound
                    raise _fail(path, f"activation {i} ({a['name']}): {key} = {value} exceeds {width}, "
                                      "the width of its layer")
                total += max(value, 0)
    if total > max_parameters:
        raise _fail(path, f"the architecture {sizes} declares {total} parameters, over the limit of "
                          f"{max_parameters} (load(path, max_parameters=...) raises it)")


def _entry_limits(meta: dict[str, Any]) -> dict[str, int]:
    """The most bytes each array of a (checked) architecture may take in the file."""
    sizes = meta["sizes"]
    item = np.dtype(meta["dtype"]).itemsize
    room = NPY_HEADER_BYTES
    limits = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        limits[f"W{i}"] = n_in * n_out * item + room
        limits[f"b{i}"] = n_out * item + room
    for i, a in enumerate(meta["activations"]):
        for j in range(a["n_parameters"]):
            limits[f"act{i}_p{j}"] = sizes[i + 1] * 8 + room  # one float per unit at most
    if meta["classes"] is not None:
        limits["classes"] = max(sizes[-1], 2) * MAX_LABEL_BYTES + room
    return limits


def check_rng_state(state: Any) -> None:
    """Check a PCG64 generator state (``Generator.bit_generator.state``) read from a file.

    Its integers must lie where NumPy stores them: ``state`` and ``inc`` in
    ``[0, 2**128)``, ``has_uint32`` 0 or 1, ``uinteger`` in ``[0, 2**32)``.

    Raises:
        ValueError: naming the field out of range or of the wrong type.
    """
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise ValueError("must be the state of a PCG64 generator")
    inner = state.get("state")
    if not isinstance(inner, dict):
        raise ValueError("state must be an object with 'state' and 'inc'")
    fields = [(f"state.{k}", inner.get(k), 2**128) for k in ("state", "inc")]
    fields += [("has_uint32", state.get("has_uint32"), 2), ("uinteger", state.get("uinteger"), 2**32)]
    for name, value, bound in fields:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < bound:
            big = isinstance(value, int) and value.bit_length() >= 200
            shown = f"an integer of {value.bit_length()} bits" if big else f"{value!r}"
            raise ValueError(f"{name} must be an integer in [0, {bound}), got {shown}")


def _expected_arrays(meta: dict[str, Any]) -> dict[str, tuple[int, ...] | None]:
    """Array name -> required shape (None: checked after the activation is built)."""
    sizes = meta["sizes"]
    out: dict[str, tuple[int, ...] | None] = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out[f"W{i}"] = (n_in, n_out)
        out[f"b{i}"] = (n_out,)
    for i, a in enumerate(meta["activations"]):
        for j in range(a["n_parameters"]):
            out[f"act{i}_p{j}"] = None
    if meta["classes"] is not None:
        out["classes"] = None
    return out


def _check_arrays(path: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    expected = _expected_arrays(meta)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise _fail(path, f"arrays do not match the architecture (missing {missing}, unexpected {extra})")
    dtype = np.dtype(meta["dtype"])
    for name, shape in expected.items():
        arr = arrays[name]
        if name == "classes":
            if arr.ndim != 1 or arr.dtype.kind != meta["classes"]:
                raise _fail(path, f"class labels of shape {arr.shape} and dtype {arr.dtype}")
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise _fail(path, "class labels hold NaN or infinite values")
            # predict maps output unit i to classes[i] (searchsorted: sorted, unique labels)
            k = meta["sizes"][-1]
            n_classes = 2 if (k == 1 and losses.get(meta["loss"]).name == "binary_cross_entropy") else k
            if len(arr) != n_classes:
                raise _fail(path, f"{len(arr)} class labels for an output of {k} unit{'s' if k != 1 else ''} "
                                  f"(which represents {n_classes} classes)")
            if len(arr) > 1 and not bool(np.all(arr[1:] > arr[:-1])):
                raise _fail(path, "class labels are not sorted and unique")
            continue
        if arr.dtype != dtype:
            raise _fail(path, f"array {name} has dtype {arr.dtype}, the model {dtype}")
        if shape is not None and arr.shape != shape:
            raise _fail(path, f"array {name} has shape {arr.shape}, the architecture needs {shape}")
        if not np.isfinite(arr).all():
            raise _fail(path, f"array {name} holds NaN or infinite values")


def load(path: str | os.PathLike, *, max_parameters: int = MAX_PARAMETERS) -> Any:
    """Read a network written by :func:`save` (or ``net.save``); returns an ``MLP``.

    Nothing is allocated before the architecture has been checked: its parameter count
    against ``max_parameters`` (default :data:`MAX_PARAMETERS`), each array's size in the
    zip directory against what the architecture implies, and each array's header against
    its size, so a small tampered file cannot claim gigabytes.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: truncated, corrupted, foreign, of a newer version, over the size
            limits, or not consistent with itself (names, shapes, dtypes, ranges).
    """
    from relunet.core.network import MLP

    path = os.fspath(path)

    def limits(meta: Any) -> dict[str, int]:
        _check_meta(path, meta)
        _check_sizes(path, meta, max_parameters)
        return _entry_limits(meta)

    meta, arrays = read_archive(path, KIND, max_bytes=max(MAX_ARCHIVE_BYTES, 16 * max_parameters),
                                max_meta_bytes=MAX_META_BYTES, entry_limits=limits)
    _check_arrays(path, meta, arrays)
    specs = [(a["name"], dict(a["config"])) for a in meta["activations"]]
    try:
        net = MLP(meta["sizes"], activation=specs[:-1], output=specs[-1], loss=meta["loss"],
                  init=meta["init"], dtype=meta["dtype"], seed=meta["seed"],
                  **(meta.get("regularization") or {}))
    except RelunetError as exc:
        raise _fail(path, f"the architecture cannot be built: {exc}") from None
    act_layers = [l.activation for l in net.layers if isinstance(l, ActivationLayer)]
    # every check before the first write: a failure leaves nothing half-built behind
    for i, (act, a) in enumerate(zip(act_layers, meta["activations"])):
        params = act.parameters()
        if len(params) != a["n_parameters"]:
            raise _fail(path, f"activation {i} ({act.name}) has {len(params)} parameter arrays, "
                              f"the file {a['n_parameters']}")
        for j, p in enumerate(params):
            got = arrays[f"act{i}_p{j}"]
            if got.shape != p.shape:
                raise _fail(path, f"array act{i}_p{j} has shape {got.shape}, {act.name} needs {p.shape}")
    for i, dense in enumerate(net.dense_layers):
        dense.W[...] = arrays[f"W{i}"]
        dense.b[...] = arrays[f"b{i}"]
    for i, act in enumerate(act_layers):
        for j, p in enumerate(act.parameters()):
            p[...] = arrays[f"act{i}_p{j}"]
    if "classes" in arrays:
        net.classes_ = arrays["classes"]
    state = meta.get("rng")
    if isinstance(state, dict):
        try:
            net.rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise _fail(path, f"rng: bad random generator state ({exc})") from None
    net.contract = read_contract(path, meta)
    net.eval()
    return net

