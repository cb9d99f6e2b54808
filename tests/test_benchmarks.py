"""The benchmark suite's bookkeeping: target verdicts, timing rounds, report (no timings asserted)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import suite

BIG = "784-500-500-500-10"


def _results(ratio_128=1.6, ratio_512=1.4, frac=0.95, infer=1.05, lat=0.8, mem=1.0002):
    train = [
        {"arch": BIG, "optimizer": "sgd", "batch": B, "ratio_torch": r, "ratio_sklearn": 3.5,
         "fraction_of_gemm_rate": frac}
        for B, r in ((1, 5.0), (128, ratio_128), (512, ratio_512))
    ]
    inf = [
        {"arch": BIG, "batch": 1000, "time_over_gemm_bound": infer},
        {"arch": BIG, "batch": 1, "latency_us": {"relunet": lat, "torch": 1.0}},
    ]
    return {"train": train, "infer": inf, "memory": {"loop": {"peak_over_budget": mem}}}


def test_targets_report_misses_and_unmeasured():
    verdicts = {t["target"]: t["met"] for t in suite.targets(_results())}
    assert verdicts[f"train {BIG} SGD batch 128: relunet / torch eager"] is True
    assert verdicts[f"train {BIG} SGD batch 512: relunet / torch eager"] is False
    assert verdicts[f"inference {BIG} batch 1000: time / GEMM-bound time"] is True
    assert verdicts[f"inference {BIG} batch 1: latency relunet / torch eager"] is True
    fit = [t for t in suite.targets(_results()) if "net.fit" in t["target"]][0]
    assert fit["met"] is None and fit["measured"] is None  # not run: not claimed
    verdicts = {t["target"]: t["met"] for t in suite.targets(_results(infer=1.2, lat=1.3, mem=1.01))}
    assert verdicts[f"inference {BIG} batch 1000: time / GEMM-bound time"] is False
    assert verdicts[f"inference {BIG} batch 1: latency relunet / torch eager"] is False
    assert not any(v for k, v in verdicts.items() if "memory" in k)


def test_timer_rounds_give_rates_and_median_ratios(monkeypatch):
    # A fake clock: each call of a job advances it by that job's cost, so the rates and
    # ratios are arithmetic on known durations (no real timing in a test).
    now = [0.0]
    monkeypatch.setattr(suite.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(suite.time, "sleep", lambda s: None)

    def job(cost):
        def call():
            now[0] += cost
        return call

    timer = suite.Timer(quick=True)
    out = timer.compare({"one": (job(0.001), 4), "two": (job(0.006), 4)})
    assert set(out) == {"one", "two"}
    assert len(out["one"]["rates"]) == timer.repeats
    assert out["one"]["rate"] == pytest.approx(4 / 0.001)
    assert out["two"]["rate"] == pytest.approx(4 / 0.006)
    assert "ratio" not in out["one"]
    # "two" costs 6x per call: ratio = rate_one / rate_two
    assert out["two"]["ratio"] == pytest.approx(6.0)
    assert out["two"]["ratio_best"] == pytest.approx(6.0)


def test_relunet_job_trains_and_gemm_job_runs():
    sizes = [8, 6, 3]
    X, y, Y = suite._data(sizes, 64)
    step, per_call, _ = suite.train_relunet(sizes, "sgd", 16, X, Y)
    assert per_call == 16
    step()
    call, _, _ = suite.gemm_job(sizes, 16)
    call()
    assert suite.flops_per_sample([784, 500, 500, 500, 10]) == 784 * 500 + 2 * 500 * 500 + 500 * 10


def test_sklearn_bound_is_reported_as_context_not_as_a_verdict():
    res = _results()
    res["train"][1]["sklearn_ceiling_ratio"] = 2.2
    rows = [t for t in suite.targets(res) if t.get("context")]
    assert len(rows) == 1 and rows[0]["measured"] == 2.2 and rows[0]["met"] is None
    res["targets"] = suite.targets(res)
    line = [ln for ln in suite.targets_table(res).splitlines() if ln.startswith("| bound")][0]
    assert "2.2" in line and "yes" not in line and "no" not in line.split("|", 2)[2]


def test_quick_runs_never_replace_the_measured_results(tmp_path):
    import argparse

    def ns(**kw):
        return argparse.Namespace(**{"quick": False, "out": None, "md": None, **kw})

    out, md = suite.output_paths(ns())
    assert (out.name, md.name) == ("results.json", "RESULTS.md") and out.parent == suite.HERE
    out, md = suite.output_paths(ns(quick=True))
    assert (out.name, md.name) == ("results-quick.json", "RESULTS-quick.md")
    out, md = suite.output_paths(ns(quick=True, out=str(tmp_path / "r.json")))
    assert (out, md) == (tmp_path / "r.json", tmp_path / "RESULTS.md")


def test_an_unwritable_output_fails_at_once_with_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    rc = suite.main(["--quick", "--out", str(tmp_path / "file" / "r.json")])  # a file as the folder
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m benchmarks: error: cannot write") and "Traceback" not in err
    rc = suite.main(["--quick", "--out", str(tmp_path)])  # a folder as the file
    assert rc == 2 and "cannot write" in capsys.readouterr().err


def test_estimator_job_trains_the_dropin_from_sklearns_starting_weights():
    sizes = [8, 6, 3]
    X, y, _ = suite._data(sizes, 64)
    call, per_call, info = suite.train_estimator(sizes, "sgd", 16, X, y, quick=True)
    start = [layer.W.copy() for layer in suite._relunet_net(sizes).dense_layers]
    assert per_call == 64 and info["dtype"] == "float32"  # quick: max(2 batches, 64 rows)
    call()  # one partial_fit over the chunk: the weights move away from the shared start
    est = call.__closure__  # the estimator lives in the closure
    clf = next(c.cell_contents for c in est if hasattr(c.cell_contents, "coefs_"))
    assert clf.coefs_[0].shape == start[0].shape
    assert not np.allclose(clf.coefs_[0], start[0])


def test_estimator_table_reports_the_dropin_ratio():
    res = {"train": [{"arch": "8-6-3", "optimizer": "sgd", "batch": 16,
                      "estimator": {"rate": 3000.0}, "sklearn": {"rate": 1500.0},
                      "estimator_over_sklearn": 2.0}]}
    table = suite.estimator_table(res)
    assert "| 8-6-3 | sgd | 16 |" in table and "2.00x" in table


@pytest.mark.parametrize("extra", [[], ["--hflip", "--standardise", "--momentum", "0.9", "--max-norm", "3"],
                                   ["--random", "shift:1", "--schedule", "constant", "--epochs", "15"]])
def test_fashion_settings_validates_on_the_last_training_images(extra, tmp_path):
    from benchmarks import fashion_settings

    out = tmp_path / "runs.jsonl"
    r = fashion_settings.main(["--data", "digits", "--val", "300", "--epochs", "5", "--hidden", "32",
                               "--lr", "0.1", "--dropout", "0", "--out", str(out), *extra])
    assert 0.5 < r["val_accuracy"] <= 1 and 0 < r["train_accuracy"] <= 1  # chance is 0.1
    assert len(r["curve"]) == r["epochs"] // 5 and out.read_text().count("\n") == 1


def test_fashion_settings_refuses_a_validation_part_larger_than_the_data():
    from benchmarks import fashion_settings

    with pytest.raises(SystemExit, match="--val"):
        fashion_settings.main(["--data", "digits", "--val", "5000", "--epochs", "1"])


def test_hsoftmax_rows_and_target(monkeypatch):
    from benchmarks import bench_hsoftmax

    monkeypatch.setattr(bench_hsoftmax, "BATCH", 16)
    timer = suite.Timer(quick=True)
    row = bench_hsoftmax.step_row(timer, 300, bench_hsoftmax.zipf_counts(300))
    assert row["V"] == 300 and row["step_ms_softmax"] > 0 and row["step_ms_hsoftmax"] > 0
    assert row["max_abs_sum_minus_1"] <= 1e-5 and 1 < row["mean_path"] < 10
    assert row["loss_per_sample_softmax"] == pytest.approx(np.log(300), rel=0.2)
    sc = bench_hsoftmax.scatter_row(timer, 300, bench_hsoftmax.zipf_counts(300))
    assert set(sc) == {"V", "ms_sparse", "ms_add_at", "ms_reduceat"}
    res = {"steps": [dict(row, V=50_000, speedup=12.0)], "scatter": [sc]}
    verdicts = {t["target"]: t["met"] for t in suite.targets({**_results(), "hsoftmax": res})}
    assert verdicts["train V=50000 SGD batch 256: hierarchical softmax step / full softmax step speed"] is True
    assert "| 50000 | sgd |" in bench_hsoftmax.table(res)
    unmeasured = {t["target"]: t["met"] for t in suite.targets(_results())}
    assert unmeasured["train V=50000 SGD batch 256: hierarchical softmax step / full softmax step speed"] is None
def _fit_results(sgd=(2.0, 1.6, 1.4), adam_rates=(900.0, 950.0), outside=0.08):
    from benchmarks import bench_fit

    rows = []
    for opt, ratios in (("sgd", sgd), ("adam", (1.2, 1.1, 1.1))):
        for B, r in zip((1, 128, 512), ratios):
            rate = 1000.0 if opt == "sgd" else {1: 100.0, 128: adam_rates[0], 512: adam_rates[1]}[B]
            rows.append({"arch": bench_fit.ARCH, "optimizer": opt, "batch": B, "samples": 64,
                         "relunet": {"rate": rate, "best": rate}, "torch": {"rate": rate / r, "best": rate / r},
                         "ratio_torch": r, "ratio_best_torch": r})
    rows.append({"arch": bench_fit.ARCH, "optimizer": "momentum", "batch": 128, "samples": 64,
                 "relunet": {"rate": 970.0, "best": 970.0}, "torch": {"rate": 800.0, "best": 800.0},
                 "ratio_torch": 970 / 800, "ratio_best_torch": 970 / 800})
    return {"kernels": "numba", "threads": 2, "rows": rows,
            "outside_blas": {"sgd": {"fraction": outside, "fractions": [outside], "ms_per_step": 5.0},
                             "adam": {"fraction": 0.2, "fractions": [0.2], "ms_per_step": 6.0}},
            "scaling": [{"threads": 1, "relunet": 10.0, "torch": 8.0, "ratio_torch": 1.25, "relunet_speedup": 1.0,
                         "torch_speedup": 1.0},
                        {"threads": 2, "relunet": 18.0, "torch": 12.0, "ratio_torch": 1.5, "relunet_speedup": 1.8,
                         "torch_speedup": 1.5}]}


def test_fit_targets_verdicts_and_table():
    from benchmarks import bench_fit

    res = _results()
    res["fit"] = _fit_results()
    verdicts = {t["target"]: t["met"] for t in suite.targets(res)}
    assert verdicts[f"net.fit {BIG} SGD batch 1: relunet / torch eager loop"] is True
    assert verdicts[f"net.fit {BIG} SGD batch 512: relunet / torch eager loop"] is False
    assert verdicts[f"net.fit {BIG} batch 128: Adam rate / SGD rate"] is True  # 0.90
    assert verdicts[f"net.fit {BIG} batch 512: Adam rate / SGD rate"] is True
    assert verdicts[f"train_step {BIG} SGD batch 128: time outside BLAS"] is True
    res["fit"] = _fit_results(adam_rates=(850.0, 950.0), outside=0.3)
    verdicts = {t["target"]: t["met"] for t in suite.targets(res)}
    assert verdicts[f"net.fit {BIG} batch 128: Adam rate / SGD rate"] is False
    assert verdicts[f"train_step {BIG} SGD batch 128: time outside BLAS"] is False
    text = bench_fit.fit_table(_fit_results())
    assert "| sgd | 128 | 64 | 1,000 | 625 | 1.60 |" in text
    assert "Adam's fit rate over plain SGD's: batch 1: 0.10, batch 128: 0.90, batch 512: 0.95" in text
    assert "Nesterov momentum's fit rate over plain SGD's: batch 128: 0.97" in text
    assert "| momentum | 128 | 64 | 970 | 800 | 1.21 |" in text
    assert "sgd 8.0%" in text and "| 128 | 2 | 18 | 12 | 1.50 | 1.80 | 1.50 |" in text  # no batch: 128
    assert bench_fit.thread_counts(1) == [1] and bench_fit.thread_counts(2) == [1, 2]
    assert bench_fit.thread_counts(6) == [1, 2, 4, 6] and bench_fit.thread_counts(16) == [1, 2, 4, 8, 16]
    # Amdahl from 1 -> 2 threads: relunet 10 -> 18/s, s = 2 * 10/18 - 1 = 1/9; torch 8 -> 12/s, s = 1/3
    assert "batch 128: relunet s = 0.11, 6.0x; PyTorch s = 0.33, 2.7x" in text
    assert verdicts_of(res, _fit_results())[
        f"net.fit {BIG} SGD batch 128: speed-up from 1 thread to all cores, relunet's / PyTorch's"] is True  # 1.8/1.5
    # 8% outside BLAS on 2 threads: T(1) = 0.08 + 2 * 0.92, T(16) = 0.08 + 2 * 0.92 / 16
    assert f"at most {(0.08 + 1.84) / (0.08 + 0.115):.1f}x from 1 to 16 cores" in text
    # torch: 128 rows at 625/s = 204.8 ms a step; relunet inside BLAS: 5.0 ms * (1 - 0.08)
    assert bench_fit.blas_bound(_fit_results()) == pytest.approx(204.8 / 4.6)
    assert "BLAS bound, batch 128 SGD" in text and f"= {204.8 / 4.6:.2f}x" in text
    assert bench_fit.blas_bound({"rows": [], "outside_blas": {}}) is None
    assert "BLAS: openblas" in text and "relunet on" not in text  # results from before the BLAS choice
    # both libraries measured: the chosen one's columns, then the other's rate and ratio
    both = _fit_results()
    both["blas"], both["other_blas"] = "mkl", ["openblas"]
    for r in both["rows"]:
        r["other_blas"] = {"openblas": {"rate": r["relunet"]["rate"] * 0.8, "ratio_torch": r["ratio_torch"] * 0.8}}
    text = bench_fit.fit_table(both)
    assert "BLAS: mkl" in text and "| relunet on openblas /s | x torch |" in text
    assert "| sgd | 128 | 64 | 1,000 | 625 | 1.60 | 1.60 | 800 | 1.28 |" in text


def verdicts_of(res, fit):
    return {t["target"]: t["met"] for t in suite.targets({**res, "fit": fit})}


def test_amdahl_fit_of_the_thread_scaling():
    from benchmarks import bench_fit

    assert bench_fit.serial_fraction(10.0, 20.0) == 0.0 and bench_fit.serial_fraction(10.0, 10.0) == 1.0
    assert bench_fit.serial_fraction(10.0, 25.0) == 0.0  # faster than linear: clipped, no negative fraction
    assert bench_fit.serial_fraction(10.0, 8.0) == 1.0  # slower on two threads: all serial
    assert bench_fit.implied_speedup(0.0, 16) == 16.0 and bench_fit.implied_speedup(1.0, 16) == 1.0
    assert bench_fit.implied_speedup(0.25, 4) == pytest.approx(1 / (0.25 + 0.75 / 4))
    # the fitted law reproduces the 2-thread speed-up it was fitted to
    s = bench_fit.serial_fraction(10.0, 15.0)
    assert bench_fit.implied_speedup(s, 2) == pytest.approx(1.5)
    assert bench_fit.outside_blas_speedup(0.0, 2, 16) == pytest.approx(16.0)
    assert bench_fit.outside_blas_speedup(1.0, 2, 16) == pytest.approx(1.0)
    fit = _fit_results()
    fit["scaling"] = [dict(r, batch=B) for B in (128, 512) for r in fit["scaling"]]
    fit["scaling"][-1] = dict(fit["scaling"][-1], relunet=10.0, relunet_speedup=1.0)  # batch 512: no gain
    implied = bench_fit.implied_scaling(fit)
    assert sorted(implied) == [128, 512] and implied[512]["relunet_implied"] == pytest.approx(1.0)
    text = "\n".join(bench_fit.scaling_lines(fit))
    assert "| 512 | 2 | 10 | 12 |" in text and "batch 512: relunet s = 1.00, 1.0x" in text
    only_one = dict(fit, scaling=[fit["scaling"][0]])  # one thread measured: no verdict, nothing implied
    assert verdicts_of(_results(), only_one)[
        f"net.fit {BIG} SGD batch 128: speed-up from 1 thread to all cores, relunet's / PyTorch's"] is None
    assert bench_fit.implied_scaling(only_one) == {}


def test_fit_jobs_and_outside_blas_run():
    from benchmarks import bench_fit

    X, y = bench_fit._data(8)
    jobs = [bench_fit.fit_relunet(opt, 4, X, y, 1) for opt in bench_fit.OPTIMIZERS]
    for job in jobs + [bench_fit.fit_torch(opt, 4, X, y) for opt in bench_fit.OPTIMIZERS]:
        call, per_call, _ = job
        call()
        assert per_call == 8
    out = bench_fit.outside_blas("sgd", 2, 1, steps=2, repeats=1)
    assert 0.0 <= out["fraction"] <= 1.0 and out["ms_per_step"] > 0


def test_cpu_model_names_the_cpu():
    info = suite.cpu_model()
    assert set(info) == {"model name", "vendor_id", "cpu family", "model"}
    line = suite.cpu_line({"cpu": "X", "cpu_id": {"model name": "X", "vendor_id": "V", "cpu family": "6",
                                                   "model": "167"}, "logical_cores": 2, "usable_cores": 2})
    assert line == "X (V, family 6, model 167), 2 cores (2 usable)"


# -- the playground section --------------------------------------------------------------------
def test_playground_standalone_run_writes_its_results_and_the_suites_table(tmp_path, capsys):
    """A real (very short) run: the server in its own process, 2 sessions under load."""
    import json

    from benchmarks import bench_playground

    out = tmp_path / "playground.json"
    assert bench_playground.main(["--seconds", "0.3", "--load-seconds", "0.5", "--sessions", "2",
                                  "--no-browser", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert [u["epochs_per_update"] for u in res["updates"]] == [1, 2, 5]
    assert all(u["epochs"] >= 1 for u in res["updates"])
    assert res["load"]["sessions"] == 2 and res["load"]["errors"] == [] and res["load"]["requests"] >= 2
    assert res["browser"] is None and res["command"] == "python benchmarks/bench_playground.py"
    assert "load: 2 sessions" in printed and f"wrote {out}" in printed
    md = bench_playground.table(res)
    assert md.count("\n| 2-8-8-1 ReLU on spirals over the API") == 3 and "| 2 sessions training at once" in md


def test_the_suite_runs_the_playground_as_a_section(monkeypatch):
    import argparse

    from benchmarks import bench_playground

    calls = []
    monkeypatch.setattr(bench_playground, "measure", lambda quick, log, **kw: calls.append((quick, kw)) or {"ok": 1})
    ns = argparse.Namespace(quick=True, no_playground=False)
    assert suite.playground(ns, log=lambda *a, **k: None) == {"ok": 1}
    assert calls == [(True, {"browser": False, "command": "python -m benchmarks",
                             **bench_playground.SUITE_QUICK})]  # quick: short, no browser
    suite.playground(argparse.Namespace(quick=False, no_playground=False), log=lambda *a, **k: None)
    assert calls[-1] == (False, {"browser": True, "command": "python -m benchmarks"})
    assert suite.playground(argparse.Namespace(quick=True, no_playground=True)) == {"skipped": "--no-playground"}
    assert len(calls) == 2


def test_the_suites_options_and_report_name_the_playground(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        suite.main(["--help"])
    assert "--no-playground" in capsys.readouterr().out
    assert "bench_playground" in suite.__doc__


def test_the_report_has_the_playground_section_and_older_runs_say_not_run():
    import json

    stored = json.loads((suite.HERE / "results.json").read_text())
    label, run = next(iter(stored["runs"].items()))
    playground = json.loads((suite.HERE / "results-playground.json").read_text())
    md = suite.markdown({"runs": {label: {**run, "playground": playground}}})
    section = md.split("### The playground under load")[1]
    assert "| 20 sessions training at once for 60 s |" in section and "0 errors" in section
    older = suite.markdown({"runs": {label: {k: v for k, v in run.items() if k != "playground"}}})
    assert "### The playground under load (server process, clients over loopback)\n\n(not run)" in older
