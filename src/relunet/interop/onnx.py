"""ONNX export of a network's inference graph (``net.to_onnx(path)``, ``relunet export``).

The graph takes ``input`` of ``shape (N, n_features)`` (float32, N dynamic) and gives
``output``, ``shape (N, n_outputs)``: exactly what ``net.predict_output`` returns
(probabilities for classifiers, values for regression). Each dense layer is one
``Gemm`` (``z = x W + b``); each activation is the ONNX operator of the same
definition, or a short decomposition where ONNX has none:

=============  ==============================================================
relunet        ONNX (default opset 20)
=============  ==============================================================
identity       (nothing)
step           Cast(Greater(x, 0))             -- f(0) = 0, as relunet
sign           Sign
relu           Relu
relu6          Clip(x, 0, 6)
hardtanh       Clip(x, min_val, max_val)
leaky_relu     LeakyRelu(alpha=negative_slope)
prelu          PRelu(x, slopes)                -- the learned slopes
rrelu          LeakyRelu(alpha=(lower+upper)/2) -- its evaluation mode, which is what
               ``predict`` uses; the random training-mode slopes are not inference
elu/selu/celu  Elu / Selu / Celu with relunet's constants
gelu           Gelu(approximate=none|tanh) (opset >= 20), else the erf/tanh formula
silu           x * Sigmoid(x)
mish           Mish
softplus       Where(beta x > threshold, x, Softplus(beta x) / beta)
               -- ONNX Softplus has no threshold; the Where keeps relunet's (torch's)
               exact definition for any threshold rather than relying on the
               difference being below float32 precision (it is, for threshold >= ~17)
softsign       Softsign
sigmoid, tanh  Sigmoid, Tanh
hardsigmoid    HardSigmoid(alpha=1/6, beta=1/2)
hardswish      HardSwish
logsigmoid     Neg(Softplus(Neg(x)))            -- -softplus(-x); onnxruntime's Softplus
               is overflow-free for large inputs
softmax        Softmax(axis=-1)
log_softmax    LogSoftmax(axis=-1)
hierarchical_  Exp(ReduceSum(LogSigmoid(Gather(x, paths) * signs) * mask)) -- the exact
softmax        class probabilities of the tree: each class's path gathered from the node
               scores (``O(N K D)`` memory at inference, ``D`` the longest path)
=============  ==============================================================

An activation without an entry here (a user-defined one) raises
:class:`relunet.errors.ExportError` naming it. A float64 network is exported in float32
(ONNX runtimes support float32 for every operator above); its outputs then differ from
relunet's float64 ones by float32 rounding; a weight, bias or contract statistic that float32
cannot hold (beyond 3.4e38, or a scaling divisor that rounds to 0) raises
:class:`~relunet.errors.ExportError` rather than putting an infinity in the graph. An input
whose intermediate values pass float32's range gives inf/NaN in the graph where a float64
network may stay finite (the input is not known at export).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from relunet.core import activations as catalog
from relunet.core.activations import Activation
from relunet.errors import ExportError
from relunet.core.layers import ActivationLayer, Dense, Dropout
from relunet.core.network import MLP

#: the opset written by default: Gelu is a native operator from opset 20
DEFAULT_OPSET = 20
#: the lowest opset accepted (Mish, and Clip/Softmax with today's semantics)
MIN_OPSET = 18


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:  # pragma: no cover - onnx is a test dependency
        raise ExportError("ONNX export needs the 'onnx' package: pip install 'relunet[onnx]'") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Collects nodes and initialisers with unique names."""

    def __init__(self, opset: int):
        self.onnx, self.helper, self.numpy_helper = _onnx()
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: Any, stem: str = "c") -> str:
        """A float32 initialiser holding ``value``.

        Raises:
            ExportError: a finite value beyond float32's range (``|v| > 3.4e38``), which
                would become an infinity in the graph.
        """
        wide = np.asarray(value, dtype=np.float64)
        with np.errstate(over="ignore"):
            arr = wide.astype(np.float32)
        overflow = np.isfinite(wide) & ~np.isfinite(arr)
        if overflow.any():
            v = float(wide[overflow].flat[0])
            raise ExportError(f"{stem}: the value {v:g} does not fit in float32 (|v| <= 3.4e38), the "
                              "graph's dtype; the exported graph would compute with an infinity")
        name = self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, **attrs: Any) -> str:
        out = self.name(stem or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _f(x: float) -> float:
    """An attribute value: ONNX float attributes are float32."""
    return float(np.float32(x))


# -- one emitter per activation: (graph, input name, activation) -> output name ------------

Emitter = Callable[[_Graph, str, Activation], str]


def _unary(op_type: str, **attrs: Any) -> Emitter:
    return lambda g, x, act: g.op(op_type, [x], **attrs)


def _step(g: _Graph, x: str, act: Activation) -> str:
    onnx = g.onnx
    return g.op("Cast", [g.op("Greater", [x, g.const(0.0)])], to=onnx.TensorProto.FLOAT)


def _clip(lo: float, hi: float) -> Emitter:
    return lambda g, x, act: g.op("Clip", [x, g.const(lo), g.const(hi)])


def _hardtanh(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Clip", [x, g.const(act.min_val), g.const(act.max_val)])


def _leaky(g: _Graph, x: str, act: Activation) -> str:
    return g.op("LeakyRelu", [x], alpha=_f(act.negative_slope))


def _rrelu(g: _Graph, x: str, act: Activation) -> str:
    return g.op("LeakyRelu", [x], alpha=_f((act.lower + act.upper) / 2))


def _prelu(g: _Graph, x: str, act: Activation) -> str:
    (weight,) = act.parameters()
    return g.op("PRelu", [x, g.const(np.asarray(weight).reshape(-1), "prelu_slope")])


def _elu(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Elu", [x], alpha=_f(act.alpha))


def _celu(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Celu", [x], alpha=_f(act.alpha))


def _selu(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Selu", [x], alpha=_f(act.alpha), gamma=_f(act.scale))


def _gelu(g: _Graph, x: str, act: Activation) -> str:
    approx = act.config().get("approximate", "none")
    if g.opset >= 20:
        return g.op("Gelu", [x], approximate=approx)
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [x3, g.const(0.044715)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.op("Erf", [g.op("Mul", [x, g.const(1 / math.sqrt(2))])])
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5)]), g.op("Add", [t, g.const(1.0)])])


def _silu(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def _softplus(g: _Graph, x: str, act: Activation) -> str:
    beta, threshold = float(act.beta), float(act.threshold)
    bx = x if beta == 1 else g.op("Mul", [x, g.const(beta)])
    soft = g.op("Softplus", [bx])
    if beta != 1:
        soft = g.op("Div", [soft, g.const(beta)])
    if math.isinf(threshold) and threshold > 0:
        return soft
    return g.op("Where", [g.op("Greater", [bx, g.const(threshold)]), x, soft])


def _logsigmoid(g: _Graph, x: str, act: Activation) -> str:
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])])


