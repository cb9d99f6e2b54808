"""Figures: rendered and checked by their content (plotted data, bars, pixels, SVG text)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.container import BarContainer

import relunet
from relunet import MLP
from relunet.core import activations
from relunet.insight import compare
from relunet.data import datasets
from relunet.insight import plots
from relunet.io import archive
from relunet.cli import main
from relunet.errors import ConfigError, DataError, UnknownNameError

ELEMENTWISE = [n for n in activations.names() if activations.ACTIVATIONS[n].elementwise]


@pytest.fixture(scope="module")
def xor_net():
    d = datasets.load("xor")
    net = MLP([2, 8, 1], activation="relu", output="sigmoid", seed=0)
    hist = net.fit(d.X_train, d.y_train, epochs=300, batch_size=4, lr=0.5)
    assert net.score(d.X_train, d.y_train) == 1.0
    return net, d, hist


def _svg_text(path) -> str:
    root = ET.parse(path).getroot()  # parses as XML, or raises
    return " ".join(t for el in root.iter() if el.tag.endswith("text") for t in el.itertext())


# -- activations -------------------------------------------------------------


def test_every_activation_panel_plots_f_and_its_derivative():
    fig = plots.plot_activations(ELEMENTWISE, x_range=(-3, 4), n_points=101)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ELEMENTWISE
    for ax, name in zip(panels, ELEMENTWISE):
        act = activations.get(name).eval()
        (f_line, d_line) = [l for l in ax.get_lines() if l.get_label() in ("f(x)", "f'(x)")]
        x = f_line.get_xdata()
        assert len(x) == 101 and x[0] == -3 and x[-1] == 4
        np.testing.assert_array_equal(f_line.get_ydata(), act.fn(x), err_msg=name)
        np.testing.assert_array_equal(d_line.get_ydata(), act.derivative(x), err_msg=name)
    assert len(fig.axes) - len(panels) == (-len(ELEMENTWISE)) % 3  # unused grid cells hidden


def test_relu_panel_values():
    fig = plots.plot_activations("relu", x_range=(-2, 2), n_points=5)
    f_line, d_line = fig.axes[0].get_lines()[2:4]  # after the two zero axis lines
    assert f_line.get_ydata().tolist() == [0, 0, 0, 1, 2]
    assert d_line.get_ydata().tolist() == [0, 0, 0, 1, 1]  # relu'(0) = 0


@pytest.mark.parametrize("names, err", [(["nope"], UnknownNameError), ([], ConfigError)])
def test_activation_plot_rejects(names, err):
    with pytest.raises(err):
        plots.plot_activations(names)


def test_bad_x_range():
    with pytest.raises(ConfigError, match="range"):
        plots.plot_activations("relu", x_range=(1, -1))


# -- saving --------------------------------------------------------------------


def test_png_decodes_to_the_figure_size_and_is_not_blank(tmp_path):
    path = tmp_path / "act.png"
    fig = plots.plot_activations(["relu", "sigmoid"], path, ncols=2)
    w, h = fig.get_size_inches() * fig.dpi
    img = mpimg.imread(path)
    assert img.shape[:2] == (round(h), round(w))
    assert img[..., :3].var() > 0
    assert os.listdir(tmp_path) == ["act.png"]  # no temporary file left behind


def test_svg_is_xml_with_titles_and_labels(tmp_path):
    path = tmp_path / "act.svg"
    plots.plot_activations(["relu", "sigmoid"], path)
    text = _svg_text(path)
    for word in ("relu", "sigmoid", "f(x)", "f'(x)", "x"):
        assert word in text


def test_save_replaces_and_rejects_unknown_formats(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"old")
    plots.plot_activations("relu", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match=r"\.png"):
        plots.plot_activations("relu", tmp_path / "a.gif")
    with pytest.raises(FileNotFoundError):
        plots.plot_activations("relu", tmp_path / "missing" / "a.png")
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


# -- training curves -----------------------------------------------------------


def test_history_curves_are_the_history(xor_net, tmp_path):
    _, _, hist = xor_net
    fig = plots.plot_history(hist)
    loss_ax, acc_ax = fig.axes
    (loss_line,) = loss_ax.get_lines()
    np.testing.assert_allclose(loss_line.get_ydata(), hist["loss"])
    np.testing.assert_array_equal(loss_line.get_xdata(), hist["epoch"])
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), hist["accuracy"])
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    # the same from a saved JSON file, with a validation curve added
    recs = [{**r, "val_loss": 2 * r["loss"]} for r in hist.records]
    f = tmp_path / "h.json"
    f.write_text(json.dumps({"records": recs}))
    fig2 = plots.plot_history(str(f))
    lines = fig2.axes[0].get_lines()
    assert [l.get_label() for l in lines] == ["train", "validation"]
    np.testing.assert_allclose(lines[1].get_ydata(), 2 * np.array(hist["loss"]))


@pytest.mark.parametrize("bad", [[], {"foo": 1}, [1, 2]])
def test_history_rejects_non_histories(bad):
    with pytest.raises(DataError):
        plots.plot_history(bad)


# -- per-layer series ----------------------------------------------------------

DEAD = {"layer 1": [0.0, 0.25, 0.5], "layer 2": [0.0, 0.0, 0.75]}


@pytest.mark.parametrize("data", [
    DEAD,
    [[0.0, 0.0], [0.25, 0.0], [0.5, 0.75]],
    [{"epoch": 1, "layer 1": 0.0, "layer 2": 0.0}, {"epoch": 2, "layer 1": 0.25, "layer 2": 0.0},
     {"epoch": 3, "layer 1": 0.5, "layer 2": 0.75}],
    {"dead_fraction": DEAD, "epochs": [1, 2, 3]},
])
def test_dead_units_accepts_every_documented_form(data):
    fig = plots.plot_dead_units(data)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [l.get_label() for l in lines] == ["layer 1", "layer 2"]
    for line, want in zip(lines, DEAD.values()):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(line.get_ydata(), want)
    assert ax.get_ylabel() == "dead-unit fraction"


def test_gradient_norms_log_scale_and_missing_values():
    data = {"dense 1": [1e-1, 1e-3, 1e-5], "dense 2": [1.0, None, 0.5]}
    ax = plots.plot_gradient_norms(data).axes[0]
    assert ax.get_yscale() == "log"
    assert np.isnan(ax.get_lines()[1].get_ydata()[1])
    assert ax.get_title() == "gradient norm per layer"


def test_per_layer_series_from_an_object_with_to_dict():
    class Report:
        def to_dict(self):
            return {"gradient_norms": {"l1": [3.0, 2.0]}, "dead_fraction": {"l1": [0.0, 0.5]}}

    ax = plots.plot_gradient_norms(Report()).axes[0]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3.0, 2.0])


def test_diagnostics_tracker_series_are_plotted_as_recorded():
    diagnostics = pytest.importorskip("relunet.insight.diagnostics")
    X = np.random.default_rng(0).normal(size=(60, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = MLP([4, 6, 5, 2], activation="relu", seed=3)
    net.dense_layers[0].b[:3] = -3.0  # some units start (nearly) dead
    tracker = diagnostics.DiagnosticsTracker(X, y)
    tracker.on_train_begin(net)
    for epoch in (1, 2, 3):
        net.fit(X, y, epochs=1, batch_size=16, lr=0.5)
        tracker.on_epoch_end(epoch, None, net)
    data = tracker.to_dict()
    ax = plots.plot_dead_units(tracker).axes[0]
    dead = tracker.data.series("dead_fraction")
    assert [l.get_label() for l in ax.get_lines()] == ["hidden 1", "hidden 2"]  # output: cannot die
    for j, line in enumerate(ax.get_lines()):
        np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2, 3])
        np.testing.assert_array_equal(line.get_ydata(), dead[:, j])
    assert dead[0, 0] > 0
    grads = plots.plot_gradient_norms({"diagnostics": {"epochs": data}}).axes[0].get_lines()
    assert [l.get_label() for l in grads] == ["dense 1", "dense 2", "dense 3"]
    for j, line in enumerate(grads):
        np.testing.assert_array_equal(line.get_ydata(), tracker.data.series("grad_norm")[:, j])


@pytest.mark.parametrize("bad", [{"a": [1, 2], "b": [1]}, [], {"a": "xyz"}, {"epochs": [1]}, 5,
                                 {"a": [None, None]}, {"layers": [], "grad_norm": [[1.0]]}])
def test_per_layer_series_rejects(bad):
    with pytest.raises(DataError):
        plots.plot_dead_units(bad)


# -- comparisons ---------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison():
    return compare.compare_activations("digits", ["relu", "sigmoid"], 2, hidden=[8], epochs=2,
                                       batch_size=64, jobs=1, target_accuracy=0.3)


def test_bars_and_error_bars_are_means_and_stds(comparison, tmp_path):
    fig = plots.plot_comparison(comparison, tmp_path / "c.svg")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(compare.METRICS)
    for ax, m in zip(axes, compare.METRICS):
        (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
        heights = [p.get_height() for p in bars.patches]
        means = [np.nan_to_num(r[m + "_mean"]) for r in comparison.rows]
        stds = [np.nan_to_num(r[m + "_std"]) for r in comparison.rows]
        np.testing.assert_allclose(heights, means)
        segments = bars.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[1][1] - s[0][1] for s in segments], 2 * np.array(stds), atol=1e-12)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["relu", "sigmoid"]
    text = _svg_text(tmp_path / "c.svg")
    assert "test accuracy" in text and "dead-unit fraction" in text and "sigmoid" in text


def test_comparison_from_json_file_and_metric_choice(comparison, tmp_path):
    f = tmp_path / "c.json"
    comparison.save_json(f)
    fig = plots.plot_comparison(str(f), metrics=["test_accuracy"])
    (ax,) = fig.axes
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    np.testing.assert_allclose([p.get_height() for p in bars.patches],
                               [r["test_accuracy_mean"] for r in comparison.rows])
    with pytest.raises(ConfigError, match="metric"):
        plots.plot_comparison(comparison, metrics=["speed"])


# -- decision boundary ---------------------------------------------------------


def test_decision_regions_are_the_networks_predictions(xor_net, tmp_path):
    net, d, _ = xor_net
    fig = plots.plot_decision_boundary(net, d.X_train, d.y_train, tmp_path / "b.png", resolution=40)
    ax = fig.axes[0]
    (im,) = ax.get_images()
    img = np.asarray(im.get_array())
    assert img.shape == (40, 40)
    left, right, bottom, top = im.get_extent()
    xs = left + (np.arange(40) + 0.5) * (right - left) / 40
    ys = bottom + (np.arange(40) + 0.5) * (top - bottom) / 40
    gx, gy = np.meshgrid(xs, ys)
    pred = net.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(40, 40)
    np.testing.assert_array_equal(img, np.searchsorted(net.classes_, pred))
    # the data's corners are covered and classified as XOR says
    assert left < 0 and right > 1 and bottom < 0 and top > 1
    corner = lambda x, y: img[np.argmin(abs(ys - y)), np.argmin(abs(xs - x))]  # noqa: E731
    assert [corner(0, 0), corner(0, 1), corner(1, 0), corner(1, 1)] == [0, 1, 1, 0]
    png = mpimg.imread(tmp_path / "b.png")
    assert png[..., :3].var() > 0


def test_decision_boundary_needs_2d_fitted_classifier(xor_net):
    net, d, _ = xor_net
    with pytest.raises(DataError, match="2-D"):
        plots.plot_decision_boundary(net, np.zeros((4, 3)))
    with pytest.raises(ConfigError, match="fitted"):
        plots.plot_decision_boundary(MLP([2, 3, 1], output="sigmoid"), d.X_train)
    with pytest.raises(ConfigError, match="regression"):
        plots.plot_decision_boundary(MLP([2, 3, 1], output="identity"), d.X_train)


# -- the CLI -------------------------------------------------------------------


def test_cli_plot_activations_svg(tmp_path, capsys):
    out = tmp_path / "a.svg"
    assert main(["plot", "activations", "relu,sigmoid", "--out", str(out)]) == 0
    text = _svg_text(out)
    assert "relu" in text and "sigmoid" in text and "tanh" not in text


def test_cli_plot_history_and_compare(xor_net, comparison, tmp_path):
    _, _, hist = xor_net
    hist.save(str(tmp_path / "h.json"))
    comparison.save_json(tmp_path / "c.json")
    assert main(["plot", "history", str(tmp_path / "h.json"), "--out", str(tmp_path / "h.png")]) == 0
    assert main(["plot", "compare", str(tmp_path / "c.json"), "--metrics", "test_accuracy",
                 "--out", str(tmp_path / "c.png")]) == 0
    for name in ("h.png", "c.png"):
        assert mpimg.imread(tmp_path / name)[..., :3].var() > 0
    (tmp_path / "d.json").write_text(json.dumps({"dead_fraction": DEAD}))
    assert main(["plot", "dead-units", str(tmp_path / "d.json"), "--out", str(tmp_path / "d.svg")]) == 0
    assert "dead-unit fraction" in _svg_text(tmp_path / "d.svg")


def test_cli_plot_boundary_xor(tmp_path):
    out = tmp_path / "xor.png"
    assert main(["plot", "boundary", "--data", "xor", "--epochs", "300", "--out", str(out)]) == 0
    assert mpimg.imread(out)[..., :3].var() > 0


@pytest.mark.parametrize("argv, word", [
    (["plot", "activations", "relu", "--out", "a.gif"], ".png"),
    (["plot", "activations", "bogus", "--out", "a.png"], "bogus"),
    (["plot", "history", "missing.json", "--out", "a.png"], "missing.json"),
    (["plot", "boundary", "--data", "digits", "--out", "a.png"], "2"),
])
def test_cli_plot_errors_exit_2(argv, word, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert word in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_headless_even_with_an_interactive_backend_configured(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"  # would need a display if pyplot were used
    env["PYTHONPATH"] = os.pathsep.join(["src", env.get("PYTHONPATH", "")])
    code = ("import sys; from relunet.cli import main; rc = main(['plot', 'activations', 'relu', '--out', "
            f"{str(tmp_path / 'a.png')!r}]); assert 'matplotlib.pyplot' not in sys.modules; sys.exit(rc)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert mpimg.imread(tmp_path / "a.png")[..., :3].var() > 0


def _strict_json(text: str):
    def reject(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def test_figures_and_comparison_files_write_through_symlinks(tmp_path):
    from relunet.insight import plots

    real, link = tmp_path / "real.png", tmp_path / "link.png"
    real.write_bytes(b"old")
    link.symlink_to(real)
    plots.plot_activations(["relu"], link)
    assert link.is_symlink() and real.read_bytes()[:4] == b"\x89PNG"
    res = relunet.insight.compare.compare_activations("xor", ["relu"], 1, hidden=[4], epochs=2, jobs=1)
    real_json, link_json = tmp_path / "real.json", tmp_path / "link.json"
    real_json.write_text("old")
    link_json.symlink_to(real_json)
    res.save_json(link_json)
    assert link_json.is_symlink() and _strict_json(real_json.read_text())["rows"][0]["activation"] == "relu"


def test_history_with_a_non_numeric_epoch_is_a_data_error(tmp_path):
    from relunet.insight import plots
    from relunet.errors import DataError

    with pytest.raises(DataError, match="epoch"):
        plots.plot_history([{"epoch": "a", "loss": 1.0}], tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


def test_activation_range_with_an_infinite_width_is_refused():
    from relunet.insight import plots

    with pytest.raises(ConfigError, match="finite width"):
        plots.plot_activations("relu", x_range=(-1e308, 1e308))


def test_comparison_rows_missing_a_metric_are_named(tmp_path):
    from relunet.insight import plots
    from relunet.errors import DataError

    with pytest.raises(DataError, match="test_accuracy_mean"):
        plots.plot_comparison({"rows": [{"activation": "relu"}]}, tmp_path / "c.png")
    fig = plots.plot_comparison({"rows": [{"activation": "relu", "test_accuracy_mean": 0.5,
                                           "test_accuracy_std": None}]}, metrics=["test_accuracy"])
    assert fig.axes[0].get_title() == "test accuracy"


# -- usability: the files a user has, every class and clip visible, targets named ---------------

@pytest.mark.parametrize("figure", ["dead-units", "gradients"])
def test_cli_plots_the_history_that_train_diagnose_writes(figure, tmp_path, capsys):
    hist = tmp_path / "h.json"
    assert main(["train", "--data", "xor", "--activation", "relu", "--epochs", "4", "--diagnose",
                 "--history", str(hist), "-q"]) == 0
    out = tmp_path / "d.png"
    assert main(["plot", figure, str(hist), "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.stat().st_size > 1000
    lines = plots.plot_gradient_norms(json.loads(hist.read_text())).axes[0].get_lines()
    assert [len(l.get_xdata()) for l in lines] == [5, 5]  # epochs 0..4, both dense layers


def test_a_history_without_diagnostics_says_how_to_get_them(xor_net, tmp_path, capsys):
    hist = tmp_path / "h.json"
    xor_net[2].save(hist)
    assert main(["plot", "dead-units", str(hist), "--out", str(tmp_path / "d.png")]) == 2
    assert "--diagnose --history" in capsys.readouterr().err


def _close_comparison(target=0.9):
    rows = []
    for name, acc in (("relu", 0.944), ("tanh", 0.968)):
        row = {"activation": name, "n_seeds": 3, "reached_target": 3, "diverged": 0}
        for m in compare.METRICS:
            row[m + "_mean"], row[m + "_std"] = 1.0, 0.1
        row["test_accuracy_mean"], row["test_accuracy_std"] = acc, 0.004
        rows.append(row)
    return {"rows": rows, "runs": [], "config": {"data": "digits", "target_accuracy": target}}


def test_comparison_accuracy_panel_zooms_to_the_data_and_names_the_target(tmp_path):
    fig = plots.plot_comparison(_close_comparison(0.95), tmp_path / "close.png")
    acc, _, ept = [ax for ax in fig.axes if ax.get_visible()][:3]
    low, high = acc.get_ylim()
    assert 0.9 < low < 0.94 and 0.972 < high < 1.0  # 0.944 vs 0.968 is a visible difference
    assert ept.get_title() == "epochs to target\n(training accuracy \u2265 0.95)"


def test_decision_boundary_has_a_legend_of_the_classes(xor_net, tmp_path):
    net, d, _ = xor_net
    fig = plots.plot_decision_boundary(net, d.X_train, d.y_train, tmp_path / "b.png", resolution=20)
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend.get_title().get_text() == "class"
    assert [t.get_text() for t in legend.get_texts()] == [str(c) for c in net.classes_]


def test_a_bogus_matplotlib_backend_is_one_line(tmp_path):
    import subprocess
    import sys
    env = {**os.environ, "MPLBACKEND": "bogus"}
    done = subprocess.run([sys.executable, "-m", "relunet", "plot", "activations", "relu", "--out",
                           str(tmp_path / "a.png")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "MPLBACKEND='bogus'" in done.stderr


def test_relu6_panel_shows_the_clip_at_6_by_default():
    fig = plots.plot_activations(["relu", "relu6"])
    for ax, kinks in zip(fig.axes, [(0.0,), (0.0, 6.0)]):
        f_line = [l for l in ax.get_lines() if l.get_label() == "f(x)"][0]
        x = f_line.get_xdata()
        assert x[0] <= -5 and x[-1] >= max(kinks) + 2
    relu6 = [l for l in fig.axes[1].get_lines() if l.get_label() == "f(x)"][0]
    assert relu6.get_ydata().max() == 6.0 and (relu6.get_ydata() == 6.0).sum() > 20  # the flat part


def test_all_activations_include_softmax_drawn_on_a_vector_input(tmp_path):
    fig = plots.plot_activations(None, tmp_path / "all.png")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(activations.names())
    by_title = {ax.get_title().split(":")[0]: ax for ax in panels}
    for name in ("softmax", "log_softmax"):
        ax = by_title[name]
        assert "not element-wise" in ax.get_title() and "(x, 0)" in ax.get_title()
        f_line, d_line = [l for l in ax.get_lines() if l.get_linestyle() in ("-", "--")][-2:]
        x = f_line.get_xdata()
        s0 = 1 / (1 + np.exp(-x))  # output 0 of softmax(x, 0) is the sigmoid of x
        expected = s0 if name == "softmax" else np.log(s0)
        np.testing.assert_allclose(f_line.get_ydata(), expected, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(d_line.get_ydata(), s0 * (1 - s0) if name == "softmax" else 1 - s0,
                                   rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("figure", ["history", "compare", "dead-units", "gradients"])
def test_an_endless_json_input_is_refused_within_a_bounded_read(figure, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", 2**20)  # /dev/zero: refused after 1 MiB, not read forever
    assert main(["plot", figure, "/dev/zero", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more than 1048576 bytes" in err


def test_history_without_training_accuracy_draws_only_the_validation_accuracy():
    records = [{"epoch": 1, "loss": 2.0, "val_loss": 2.1, "val_accuracy": 0.2},
               {"epoch": 2, "loss": 1.5, "val_loss": 1.7, "val_accuracy": 0.3}]
    fig = plots.plot_history(records)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in acc_ax.get_lines()] == ["validation"]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "validation"]


# -- hostile JSON inputs: one clear DataError, or a figure with gaps -----------------


def test_json_nested_too_deeply_is_a_data_error(tmp_path):
    # json.loads recursed once per '[': a RecursionError traceback from the command line
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply"):
        plots.read_json(p)
    with pytest.raises(DataError, match="nested too deeply"):
        plots.plot_history(p)


def test_history_lists_of_different_lengths_are_named():
    with pytest.raises(DataError, match=r"per-epoch lists differ in length: \{'loss': 2, 'accuracy': 1\}"):
        plots.plot_history({"loss": [1.0, 2.0], "accuracy": [1.0]})  # was an IndexError


def test_integers_beyond_float_range_are_a_data_error():
    with pytest.raises(DataError, match="beyond the range of a float"):
        plots.plot_history({"loss": [10**400, 2]})  # was an OverflowError
    with pytest.raises(DataError, match="beyond the range of a float"):
        plots.plot_dead_units({"layer 1": [10**400, 0.5]})


@pytest.mark.parametrize("values", [[1e308, float("inf"), None], [-1e308, 1e308], [-1e308, -1e308]])
def test_values_no_axis_can_span_are_gaps(values):
    # matplotlib's tick locator raised "arange: cannot compute length" on these
    fig = plots.plot_history({"loss": values + [1.0]})
    line = fig.axes[0].get_lines()[0]
    assert np.isnan(line.get_ydata()[:-1]).all() and line.get_ydata()[-1] == 1.0
    plots.plot_dead_units({"layer 1": [0.5] * (len(values) + 1), "epochs": values + [1.0]})


def test_dead_unit_epochs_must_be_a_list_of_numbers():
    with pytest.raises(DataError, match="'epochs' must be a list of epoch numbers, got 'ab'"):
        plots.plot_dead_units({"layer 1": [0.5, 0.4], "epochs": "ab"})  # was a numpy ValueError


def test_comparison_with_a_negative_std_is_a_data_error(comparison):
    d = comparison.to_dict()
    d["rows"][0]["test_accuracy_std"] = -0.5
    with pytest.raises(DataError, match="test_accuracy_std is -0.5; a standard deviation is >= 0"):
        plots.plot_comparison(d)  # matplotlib's "'yerr' must not contain negative values"


def test_a_figure_saved_over_a_private_file_keeps_its_permissions(tmp_path):
    # the figure's own temporary file replaced a 0600 file with a 0644 one
    out = tmp_path / "private.png"
    out.write_bytes(b"old")
    os.chmod(out, 0o600)
    plots.plot_history({"loss": [1.0, 0.5]}, out)
    assert (os.stat(out).st_mode & 0o777) == 0o600 and out.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["private.png"]


def _comparison_rows(names):
    return {"config": {"data": "xor"},
            "rows": [{"activation": n, "n_seeds": 3, **{m + s: 0.5 for m in compare.METRICS for s in ("_mean", "_std")}}
                     for n in names]}


def test_a_hostile_comparison_is_refused_or_drawn_with_short_labels(tmp_path):
    """A comparison file of thousands of rows would be a figure thousands of inches wide, and a
    megabyte-long activation name kept matplotlib laying out text for minutes: the rows are
    capped (MAX_COMPARED) and every name drawn or quoted is cut to MAX_LABEL characters."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_comparison_rows([f"a{i}" for i in range(plots.MAX_COMPARED + 1)])))
    with pytest.raises(DataError, match=f"{plots.MAX_COMPARED + 1} rows; a plot draws at most {plots.MAX_COMPARED}"):
        plots.plot_comparison(path)
    long = "relu" + "x" * 10**6
    fig = plots.plot_comparison(_comparison_rows([long, "tanh"]), tmp_path / "c.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[1] == "tanh" and labels[0].startswith("relu") and len(labels[0]) == plots.MAX_LABEL
    assert (tmp_path / "c.png").stat().st_size > 0
    bad = _comparison_rows([long])
    bad["rows"][0]["test_accuracy_std"] = -1
    with pytest.raises(DataError) as err:
        plots.plot_comparison(bad)
    assert len(str(err.value)) < 200


def test_a_hostile_per_layer_file_is_refused_or_drawn_with_short_labels():
    many = {"epochs": [1, 2], **{f"layer {i}": [0.1, 0.2] for i in range(plots.MAX_LAYERS_DRAWN + 1)}}
    with pytest.raises(DataError, match=f"{plots.MAX_LAYERS_DRAWN + 1} layers; a plot draws at most"):
        plots.plot_dead_units(many)
    fig = plots.plot_dead_units({"epochs": [1, 2], "h" * 10**6: [0.1, 0.2], "hidden 2": [0.0, 0.5]})
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[1] == "hidden 2" and len(legend[0]) == plots.MAX_LABEL
    with pytest.raises(DataError) as err:
        plots.plot_dead_units({"epochs": [1, 2], "h" * 10**6: "not a list"})
    assert len(str(err.value)) < 200
