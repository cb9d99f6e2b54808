"""The training hot path: work arrays, fused softmax+CE, fused BLAS SGD, inference path.

Every fast path is compared with a plain one that shares none of its tricks:
``loss_and_gradients`` then an explicit ``p -= lr * g`` (for the fused SGD step), the
clear ``forward``/``backward`` of the layers (for the work-array backward), and a
from-scratch NumPy backprop (for both).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import threadpoolctl

from relunet.core import activations, blas, kernels
from relunet.errors import ConfigError
from relunet.core.layers import ActivationLayer, Dense
from relunet.core.network import MLP
from relunet.training.optimizers import SGD, Adam

SIZES = [6, 9, 8, 4]
N = 40
LR = 0.05

HIDDEN = [
    "relu",
    "tanh",
    "prelu",
    ("prelu", {"num_parameters": "per_unit"}),
    "rrelu",
]
OUTPUTS = ["softmax", "sigmoid", "identity"]


def _name(spec):
    return spec[0] if isinstance(spec, tuple) else spec


def _skip_missing(spec):
    name = _name(spec)
    if name not in activations.names():
        pytest.skip(f"activation {name!r} not in the catalog yet")


def _data(output, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, SIZES[0])).astype(dtype)
    k = SIZES[-1]
    if output == "softmax":
        Y = np.eye(k, dtype=dtype)[rng.integers(0, k, N)]
    elif output == "sigmoid":
        Y = (rng.random((N, k)) < 0.5).astype(dtype)
    else:
        Y = rng.standard_normal((N, k)).astype(dtype)
    return X, Y


def _net(hidden, output, dtype, seed=3):
    return MLP(SIZES, activation=hidden, output=output, dtype=dtype, seed=seed)


def _plain_step(net, xb, yb, lr):
    value = net.loss_and_gradients(xb, yb)
    for p, g in zip(net.parameters(), net.gradients()):
        p -= lr * g
    return value


def _batches(n, batch):
    return [slice(s, s + batch) for s in range(0, n, batch)]


def _assert_params_close(a, b, dtype):
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert pa.dtype == pb.dtype == dtype
        if dtype == np.float64:
            np.testing.assert_allclose(pa, pb, rtol=1e-12, atol=1e-14)
        else:
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)


# -- the fused SGD step against loss_and_gradients + p -= lr * g ---------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 7, 32])
@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
@pytest.mark.parametrize("output", OUTPUTS)
def test_fused_sgd_step_equals_plain_step(dtype, batch, hidden, output):
    _skip_missing(hidden)
    X, Y = _data(output, dtype)
    fast, plain = _net(hidden, output, dtype), _net(hidden, output, dtype)
    opt = SGD(lr=LR)
    before = [p.copy() for p in fast.parameters()]
    # batch 7 and 32 over 40 samples: the last batch is smaller (5 and 8)
    for sl in _batches(N, batch)[:6]:
        v_fast = fast.train_step(X[sl], Y[sl], opt)
        v_plain = _plain_step(plain, X[sl], Y[sl], LR)
        assert v_fast == pytest.approx(v_plain, rel=1e-12 if dtype == np.float64 else 1e-5)
    _assert_params_close(fast, plain, dtype)
    # the steps did move every dense weight (the comparison is not vacuous)
    assert all(not np.array_equal(p, q) for p, q in zip(fast.parameters()[::2], before[::2]))


@pytest.mark.parametrize("hidden", ["relu", "rrelu", "prelu"])
def test_batch_size_changes_and_predictions_between_steps(hidden):
    """Work arrays sized for batch 32 reused by 13 and 1, and eval forwards in between."""
    _skip_missing(hidden)
    X, Y = _data("softmax", np.float64)
    fast, plain = _net(hidden, "softmax", np.float64), _net(hidden, "softmax", np.float64)
    opt = SGD(lr=LR)
    for sl in [slice(0, 32), slice(0, 13), slice(13, 14), slice(8, 40), slice(20, 27)]:
        v1 = fast.train_step(X[sl], Y[sl], opt)
        v2 = _plain_step(plain, X[sl], Y[sl], LR)
        assert v1 == pytest.approx(v2, rel=1e-12)
        p_fast, p_plain = fast.predict_output(X), plain.predict_output(X)
        np.testing.assert_allclose(p_fast, p_plain, rtol=1e-12)
        # and a training-mode forward (the clear path) too
        np.testing.assert_allclose(fast.forward(X[:3]), plain.forward(X[:3]), rtol=1e-12)
        assert fast.training and plain.training
    _assert_params_close(fast, plain, np.float64)


def test_optimizer_step_count_and_non_plain_sgd_is_not_fused():
    X, Y = _data("softmax", np.float64)
    net, ref = _net("relu", "softmax", np.float64), _net("relu", "softmax", np.float64)
    opt, ref_opt = SGD(lr=LR, momentum=0.9), SGD(lr=LR, momentum=0.9)
    for sl in _batches(N, 8):
        net.train_step(X[sl], Y[sl], opt)
        ref.loss_and_gradients(X[sl], Y[sl])
        ref_opt.step(ref.parameters(), ref.gradients())
    _assert_params_close(net, ref, np.float64)
    plain = SGD(lr=LR)
    for sl in _batches(N, 8):
        net.train_step(X[sl], Y[sl], plain)
    assert plain.n_steps == 5


# -- the work-array backward against the clear layers and a from-scratch backprop ------------


@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
@pytest.mark.parametrize("output", OUTPUTS)
def test_loss_and_gradients_equals_clear_forward_backward(hidden, output):
    _skip_missing(hidden)
    X, Y = _data(output, np.float64)
    net = _net(hidden, output, np.float64)
    ref = _net(hidden, output, np.float64)
    value = net.loss_and_gradients(X, Y)
    z = ref.logits(X)  # training mode: the clear, allocating layers
    ref.backward(ref.loss.delta_from_logits(z, Y))
    assert value == pytest.approx(ref.loss.value_from_logits(z, Y), rel=1e-12)
    for g, h in zip(net.gradients(), ref.gradients()):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-14)



def test_compiled_bias_fold_gradients_equal_the_clear_path_and_finite_differences():
    """Layers large enough for the compiled kernels (the bias in ReLU's passes): the work-array
    gradients equal the clear layers' (no fold) and central differences, and a fused SGD
    step equals loss_and_gradients + p -= lr g."""
    sizes, n = [64, 128, 96, 10], 48
    assert n * 96 >= kernels.COMPILED_MIN
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    net, ref = (MLP(sizes, activation="relu", dtype=np.float64, seed=1) for _ in range(2))
    value = net.loss_and_gradients(X, Y)
    z = ref.logits(X)
    ref.backward(ref.loss.delta_from_logits(z, Y))
    assert value == pytest.approx(ref.loss.value_from_logits(z, Y), rel=1e-12)
    for g, h in zip(net.gradients(), ref.gradients()):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-14)
    theta, grad = net.flat_parameters(), net.flat_gradients()
    b1, b2 = sizes[0] * sizes[1], sizes[0] * sizes[1] + sizes[1] + sizes[1] * sizes[2]
    for i in [*rng.choice(b1, 6, replace=False), *range(b1, b1 + 6), *range(b2, b2 + 6)]:
        step = np.zeros_like(theta)
        step[i] = 1e-6
        net.set_flat_parameters(theta + step)
        up = net.loss_value(X, Y)
        net.set_flat_parameters(theta - step)
        down = net.loss_value(X, Y)
        assert (up - down) / 2e-6 == pytest.approx(grad[i], rel=1e-5, abs=1e-9)
    net.set_flat_parameters(theta)
    for _ in range(3):
        assert net.train_step(X, Y, SGD(lr=LR)) == pytest.approx(_plain_step(ref, X, Y, LR), rel=1e-12)
    _assert_params_close(net, ref, np.float64)

def test_gradients_match_numpy_backprop_from_scratch():
    X, Y = _data("softmax", np.float64)
    net = _net("relu", "softmax", np.float64)
    Ws = [l.W.copy() for l in net.dense_layers]
    bs = [l.b.copy() for l in net.dense_layers]
    value = net.loss_and_gradients(X, Y)
    # forward
    acts, zs = [X], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        zs.append(acts[-1] @ W + b)
        if i < len(Ws) - 1:
            acts.append(np.maximum(zs[-1], 0))
    z = zs[-1]
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    assert value == pytest.approx(-(Y * logp).sum() / N, rel=1e-12)
    # backward
    delta = (np.exp(logp) - Y) / N
    for i in range(len(Ws) - 1, -1, -1):
        layer = net.dense_layers[i]
        np.testing.assert_allclose(layer.dW, acts[i].T @ delta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.db, delta.sum(axis=0), rtol=1e-12, atol=1e-15)
        delta = (delta @ Ws[i].T) * (zs[i - 1] > 0) if i else None


# -- float32 all the way ---------------------------------------------------------------------


@pytest.mark.parametrize("hidden", ["relu", "tanh", "prelu", "rrelu"])
@pytest.mark.parametrize("batch", [1, 7])
def test_float32_run_never_promotes_to_float64(hidden, batch):
    _skip_missing(hidden)
    X, Y = _data("softmax", np.float32)
    net = _net(hidden, "softmax", np.float32)
    opt = SGD(lr=np.float64(LR))  # a NumPy float64 learning rate must not promote either
    for sl in _batches(N, batch)[:3]:
        assert np.isfinite(net.train_step(X[sl], Y[sl], opt))
    net.loss_and_gradients(X[:batch], Y[:batch])
    held = list(net._storage.values())
    for layer in net.layers:
        for owner in filter(None, (layer, getattr(layer, "activation", None))):
            held += [v for v in vars(owner).values() if isinstance(v, np.ndarray)]
    held += net.parameters() + net.gradients()
    floats = [a for a in held if a.dtype != np.bool_]
    assert len(floats) > 10
    assert {a.dtype for a in floats} == {np.dtype(np.float32)}
    assert net.forward(X).dtype == np.float32
    assert net.predict_output(X).dtype == np.float32


# -- memory: work arrays are reused, inference holds no training arrays and copies nothing ---


@pytest.mark.parametrize("library", blas.available())
def test_training_steps_allocate_no_batch_sized_arrays(library):
    blas.use(library)
    try:
        _steps_allocate_nothing_batch_sized()
    finally:
        blas.use("openblas")


def _steps_allocate_nothing_batch_sized():
    rng = np.random.default_rng(0)
    net = MLP([50, 500, 300, 5], seed=0)
    X = rng.standard_normal((128, 50)).astype(np.float32)
    Y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 128)]
    opt = SGD(lr=0.01)
    for _ in range(2):  # warm-up: the work arrays (and, for the unfused pass, dW) are created here
        net.train_step(X[:64], Y[:64], opt)
        net.loss_and_gradients(X[:64], Y[:64])
    storage = {k: id(v) for k, v in net._storage.items()}
    tracemalloc.start()
    try:
        for s in (0, 64, 0, 64):
            net.train_step(X[s : s + 64], Y[s : s + 64], opt)
            net.loss_and_gradients(X[s : s + 64], Y[s : s + 64])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The old path allocated several 64 x 500 and 64 x 300 float32 arrays per step (the
    # smallest 76.8 kB); what is left is NumPy's bounded ufunc cast buffer (bool mask ->
    # float32, <= 32 KiB) and small objects (a ctypes pointer per array in MKL's calls;
    # measured peaks in the suite: 33-36 kB on OpenBLAS, 43-44 kB on MKL)
    smallest_layer_array = 64 * 300 * 4
    assert peak < 0.75 * smallest_layer_array, peak
    assert {k: id(v) for k, v in net._storage.items()} == storage  # same arrays reused


def test_plain_sgd_training_never_allocates_weight_gradients():
    """The fused SGD step updates W inside the backward GEMM: no dW array exists, so
    training holds the parameters once (plus the last good epoch's copy), not twice."""
    rng = np.random.default_rng(0)
    net = MLP([20, 30, 3], seed=0)
    X = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    net.fit(X, y, epochs=2, batch_size=16, optimizer="sgd", lr=0.05)
    assert all(layer._dW is None for layer in net.dense_layers)
    # an unfused optimizer needs dW: allocated on first use, in the weights' dtype and shape
    net.fit(X, y, epochs=1, batch_size=16, optimizer="sgd", lr=0.05, momentum=0.9)
    for layer in net.dense_layers:
        assert layer._dW is not None and layer.dW.shape == layer.W.shape and layer.dW.dtype == np.float32
        assert np.any(layer.dW != 0)
    # a layer pickled before dW became lazy has no _dW attribute: dW is still made on use
    old = net.dense_layers[0]
    del old.__dict__["_dW"]
    assert old.dW.shape == old.W.shape and not np.any(old.dW)


def test_inference_uses_no_work_arrays_no_caches_and_copies_nothing():
    rng = np.random.default_rng(0)
    net = MLP([784, 64, 10], seed=0).eval()
    X = rng.standard_normal((1000, 784)).astype(np.float32)
    net.forward(X[:100])  # warm: 100 x 64 takes the compiled kernels (Numba loaded), as 1000 x 64 will
    assert kernels.compiles(100 * 64) == (kernels.backend() == "numba")
    tracemalloc.start()
    try:
        out = net.forward(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # output + one hidden activation (1000 x 64) and the logits; nothing of X's size (3 MB)
    assert peak < 1000 * (64 + 2 * 10) * 4 + 4096, peak
    assert not getattr(net, "_storage", None)
    assert all(layer._x is None for layer in net.dense_layers)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    # results are new arrays, never overwritten by the next call
    again = net.forward(X[:5] * 0)
    assert not np.shares_memory(out, again)
    np.testing.assert_allclose(out[:5], net.forward(X[:5]), rtol=1e-5)


def test_inference_in_blocks_equals_one_block():
    X, Y = _data("softmax", np.float64)
    net = _net("rrelu" if "rrelu" in activations.names() else "relu", "softmax", np.float64).eval()
    whole, z_whole, loss_whole = net.forward(X), net.logits(X), net.loss_value(X, Y)
    net.infer_chunk = 7  # 40 rows: 6 blocks, the last of 5
    np.testing.assert_allclose(net.forward(X), whole, rtol=1e-12)
    np.testing.assert_allclose(net.logits(X), z_whole, rtol=1e-12)
    assert net.loss_value(X, Y) == pytest.approx(loss_whole, rel=1e-12)
    # and the eval forward agrees with the clear training-mode layers for a deterministic net
    relu = _net("relu", "softmax", np.float64)
    np.testing.assert_allclose(relu.eval().forward(X), relu.train().forward(X), rtol=1e-12)


def test_inplace_relu_only_over_a_dense_output():
    """An activation straight on the inputs must never overwrite the caller's X."""
    from relunet.core.network import Network

    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 2))
    layers = [ActivationLayer("relu"), Dense(W, np.zeros(2)), ActivationLayer("softmax")]
    net = Network(layers, "cross_entropy")
    X = rng.standard_normal((5, 3))
    X0 = X.copy()
    Y = np.eye(2)[[0, 1, 0, 1, 1]]
    net.train_step(X, Y, SGD(lr=0.1))
    net.eval().forward(X)
    np.testing.assert_array_equal(X, X0)


# -- bad input and divergence -----------------------------------------------------------------


def test_bad_shapes_raise_specific_errors():
    from relunet.errors import DataError, FeatureCountError

    X, Y = _data("softmax", np.float32)
    net = _net("relu", "softmax", np.float32)
    with pytest.raises(FeatureCountError, match="features"):
        net.train_step(X[:, :3], Y, SGD(lr=0.1))
    with pytest.raises(DataError, match="shape"):
        net.loss_and_gradients(X, Y[:, :2])
    with pytest.raises(DataError, match="2-D"):
        net.loss_and_gradients(X[0], Y[0])


def test_diverged_logits_give_a_non_finite_loss_without_warnings_or_update():
    X, Y = _data("softmax", np.float32)
    net = _net("relu", "softmax", np.float32)
    net.dense_layers[-1].W[...] = np.inf
    before = [p.copy() for p in net.parameters()]
    value = net.train_step(X[:8], Y[:8], SGD(lr=0.1))  # RuntimeWarnings are errors here
    assert not np.isfinite(value)
    for p, q in zip(net.parameters(), before):
        np.testing.assert_array_equal(p, q)



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inf_weights_against_an_opposite_inf_bias_give_nan_without_warnings(dtype):
    """``x W = +inf`` and ``b = -inf`` under a ReLU: NaN, quietly, as the BLAS product with
    beta = 1 gave it before the bias moved into the ReLU's pass (small layers: the NumPy
    reference runs)."""
    X, Y = _data("softmax", dtype)
    X = np.abs(X)  # x W = +inf in the first column
    net = _net("relu", "softmax", dtype)
    net.dense_layers[0].W[:, 0] = np.inf
    net.dense_layers[0].b[0] = -np.inf
    assert not np.isfinite(net.train_step(X[:8], Y[:8], SGD(lr=0.1)))  # RuntimeWarnings are errors here
    assert not np.isfinite(net.loss_and_gradients(X[:8], Y[:8]))
    assert np.isnan(net.logits(X[:8], training=False)).any()


@pytest.mark.parametrize("sizes", [SIZES, [64, 128, 96, 10]], ids=["numpy", "compiled"])
@pytest.mark.parametrize("case", ["sgd b", "sgd db", "adam W"])
def test_a_read_only_parameter_gives_a_value_error_not_a_numba_typing_error(sizes, case):
    """A read-only (memory-mapped) array that a step writes: NumPy's ValueError, whether the
    kernels' NumPy references run (small layers) or their compiled forms (Numba types a
    read-only array apart and refuses to compile a write to it)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, sizes[0])).astype(np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], 64)]
    net = MLP(sizes, activation="relu", dtype=np.float32, seed=0)
    name, attr = case.split()
    getattr(net.dense_layers[0], attr).setflags(write=False)
    optimizer = SGD(lr=0.1) if name == "sgd" else Adam(lr=0.01)
    with pytest.raises(ValueError, match="read-only"):
        net.train_step(X, Y, optimizer)

# -- the fused element-wise kernels (relunet.core.kernels) against their NumPy references ----
def _bits(a):
    """The bit patterns of ``a``, every NaN as one pattern (a NaN's sign and payload depend on
    the order of operands inside the CPU, and mean nothing); signed zeros stay distinct."""
    a = np.where(np.isnan(a), a.dtype.type(np.nan), a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def _specials(rng, n, dtype):
    """Random values with NaN, infinities, signed zeros, huge, tiny and subnormal values in front."""
    x = rng.standard_normal(n).astype(dtype)
    info = np.finfo(dtype)
    front = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, info.max, -info.max, info.tiny, -info.tiny, 1.0,
                      info.tiny / 2, -info.tiny / 1024, info.smallest_subnormal], dtype=dtype)
    x[: len(front)] = front[: n]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 500, kernels.COMPILED_MIN + 3, kernels.PARALLEL_MIN + 17])
@pytest.mark.parametrize("threads", [1, 2])
def test_relu_backward_kernel_is_bit_identical_to_numpy(dtype, n, threads, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_THREADS", 2)  # the parallel form on 2 cores too
    rng = np.random.default_rng(n)
    g, a = _specials(rng, n, dtype), _specials(rng, n, dtype)[::-1].copy()
    ref, fast = g.copy(), g.copy()
    with np.errstate(invalid="ignore"), kernels.threads(min(threads, kernels.default_threads())):
        kernels.relu_backward_numpy(ref, a)
        assert kernels.relu_backward(fast, a) is fast
    np.testing.assert_array_equal(_bits(fast), _bits(ref))


def _rows_with_specials(rng, n, k, dtype):
    """``(n, k)`` random values, the first ten (in row order) NaN, infinities, signed zeros,
    huge and tiny values; with more than 12 columns, a column of -0 only and one whose sum
    overflows."""
    x = _specials(rng, n * k, dtype).reshape(n, k)
    if k > 12:
        x[:, 11] = -0.0
        x[:, 12] = np.finfo(dtype).max / 2
    return x


#: (rows, columns): one row, a few columns, a column block and a bit (parallel kernel),
#: and sizes at and above the compiled and parallel thresholds
BIAS_SHAPES = [(1, 500), (7, 3), (128, 500), (kernels.COMPILED_MIN // 64 + 1, 64), (9, kernels.COMPILED_MIN + 5),
               (kernels.PARALLEL_MIN // 130 + 1, 130), (kernels.PARALLEL_MIN // 2 + 1, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BIAS_SHAPES, ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_bias_relu_kernel_is_bit_identical_to_numpy(dtype, shape, threads, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_THREADS", 2)  # the parallel form on 2 cores too
    rng = np.random.default_rng(shape[0] * shape[1])
    z = _rows_with_specials(rng, *shape, dtype)
    b = _specials(rng, shape[1], dtype)[::-1].copy()
    ref, fast = z.copy(), z.copy()
    with np.errstate(invalid="ignore", over="ignore"), kernels.threads(min(threads, kernels.default_threads())):
        kernels.bias_relu_numpy(ref, b)
        assert kernels.bias_relu(fast, b) is fast
        finite = np.isfinite(z + b)
    np.testing.assert_array_equal(_bits(fast), _bits(ref))
    assert (fast[finite] >= 0).all() and not np.signbit(fast[finite]).any()  # -0 became +0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BIAS_SHAPES, ids=str)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sgd", [False, True])
def test_relu_backward_bias_kernel_is_bit_identical_to_numpy(dtype, shape, threads, sgd, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_THREADS", 2)
    rng = np.random.default_rng(shape[0] + shape[1])
    g = _rows_with_specials(rng, *shape, dtype)
    a = np.maximum(_rows_with_specials(rng, *shape, dtype)[::-1], 0).copy()
    b = rng.standard_normal(shape[1]).astype(dtype) if sgd else None
    out = {}
    with np.errstate(invalid="ignore", over="ignore"), kernels.threads(min(threads, kernels.default_threads())):
        for name, fn in (("ref", kernels.relu_backward_bias_numpy), ("fast", kernels.relu_backward_bias)):
            gg, db, bb = g.copy(), np.full(shape[1], 7.0, dtype), None if b is None else b.copy()
            assert fn(gg, a, db, bb, -0.05) is gg
            out[name] = (gg, db, bb)
    for r, f in zip(out["ref"], out["fast"]):
        if r is not None:
            np.testing.assert_array_equal(_bits(f), _bits(r))
    gg, db, bb = out["fast"]
    with np.errstate(invalid="ignore", over="ignore"):
        want = (g.astype(np.float64) * (a > 0)).sum(axis=0)  # a product: NaN * 0 is NaN
    ok = np.isfinite(want) & (np.abs(want) < np.finfo(dtype).max / 4)
    np.testing.assert_allclose(db[ok], want[ok], rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3)


#: float32's largest value, and the smallest magnitude above it that the cast rounds to inf
F32_MAX, F32_INF_FROM = float(np.finfo(np.float32).max), 2.0**128 - 2.0**103


@pytest.mark.parametrize("neg_lr, finite", [
    (-1e300, False), (1e300, False), (float("nan"), False),  # a diverging step (the trace's lr = 1e300)
    (-F32_MAX, True), (-(F32_INF_FROM - 2.0**80), True),  # rounds down to float32's largest value
    (-F32_INF_FROM, False), (F32_INF_FROM, False),  # from half a unit in the last place on: inf
])
def test_a_step_beyond_float32_rounds_as_numpy_s_cast_without_warnings(neg_lr, finite):
    """A step size beyond float32's range becomes what NumPy's cast makes of it (the largest
    value, or inf from half a unit in the last place above it on), quietly, as the BLAS
    axpy did: the bias is then inf / NaN, and the training loop reports the divergence."""
    rng = np.random.default_rng(4)
    g = (rng.standard_normal((128, 64)) * (1e-3 if finite else 1.0)).astype(np.float32)
    a = np.abs(rng.standard_normal((128, 64))).astype(np.float32)
    results = []
    for fn in (kernels.relu_backward_bias_numpy, kernels.relu_backward_bias):
        b, db = np.ones(64, np.float32), np.empty(64, np.float32)
        fn(g.copy(), a, db, b, neg_lr)  # RuntimeWarnings are errors in this suite
        results.append(b)
    np.testing.assert_array_equal(_bits(results[1]), _bits(results[0]))
    assert np.isfinite(results[1]).any() == finite


def test_bias_kernels_take_the_reference_for_arrays_they_do_not_fit():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((100, 100)).astype(np.float32)[:, ::2]  # not contiguous
    a = np.abs(rng.standard_normal((100, 50))).astype(np.float32)
    ref, fast = g.copy(), g.copy()
    db_ref, db = np.empty(50, np.float32), np.empty(50, np.float32)
    kernels.relu_backward_bias_numpy(ref, a, db_ref)
    kernels.relu_backward_bias(fast, a, db)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(db, db_ref)
    one = rng.standard_normal((kernels.COMPILED_MIN + 1, 1)).astype(np.float32)  # one column: summed pairwise
    db1, want = np.empty(1, np.float32), np.add.reduce(one, axis=0)
    kernels.relu_backward_bias(one.copy(), np.ones_like(one), db1)
    np.testing.assert_array_equal(db1, want)
    z = rng.standard_normal((100, 60)).astype(np.float32)
    b64 = rng.standard_normal(60)  # another dtype than z
    ref = z.copy()
    kernels.bias_relu_numpy(ref, b64)
    np.testing.assert_array_equal(kernels.bias_relu(z, b64), ref)



def test_bias_relu_kernel_into_a_read_only_array_gives_numpys_value_error():
    z = np.ones((kernels.COMPILED_MIN // 64 + 1, 64), np.float32)
    z.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        kernels.bias_relu(z, np.ones(64, np.float32))

def _step_grid(cases):
    """The grid of an optimizer kernel's test: float32 and float64; sizes below, at and
    above the compiled and the parallel bounds; every case; 1 and 2 threads."""
    marks = [pytest.mark.parametrize("dtype", [np.float32, np.float64]),
             pytest.mark.parametrize("n", [3, 500, kernels.COMPILED_MIN + 1, kernels.PARALLEL_MIN + 5]),
             pytest.mark.parametrize("case", sorted(cases)),
             pytest.mark.parametrize("threads", [1, 2])]

    def apply(test):
        for mark in reversed(marks):
            test = mark(test)
        return test

    return apply


ADAM_CASES = {  # (decay, coupled, amsgrad)
    "adam": (0.0, False, False),
    "adamw": (1 - 1e-3 * 0.01, False, False),
    "adam-l2": (0.01, True, False),
    "amsgrad": (0.0, False, True),
    "amsgrad-l2": (0.1, True, True),
}


@_step_grid(ADAM_CASES)
def test_adam_kernel_is_bit_identical_to_numpy(dtype, n, case, threads, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_THREADS", 2)  # the parallel form on 2 cores too
    decay, coupled, ams = ADAM_CASES[case]
    rng = np.random.default_rng(7)
    p, g = _specials(rng, n, dtype), _specials(rng, n, dtype)[::-1].copy()
    m = (rng.standard_normal(n) * 0.1).astype(dtype)
    v = np.abs(rng.standard_normal(n) * 0.01).astype(dtype)
    v[:3] = [0.0, np.inf, np.nan][: min(3, n)]
    vmax = np.abs(rng.standard_normal(n) * 0.01).astype(dtype) if ams else None
    settings = dict(b1=0.9, b2=0.999, step_size=1e-3 / (1 - 0.9**3), bc2_sqrt=(1 - 0.999**3) ** 0.5,
                    eps=1e-8, decay=decay, coupled=coupled)
    _assert_step_matches_reference(kernels.adam_step_numpy, kernels.adam_step, g, [p, m, v, vmax], threads,
                                   **settings)


def _assert_step_matches_reference(reference, fused, g, state, threads, **settings):
    """``reference`` and ``fused`` (an optimizer step ``f(p, g, *state, w, w2, **settings)``)
    on copies of ``state`` (``[p, ...]``, None entries passed as None) leave the same bits
    in every array, and ``g`` as it was; returns the reference's arrays."""
    ref = [None if x is None else x.copy() for x in state]
    fast = [None if x is None else x.copy() for x in state]
    g_before = g.copy()
    with np.errstate(all="ignore"), kernels.threads(min(threads, kernels.default_threads())):
        reference(ref[0], g, *ref[1:], np.empty_like(g), np.empty_like(g), **settings)
        fused(fast[0], g, *fast[1:], np.empty_like(g), np.empty_like(g), **settings)
    for r, f in zip(ref, fast):
        if r is not None:
            np.testing.assert_array_equal(_bits(f), _bits(r))
    np.testing.assert_array_equal(_bits(g), _bits(g_before))  # the gradient is the network's
    return ref


SGD_CASES = {  # (momentum, dampening, nesterov, weight_decay, first)
    "momentum": (0.9, 0.0, False, 0.0, False),
    "momentum-first": (0.9, 0.0, False, 0.0, True),
    "nesterov": (0.9, 0.0, True, 0.0, False),
    "nesterov-l2": (0.9, 0.0, True, 1e-4, False),
    "dampening-l2-first": (0.5, 0.3, False, 0.01, True),
    "dampening": (0.5, 0.3, False, 0.0, False),
    "l2-only": (0.0, 0.0, False, 0.01, False),
}


@_step_grid(SGD_CASES)
def test_sgd_kernel_is_bit_identical_to_numpy(dtype, n, case, threads, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_THREADS", 2)  # the parallel form on 2 cores too
    mu, damp, nesterov, wd, first = SGD_CASES[case]
    rng = np.random.default_rng(11)
    p, g = _specials(rng, n, dtype), _specials(rng, n, dtype)[::-1].copy()
    buf = _specials(rng, n, dtype)[::-1].copy() * dtype(0.5) if mu else None
    settings = dict(lr=0.05, momentum=mu, dampening=damp, nesterov=nesterov, weight_decay=wd, first=first)
    ref = _assert_step_matches_reference(kernels.sgd_step_numpy, kernels.sgd_step, g, [p, buf], threads,
                                         **settings)
    assert not np.array_equal(_bits(ref[0]), _bits(p))  # the step moved the parameter


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_optimizer_kernels_round_numpy_float64_settings_as_python_floats(kind):
    """Settings given as NumPy float64 scalars (``opt.lr = np.float64(0.1)``) give the same
    bits in the fused kernel and in its reference: each rounded to the parameter's dtype
    (float32) first, not the float32 arrays' products taken in float64."""
    n = kernels.COMPILED_MIN + 1
    rng = np.random.default_rng(12)
    p, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    f64 = np.float64
    if kind == "sgd":
        settings = dict(lr=f64(0.1), momentum=f64(0.9), dampening=f64(0.1), nesterov=False,
                        weight_decay=f64(1e-3), first=False)
        ref = _assert_step_matches_reference(kernels.sgd_step_numpy, kernels.sgd_step, g, [p, g.copy()], 1,
                                             **settings)
    else:
        settings = dict(b1=f64(0.9), b2=f64(0.999), step_size=f64(0.1) / (1 - f64(0.9) ** 3),
                        bc2_sqrt=(1 - f64(0.999) ** 3) ** 0.5, eps=f64(1e-8), decay=f64(1e-3), coupled=True)
        ref = _assert_step_matches_reference(kernels.adam_step_numpy, kernels.adam_step, g,
                                             [p, g * 0.1, g * g, None], 1, **settings)
    assert all(a is None or a.dtype == np.float32 for a in ref)


def test_sgd_kernel_states_torchs_momentum_update():
    rng = np.random.default_rng(3)
    p, g = rng.standard_normal(kernels.COMPILED_MIN + 7), rng.standard_normal(kernels.COMPILED_MIN + 7)
    buf = rng.standard_normal(p.size)
    lr, mu, damp, wd = 0.1, 0.9, 0.25, 0.01
    d = g + wd * p
    b_want = mu * buf + (1 - damp) * d
    p_want = p - lr * (d + mu * b_want)
    kernels.sgd_step(p, g, buf, np.empty_like(p), np.empty_like(p), lr=lr, momentum=mu, dampening=damp,
                     nesterov=True, weight_decay=wd, first=False)
    np.testing.assert_allclose(buf, b_want, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(p, p_want, rtol=1e-14, atol=1e-14)


def test_sgd_kernel_into_a_read_only_buffer_gives_numpys_value_error():
    p = np.ones(kernels.COMPILED_MIN + 1, np.float32)
    buf = np.ones_like(p)
    buf.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        kernels.sgd_step(p, p.copy(), buf, np.empty_like(p), None, lr=0.1, momentum=0.9, dampening=0.0,
                         nesterov=False, weight_decay=0.0, first=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, kernels.COMPILED_MIN + 1])  # the reference, the compiled kernel
def test_optimizer_state_holds_no_subnormal_numbers(dtype, n):
    """A running average that decays into the subnormal range is flushed to a zero of its
    sign (x86 takes ~100 cycles per subnormal operand); normal values are untouched."""
    tiny = np.finfo(dtype).tiny
    start = np.resize(np.array([tiny / 2, -tiny / 2, tiny / 1e3, 1e-3, -1e-3, tiny * 1.2], dtype), n)
    g = np.zeros(n, dtype)  # a weight of a unit inactive on the whole batch
    m, v, buf = start.copy(), np.abs(start), start.copy()
    kernels.adam_step(np.ones(n, dtype), g, m, v, None, np.empty(n, dtype), None, b1=0.9, b2=0.999,
                      step_size=1e-3, bc2_sqrt=0.03, eps=1e-8, decay=0.0, coupled=False)
    kernels.sgd_step(np.ones(n, dtype), g, buf, np.empty(n, dtype), None, lr=0.1, momentum=0.9,
                     dampening=0.0, nesterov=False, weight_decay=0.0, first=False)
    wants = (start + (g - start) * dtype(1 - 0.9), np.abs(start) * dtype(0.999), start * dtype(0.9))  # unflushed
    for state, want in zip((m, v, buf), wants):
        want[np.abs(want) < tiny] *= 0
        np.testing.assert_array_equal(_bits(state), _bits(want))
        assert not ((state != 0) & (np.abs(state) < tiny)).any()
    assert np.signbit(m[1]) and m[1] == 0 and m[3] == wants[0][3] != 0


def test_kernels_take_the_reference_for_arrays_they_do_not_fit():
    g = np.arange(-3.0, 3.0, dtype=np.float32)[::2]  # not contiguous
    a = np.ones(3, dtype=np.float32)
    ref = np.array(g)
    kernels.relu_backward_numpy(ref, a)
    kernels.relu_backward(g, a)
    np.testing.assert_array_equal(g, ref)


def test_threads_setting_checks_and_restores():
    with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
        kernels.check_threads(0)
    for bad in (1.5, "2", True):
        with pytest.raises(ConfigError, match="threads"):
            kernels.check_threads(bad)
    assert kernels.check_threads(None) == kernels.default_threads() >= 1
    cores = kernels.default_threads()
    assert kernels.check_threads(cores) == cores
    with pytest.raises(ConfigError, match=f"threads must be at most {cores}, the cores this process may use, "
                                          f"got {cores + 1}"):
        kernels.check_threads(cores + 1)
    with pytest.raises(ConfigError, match="at most"):
        kernels.check_threads(np.int64(10**9))
    with pytest.raises(ConfigError, match="at most"), kernels.threads(cores + 1):
        pass
    before = threadpool_info_threads()
    with kernels.threads(1) as n:
        assert n == 1 and all(t == 1 for t in threadpool_info_threads())
    assert threadpool_info_threads() == before


def threadpool_info_threads():
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def test_kernel_backend_follows_the_environment(tmp_path):
    code = "from relunet.core import kernels; print(kernels.backend())"
    env = {**os.environ, "RELUNET_KERNELS": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "numpy", out.stderr
    env["RELUNET_KERNELS"] = "fortran"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "RELUNET_KERNELS must be 'auto', 'numba' or 'numpy'" in out.stderr


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw", ("adam", {"amsgrad": True, "weight_decay": 0.01}),
                                 ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3})])
