"""`relunet data` on the command line."""

from relunet.cli import main


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _usage_error(capsys, argv, *needles):
    """Run the CLI and assert: status 2, exactly one line on stderr naming the problem."""
    rc, out, err = _run(capsys, argv)
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relunet: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return out, lines[0]


def test_data_fetch_timeout_must_be_positive(capsys, tmp_path):
    for t in ("0", "-1", "nan"):
        _usage_error(capsys, ["data", "fetch", "mnist", "--data-dir", str(tmp_path), "--timeout", t], "--timeout")