def _hierarchical_softmax(g: _Graph, x: str, act: Activation, width: int) -> str:
    """``p_c = exp(sum_l log sigma(t_l x_{j_l}))`` over each class's padded path."""
    tree = act.tree_for(width)
    paths = g.name("paths")
    g.initializers.append(g.numpy_helper.from_array(tree.nodes.astype(np.int64), paths))
    margins = g.op("Mul", [g.op("Gather", [x, paths], axis=1), g.const(tree.signs)])  # (N, K, D)
    logs = g.op("Mul", [_logsigmoid(g, margins, act), g.const(tree.signs != 0)])
    axes = g.name("axes")
    g.initializers.append(g.numpy_helper.from_array(np.array([2], dtype=np.int64), axes))
    return g.op("Exp", [g.op("ReduceSum", [logs, axes], keepdims=0)])


EMITTERS: dict[str, Emitter] = {
    "identity": lambda g, x, act: x,
    "step": _step,
    "sign": _unary("Sign"),
    "relu": _unary("Relu"),
    "relu6": _clip(0.0, 6.0),
    "hardtanh": _hardtanh,
    "leaky_relu": _leaky,
    "prelu": _prelu,
    "rrelu": _rrelu,
    "elu": _elu,
    "selu": _selu,
    "celu": _celu,
    "gelu": _gelu,
    "silu": _silu,
    "mish": _unary("Mish"),
    "softplus": _softplus,
    "softsign": _unary("Softsign"),
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "hardsigmoid": _unary("HardSigmoid", alpha=_f(1 / 6), beta=0.5),
    "hardswish": _unary("HardSwish"),
    "logsigmoid": _logsigmoid,
    "softmax": _unary("Softmax", axis=-1),
    "log_softmax": _unary("LogSoftmax", axis=-1),
}
#: activations whose ONNX form needs the width of their input (the tree over that many classes)
SIZED_EMITTERS: dict[str, Callable[[_Graph, str, Activation, int], str]] = {
    "hierarchical_softmax": _hierarchical_softmax,
}


