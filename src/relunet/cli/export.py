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


def verify(net, model, n: int = 256, seed: int = 0) -> float:
    """Max abs difference between onnxruntime and relunet on random float32 inputs (inputs
    the model's data contract takes: pixel rows raw and scaled, some values missing)."""
    return differences(net, model, n, seed)[0]


def differences(net, model, n: int = 256, seed: int = 0) -> tuple[float, float]:
    """``(max |g - r|, max |g - r| / s)`` between onnxruntime's outputs ``g`` and relunet's
    ``r`` on the inputs of :func:`verify`; ``s = max(1, max_i |r_ij|)`` for output unit ``j``:
    float32 rounding grows with the outputs' size, so the relative one is what is checked."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("--verify needs onnxruntime: pip install 'relunet[onnx]'") from None
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, net.n_features)) * 2).astype(np.float32)
    contract = getattr(net, "contract", None)
    if contract is not None and contract.pixels is not None:  # half the rows raw, half scaled
        X = rng.uniform(0, 1, size=X.shape).astype(np.float32)
        X[::2] = np.round(X[::2] * contract.pixels)
    if contract is not None and contract.fill is not None:
        X[rng.random(X.shape) < 0.1] = np.nan
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {model.graph.input[0].name: X})[0]
    expected = net.predict_output(X)
    diff = np.abs(got - expected)
    scale = np.maximum(1.0, np.max(np.abs(expected), axis=0))
    return float(np.max(diff)), float(np.max(diff / scale))


def run(args: argparse.Namespace) -> int:
    from relunet.cli import common

    common.check_outputs(args, "--onnx", inputs=("--model",))  # --onnx model.relunet would destroy the model
    net = load_model(args.model)
    model = onnx_export.export(net, args.onnx, opset=args.opset)
    out = {"model": args.model, "onnx": args.onnx, "opset": args.opset,
           "nodes": len(model.graph.node), "inputs": net.n_features, "outputs": net.n_outputs}
    if args.verify:
        out["max_abs_diff"], out["max_rel_diff"] = differences(net, model)
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        line = f"wrote {args.onnx} (opset {args.opset}, {out['nodes']} nodes, {out['inputs']} -> {out['outputs']})"
        if args.verify:
            line += (f"; onnxruntime vs relunet max abs diff {out['max_abs_diff']:.3g}, "
                     f"relative to the outputs' scale {out['max_rel_diff']:.3g}")
        print(line)
    if args.verify and not out["max_rel_diff"] < VERIFY_TOLERANCE:
        print(f"relunet: error: exported graph differs from relunet by {out['max_abs_diff']:.3g} "
              f"({out['max_rel_diff']:.3g} relative to the outputs' scale, > {VERIFY_TOLERANCE:g})",
              file=sys.stderr)
        return 1
    return 0
