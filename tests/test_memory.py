"""Training and evaluation never copy the whole data set (gathered and evaluated in blocks)."""

import tracemalloc

import numpy as np
import pytest

import relunet
from relunet.training.engine import evaluate


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


@pytest.mark.parametrize("output, k", [("softmax", 3), ("sigmoid", 1), ("identity", 2)])
def test_evaluation_through_the_work_arrays_equals_the_inference_path(output, k):
    X, y = _data(n=1000, d=10, k=3 if output == "softmax" else 2)
    net = relunet.MLP([10, 16, k], activation="rrelu", output=output, dtype=np.float64, seed=1)
    if output == "identity":
        Y = np.random.default_rng(2).standard_normal((1000, 2))
        net.fit(X.astype(np.float64), Y, epochs=2, batch_size=100, lr=0.01)
    else:
        net.fit(X, y, epochs=2, batch_size=100, lr=0.05)
        Y = net.encode_targets(y, fit=False)
    X = X.astype(np.float64)
    whole = evaluate(net, X, Y)
    for rows in (1000, 64, 7):  # one block, uneven blocks, a last block of 6 rows
        worked = evaluate(net, X, Y, work_rows=rows)
        assert worked.keys() == whole.keys()
        for key in whole:
            # RReLU in evaluation mode is deterministic (its mean slope) on both paths
            assert worked[key] == pytest.approx(whole[key], rel=1e-12, abs=1e-12), (rows, key)
    assert net.training is False  # evaluate leaves the mode as it found it


def test_fit_peak_memory_is_within_the_training_budget():
    """One epoch of fit holds: the encoded targets, the shuffle order, the gathered batch,
    the work arrays and one copy of the parameters (the last good epoch, for the divergence
    guard); plain SGD forms no dW. Evaluating the training set each epoch adds nothing."""
    X, y = _data(n=20_000, d=100, k=5)
    net = relunet.MLP([100, 300, 300, 5], seed=0)
    params = sum(p.nbytes for p in net.parameters())
    B = 64
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=2, batch_size=B, lr=0.01, momentum=0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    work = sum(a.nbytes for a in net._storage.values())
    budget = (len(y) * 5 * 4  # one-hot targets, float32
              + len(y) * np.dtype(np.intp).itemsize  # the epoch's order
              + B * (100 + 5) * 4  # the gathered batch
              + work + params)
    # an extra copy of the parameters (~0.5 MB), of dW, or 1024-row evaluation blocks
    # (~2.4 MB) would each break this; what is left is small per-batch arrays and the history
    assert peak < budget + 100_000, f"peak {peak} for a budget of {budget} (params {params})"


@pytest.mark.parametrize("validation_split", [0.0, 0.2])
def test_fitted_network_keeps_no_copy_of_the_data(validation_split):
    """The epoch's evaluation through the work arrays must not leave the first layer's
    input cache pointing into X: after fit on float64 data the network would keep fit's
    whole float32 copy (or the validation copy) alive, where it held one batch before."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 100))  # float64: fit converts it to a float32 copy (8 MB)
    y = rng.integers(0, 5, size=len(X))
    net = relunet.MLP([100, 32, 5], seed=0)
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=64, validation_split=validation_split)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 0.1 * (X.nbytes // 2), f"{held / 1e6:.1f} MB still held after fit"
