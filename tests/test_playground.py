"""The playground (``relunet.playground``): the settings and what they build, the
reproducing command and snippet, a session's training and views, the bounded session
store, the HTTP server's API and its safety checks, a load test of 20 sessions over
loopback, and the page itself driven in headless Chromium (skipped without it)."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shlex
import shutil
import socket
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

import relunet
from relunet.cli import main
from relunet.errors import ConfigError
from relunet.playground import session as session_mod
from relunet.playground import settings as S
from relunet.playground.server import MAX_BODY, STATIC_FILES, PlaygroundServer
from relunet.playground.session import Session, SessionStore

ROOT = Path(__file__).resolve().parents[1]


# -- settings -----------------------------------------------------------------------------------
def test_defaults_parse_and_round_trip():
    s = S.parse({})
    assert s == S.Settings()
    assert S.parse(s.to_dict()) == s
    assert S.parse({"hidden": [4], "activation": "ReLU"}).activation == "relu"


@pytest.mark.parametrize("raw, needle", [
    ({"learning_rate": 0.1}, "unknown setting 'learning_rate'"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"lr": float("nan")}, "lr must be from"),
    ({"lr": 1e9}, "lr must be from 1e-06 to 100"),
    ({"lr": True}, "lr must be a number"),
    ({"seed": -1}, "seed must be from 0"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"hidden": "8,8"}, "hidden must be a list"),
    ({"hidden": [8] * 7}, "hidden may have 0 to 6 layers"),
    ({"hidden": [0]}, "units must be from 1 to 32"),
    ({"hidden": [2.5]}, "units must be an integer"),
    ({"hidden": [10**9]}, "units must be from 1 to 32"),
    ({"dataset": "mnist"}, "dataset must be one of xor, circles"),
    ({"activation": "relux"}, "activation must be one of celu"),
    ({"output": "nope"}, "output must be one of"),
    ({"loss": "hinge"}, "loss must be one of auto, binary_cross_entropy"),
    ({"optimizer": "cg"}, "optimizer must be one of adagrad"),
    ({"batch_mode": "stochastic"}, "batch_mode must be one of online"),
    ({"activation": "leaky_relu", "activation_params": {"slope": 0.1}}, "takes negative_slope; not 'slope'"),
    ({"activation": "relu", "activation_params": {"alpha": 1}}, "takes no parameters"),
    ({"activation": "elu", "activation_params": {"alpha": "big"}}, "alpha must be a number from -1e+06 to 1e+06"),
    ({"activation": "leaky_relu", "activation_params": {"negative_slope": 1e9}},
     "negative_slope must be from -1e+06 to 1e+06, got 1000000000"),
    ({"activation": "prelu", "activation_params": {"init": float("inf")}}, "init must be from"),
    ({"activation": "celu", "activation_params": {"alpha": 0}}, "alpha"),
    ({"activation": "gelu", "activation_params": {"approximate": "<script>"}}, "must be a word"),
    ({"dropout": 0.95}, "dropout must be from 0 to 0.9"),
    ({"noise": -0.1}, "noise must be from 0 to 2"),
])
def test_bad_settings_name_the_field(raw, needle):
    with pytest.raises(ConfigError, match=None) as info:
        S.parse(raw)
    assert needle in str(info.value)


def test_bad_settings_type():
    with pytest.raises(ConfigError, match="settings must be a JSON object"):
        S.parse([1, 2])


def test_activation_params_keep_only_what_differs_from_the_default():
    s = S.parse({"activation": "leaky_relu", "activation_params": {"negative_slope": 0.01}})
    assert s.activation_params == {}
    s = S.parse({"activation": "rrelu", "activation_params": {"lower": 0.05, "upper": 0.2}})
    assert s.activation_params == {"lower": 0.05, "upper": 0.2}
    # a new activation drops the old one's parameters unless new ones are given
    assert S.parse({"activation": "elu"}, s).activation_params == {}


def test_catalog_lists_every_activation_with_its_parameters():
    cat = S.catalog()
    names = [a["name"] for a in cat["activations"]]
    assert names == relunet.activations.names()
    leaky = next(a for a in cat["activations"] if a["name"] == "leaky_relu")
    assert leaky["params"] == [{"name": "negative_slope", "default": 0.01, "kind": "number"}]
    rrelu = next(a for a in cat["activations"] if a["name"] == "rrelu")
    assert [p["name"] for p in rrelu["params"]] == ["lower", "upper"]  # not its generator
    assert [d["name"] for d in cat["datasets"]] == list(S.DATASETS)
    assert "cg" not in cat["optimizers"] and "cg" in cat["batch_modes"]
    json.dumps(cat, allow_nan=False)


# -- the command and the snippet reproduce the run exactly --------------------------------------
REPRODUCE = [
    {"dataset": "spirals", "hidden": [8, 8], "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 16},
    {"dataset": "moons", "hidden": [6], "activation": "leaky_relu", "activation_params": {"negative_slope": 0.2},
     "dropout": 0.2, "l2": 0.01, "batch_mode": "online", "optimizer": "rmsprop", "lr": 0.001, "momentum": 0.5},
    {"dataset": "xor", "hidden": [4], "output": "relu", "loss": "mse", "batch_mode": "full", "optimizer": "adam"},
    {"dataset": "circles", "hidden": [5, 3], "activation": "rrelu", "activation_params": {"lower": 0.1, "upper": 0.2},
     "batch_mode": "cg", "noise": 0.05, "test_size": 0.3, "seed": 3},
    {"dataset": "sine", "hidden": [8], "activation": "tanh", "batch_mode": "lbfgs"},
    {"dataset": "gaussians", "hidden": [], "batch_mode": "minibatch", "optimizer": "adagrad", "lr": 0.5, "seed": 7},
]


def _params(net):
    return [p.copy() for p in net.parameters()]


@pytest.mark.parametrize("raw", REPRODUCE, ids=[r["dataset"] for r in REPRODUCE])
def test_command_and_snippet_reproduce_the_session_bit_for_bit(raw, tmp_path, capsys):
    session = Session(S.parse(raw), budget=600.0)
    epochs = 4
    assert session.train(epochs) == epochs
    want = _params(session.net)
    session.close()
    # the command line, as the shell would split it
    argv = shlex.split(session.state()["code"]["command"])
    assert argv[:2] == ["relunet", "train"] and argv[argv.index("--epochs") + 1] == str(epochs)
    model = tmp_path / "m.relunet"
    rc = main([*argv[1:], "-q", "--save", str(model)])
    _, err = capsys.readouterr()
    assert rc == 0, err
    for a, b in zip(want, _params(relunet.load(model))):
        np.testing.assert_array_equal(a, b)
    # the Python snippet, run as it is
    scope: dict = {}
    exec(session.state()["code"]["python"], scope)
    capsys.readouterr()
    for a, b in zip(want, _params(scope["net"])):
        np.testing.assert_array_equal(a, b)


# -- a session ------------------------------------------------------------------------------------
def test_session_trains_through_the_engine_and_reports_its_views():
    s = Session(S.parse({"dataset": "spirals", "hidden": [8, 8]}), budget=600.0)
    st0 = s.state(0, layout=True)
    assert st0["epoch"] == 0 and st0["history"]["records"] == [] and st0["last"] is None
    lay = st0["layout"]
    assert lay["sizes"] == [2, 8, 8, 1] and lay["activations"] == ["relu", "relu", "sigmoid"]
    assert lay["can_die"] == [True, True, False] and len(lay["train"]["x"]) == 200
    assert s.train(3) == 3 and s.epoch == 3
    st = s.state(1)
    assert st["history"]["since"] == 1 and len(st["history"]["records"]) == 2
    assert set(st["last"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    v = st["views"]
    assert v["kind"] == "map" and v["n"] == session_mod.GRID
    assert len(v["units"]) == 2 and len(v["units"][0]) == 8
    assert len(__import__("base64").b64decode(v["output"])) == session_mod.GRID ** 2
    assert len(__import__("base64").b64decode(v["units"][1][3]["map"])) == session_mod.UNIT_GRID ** 2
    assert len(v["dead"]) == 3 and v["dead"][2] is None  # sigmoid cannot die
    assert len(v["grad_norms"]) == 3 and all(g > 0 for g in v["grad_norms"])
    assert [np.shape(w["W"]) for w in v["weights"]] == [(2, 8), (8, 8), (8, 1)]
    assert len(v["pred"]["train"]) == 200 and set(v["pred"]["test"]) <= {0, 1}
    json.dumps(st, allow_nan=False)
    with pytest.raises(ConfigError, match="since must be an integer >= 0"):
        s.state(-1)


@pytest.mark.parametrize("epochs", [0, 101, 2.0, True, "5", None])
def test_train_refuses_a_bad_number_of_epochs(epochs):
    s = Session(S.parse({"dataset": "xor", "hidden": [2]}), budget=600.0)
    with pytest.raises(ConfigError, match="epochs must be an integer from 1 to 100"):
        s.train(epochs)


def test_train_stops_at_the_time_budget_and_the_epoch_limit():
    s = Session(S.parse({"dataset": "xor", "hidden": [2]}), max_epochs=7, budget=0.0)
    assert s.train(5) == 1  # a budget of 0: one epoch per call
    s.budget = 10.0
    assert s.train(100) == 6 and s.status == "limit" and "limit of 7 epochs" in s.message
    assert s.train(1) == 0
    s.reset()
    assert s.epoch == 0 and s.status == "ready"


def test_regression_session_draws_curves():
    s = Session(S.parse({"dataset": "sine", "hidden": [4], "activation": "tanh"}), budget=600.0)
    s.train(2)
    v = s.state()["views"]
    assert v["kind"] == "curve" and len(v["x"]) == session_mod.CURVE_POINTS == len(v["output"])
    assert len(v["units"][0]) == 4 and "accuracy" not in s.state()["last"]


@pytest.mark.parametrize("raw, name", [
    ({"dataset": "spirals", "hidden": [8]}, "accuracy"),
    ({"dataset": "sine", "hidden": [8]}, "R^2"),
    ({"dataset": "xor", "hidden": [4], "output": "identity", "loss": "mse"}, "R^2"),  # classes learnt by regression
])
def test_the_state_has_the_test_score_the_snippet_prints(raw, name):
    s = Session(S.parse(raw), budget=600.0)
    assert s.state()["score"]["name"] == name  # at epoch 0 too: the untrained network's score
    s.train(3)
    score = s.state()["score"]
    assert score == {"name": name, "value": s.net.score(s.data.X_test, s.data.y_test)}
    if name == "accuracy":
        assert score["value"] == s.state()["last"]["val_accuracy"]


def test_hierarchical_softmax_session_has_no_training_accuracy_but_its_test_score():
    s = Session(S.parse({"dataset": "spirals", "hidden": [8], "output": "hierarchical_softmax",
                         "loss": "hierarchical_nll"}), budget=600.0)
    assert s.train(2) == 2
    st = s.state()
    assert set(st["last"]) == {"loss", "val_loss", "val_accuracy"}
    assert st["views"]["kind"] == "map"
    json.dumps(st, allow_nan=False)


def test_the_doctor_warns_live_and_blocks_training_on_an_error():
    s = Session(S.parse({"dataset": "xor", "hidden": [4], "output": "relu", "loss": "mse"}), budget=600.0)
    rules = {f["rule"] for f in s.layout()["findings"]}
    assert {"relu-output-classifier", "classification-target-as-regression"} <= rules
    assert s.status == "ready"
    blocked = Session(S.parse({"dataset": "xor", "hidden": [4], "activation": "step"}), budget=600.0)
    assert blocked.status == "blocked" and "doctor found an error" in blocked.message
    assert blocked.train(5) == 0
    with pytest.raises(ConfigError, match="doctor found an error"):
        blocked.trace()


def test_divergence_stops_the_run_with_the_engines_message():
    s = Session(S.parse({"dataset": "sine", "hidden": [16, 16], "activation": "relu", "optimizer": "sgd",
                         "lr": 100.0, "momentum": 0.99, "batch_mode": "online"}), budget=600.0)
    s.train(20)
    assert s.status == "diverged" and "learning rate" in s.message
    assert all(np.isfinite(p).all() for p in s.net.parameters())  # back at the last good epoch
    json.dumps(s.state(), allow_nan=False)


def test_a_too_large_learning_rate_kills_relu_units_and_the_views_mark_them():
    s = Session(S.parse({"dataset": "spirals", "hidden": [8], "optimizer": "sgd", "lr": 3.0, "momentum": 0.0,
                         "batch_size": 10}), budget=600.0)
    s.train(3)
    dead = s.state()["views"]["dead"][0]
    assert dead and all(0 <= j < 8 for j in dead)


def test_settings_that_fail_to_build_leave_the_session_as_it_was(monkeypatch):
    s = Session(S.parse({"dataset": "xor", "hidden": [3]}), budget=600.0)
    s.train(2)
    before = s.state()

    def fail(*args, **kwargs):
        raise ConfigError("no")

    monkeypatch.setattr(S, "build_network", fail)
    with pytest.raises(ConfigError):
        s.configure(S.parse({"dataset": "moons"}))
    assert s.state() == before


def test_trace_is_one_real_sgd_step_on_a_copy():
    s = Session(S.parse({"dataset": "moons", "hidden": [3], "optimizer": "sgd", "lr": 0.5, "momentum": 0.0}),
                budget=600.0)
    s.train(2)
    params = _params(s.net)
    t = s.trace("test", 5)
    for a, b in zip(params, _params(s.net)):
        np.testing.assert_array_equal(a, b)  # the session's network is untouched
    step = t["step"]
    assert t["lr"] == 0.5 and t["x"] == pytest.approx(s.data.X_test[5].tolist())
    first = step["layers"][0]
    np.testing.assert_allclose(first["update_W"], -0.5 * np.asarray(first["grad_W"]), rtol=1e-4, atol=1e-7)
    # delta of the hidden layer = (delta_out W_out^T) * f'(z)
    out = step["layers"][1]
    W_out = np.asarray(out["W_before"])
    np.testing.assert_allclose(first["delta"], (np.asarray(out["delta"]) @ W_out.T) * np.asarray(first["derivative"]),
                               rtol=1e-5, atol=1e-8)
    json.dumps(t, allow_nan=False)
    for part, index, needle in (("val", 0, "part must be"), ("train", 10**6, "index must be"),
                                ("train", -1, "index must be"), ("train", "3", "index must be")):
        with pytest.raises(ConfigError, match=needle):
            s.trace(part, index)


def test_cg_runs_one_paced_minimization_and_its_thread_ends_on_close():
    s = Session(S.parse({"dataset": "moons", "hidden": [4], "batch_mode": "cg"}), budget=600.0)
    assert s.train(3) == 3 and s.epoch == 3
    thread = s.trainer.thread
    assert thread.is_alive()  # waiting for the next tick
    s.train(2)
    s.close()
    thread.join(60)
    assert not thread.is_alive()
    s.reset()
    assert s.epoch == 0 and s.trainer is None


def test_cg_that_converges_reports_finished():
    s = Session(S.parse({"dataset": "xor", "hidden": [4], "batch_mode": "cg"}), budget=600.0)
    for _ in range(20):
        s.train(100)
    assert s.status in ("finished", "limit")
    assert s.trainer is None or not s.trainer.thread.is_alive()


# -- the store -------------------------------------------------------------------------------------
def test_store_evicts_the_least_recently_used_past_its_size_and_idle_sessions():
    now = [0.0]
    store = SessionStore(max_sessions=2, idle=60.0, clock=lambda: now[0])
    s = S.parse({"dataset": "xor", "hidden": [2]})
    a, b = store.create(s), store.create(s)
    now[0] = 1.0
    assert store.get(a.id) is a  # a is now the most recently used
    c = store.create(s)
    assert store.get(b.id) is None and len(store) == 2
    now[0] = 100.0
    assert store.get(a.id) is None and store.get(c.id) is None and len(store) == 0
    d = store.create(s)
    assert store.remove(d.id) and not store.remove(d.id)
    with pytest.raises(ConfigError):
        SessionStore(max_sessions=0)


def test_store_closes_an_evicted_cg_session_thread():
    store = SessionStore(max_sessions=1)
    cg = store.create(S.parse({"dataset": "moons", "hidden": [3], "batch_mode": "cg"}))
    cg.train(2)
    thread = cg.trainer.thread
    store.create(S.parse({"dataset": "xor", "hidden": [2]}))
    thread.join(60)
    assert not thread.is_alive()


# -- the server ---------------------------------------------------------------------------------------
@pytest.fixture
def server():
    srv = PlaygroundServer(0, store=SessionStore(max_sessions=40, budget=600.0))  # epochs counted, not timed
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.close()
    thread.join(60)


def request(srv, method, path, body=None, headers=None, host=None, raw=None):
    """``(status, headers, parsed JSON or bytes)`` of one request to the server."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    h = {"Host": host or f"127.0.0.1:{srv.port}"}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    if data is not None and "Content-Length" not in h and "Transfer-Encoding" not in h:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    ctype = res.getheader("Content-Type") or ""
    return res.status, res, (json.loads(payload) if ctype.startswith("application/json") and payload else payload)


