"""``relunet export``: a saved model as an ONNX file (checked; optionally run and compared)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from relunet.interop import onnx as onnx_export
from relunet.errors import ExportError
from relunet.io.modelfile import load as load_model

NAME = "export"
HELP = "export a saved model to ONNX (validated with onnx.checker)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a model file written by net.save / relunet train --save")
    p.add_argument("--onnx", required=True, metavar="OUT", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=onnx_export.DEFAULT_OPSET,
                   help=f"ONNX opset (default: {onnx_export.DEFAULT_OPSET}; >= {onnx_export.MIN_OPSET})")
    p.add_argument("--verify", action="store_true",
                   help="run the exported graph with onnxruntime on random inputs and report the "
                        "largest difference from relunet (fails above 1e-5 relative to the output's "
                        "scale, max(1, largest |output|) of each output unit)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


#: the largest difference --verify accepts, relative to each output unit's scale
VERIFY_TOLERANCE = 1e-5
#: the random input rows --verify runs through both
VERIFY_ROWS = 256


def verify(net, model, n: int = VERIFY_ROWS, seed: int = 0) -> float:
    """Max abs difference between onnxruntime and relunet on random float32 inputs (inputs
    the model's data contract takes: pixel rows raw and scaled, some values missing)."""
    return differences(net, model, n, seed)["max_abs_diff"]


def differences(net, model, n: int = VERIFY_ROWS, seed: int = 0) -> dict[str, float | int]:
    """onnxruntime's outputs ``g`` against relunet's ``r`` on the inputs of :func:`verify`.

    Returns ``max_abs_diff`` (``max |g - r|``) and ``max_rel_diff`` (``max |g - r| / s``,
    ``s = max(1, max_i |r_ij|)`` for output unit ``j``: float32 rounding grows with the
    outputs' size, so the relative one is what is checked) over ``output`` and, for a
    regression in the target's units, ``prediction`` (``net.predict``); and, for a classifier,
    ``label_mismatches``: rows whose ``label`` differs from ``net.predict``, counting only
    rows decided by more than the tolerance (a near-tie may round either way in float32).
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("--verify needs onnxruntime: pip install 'relunet[onnx]'") from None
    X = verify_inputs(net, n, seed)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    got = dict(zip(names, sess.run(None, {model.graph.input[0].name: X})))
    proba = net.predict_output(X)
    predicted = net.predict(X) if "prediction" in got or "label" in got else None
    pairs = [(got[names[0]], proba)]
    if "prediction" in got:
        pairs.append((got["prediction"], np.reshape(predicted, got["prediction"].shape)))
    diffs = [np.abs(g - r) for g, r in pairs]
    rel = [d / np.maximum(1.0, np.max(np.abs(r), axis=0)) for d, (_, r) in zip(diffs, pairs)]
    out: dict[str, float | int] = {"max_abs_diff": float(max(np.max(d) for d in diffs)),
                                   "max_rel_diff": float(max(np.max(d) for d in rel))}
    if "label" in got:
        out["label_mismatches"] = _label_mismatches(net, got["label"], predicted, proba)
    return out


def verify_inputs(net, n: int = VERIFY_ROWS, seed: int = 0) -> np.ndarray:
    """Random float32 rows the model takes, ``shape (n, n_features)``: in the units of its
    data contract's scaling (``offset + divisor z``, ``z ~ N(0, 1)`` for standard scaling,
    ``U(0, 1)`` for min-max; ``N(0, 4)`` without scaling), pixel rows raw and scaled, some
    values missing where the contract fills them."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, net.n_features)) * 2).astype(np.float32)
    contract = getattr(net, "contract", None)
    if contract is not None and contract.scale != "none" and contract.offset is not None:
        z = rng.uniform(size=X.shape) if contract.scale == "minmax" else X / 2
        X = (contract.offset + contract.divisor * z).astype(np.float32)
    if contract is not None and contract.pixels is not None:  # half the rows raw, half scaled
        X = rng.uniform(0, 1, size=X.shape).astype(np.float32)
        X[::2] = np.round(X[::2] * contract.pixels)
    if contract is not None and contract.fill is not None:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _label_mismatches(net, label: np.ndarray, expected: np.ndarray, proba: np.ndarray) -> int:
    """Rows whose ``label`` differs from ``expected``, among rows whose decision (the top two
    outputs' gap, or a sigmoid's distance from 0.5) exceeds :data:`VERIFY_TOLERANCE`."""
    if label.dtype.kind in "OS":
        label = np.array([v.decode() if isinstance(v, bytes) else v for v in label.ravel()]).reshape(label.shape)
    expected = np.asarray(expected)
    wrong = np.asarray(label).astype(expected.dtype) != expected
    if proba.shape[1] > 1 and net.loss.name != "binary_cross_entropy":
        top = np.sort(proba, axis=1)
        decided = top[:, -1] - top[:, -2] > VERIFY_TOLERANCE
    else:
        decided = np.abs(proba - 0.5) > VERIFY_TOLERANCE
        decided = decided.reshape(wrong.shape) if decided.size == wrong.size else decided.all(axis=1)
    if wrong.ndim > 1:
        wrong = wrong.any(axis=1)
        decided = decided.all(axis=1) if decided.ndim > 1 else decided
    return int(np.count_nonzero(wrong & decided))


def run(args: argparse.Namespace) -> int:
    from relunet.cli import common

    common.check_outputs(args, "--onnx", inputs=("--model",))  # --onnx model.relunet would destroy the model
    net = load_model(args.model)
    model = onnx_export.export(net, args.onnx, opset=args.opset)
    out = {"model": args.model, "onnx": args.onnx, "opset": args.opset,
           "nodes": len(model.graph.node), "inputs": net.n_features, "outputs": net.n_outputs}
    if args.verify:
        out.update(differences(net, model))
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        line = f"wrote {args.onnx} (opset {args.opset}, {out['nodes']} nodes, {out['inputs']} -> {out['outputs']})"
        if args.verify:
            line += (f"; onnxruntime vs relunet max abs diff {out['max_abs_diff']:.3g}, "
                     f"relative to the outputs' scale {out['max_rel_diff']:.3g}")
            if "label_mismatches" in out:
                line += f", {out['label_mismatches']} labels differ"
        print(line)
    if args.verify and not out["max_rel_diff"] < VERIFY_TOLERANCE:
        print(f"relunet: error: exported graph differs from relunet by {out['max_abs_diff']:.3g} "
              f"({out['max_rel_diff']:.3g} relative to the outputs' scale, > {VERIFY_TOLERANCE:g})",
              file=sys.stderr)
        return 1
    if args.verify and out.get("label_mismatches"):
        print(f"relunet: error: the exported graph's label differs from relunet's predict on "
              f"{out['label_mismatches']} of {VERIFY_ROWS} rows", file=sys.stderr)
        return 1
    return 0
