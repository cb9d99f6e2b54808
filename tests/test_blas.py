"""relunet.core.blas: the products on each library against NumPy, the choice of library
(RELUNET_BLAS, the calibration and its cache), and training on MKL.

The rest of the suite runs on OpenBLAS (tests/conftest.py); here each test names its library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl

from relunet import MLP
from relunet.core import blas, kernels
from relunet.errors import ConfigError

HAS_MKL = "mkl" in blas.available()
LIBRARIES = ["openblas", pytest.param("mkl", marks=pytest.mark.skipif(not HAS_MKL, reason="MKL is not installed"))]
needs_mkl = pytest.mark.skipif(not HAS_MKL, reason="MKL is not installed (pip install mkl)")
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def library(request):
    """Run the test's products on the library ``request.param`` (the suite's library again
    after it: ``conftest.py``)."""
    yield blas.use(request.param)


def _reference(alpha, a, b, beta, c, ta, tb):
    a64, b64, c64 = (np.asarray(x, np.float64) for x in (a, b, c))
    prod = (a64.T if ta else a64) @ (b64.T if tb else b64)
    return alpha * prod if beta == 0 else alpha * prod + beta * c64


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m,n,k", [(1, 7, 5), (1, 1, 3), (6, 1, 4), (17, 9, 1), (33, 20, 70)])
def test_gemm_matches_numpy_for_every_transpose_and_shape(library, dtype, ta, tb, m, n, k):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for alpha, beta in [(1.0, 0.0), (-0.25, 1.0), (2.0, 0.5)]:
        c = rng.standard_normal((m, n)).astype(dtype)
        want = _reference(alpha, a, b, beta, c, ta, tb)
        if beta == 0:
            c[...] = np.nan  # beta = 0: c's old contents are not read, NaN included
        out = blas.gemm(alpha, a, b, beta, c, trans_a=ta, trans_b=tb)
        assert out is c and c.dtype == dtype
        np.testing.assert_allclose(c, want, rtol=tol, atol=tol * 10)
    assert blas.backend().name == library.name


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
def test_single_row_product_equals_the_gemm_rows(library):
    """A 1-row product takes GEMV; its row equals the same row of a many-row GEMM."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 300)).astype(np.float32)
    for tb in (False, True):
        W = rng.standard_normal((200, 300) if tb else (300, 200)).astype(np.float32)
        many = blas.gemm(1.0, x, W, 0.0, np.empty((4, 200), np.float32), trans_b=tb)
        one = blas.gemm(1.0, x[2:3], W, 0.0, np.empty((1, 200), np.float32), trans_b=tb)
        np.testing.assert_allclose(one[0], many[2], rtol=1e-5, atol=1e-4)
        # a (k, 1) column transposed is the same single row
        col = np.ascontiguousarray(x[2:3].T)
        np.testing.assert_array_equal(blas.gemm(1.0, col, W, 0.0, np.empty((1, 200), np.float32),
                                                trans_a=True, trans_b=tb), one)


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10,), (50, 40), (100, blas.AXPY_MIN // 50)])
def test_axpy_adds_in_place(library, dtype, shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    want = y.astype(np.float64) - 0.3 * x
    small = y + dtype(-0.3) * x  # NumPy's two passes: what a vector under AXPY_MIN gets, bit for bit
    assert blas.axpy(-0.3, x, y) is y
    np.testing.assert_allclose(y, want, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)
    if y.size < blas.AXPY_MIN:
        np.testing.assert_array_equal(y, small)


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
def test_mismatched_shapes_are_refused_before_any_library_call(library):
    a, b = np.ones((3, 4), np.float32), np.ones((5, 6), np.float32)
    with pytest.raises(ValueError, match=r"does not give c"):
        blas.gemm(1.0, a, b, 0.0, np.empty((3, 6), np.float32))
    with pytest.raises(ValueError, match=r"does not give c"):
        blas.gemm(1.0, a, np.ones((4, 6), np.float32), 0.0, np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="2-d"):
        blas.gemm(1.0, np.ones(4, np.float32), np.ones((4, 6), np.float32), 0.0, np.empty((1, 6), np.float32))
    with pytest.raises(ValueError, match="axpy"):
        blas.axpy(1.0, np.ones(5, np.float32), np.ones(6, np.float32))


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
def test_fallback_arrays_get_the_same_arithmetic(library):
    """Non-contiguous, integer and empty-dimension arrays take NumPy, with BLAS's meaning."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 12)).astype(np.float32)[:, ::2]  # not contiguous
    b = rng.standard_normal((6, 5)).astype(np.float32)
    c = rng.standard_normal((8, 5)).astype(np.float32)
    want = _reference(0.5, a, b, 2.0, c, False, False)
    np.testing.assert_allclose(blas.gemm(0.5, a, b, 2.0, c), want, rtol=1e-5)
    # k = 0: the product is empty, c becomes beta * c
    c = np.full((3, 4), 2.0, np.float32)
    blas.gemm(1.0, np.empty((3, 0), np.float32), np.empty((0, 4), np.float32), 0.5, c)
    np.testing.assert_array_equal(c, np.ones((3, 4), np.float32))
    y = np.arange(6, dtype=np.int64)
    blas.axpy(2, np.ones(6, np.int64), y)
    np.testing.assert_array_equal(y, np.arange(6) + 2)


def test_use_refuses_unknown_names():
    before = blas.backend().name  # the suite's library (RELUNET_BLAS)
    for bad in ("cublas", "", None, 3):
        with pytest.raises(ConfigError, match="must be one of auto, openblas, mkl"):
            blas.use(bad)
    assert blas.backend().name == before


# -- choosing the library in a fresh process ----------------------------------------------------
RLIMIT_2GB = "import resource\nresource.setrlimit(resource.RLIMIT_DATA, (2**31, 2**31))\n"


def _backend_in_subprocess(env_extra: dict[str, str], code: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RELUNET_BLAS", "RELUNET_CACHE_DIR")}
    env.update(env_extra)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    script = code + "\nfrom relunet.core import blas\ninfo = blas.backend()\nprint(info.name)\nprint(info.reason)\n"
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)


def test_relunet_blas_names_the_library_or_is_refused(tmp_path):
    r = _backend_in_subprocess({"RELUNET_BLAS": "openblas", "RELUNET_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["openblas", "RELUNET_BLAS=openblas"]
    r = _backend_in_subprocess({"RELUNET_BLAS": "atlas"})
    assert r.returncode != 0
    assert "RELUNET_BLAS must be one of auto, openblas, mkl, got 'atlas'" in r.stderr
    assert not (tmp_path / "blas.json").exists()  # a named library is never calibrated


HIDE_MKL = """
import ctypes.util, importlib.metadata
_dist = importlib.metadata.distribution
def _no_mkl(name):
    if name == "mkl":
        raise importlib.metadata.PackageNotFoundError(name)
    return _dist(name)
importlib.metadata.distribution = _no_mkl
ctypes.util.find_library = lambda name: None
"""


def test_without_mkl_auto_is_openblas_and_mkl_is_refused(tmp_path):
    r = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path)}, HIDE_MKL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["openblas", "MKL is not installed"]
    assert not (tmp_path / "blas.json").exists()
    r = _backend_in_subprocess({"RELUNET_BLAS": "mkl"}, HIDE_MKL)
    assert r.returncode != 0
    assert "Intel MKL is not installed: pip install mkl" in r.stderr


def _cache_entries(folder: Path) -> dict:
    path = folder / "blas.json"
    return json.loads(path.read_text()) if path.exists() else {}


@needs_mkl
def test_auto_follows_the_cached_verdict_whichever_way_it_points(tmp_path):
    env = {"RELUNET_BLAS": "auto", "RELUNET_CACHE_DIR": str(tmp_path)}
    key = blas.cache_key()
    assert " threads | " in key and "mkl " in key and "numpy " in key
    for cached, want in ((2.0, "mkl"), (0.5, "openblas"), (blas.MIN_SPEEDUP, "mkl"), (1.01, "openblas")):
        (tmp_path / "blas.json").write_text(json.dumps({"another machine | 64 threads": 9.0, key: cached}))
        r = _backend_in_subprocess(env)
        assert r.returncode == 0, r.stderr
        name, reason = r.stdout.splitlines()
        assert name == want
        assert reason.startswith(f"cached calibration: MKL ran one training step's products at {cached:.2f}x ")


#: prepended to a child's code: its 1-minute load average reads ``{load}`` (the calibration
#: keeps its verdict only when the machine is not busy; the real load of a shared test
#: machine would pick the branch by chance)
LOAD_IS = "import os\nos.getloadavg = lambda: ({load}, {load}, {load})\n"


@needs_mkl
def test_auto_without_a_verdict_calibrates_and_caches_it_unless_busy(tmp_path):
    r = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path)}, LOAD_IS.format(load=0.0))
    assert r.returncode == 0, r.stderr
    name, reason = r.stdout.splitlines()
    assert reason.startswith("calibrated: ")
    speedup = float(reason.split(" products at ")[1].split("x ")[0])
    assert name == ("mkl" if speedup >= blas.MIN_SPEEDUP else "openblas")
    cache = _cache_entries(tmp_path)
    assert list(cache) == [blas.cache_key()] and f"{cache[blas.cache_key()]:.2f}" == f"{speedup:.2f}"
    again = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path)})
    assert again.stdout.splitlines()[0] == name
    assert again.stdout.splitlines()[1].startswith("cached calibration: ")
    # a busy machine (load at least the cores + 1): the verdict is used once, not kept
    busy = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path / "busy")}, LOAD_IS.format(load=999.0))
    assert busy.returncode == 0, busy.stderr
    name, reason = busy.stdout.splitlines()
    assert reason.startswith("calibrated on a busy machine (load 999.0; not cached): ")
    assert _cache_entries(tmp_path / "busy") == {}


@needs_mkl
@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "KEY_AS_TEXT", "KEY_AS_NAN",
                                     "x" * (blas.CACHE_MAX_BYTES + 1)])
def test_a_bad_cache_file_is_not_believed(tmp_path, content):
    key = blas.cache_key()
    content = {"KEY_AS_TEXT": json.dumps({key: "fast"}), "KEY_AS_NAN": '{"%s": NaN}' % key}.get(content, content)
    (tmp_path / "blas.json").write_text(content)
    r = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path)}, LOAD_IS.format(load=0.0))
    assert r.returncode == 0, r.stderr
    reason = r.stdout.splitlines()[1]
    assert reason.startswith("calibrated: ")
    cache = _cache_entries(tmp_path)  # replaced whole by a good file, no temporary left
    assert isinstance(cache.get(key), float) and cache[key] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".blas.lock", "blas.json"]


def _hostile_cache(path: Path, kind: str, key: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)  # its size is 0, and reading it waits for a writer
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")  # size 0, endless
    elif kind == "folder":
        path.mkdir()
    elif kind == "nested":
        path.write_text("[" * 30000 + "]" * 30000)  # small, and past the parser's recursion limit
    elif kind == "huge_int":
        path.write_text('{"%s": %s}' % (key, "9" * 400))  # valid JSON, too large for a float


@needs_mkl
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "folder", "nested", "huge_int"])
def test_a_cache_name_that_is_no_small_json_file_is_passed_over(tmp_path, kind):
    """Neither waits, nor reads without end, nor fails: the choice is calibrated instead."""
    _hostile_cache(tmp_path / "blas.json", kind, blas.cache_key())
    r = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(tmp_path)}, RLIMIT_2GB)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("calibrated")


RACE = """
import os, sys, time
ready, go = sys.argv[1], sys.argv[2]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
"""


@needs_mkl
def test_two_processes_starting_together_calibrate_once(tmp_path):
    """The second waits for the first's verdict (the cache's lock) instead of timing beside
    it, and finds it cached. The machine reads as quiet, so the first verdict is kept; the
    lock is waited on as long as the first takes (a loaded machine calibrates slowly)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RELUNET_BLAS", "RELUNET_CACHE_DIR")}
    env.update(RELUNET_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""))
    script = (RACE + LOAD_IS.format(load=0.0) + "from relunet.core import blas\nblas.CACHE_LOCK_WAIT = 600.0\n"
              "print(blas.backend().reason)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"ready{i}"), str(tmp_path / "go")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    reasons = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        reasons.append(out.strip())
    assert sorted(r.split(":")[0] for r in reasons) == ["cached calibration", "calibrated"], reasons


@needs_mkl
@pytest.mark.parametrize("measured", [blas.MIN_SPEEDUP - 0.004, blas.MIN_SPEEDUP + 0.004, 0.996])
def test_the_speedup_shown_and_the_choice_agree_at_the_threshold(tmp_path, monkeypatch, measured):
    """1.046x was shown as '1.05x' (the threshold) while OpenBLAS was chosen."""
    monkeypatch.setenv("RELUNET_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(blas, "calibrate", lambda threads=None: measured)
    try:
        info = blas.use("auto")
    finally:
        blas.use("openblas")
    shown = float(info.reason.split(" products at ")[1].split("x ")[0])
    assert info.speedup == shown
    assert info.name == ("mkl" if shown >= blas.MIN_SPEEDUP else "openblas")


@needs_mkl
def test_an_unwritable_cache_folder_still_gives_a_choice(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    r = _backend_in_subprocess({"RELUNET_CACHE_DIR": str(blocker / "sub")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] in ("mkl", "openblas")
    assert r.stdout.splitlines()[1].startswith("calibrated")
    assert blocker.read_text() == "a file where the cache folder would be"


# -- MKL inside training -------------------------------------------------------------------------
@needs_mkl
def test_threads_setting_governs_mkl():
    blas.use("mkl")
    try:
        def mkl_threads():
            return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["internal_api"] == "mkl"]

        before = mkl_threads()
        assert before
        with kernels.threads(1):
            assert mkl_threads() == [1]
        assert mkl_threads() == before
    finally:
        blas.use("openblas")


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@needs_mkl
def test_training_on_mkl_learns_repeats_and_agrees_with_openblas():
    X, y = _digits()
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]

    def run(library):
        blas.use(library)
        net = MLP([64, 64, 64, 10], activation="relu", output="softmax", seed=3)
        history = net.fit(Xtr, ytr, epochs=15, batch_size=32, optimizer="adam", lr=0.003)
        return net, history

    try:
        net, history = run("mkl")
        twin, twin_history = run("mkl")
        ref, ref_history = run("openblas")
    finally:
        blas.use("openblas")
    assert history.info["blas"].startswith("mkl ") and ref_history.info["blas"].startswith("openblas ")
    accuracy = float(np.mean(net.predict(Xte) == yte))
    assert accuracy >= 0.95
    for p, q in zip(net.parameters(), twin.parameters()):  # a seeded run repeats bit for bit on one library
        np.testing.assert_array_equal(p, q)
    # the libraries sum in other orders: the same training to float32 rounding, not bit for bit
    np.testing.assert_allclose(history["loss"][:3], ref_history["loss"][:3], rtol=1e-4)
    assert abs(float(np.mean(ref.predict(Xte) == yte)) - float(np.mean(net.predict(Xte) == yte))) <= 0.02


LOAD_ORDER = """
import sys
import numpy as np
first, after = sys.argv[1], sys.argv[2]
if first == "torch":
    import torch
elif first == "numba":
    from relunet.core import kernels
    kernels.warm_up()  # Numba's OpenMP layer started
from relunet.core import blas
blas.use("mkl")
if after == "torch":
    import torch
    torch.ones(1000, 1000) @ torch.ones(1000, 1000)  # PyTorch's own threads at work too
rng = np.random.default_rng(0)
worst = 0.0
for _ in range(3):
    for m, k, n in [(128, 784, 500), (512, 500, 500), (1, 784, 500), (300, 40, 20)]:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                c = blas.gemm(1.0, a, b, 0.0, np.empty((m, n), np.float32), trans_a=ta, trans_b=tb)
                want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                worst = max(worst, float(np.abs(c - want).max() / np.abs(want).max()))
print(worst)
"""


@needs_mkl
@pytest.mark.parametrize("first,after", [("none", "none"), ("torch", "none"), ("numba", "none"), ("none", "torch")])
def test_mkl_products_stay_right_whatever_else_the_process_loaded(first, after):
    """PyTorch and Numba bring GNU OpenMP; MKL on Intel OpenMP beside it gave products off by
    up to 100% (not every run). Each load order, in a fresh process: every product within
    float32 rounding."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", LOAD_ORDER, first, after], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.strip()) < 1e-5


@needs_mkl
@pytest.mark.skipif(kernels.default_threads() < 2, reason="needs 2 cores")
def test_mkl_products_are_the_same_bits_on_one_and_two_threads():
    """MKL runs its GEMMs in the strict reproducible mode, so a sweep's 1-thread workers
    repeat a sequential run bit for bit. (Not a property of OpenBLAS: its large products
    differ in the last bits between 1 and 2 threads here; nor of MKL's GEMV.)"""
    blas.use("mkl")
    try:
        rng = np.random.default_rng(4)
        for m, k, n in [(128, 784, 500), (512, 500, 500), (64, 64, 32), (77, 300, 45)]:
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            out = []
            for t in (1, 2):
                with kernels.threads(t):
                    out.append(blas.gemm(1.0, a, b, 0.0, np.empty((m, n), np.float32)))
                    out.append(blas.gemm(1.0, a, np.ascontiguousarray(b.T), 0.0, np.empty((m, n), np.float32),
                                         trans_b=True))
                    out.append(blas.gemm(1.0, np.ascontiguousarray(a.T), b, 0.0, np.empty((m, n), np.float32),
                                         trans_a=True))
            for one, two in zip(out[:3], out[3:]):
                np.testing.assert_array_equal(one, two)
    finally:
        blas.use("openblas")


@needs_mkl
@pytest.mark.parametrize("tb", [False, True])
def test_mkl_small_single_row_products_run_on_openblas_with_the_same_bits_at_any_thread_count(tb):
    """With MKL chosen, a 1-row product of a matrix below MKL_GEMV_MIN elements (a 500 x 10
    output layer at batch 1) is OpenBLAS's, bit for bit, on 1 and on 2 threads."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 500)).astype(np.float32)
    W = rng.standard_normal((10, 500) if tb else (500, 10)).astype(np.float32)
    assert W.size < blas.MKL_GEMV_MIN
    c0 = rng.standard_normal((1, 10)).astype(np.float32)
    want = blas.gemm(0.5, x, W, 1.0, c0.copy(), trans_b=tb)  # the suite's library: OpenBLAS
    blas.use("mkl")
    try:
        for t in sorted({1, min(2, kernels.default_threads())}):
            with kernels.threads(t):
                got = blas.gemm(0.5, x, W, 1.0, c0.copy(), trans_b=tb)
            np.testing.assert_array_equal(got, want)
    finally:
        blas.use("openblas")


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
def test_read_only_and_offset_operands_are_read_from_the_right_address(library):
    """The products take each array's address through the buffer protocol, or through
    ``x.ctypes`` for a read-only one: a row in the middle of a larger array and a read-only
    weight matrix give the product of those very values."""
    rng = np.random.default_rng(9)
    big = rng.standard_normal((6, 300)).astype(np.float32)
    W = rng.standard_normal((300, 200)).astype(np.float32)
    W.setflags(write=False)
    c = np.zeros((3, 200), np.float32)
    blas.gemm(1.0, big[2:5], W, 0.0, c)
    np.testing.assert_allclose(c, big[2:5].astype(np.float64) @ W, rtol=1e-4, atol=1e-4)
    out = np.zeros((4, 200), np.float32)
    blas.gemm(1.0, big[4:5], W, 0.0, out[3:4])  # a single row, into the last row of a larger array
    np.testing.assert_allclose(out[3], big[4].astype(np.float64) @ W, rtol=1e-4, atol=1e-4)
    assert not out[:3].any()
    y = np.ones(5000, np.float32)
    blas.axpy(2.0, np.full(5000, 0.5, np.float32), y[:])
    assert (y == 2.0).all()


# -- arrays BLAS must not be handed (a raw pointer skips NumPy's checks) ------------------------
@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("m", [1, 4])  # 1: the GEMV path
def test_a_read_only_output_is_refused_and_left_unwritten(library, m):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((m, 5)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    c = np.zeros((m, 3), np.float32)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="gemm: the output c is read-only"):
        blas.gemm(1.0, a, b, 0.0, c)
    assert not c.any()
    immutable = np.frombuffer(bytes(4 * m * 3), np.float32).reshape(m, 3)  # a bytes object's memory
    with pytest.raises(ValueError, match="read-only"):
        blas.gemm(1.0, a, b, 0.0, immutable)
    assert not immutable.any()
    y = np.zeros(6, np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError, match="axpy: the output y is read-only"):
        blas.axpy(1.0, np.ones(6, np.float32), y)
    assert not y.any()


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("m", [1, 60])
def test_an_output_that_overlaps_an_input_gets_the_right_product(library, m):
    """BLAS reads a and b while it writes c: an aliased c takes the NumPy path."""
    rng = np.random.default_rng(6)
    A = rng.standard_normal((m, 60)).astype(np.float32)
    B = rng.standard_normal((60, 60)).astype(np.float32)
    want = A.astype(np.float64) @ B
    a = A.copy()
    np.testing.assert_allclose(blas.gemm(1.0, a, B, 0.0, a), want, rtol=1e-4, atol=1e-4)  # c is a
    b = B.copy()
    if m == 60:
        np.testing.assert_allclose(blas.gemm(1.0, A, b, 0.0, b), want, rtol=1e-4, atol=1e-4)  # c is b
    buf = np.arange(2 * blas.AXPY_MIN + 1, dtype=np.float32)  # long enough for the library
    want_y = buf[:-1] + 2.0 * buf[1:]
    np.testing.assert_array_equal(blas.axpy(2.0, buf[1:], buf[:-1]), want_y)  # y overlaps x, shifted


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
def test_non_finite_or_odd_coefficients_and_unaligned_arrays_give_numpy_s_answer(library):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    for alpha, beta in [(np.nan, 0.0), (np.nan, 1.0), (np.float32(np.nan), 0.5), (1.0, np.nan), (np.inf, 0.0)]:
        c = np.ones((6, 4), np.float32)
        want = alpha * (a.astype(np.float64) @ b) + (beta if beta != 0 else 0.0)
        with np.errstate(invalid="ignore"):
            got = blas.gemm(alpha, a, b, beta, c)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # MKL took a NaN alpha for 1
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    with pytest.raises(TypeError):  # OpenBLAS kept the real part of a complex alpha, silently
        blas.gemm(1j, a, b, 0.0, np.ones((6, 4), np.float32))
    raw = np.zeros(6 * 4 * 4 + 1, np.uint8)
    c = raw[1:].view(np.float32).reshape(6, 4)  # contiguous, not aligned
    assert not c.flags.aligned
    np.testing.assert_allclose(blas.gemm(1.0, a, b, 0.0, c), a @ b, rtol=1e-5, atol=1e-5)


def test_step_products_are_one_training_step_of_the_calibration_network():
    """The 11 products of a 784-500-500-500-10 step (4 forward, 4 updates into W, 3 dx),
    each one gemm accepts, at the batch asked for."""
    ops = blas.step_products(8)
    assert len(ops) == 2 * 4 + 3
    forward = [c.shape for alpha, a, b, beta, c, ta, tb in ops if not ta and not tb]
    assert forward == [(8, 500), (8, 500), (8, 500), (8, 10)]
    for alpha, a, b, beta, c, ta, tb in ops:
        assert a.dtype == b.dtype == c.dtype == np.float32
        blas.gemm(alpha, a, b, beta, c, ta, tb)  # the shapes chain (else ValueError)
    again = blas.step_products(8)
    np.testing.assert_array_equal(ops[0][1], again[0][1])  # the same arrays: seed 0 by default