def test_server_serves_the_page_and_its_files(server):
    status, res, body = request(server, "GET", "/")
    assert status == 200 and b"relunet playground" in body and b"/static/app.js" in body
    assert "default-src 'self'" in res.getheader("Content-Security-Policy")
    assert res.getheader("X-Frame-Options") == "DENY"
    for name in STATIC_FILES:
        status, res, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and len(body) > 100
    assert b"https://" not in request(server, "GET", "/")[2]  # nothing from a CDN
    status, _, body = request(server, "GET", "/static/../settings.py")
    assert status == 404 and "not found" in body["error"]
    status, _, body = request(server, "GET", "/api/catalog")
    assert status == 200 and body["defaults"] == S.Settings().to_dict()


@pytest.mark.parametrize("headers, host, needle", [
    ({}, "evil.example:{port}", "Host header must be"),
    ({}, "127.0.0.1:1", "Host header must be"),
    ({}, "", "Host header must be"),
    ({"Origin": "http://evil.example"}, None, "requests from 'http://evil.example'"),
    ({"Origin": "http://127.0.0.1.evil.example:{port}"}, None, "are not served"),
    ({"Origin": "null"}, None, "are not served"),
    ({"Origin": "https://127.0.0.1:{port}"}, None, "are not served"),
    ({"Sec-Fetch-Site": "cross-site"}, None, "a cross-site request"),
])
def test_server_refuses_other_hosts_and_origins(server, headers, host, needle):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends
    Host: evil.example:PORT; a cross-origin fetch sends its Origin."""
    port = server.port
    headers = {k: v.format(port=port) for k, v in headers.items()}
    for method, path, body in (("GET", "/api/catalog", None), ("POST", "/api/sessions", {})):
        status, _, answer = request(server, method, path, body, headers=headers,
                                    host=None if host is None else host.format(port=port) or " ")
        assert status == 403 and needle in answer["error"], answer
    assert len(server.store) == 0


def test_server_accepts_localhost_and_its_own_origin(server):
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"LOCALHOST:{server.port}"):
        origin = f"http://{host.lower()}"
        status, _, _ = request(server, "GET", "/api/health", host=host, headers={"Origin": origin})
        assert status == 200


@pytest.mark.parametrize("kwargs, status, needle", [
    ({"raw": b"{}", "headers": {"Content-Length": str(MAX_BODY + 1), "Content-Type": "application/json"}},
     413, f"at most {MAX_BODY} bytes"),
    ({"raw": b"x" * (MAX_BODY + 10), "headers": {"Content-Type": "application/json"}}, 413, "at most"),
    ({"raw": b"", "headers": {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}}, 411, "chunked"),
    ({"raw": b'{"a": 1}', "headers": {"Content-Type": "text/plain"}}, 415, "application/json"),
    ({"raw": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not JSON"),
    ({"raw": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}, 400, "not JSON"),
    ({"raw": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400, "a JSON object"),
    ({"raw": b"{}", "headers": {"Content-Length": "ten", "Content-Type": "application/json"}}, 400,
     "bad Content-Length"),
    ({"raw": b"{}", "headers": {"Content-Length": "-5", "Content-Type": "application/json"}}, 400,
     "bad Content-Length '-5'"),
    ({"body": {"settings": {}, "extra": 1}}, 400, "unknown field 'extra'"),
    ({"body": {"settings": {"lr": "fast"}}}, 400, "lr must be a number"),
    ({"body": {"settings": {"hidden": [64]}}}, 400, "units must be from 1 to 32"),
    ({"body": {"settings": "spirals"}}, 400, "settings must be a JSON object"),
])
def test_server_answers_bad_requests_with_a_json_error(server, kwargs, status, needle):
    code, res, body = request(server, "POST", "/api/sessions", **kwargs)
    assert code == status and needle in body["error"], body
    assert "Traceback" not in json.dumps(body)


def test_server_needs_a_content_length_for_post(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/api/sessions", skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{server.port}")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 411 and "Content-Length is required" in json.loads(res.read())["error"]
    conn.close()


def test_server_session_lifecycle(server):
    status, _, st = request(server, "POST", "/api/sessions", {"settings": {"dataset": "xor", "hidden": [3]}})
    assert status == 201 and st["epoch"] == 0 and "layout" in st
    sid = st["id"]
    status, _, st = request(server, "POST", f"/api/sessions/{sid}/train", {"epochs": 5, "since": 0})
    assert status == 200 and st["epoch"] == 5 and len(st["history"]["records"]) == 5
    status, _, st = request(server, "GET", f"/api/sessions/{sid}?since=4")
    assert status == 200 and st["history"]["since"] == 4 and len(st["history"]["records"]) == 1
    assert "layout" not in st and "layout" in request(server, "GET", f"/api/sessions/{sid}?layout=1")[2]
    status, _, t = request(server, "POST", f"/api/sessions/{sid}/trace", {"part": "train", "index": 2})
    assert status == 200 and t["index"] == 2 and t["step"]["layers"]
    status, _, st = request(server, "POST", f"/api/sessions/{sid}/settings", {"settings": {"hidden": [2, 2]}})
    assert status == 200 and st["epoch"] == 0 and st["layout"]["sizes"] == [2, 2, 2, 1]
    assert st["settings"]["dataset"] == "xor"  # the other settings are kept
    status, _, st = request(server, "POST", f"/api/sessions/{sid}/train", {"epochs": 2})
    status, _, st = request(server, "POST", f"/api/sessions/{sid}/reset", {})
    assert status == 200 and st["epoch"] == 0
    for method, path, body, code, needle in (
        ("POST", f"/api/sessions/{sid}/train", {"epochs": 0}, 400, "epochs must be an integer"),
        ("POST", f"/api/sessions/{sid}/train", {"epochs": 1, "since": -3}, 400, "since must be"),
        ("POST", f"/api/sessions/{sid}/train", {"steps": 1}, 400, "unknown field 'steps'"),
        ("POST", f"/api/sessions/{sid}/trace", {"index": 99}, 400, "index must be an integer from 0 to 3"),
        ("POST", f"/api/sessions/{sid}/settings", {"settings": {"lr": -1}}, 400, "lr must be from"),
        ("GET", f"/api/sessions/{sid}?since=abc", None, 400, "since must be an integer"),
        ("GET", f"/api/sessions/{sid}/train", None, 405, "takes POST"),
        ("POST", f"/api/sessions/{sid}", {}, 405, "takes GET or DELETE"),
        ("POST", "/api/sessions/nope/train", {"epochs": 1}, 404, "no such session"),
        ("GET", "/api/nothing", None, 404, "not found"),
        ("DELETE", "/api/catalog", None, 404, "nothing to delete"),
    ):
        status, _, answer = request(server, method, path, body)
        assert status == code and needle in answer["error"], (path, answer)
    status, _, answer = request(server, "DELETE", f"/api/sessions/{sid}")
    assert status == 200 and answer == {"closed": True}
    status, _, answer = request(server, "GET", f"/api/sessions/{sid}")
    assert status == 404 and "no such session" in answer["error"]


def test_server_errors_of_the_protocol_are_json_too(server):
    status, _, body = request(server, "PUT", "/api/sessions", {})
    assert status == 405 and "method not allowed" in body["error"]
    for line, status_line in ((b"BREW /pot HTTP/1.1", b"HTTP/1.1 501"), (b"NOT A REQUEST", b"")):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(line + b"\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(status_line)
        assert "error" in json.loads(reply.split(b"\r\n\r\n")[-1]), reply


def test_server_hides_its_own_failures_behind_one_line(server, monkeypatch, capsys):
    def broken(self, *args, **kwargs):
        raise ValueError("something inside")

    monkeypatch.setattr(Session, "state", broken)
    status, _, body = request(server, "POST", "/api/sessions", {"settings": {"dataset": "xor", "hidden": [2]}})
    assert status == 500 and body == {"error": "internal error (ValueError); see the server's log"}
    assert "something inside" in capsys.readouterr().err  # the traceback is the server's


def _once_the_slot_is_free(call, hang_guard=60.0):
    """``call()``, repeated while the server closes the connection unanswered: a closed
    connection's slot comes back when its handler thread ends, which a loaded machine
    may take a while to schedule."""
    deadline = time.monotonic() + hang_guard
    while True:
        try:
            return call()
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_server_bounds_its_connections():
    srv = PlaygroundServer(0, max_connections=1)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)  # holds the one slot
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as second:
            second.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
            assert second.recv(100) == b""  # closed at once, unanswered
        idle.close()
        assert _once_the_slot_is_free(lambda: request(srv, "GET", "/api/health"))[0] == 200
    finally:
        srv.shutdown()
        srv.close()


def test_server_refuses_a_bad_port_and_a_taken_one():
    with pytest.raises(ConfigError, match="port must be an integer"):
        PlaygroundServer(70000)
    srv = PlaygroundServer(0)
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{srv.port}"):
            PlaygroundServer(srv.port)
    finally:
        srv.close()


def test_the_page_files_are_package_data():
    """An installed (non-editable) wheel carries static/: pyproject's package-data covers every file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["relunet.playground"]
    static = Path(session_mod.__file__).parent / "static"
    files = sorted(p.name for p in static.iterdir())
    assert files == sorted(STATIC_FILES)
    assert all(any(Path("static", f).match(p) for p in patterns) for f in files)