def test_training_is_the_same_with_and_without_the_fused_kernels(opt, monkeypatch):
    name, hyper = opt if isinstance(opt, tuple) else (opt, {})
    sizes = [64, 80, 60, 10]  # weights and batch-64 masks above kernels.COMPILED_MIN elements
    assert 64 * 60 < kernels.COMPILED_MIN <= 60 * 80
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], 64)
    runs = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(kernels, "adam_step", kernels.adam_step_numpy)
            monkeypatch.setattr(kernels, "sgd_step", kernels.sgd_step_numpy)
            monkeypatch.setattr(kernels, "relu_backward", kernels.relu_backward_numpy)
            monkeypatch.setattr(kernels, "bias_relu", kernels.bias_relu_numpy)
            monkeypatch.setattr(kernels, "relu_backward_bias", kernels.relu_backward_bias_numpy)
        net = MLP(sizes, activation="relu", dtype=np.float32, seed=0)
        net.fit(X, y, epochs=3, batch_size=64, optimizer=name, lr=1e-2, **hyper)
        runs.append(net.parameters())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_kernel_threads_leave_pytorchs_openmp_threads_alone():
    # a fresh process: Numba's OpenMP layer starts there (it would set every core for all)
    code = ("import torch; torch.set_num_threads(1)\n"
            "from relunet.core import kernels\n"
            "with kernels.threads(min(2, kernels.default_threads())):\n"
            "    inside = torch.get_num_threads()\n"
            "print(inside, torch.get_num_threads())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


def test_warm_up_loads_the_kernels_and_names_the_backend():
    assert kernels.warm_up(np.float32) == kernels.backend() in ("numba", "numpy")
    assert kernels.warm_up(np.float64) == kernels.backend()


@pytest.mark.skipif(kernels.backend() != "numba" or "mkl" not in blas.available(),
                    reason="needs Numba and MKL")
def test_kernels_go_parallel_from_two_threads_only_on_mkl_s_thread_team():
    """On OpenBLAS a parallel kernel wakes a second spinning thread pool (a 2-core Adam fit
    ran at half speed), so it waits for 3 threads; MKL runs on the kernels' own GNU OpenMP
    team, and the parallel form pays from 2."""
    try:
        blas.use("mkl")
        assert kernels.parallel_min_threads() == kernels.PARALLEL_MIN_THREADS_SHARED_POOL == 2
        blas.use("openblas")
        assert kernels.parallel_min_threads() == kernels.PARALLEL_MIN_THREADS == 3
    finally:
        blas.use("openblas")


def _loss_logits(rng, shape, kind, dtype):
    """Logits of ``kind``: normal, huge (+-1e30 and the dtype's max in every row) or special
    (NaN, +-inf and signed zeros in some rows, the rest normal)."""
    z = (rng.standard_normal(shape) * 3).astype(dtype)
    n, k = shape
    big = np.finfo(dtype).max
    if kind == "huge":
        z[:, 0] = big
        z[::2, -1] = -big
        z[1::3, k // 2] = 1e30
        z[2::3, k // 2] = -1e30
    elif kind == "special":
        specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, big, -big]
        for r in range(0, n, 2):
            z[r, r % k] = specials[(r // 2) % len(specials)]
        if n > 3 and k > 1:
            z[3, :] = np.inf  # a row of +inf only: inf - inf is NaN throughout
            z[min(5, n - 1), :2] = [np.inf, -np.inf]
    return z


def _loss_targets(rng, shape, kind, dtype):
    """Targets of ``kind``: one-hot rows, soft rows (a distribution per row) or one-hot rows
    with every third row 0 throughout (a row that counts for nothing)."""
    n, k = shape
    if kind == "soft":
        Y = rng.random(shape)
        return (Y / Y.sum(axis=1, keepdims=True)).astype(dtype)
    Y = np.zeros(shape, dtype=dtype)
    Y[np.arange(n), rng.integers(0, k, n)] = 1
    if kind == "zero rows":
        Y[::3] = 0
    return Y


def _run_loss(fn, z, Y):
    out, col, tmp = np.empty_like(z), np.empty((len(z), 1), z.dtype), np.empty_like(z)
    with np.errstate(all="ignore"):
        value = fn(z, Y, out, col, tmp)
    return value, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 10), (1, 10), (7, 3), (64, 200), (300, 2), (5, 1), (2, 300),
                                   (2, 9000)], ids=str)
@pytest.mark.parametrize("logits", ["normal", "huge", "special"])
@pytest.mark.parametrize("targets", ["one-hot", "soft", "zero rows"])
def test_softmax_cross_entropy_kernel_is_bit_identical_to_numpy(dtype, shape, logits, targets, monkeypatch):
    monkeypatch.setattr(kernels, "LOSS_COMPILED_MIN", 1)  # the compiled form on small arrays too
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    z, Y = _loss_logits(rng, shape, logits, dtype), _loss_targets(rng, shape, targets, dtype)
    z_before, Y_before = z.copy(), Y.copy()
    ref_value, ref = _run_loss(kernels.softmax_cross_entropy_numpy, z, Y)
    if kernels.backend() == "numba":  # the compiled form runs, not the reference again
        monkeypatch.setattr(kernels, "softmax_cross_entropy_numpy", None)
    value, delta = _run_loss(kernels.softmax_cross_entropy, z, Y)
    np.testing.assert_array_equal(_bits(delta), _bits(ref))
    assert type(value) is float
    assert value == ref_value or (np.isnan(value) and np.isnan(ref_value))
    np.testing.assert_array_equal(_bits(z), _bits(z_before))
    np.testing.assert_array_equal(_bits(Y), _bits(Y_before))
    if logits == "normal":  # the reference itself is the loss: softmax - Y over N, and -sum Y log p / N
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(delta, (p - Y) / len(z), rtol=1e-4 if dtype == np.float32 else 1e-12,
                                   atol=1e-7 if dtype == np.float32 else 1e-15)
        loss = -np.sum(Y * np.log(np.maximum(p, np.finfo(dtype).tiny))) / len(z)
        assert value == pytest.approx(loss, rel=1e-4 if dtype == np.float32 else 1e-10)


def test_softmax_cross_entropy_kernel_writes_into_the_logits_and_takes_the_reference_otherwise(monkeypatch):
    monkeypatch.setattr(kernels, "LOSS_COMPILED_MIN", 1)
    rng = np.random.default_rng(4)
    z = _loss_logits(rng, (16, 5), "normal", np.float32)
    Y = _loss_targets(rng, (16, 5), "one-hot", np.float32)
    ref_value, ref = _run_loss(kernels.softmax_cross_entropy_numpy, z, Y)
    inplace = z.copy()  # out is z itself
    with np.errstate(all="ignore"):
        value = kernels.softmax_cross_entropy(inplace, Y, inplace, np.empty((16, 1), np.float32),
                                              np.empty_like(z))
    np.testing.assert_array_equal(inplace, ref)
    assert value == ref_value
    # arrays the kernel does not take: mixed dtypes, a strided view, a column of another shape
    cases = [(z, Y.astype(np.float64), np.empty_like(z), np.empty((16, 1), np.float32), np.empty_like(z)),
             (z, np.asfortranarray(Y), np.empty_like(z), np.empty((16, 1), np.float32), np.empty_like(z)),
             (z, Y, np.empty_like(z), np.empty((16, 2), np.float32)[:, :1], np.empty_like(z)),
             (z, Y, np.empty_like(z), np.empty((16, 1), np.float64), np.empty_like(z))]
    for args in cases:
        want = kernels.softmax_cross_entropy_numpy(*[a.copy() if i >= 2 else a for i, a in enumerate(args)])
        assert kernels.softmax_cross_entropy(*args) == want
        np.testing.assert_allclose(args[2], ref, rtol=1e-6, atol=1e-9)



@pytest.mark.parametrize("which", ["out", "col", "tmp"])
def test_softmax_cross_entropy_kernel_into_a_read_only_array_gives_numpys_value_error(which, monkeypatch):
    monkeypatch.setattr(kernels, "LOSS_COMPILED_MIN", 1)
    rng = np.random.default_rng(5)
    z = _loss_logits(rng, (16, 5), "normal", np.float32)
    Y = _loss_targets(rng, (16, 5), "one-hot", np.float32)
    arrays = {"out": np.empty_like(z), "col": np.empty((16, 1), np.float32), "tmp": np.empty_like(z)}
    arrays[which].setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        kernels.softmax_cross_entropy(z, Y, arrays["out"], arrays["col"], arrays["tmp"])
    z.setflags(write=False)  # read-only inputs are fine
    Y.setflags(write=False)
    want = _run_loss(kernels.softmax_cross_entropy_numpy, z, Y)[0]
    assert _run_loss(kernels.softmax_cross_entropy, z, Y)[0] == want

def test_softmax_cross_entropy_kernel_threshold_spares_small_networks():
    # a batch of 100 samples of 10 classes takes the compiled form; a 32-sample batch of 3
    # classes (a small network, a test) keeps to NumPy and never imports Numba
    assert 32 * 3 < kernels.LOSS_COMPILED_MIN <= 100 * 10 < kernels.COMPILED_MIN


def test_training_is_the_same_with_and_without_the_fused_loss(monkeypatch):
    assert 128 * 10 >= kernels.LOSS_COMPILED_MIN  # the batches take the compiled loss
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 20)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    runs = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(kernels, "softmax_cross_entropy", kernels.softmax_cross_entropy_numpy)
        net = MLP([20, 30, 10], activation="relu", dtype=np.float32, seed=0)
        history = net.fit(X, y, epochs=2, batch_size=128, optimizer="sgd", lr=0.1)
        runs.append((net.parameters(), history["loss"]))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]


