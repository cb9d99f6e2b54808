"""Helpers shared by the CLI tests: run ``relunet`` in-process and check a usage error."""

from relunet.cli import main


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def usage_error(capsys, argv, *needles):
    """Run the CLI and assert: status 2, exactly one line on stderr naming the problem."""
    rc, out, err = run_cli(capsys, argv)
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relunet: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return out, lines[0]