# -- load: 20 pages at once --------------------------------------------------------------------------
def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="RSS is read from /proc")
def test_load_twenty_sessions_train_at_once_over_loopback(server):
    """20 clients, each with its own session (2-8-8-1 on spirals), request epochs at the
    same time; every answer is 200, the sessions stay apart, memory stays bounded. The
    one-minute version is benchmarks/bench_playground.py."""
    n_clients, rounds = 20, 6
    rss0 = _rss_kib()
    errors, epochs = [], {}
    together = threading.Barrier(n_clients)

    def client(k):
        try:
            together.wait(60)  # every client connects at the same moment
            status, _, st = request(server, "POST", "/api/sessions",
                                    {"settings": {"dataset": "spirals", "hidden": [8, 8], "seed": k}})
            assert status == 201, st
            sid, since = st["id"], 0
            for _ in range(rounds):
                status, _, st = request(server, "POST", f"/api/sessions/{sid}/train", {"epochs": 2, "since": since})
                assert status == 200 and st["id"] == sid and st["settings"]["seed"] == k, st
                since = st["epoch"]
            epochs[k] = since
        except BaseException as exc:  # reported below, with the client's number
            together.abort()
            errors.append((k, repr(exc)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(epochs) == n_clients and all(1 <= e <= 2 * rounds for e in epochs.values())
    assert len(server.store) == n_clients
    grown = (_rss_kib() - rss0) / 1024
    assert grown < 300, f"RSS grew by {grown:.0f} MiB for {n_clients} sessions"


# -- the page in a real browser ------------------------------------------------------------------------
def _tour():
    spec = importlib.util.spec_from_file_location("playground_tour", ROOT / "examples" / "playground_tour.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_page_in_headless_chromium(server, tmp_path):
    tour = _tour()
    try:
        driver = tour.browser()
    except tour.NoBrowser as exc:
        pytest.skip(str(exc))
    seen = tour.tour(driver, server.url, tmp_path)
    assert seen["xor_loss"] < 0.1, seen
    # the boundary: the predicted class at the four corners is XOR
    corners = {tuple(x): p for x, p in seen["xor_corners"]}
    assert corners == {(0.0, 0.0): 0, (0.0, 1.0): 1, (1.0, 0.0): 1, (1.0, 1.0): 0}
    assert seen["trace_rows"] >= 4 + 1 + 1 + 1  # the header rows and one row per unit
    rules = {rule for rule, _ in seen["doctor"]}
    assert "relu-output-classifier" in rules and "classification-target-as-regression" in rules
    assert any("warning" in text for _, text in seen["doctor"])
    assert "dead_lr" in seen, seen["dead"]
    assert seen["dead_marked"] == sum(len(d) for d in seen["dead"] if d) > 0
    assert "lr must be from 1e-06 to 100, got 1000" in seen["error"]
    assert not seen["console"], seen["console"]
    for name in ("start", "xor-trained", "relu-mse-doctor", "dead-units"):
        assert (tmp_path / f"playground-{name}.png").stat().st_size > 10_000


def _page(driver, url):
    """Small helpers over a page of the playground at ``url`` (Selenium ``driver``)."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(url)
    wait.until(lambda d: d.execute_script("return !!(window.playground && window.playground.ready)"))

    def js(code, *args):
        return driver.execute_script(code, *args)

    def state():
        return js("return window.playground.state")

    def settled():  # every settings request sent has been answered
        js("window.__settled = false; settingsQueue.then(() => { window.__settled = true; })")
        wait.until(lambda d: js("return window.__settled"))

    def change(selector, value):  # a value typed or picked, then the change event, then its answer
        el = driver.find_element("css selector", selector)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            js("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))", el, value)
        settled()

    def text(el_id):
        el = driver.find_element("id", el_id)
        return el.text if el.is_displayed() else None

    return js, state, change, text, wait


def test_the_page_answers_a_learner_in_headless_chromium(server):
    """What a learner's walk through the page found: a refused value must not block later
    changes, the doctor names the layer, the status banner warns, the score follows the
    task, a two-unit softmax shows p(0) and p(1), a narrow window does not scroll sideways."""
    tour = _tour()
    try:
        driver = tour.browser(1400, 1000)
    except tour.NoBrowser as exc:
        pytest.skip(str(exc))
    try:
        js, state, change, text, wait = _page(driver, server.url)
        # a refused value is marked and kept; the next change of another field applies
        change("#noise", "-0.1")
        assert "noise must be from 0 to 2, got -0.1" in text("error")
        assert js("return document.getElementById('noise').classList.contains('refused')")
        change("#lr", "0.1")
        assert state()["settings"]["lr"] == 0.1 and text("error") is None
        assert js("return document.getElementById('noise').value") == "0.2"  # the value in effect
        # an activation parameter's message names it; an empty word is its default
        change("#activation", "leaky_relu")
        change("#activation-params input[data-param='negative_slope']", "1e9")
        assert "negative_slope must be from" in text("error")
        change("#lr", "0.05")
        assert state()["settings"]["lr"] == 0.05 and state()["settings"]["activation_params"] == {}
        change("#activation", "hierarchical_softmax")
        change("#lr", "0.2")
        assert state()["settings"]["lr"] == 0.2 and text("error") is None
        # an error of the doctor: one card per layer, named; the banner warns; the chart says why
        change("#hidden", "4, 4")
        change("#activation", "step")
        cards = [e.text for e in driver.find_elements("css selector", "#doctor .finding")]
        assert [c.split(":")[0] for c in cards] == ["error (hidden 1)", "error (hidden 2)"], cards
        assert "warn" in driver.find_element("id", "status").get_attribute("class").split()
        assert "training is off" in text("loss-empty")
        # two softmax units: p(0) and p(1) = 1 - p(0), not the same picture twice
        change("#activation", "tanh")
        change("#output", "softmax")
        thumbs = js("return [...document.querySelectorAll('#net-view .unit[data-layer=\"3\"] canvas')].map("
                    "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))")
        assert len(thumbs) == 2 and thumbs[0] != thumbs[1]
        # the score: accuracy for a classifier, R^2 for a regression; updates/s starts again
        driver.find_element("id", "play").click()
        wait.until(lambda d: state()["epoch"] >= 6 and text("ups") != "–")
        driver.find_element("id", "play").click()
        assert text("ups") == "–"  # paused: no rate
        change("#output", "auto")
        change("#dataset", "sine")
        assert text("ups") == "–" and text("score-label").lower() == "test r²"
        assert text("test-score") == f"{state()['score']['value']:.3f}"
        # the old run's last answer (diverged) arrives after a change: play goes on with the new run
        change("#optimizer", "sgd")
        change("#batch_mode", "online")
        change("#lr", "100")
        js("const fetch0 = window.fetch; window.__hold = new Promise((r) => { window.__release = r; });"
           "window.fetch = async (...a) => { const res = await fetch0(...a);"
           "  if (String(a[0]).endsWith('/train')) await window.__hold; return res; };")
        driver.find_element("id", "play").click()
        change("#lr", "0.01")
        js("window.__release()")
        wait.until(lambda d: state()["epoch"] >= 2)
        assert js("return window.playground.playing") and state()["settings"]["lr"] == 0.01
        driver.find_element("id", "play").click()
        # a phone's width and a small laptop's: nothing wider than the window
        for width in (400, 1100):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500})
            wait.until(lambda d: js("return document.getElementById('net-svg').getAttribute('width')")
                       == str(js("return document.getElementById('net-view').clientWidth")))
            assert js("return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), width
        console = [e["message"] for e in driver.get_log("browser")
                   if e["level"] == "SEVERE" and "/settings" not in e["message"]]
        assert not console, console
    finally:
        driver.quit()