def to_model(net: MLP, *, opset: int = DEFAULT_OPSET, input_name: str = "input",
             output_name: str = "output", labels: bool = True) -> Any:
    """Build (and check with ``onnx.checker``) the ONNX ``ModelProto`` of ``net``.

    A network with a data contract (``net.contract``) takes raw inputs: the graph starts
    with its input transform. A regression whose target was standardised in training gets a
    second output ``prediction``, in the target's units (what ``net.predict`` returns).

    With ``labels`` (default) a classifier whose classes are known (``net.classes_``, set
    by ``fit``) gets a second output ``label``, what ``net.predict`` returns: the class of
    the largest output (``ArgMax`` then ``Gather`` from the class labels, int64, double,
    bool or string), of ``output > 0.5`` for a single sigmoid unit, or the 0/1 matrix
    ``output > 0.5`` (int64) for multi-label.

    Raises:
        ExportError: an activation without an ONNX form (named in the message), an
            unsupported opset, or a layer type the exporter does not know.
    """
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ExportError(f"opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    g = _Graph(opset)
    onnx, helper = g.onnx, g.helper
    if opset > onnx.defs.onnx_opset_version():
        raise ExportError(f"opset {opset} is newer than the installed onnx supports "
                          f"({onnx.defs.onnx_opset_version()})")
    x = input_transform(g, input_name, getattr(net, "contract", None))
    width = 0
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            width = layer.n_out
            W = g.const(layer.W, f"W{i}")
            b = g.const(layer.b, f"b{i}")
            x = g.op("Gemm", [x, W, b], stem=f"dense{i}")
        elif isinstance(layer, ActivationLayer):
            act = layer.activation
            emit = EMITTERS.get(act.name)
            sized = SIZED_EMITTERS.get(act.name)
            if (emit is None and sized is None) or type(act).__module__ != catalog.__name__:
                raise ExportError(
                    f"activation {act.name or type(act).__name__!r} (layer {i}) has no exact ONNX "
                    f"form; exportable activations: {', '.join(sorted([*EMITTERS, *SIZED_EMITTERS]))}"
                )
            x = emit(g, x, act) if sized is None else sized(g, x, act, width)
        elif isinstance(layer, Dropout):
            continue  # the identity at inference (inverted dropout scales in training only)
        else:
            raise ExportError(f"cannot export a layer of type {type(layer).__name__} (layer {i})")
    g.nodes.append(helper.make_node("Identity", [x], [output_name], name="output_identity"))
    n_in, n_out = net.dense_layers[0].n_in, net.dense_layers[-1].n_out
    outputs = [helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, ["N", n_out])]
    classes = getattr(net, "classes_", None)
    if labels and classes is not None and net.task == "classification":
        outputs.append(_label_output(g, output_name, net, np.asarray(classes)))
    contract = getattr(net, "contract", None)
    if net.task == "regression" and contract is not None and contract.target_divisor is not None:
        outputs.append(target_output(g, output_name, contract, n_out))
    graph = helper.make_graph(
        g.nodes, "relunet_mlp",
        [helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, ["N", n_in])],
        outputs,
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="relunet",
                              doc_string=repr(net))
    model.ir_version = helper.find_min_ir_version_for(opsets)
    props = {}
    if classes is not None:
        props = {"classes": ",".join(str(c) for c in np.asarray(classes).tolist()), "loss": net.loss.name}
    contract = getattr(net, "contract", None)
    if contract is not None:
        props["scale"] = contract.scale
        if contract.features is not None:
            props["features"] = ",".join(contract.features)
    if props:
        helper.set_model_props(model, props)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # pragma: no cover - a bug in an emitter
        raise ExportError(f"the exported graph failed onnx.checker: {exc}") from None
    return model


