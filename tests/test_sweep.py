"""Parallel sweeps: grids, and the same numbers from every backend (sequential, joblib, Dask)."""

from __future__ import annotations

import os
import socket
import sys
import threading

import pytest

from relunet.core import blas
from relunet.insight import compare
from relunet.insight import sweep
from relunet.errors import ClusterError, ConfigError

#: four small, different trainings (two activations x two seeds) on digits
CONFIGS = sweep.grid({"activation": ["relu", "sigmoid"], "seed": [0, 1]},
                     data="digits", hidden=[8], epochs=2, batch_size=64, lr=0.2)


def _deterministic(results):
    """Everything except wall time, which legitimately differs between runs."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results]


def tag(config):
    """Which configuration, and which process computed it."""
    return config["i"], os.getpid()


@pytest.fixture(scope="module")
def sequential():
    return sweep.run_sweep(CONFIGS, compare.trial, jobs=1)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None, protocol="tcp") as c:
        yield c


def test_grid_is_the_cartesian_product_first_key_slowest():
    g = sweep.grid({"a": [1, 2], "b": ["x", "y", "z"]}, c=0)
    assert g == [{"c": 0, "a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")]
    union = sweep.grid([{"a": [1]}, {"b": [2, 3]}])
    assert union == [{"a": 1}, {"b": 2}, {"b": 3}]
    assert sweep.grid({"a": [1]}, a=5) == [{"a": 1}]  # the grid overrides fixed settings


@pytest.mark.parametrize("space, word", [({"lr": 0.1}, "list"), ({"act": "relu"}, "list"),
                                         ({"lr": []}, "empty"), ("lr", "dict")])
def test_grid_rejects_bad_spaces(space, word):
    with pytest.raises(ConfigError, match=word):
        sweep.grid(space)


def test_configs_give_different_results(sequential):
    # otherwise "identical across backends" would prove nothing
    keys = {(r["activation"], r["seed"], r["final_loss"]) for r in sequential}
    assert len(keys) == len(CONFIGS)
    assert [(r["activation"], r["seed"]) for r in sequential] == [(c["activation"], c["seed"]) for c in CONFIGS]


def test_joblib_matches_sequential(sequential):
    parallel = sweep.run_sweep(CONFIGS, compare.trial, jobs=2)
    assert _deterministic(parallel) == _deterministic(sequential)


def test_joblib_runs_in_worker_processes_and_keeps_order():
    out = sweep.run_sweep([{"i": i} for i in range(6)], tag, jobs=2)
    assert [i for i, _ in out] == list(range(6))
    assert all(pid != os.getpid() for _, pid in out)
    here = sweep.run_sweep([{"i": i} for i in range(3)], tag, jobs=1)
    assert here == [(i, os.getpid()) for i in range(3)]


def test_dask_address_matches_sequential(cluster, sequential):
    assert cluster.scheduler_address.startswith("tcp://")
    out = sweep.run_sweep(CONFIGS, compare.trial, scheduler=cluster.scheduler_address)
    assert _deterministic(out) == _deterministic(sequential)


def test_dask_client_matches_sequential_and_stays_open(cluster, sequential):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(cluster, set_as_default=False) as client:
        out = sweep.run_sweep(CONFIGS, compare.trial, scheduler=client)
        assert client.status == "running"  # a client we were given is not ours to close
    assert _deterministic(out) == _deterministic(sequential)


def test_compare_on_dask_matches_local(cluster):
    kw = dict(hidden=[8], epochs=2, batch_size=64)
    local = compare.compare_activations("digits", ["relu", "sigmoid"], 2, jobs=1, **kw)
    remote = compare.compare_activations("digits", ["relu", "sigmoid"], 2,
                                         scheduler=cluster.scheduler_address, **kw)
    assert _deterministic(remote.runs) == _deterministic(local.runs)
    for a, b in zip(local.rows, remote.rows):
        assert a["test_accuracy_mean"] == b["test_accuracy_mean"]
        assert a["final_loss_std"] == b["final_loss_std"]


def test_unreachable_scheduler_names_the_address():
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:1\b"):
        sweep.run_sweep(CONFIGS[:1], compare.trial, scheduler="tcp://127.0.0.1:1", timeout=1)


def test_missing_dask_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ClusterError, match="not installed"):
        sweep.run_sweep(CONFIGS[:1], compare.trial, scheduler="tcp://127.0.0.1:8786")


@pytest.mark.parametrize("kw", [{"jobs": 0}, {"jobs": -3}, {"jobs": 1.5}, {"scheduler": 8786}, {"scheduler": " "}])
def test_bad_backend_settings(kw):
    with pytest.raises(ConfigError):
        sweep.run_sweep(CONFIGS[:1], compare.trial, **kw)


def test_empty_sweep_and_bad_fn():
    assert sweep.run_sweep([], compare.trial) == []
    with pytest.raises(ConfigError, match="callable"):
        sweep.run_sweep(CONFIGS, "trial")


class _FakeServer:
    """A TCP server that accepts connections and either stays silent or sends ``reply``."""

    def __init__(self, reply: bytes | None):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def _run_bounded(fn, seconds):
    """``fn()`` in a daemon thread: (finished, exception); a hang fails instead of blocking."""
    out: dict = {}

    def target():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), out.get("exc")


@pytest.mark.parametrize("reply", [None, b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4 + b"\xff" * 64])
def test_dask_address_that_is_not_a_scheduler_fails_fast(reply):
    pytest.importorskip("distributed")
    server = _FakeServer(reply)
    try:
        done, exc = _run_bounded(lambda: sweep.run_sweep([1], abs, scheduler=server.address, timeout=1), 120)
        assert done, "run_sweep hung on a server that is not a Dask scheduler"
        assert isinstance(exc, ClusterError), repr(exc)
        assert server.address in str(exc)
    finally:
        server.close()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "2", True])
def test_dask_timeout_is_checked(timeout):
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="timeout"):
        sweep.run_sweep([1], abs, scheduler="tcp://127.0.0.1:9", timeout=timeout)


def test_dask_address_with_an_unknown_scheme_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="http"):
        sweep.run_sweep([1], abs, scheduler="http://127.0.0.1:8786", timeout=1)


def blas_in_worker(config):
    """The worker's BLAS library and the thread count its threadpoolctl limit gave it."""
    import threadpoolctl

    name = blas.backend().name
    counts = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["internal_api"] == name
              and (name == "mkl" or "scipy" in lib["filepath"])]
    return name, counts


@pytest.mark.skipif("mkl" not in blas.available(), reason="MKL is not installed")
def test_workers_run_the_library_this_process_chose_on_one_thread():
    """The suite's environment says OpenBLAS; blas.use("mkl") here reaches the workers too,
    so jobs=2 gives jobs=1's numbers, and MKL (loaded in the worker) is on one thread."""
    blas.use("mkl")
    try:
        here = sweep.run_sweep([{"i": 0}], blas_in_worker, jobs=1)
        workers = sweep.run_sweep([{"i": i} for i in range(2)], blas_in_worker, jobs=2)
    finally:
        blas.use("openblas")
    assert here == [("mkl", [1])]
    assert workers == [("mkl", [1])] * 2
