"""Training and evaluation never copy the whole data set (gathered and evaluated in blocks)."""

import tracemalloc

import numpy as np
import pytest

import relunet
from relunet.training import evaluate


def _data(n=20_000, d=100, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, k, size=n)
    return X, y


def test_fit_does_not_copy_X_per_epoch():
    X, y = _data()
    net = relunet.MLP([100, 32, 5], seed=0)
    net.fit(X[:256], y[:256], epochs=1, batch_size=64)  # warm-up: work arrays exist
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=2, batch_size=64, lr=0.01, momentum=0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a shuffled copy of X per epoch would be X.nbytes (8 MB) on its own
    assert peak < 0.35 * X.nbytes, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.1f} MB"


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_evaluation_in_blocks_equals_one_pass(output):
    X, y = _data(n=3000, d=10, k=3 if output == "softmax" else 2)
    k = 3 if output == "softmax" else 1
    net = relunet.MLP([10, 16, k], output=output, dtype=np.float64, seed=1)
    net.fit(X, y, epochs=2, batch_size=100, lr=0.05)
    Y = net.encode_targets(y, fit=False)
    whole = evaluate(net, X.astype(np.float64), Y)
    net.infer_chunk = 7  # many uneven blocks
    blocks = evaluate(net, X.astype(np.float64), Y)
    assert blocks["loss"] == pytest.approx(whole["loss"], rel=1e-12)
    assert blocks["accuracy"] == pytest.approx(whole["accuracy"], abs=1e-12)
