"""`relunet explain` on the command line."""

import numpy as np
import pytest

from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error


def test_explain_bad_plot_path_fails_before_printing(capsys, tmp_path):
    out, _ = _usage_error(capsys, ["explain", "relu", "--plot", str(tmp_path / "x.bmp")], ".png")
    assert out == ""
    out, _ = _usage_error(capsys, ["explain", "relu", "--plot", str(tmp_path / "missing" / "x.png")],
                          str(tmp_path / "missing"))
    assert out == ""


@pytest.mark.parametrize("name", ["cross_entropy", "bce", "mse", "softmax", "log_softmax"])
def test_explain_plot_of_losses_and_softmax(capsys, tmp_path, name):
    # --plot for every activation *and loss*; what has no element-wise f' is drawn
    # over one logit, from the library's own value/gradient code
    rc, out, err = _run(capsys, ["explain", name, "--plot", str(tmp_path / "f.svg")])
    assert rc == 0, err
    assert (tmp_path / "f.svg").read_text().startswith("<?xml")
    from relunet.insight import plots

    fig = plots.plot_explained(name)
    f_line, df_line = fig.axes[0].lines[2:4]  # after the two zero axes
    x, f, df = f_line.get_xdata(), f_line.get_ydata(), df_line.get_ydata()
    sig = 1 / (1 + np.exp(-x))
    expected = {  # target class 0 / target 1, other logit 0
        "cross_entropy": (np.logaddexp(0, -x), sig - 1), "bce": (np.logaddexp(0, -x), sig - 1),
        "mse": ((x - 1) ** 2, 2 * (x - 1)), "softmax": (sig, sig * (1 - sig)),
        "log_softmax": (-np.logaddexp(0, -x), 1 - sig),
    }[name]
    np.testing.assert_allclose(f, expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(df, expected[1], rtol=1e-10, atol=1e-12)


def test_explain_plot_empty_name_is_refused(capsys):
    assert main(["explain", "relu", "--plot", ""]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--plot" in captured.err


def test_explain_plot_failure_names_the_option_and_prints_no_half_output(capsys, monkeypatch, tmp_path):
    # a folder that passes the access checks but where creating the file fails (as /proc
    # for root): one error line naming --plot and the user's path, not a temporary file name
    # after the whole explanation
    import relunet.insight.plots as plots

    def failing(name, path, **kw):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / ".relunet-tmp123.png"))

    monkeypatch.setattr(plots, "plot_explained", failing)
    target = str(tmp_path / "f.png")
    assert main(["explain", "relu", "--plot", target]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--plot" in captured.err and target in captured.err and ".relunet-tmp" not in captured.err


def test_explain_hierarchical_softmax_shows_the_tree_path_gradient_and_cost(capsys):
    rc, out, _ = _run(capsys, ["explain", "hierarchical_softmax"])
    assert rc == 0
    for needle in ("root: node 0", "path to class", "sigma(t s)", "dL/ds", "sum to 1.000000",
                   "full softmax d K", "50000", "O(d K)"):
        assert needle in out


def test_trace_on_a_tiny_vocabulary_shows_the_path(capsys, tmp_path):
    path = tmp_path / "words.csv"
    rows = ["a,b,word"] + [f"{i % 3},{(i * 7) % 5},{(i % 3) * 2 + (i % 2)}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    code = main(["trace", "--data", str(path), "--output", "hierarchical_softmax", "--hidden", "3",
                 "--samples", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "tree path" in out and "sigma =" in out and "delta =" in out