def test_the_bias_moves_into_relu_only_for_arrays_that_take_the_compiled_kernels(monkeypatch):
    """A small layer keeps NumPy's separate passes (the bias added by the product, beta = 1);
    a layer of compiled-kernel size leaves its bias to the ReLU after it."""
    calls = []
    real = Dense.forward
    monkeypatch.setattr(Dense, "forward", lambda self, x, out=None, cache=True, bias=True:
                        calls.append((self.n_out, bias)) or real(self, x, out, cache, bias))
    rng = np.random.default_rng(0)
    for sizes, batch in (([6, 9, 4], 8), ([64, 80, 10], 64)):
        net = MLP(sizes, seed=0)
        X = rng.standard_normal((batch, sizes[0]))
        net.train_step(X, net.encode_targets(rng.integers(0, sizes[-1], batch), batch), SGD(lr=0.1))
    assert 64 * 80 >= kernels.COMPILED_MIN > 8 * 9
    assert kernels.compiles(64 * 80) == (kernels.backend() == "numba")
    assert calls == [(9, True), (4, True), (80, not kernels.compiles(64 * 80)), (10, True)]


def test_fused_optimizer_kernels_refuse_read_only_state_as_numpy_does():
    """A read-only moment or momentum buffer sends the step to its NumPy reference, which
    raises NumPy's ValueError (the compiled kernel cannot write it), leaving p as it was."""
    n = kernels.COMPILED_MIN + 1
    p, g = np.ones(n, np.float32), np.ones(n, np.float32)
    for which in range(2):
        m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
        (m, v)[which].setflags(write=False)
        with pytest.raises(ValueError, match="read-only"):
            kernels.adam_step(p, g, m, v, None, np.empty_like(p), None, b1=0.9, b2=0.999, step_size=1e-3,
                              bc2_sqrt=0.03, eps=1e-8, decay=0.0, coupled=False)
    assert (p == 1).all()