def input_transform(g: _Graph, x: str, contract: Any) -> str:
    """The data contract's input transform as nodes (float32, as relunet computes it), so
    that the graph takes raw inputs as ``net.predict`` does: raw pixel rows (a row whose
    largest value exceeds 1, a missing value counting as 0) divided by the pixel divisor
    (``ReduceMax``, ``Greater``, ``Where``), then missing values (NaN) filled (``IsNaN``,
    ``Where``), then
    ``(x - offset) / divisor`` (``Sub``, ``Div``); ``x`` unchanged without a contract or
    scaling. Out-of-range pixels, which ``predict`` refuses, pass unchecked."""
    if contract is None:
        return x
    if contract.pixels is not None:  # before the fill, as relunet: a missing value counts as 0 in the row's max
        known = g.op("Where", [g.op("IsNaN", [x], stem="pixel_missing"), g.const(0.0), x], stem="pixel_known")
        row_max = g.op("ReduceMax", [known, _int_const(g, [1])], stem="pixel_row_max", keepdims=1)
        raw = g.op("Greater", [row_max, g.const(1.0)], stem="pixel_raw")
        scaled = g.op("Div", [x, g.const(contract.pixels, "pixel_divisor")], stem="pixel_scaled")
        x = g.op("Where", [raw, scaled, x], stem="pixels")
    if contract.fill is not None:
        x = g.op("Where", [g.op("IsNaN", [x], stem="missing"), g.const(contract.fill, "fill"), x], stem="filled")
    if contract.scale == "none" or contract.offset is None:
        return x
    if (np.asarray(contract.divisor, np.float32) == 0).any():
        raise ExportError("scale_divisor: a scaling divisor of the data contract rounds to 0 in float32, "
                          "the graph's dtype; the exported graph would divide by zero")
    centred = g.op("Sub", [x, g.const(contract.offset, "scale_offset")], stem="scale_sub")
    return g.op("Div", [centred, g.const(contract.divisor, "scale_divisor")], stem="scale_div")


def target_output(g: _Graph, out: str, contract: Any, n_out: int) -> Any:
    """A second output ``prediction``: what ``net.predict`` returns for a regression whose
    target was standardised in training, ``output * divisor + offset`` (the target's units)."""
    scaled = g.op("Mul", [out, g.const(contract.target_divisor, "target_divisor")], stem="target_mul")
    g.nodes.append(g.helper.make_node("Add", [scaled, g.const(contract.target_offset, "target_offset")],
                                      ["prediction"], name="target_add"))
    return g.helper.make_tensor_value_info("prediction", g.onnx.TensorProto.FLOAT, ["N", n_out])


def _label_output(g: _Graph, out: str, net: MLP, classes: np.ndarray) -> Any:
    """Nodes computing ``label`` from the probabilities ``out``; returns its value info."""
    onnx, helper = g.onnx, g.helper
    INT64 = onnx.TensorProto.INT64
    n_out = net.dense_layers[-1].n_out
    bce = net.loss.name == "binary_cross_entropy"
    if bce and n_out > 1:  # multi-label: the 0/1 matrix
        g.nodes.append(helper.make_node("Cast", [g.op("Greater", [out, g.const(0.5)])], ["label"], to=INT64))
        return helper.make_tensor_value_info("label", INT64, ["N", n_out])
    if bce:  # one sigmoid unit: class 1 where p > 0.5
        col = g.op("Cast", [g.op("Greater", [out, g.const(0.5)])], to=INT64)
        idx = g.op("Squeeze", [col, _int_const(g, [1])])
    else:
        idx = g.op("ArgMax", [out], axis=1, keepdims=0)  # first maximum, as numpy.argmax
    name = g.name("classes")
    if classes.dtype.kind == "U":
        elem = onnx.TensorProto.STRING
        g.initializers.append(helper.make_tensor(name, elem, [len(classes)], [c.encode() for c in classes.tolist()]))
    elif classes.dtype.kind == "f":  # float labels (1.0, 2.0, ...) stay floats, as predict returns them
        elem = onnx.TensorProto.DOUBLE
        g.initializers.append(g.numpy_helper.from_array(classes.astype(np.float64), name))
    elif classes.dtype.kind == "b":  # False/True stay booleans, as predict returns them
        elem = onnx.TensorProto.BOOL
        g.initializers.append(g.numpy_helper.from_array(classes.astype(np.bool_), name))
    else:
        elem = INT64
        g.initializers.append(g.numpy_helper.from_array(classes.astype(np.int64), name))
    g.nodes.append(helper.make_node("Gather", [name, idx], ["label"], axis=0))
    return helper.make_tensor_value_info("label", elem, ["N"])


def _int_const(g: _Graph, values: list[int]) -> str:
    name = g.name("axes")
    g.initializers.append(g.numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
    return name


def export(net: MLP, path: str | os.PathLike, **options: Any) -> Any:
    """Write ``net`` to an ONNX file at ``path`` (atomically); returns the ``ModelProto``.

    Options are those of :func:`to_model` (``opset``, ``input_name``, ``output_name``,
    ``labels``).
    """
    model = to_model(net, **options)
    from relunet.io.archive import write_atomic

    write_atomic(path, model.SerializeToString())  # folder checked, symlinks followed, devices in place
    return model
