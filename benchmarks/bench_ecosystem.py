"""Model files, ONNX export and the scikit-learn estimators, measured.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_ecosystem.py [--rows 10000]``

Prints:

1. ONNX parity: for each activation of the catalog, a [64, 128, 128, 128, 10] network with
   that hidden activation, the max abs difference between onnxruntime and relunet on
   float32 inputs (the tests require < 1e-5), and the inference time of both (median of 5);
2. model files: size, save and load time of a [784, 500, 500, 500, 10] network, and that
   the loaded network predicts bit-identically;
3. relunet.sklearn.MLPClassifier next to sklearn.neural_network.MLPClassifier on digits,
   same settings (adam, lr 1e-3, batch 200, hidden (64,), 50 epochs, float64):
   fit time and test accuracy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np

import relunet
from relunet.core import activations
from relunet.interop import onnx as onnx_export


def _median_time(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_onnx(rows: int) -> None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    X = (np.random.default_rng(0).normal(size=(rows, 64)) * 2).astype(np.float32)
    print(f"ONNX parity and inference time ({rows} rows, [64, 128, 128, 128, 10], 1 ORT thread)")
    print(f"{'activation':<12} {'max|diff|':>10} {'relunet ms':>11} {'onnxrt ms':>10}")
    for name in activations.names():
        spec = ("prelu", {"num_parameters": "per_unit"}) if name == "prelu" else name
        net = relunet.MLP([64, 128, 128, 128, 10], activation=spec, output="softmax", seed=0)
        model = onnx_export.to_model(net)
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        ours = net.predict_output(X)
        theirs = sess.run(None, {"input": X})[0]
        t_ours = _median_time(lambda: net.predict_output(X))
        t_ort = _median_time(lambda: sess.run(None, {"input": X}))
        print(f"{name:<12} {np.max(np.abs(ours - theirs)):>10.2g} {t_ours * 1e3:>11.2f} {t_ort * 1e3:>10.2f}")


def bench_modelfile() -> None:
    net = relunet.MLP([784, 500, 500, 500, 10], activation="relu", seed=0)
    X = np.random.default_rng(1).random((100, 784), dtype=np.float32)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.relunet")
        t_save = _median_time(lambda: net.save(path))
        t_load = _median_time(lambda: relunet.load(path))
        same = np.array_equal(relunet.load(path).predict_output(X), net.predict_output(X))
        size = os.path.getsize(path)
    print(f"\nmodel file [784, 500, 500, 500, 10] ({net.n_parameters()} parameters, float32): "
          f"{size / 1e6:.2f} MB, save {t_save * 1e3:.1f} ms, load {t_load * 1e3:.1f} ms, "
          f"bit-identical predictions: {same}")


def bench_sklearn() -> None:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    from relunet.interop.sklearn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16, y, test_size=0.25, random_state=0, stratify=y)
    for solver in ("adam", "sgd", "lbfgs"):
        # the same settings for both, scikit-learn's defaults (alpha 1e-4; sgd: momentum 0.9, Nesterov)
        common = dict(hidden_layer_sizes=(64,), solver=solver, batch_size=200, max_iter=50,
                      n_iter_no_change=1000, random_state=0)
        print(f"\ndigits, hidden (64,), {solver}, batch 200, 50 epochs (iterations), float64")
        for label, est in [("relunet.sklearn", MLPClassifier(**common)), ("sklearn", SkMLP(**common))]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t = _median_time(lambda: est.fit(X_tr, y_tr), repeat=3)
            print(f"{label:<16} fit {t:.2f} s, test accuracy {est.score(X_te, y_te):.4f}, "
                  f"final loss {est.loss_:.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10000)
    args = p.parse_args()
    bench_onnx(args.rows)
    bench_modelfile()
    bench_sklearn()


if __name__ == "__main__":
    main()
