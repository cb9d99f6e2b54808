"""The ``relunet`` command line.

Each sub-command lives in its own module of this package and exposes ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; ``COMMANDS`` lists them.
Every name given on the command line goes through the library's registries, so an
unknown name fails with the list of known ones. Bad arguments exit with status 2 and
one line on stderr.
"""

from __future__ import annotations

import argparse
import csv
import errno
import importlib
import io
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from relunet.errors import RelunetError, RelunetWarning

#: sub-command modules, in the order ``relunet --help`` lists them
COMMANDS = ["train", "activations", "explain", "trace", "compare", "plot", "data", "diagnose", "doctor", "predict", "export", "bench", "blas", "playground"]


class CLIError(RelunetError):
    """A command-line usage error (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2
        self.exit(2, f"relunet: error: {message}\n")


#: the help of ``--epochs`` where the command has no ``--resume`` (the shared one mentions it)
EPOCHS_HELP = "epochs to train (cg/lbfgs: maximum iterations)"


def set_help(parser: argparse.ArgumentParser, option: str, text: str) -> None:
    """Replace the help of ``option``, added by a shared helper, for one command (e.g. a
    command without ``--resume`` must not mention it)."""
    # argparse has no public accessor for an added option: its own option table
    parser._option_string_actions[option].help = text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="relunet", description="Feed-forward neural networks with explicit, verified gradients.")
    from relunet import __version__

    parser.add_argument("--version", action="version", version=f"relunet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f".{name}", __name__)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (status 2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        sys.stdout = _ClosedOutput()
    try:
        with warnings.catch_warnings():  # restores Python's own display on return
            warnings.showwarning = _show_warning(warnings.showwarning)
            return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("relunet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`relunet ... | head`): stop quietly, as Unix tools do
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe
    except (RelunetError, OSError, MemoryError) as exc:
        print(f"relunet: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except csv.Error as exc:  # a CSV the reader gives up on (a field over csv.field_size_limit)
        print(f"relunet: error: malformed CSV input ({_one_line(exc)})", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:  # a binary file where text was expected (commands name the file where they can)
        print(f"relunet: error: an input file is not UTF-8 text ({_one_line(exc)})", file=sys.stderr)
        return 2


#: a keyword argument of the Python API in a message (``loss='mse'``) whose command-line
#: option has the same name and value (``--loss mse``)
_KEYWORD_AS_OPTION = re.compile(r"\b(output|loss|activation)='([\w-]+)'")


def cli_terms(text: str) -> str:
    """``text`` with the Python API's ``output='softmax'``, ``loss='mse'`` and
    ``activation='relu'`` written as the options that set them: ``--output softmax``."""
    return _KEYWORD_AS_OPTION.sub(lambda m: f"--{m[1]} {m[2]}", text)


def _show_warning(shown: Any) -> Any:
    """A ``warnings.showwarning`` that prints relunet's own warnings
    (:class:`relunet.errors.RelunetWarning`) as one line, ``relunet: warning: ...``, in the
    command line's terms (:func:`cli_terms`), and leaves the others to ``shown``, the
    display it replaces."""

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, RelunetWarning):
            print(f"relunet: warning: {cli_terms(' '.join(str(message).split()))}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    return show


class _ClosedOutput(io.TextIOBase):
    """Stands for a standard output that was closed before the start: writing to it fails
    with one OSError (reported as one line, status 2), not an AttributeError on None."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed; redirect it to a file or /dev/null")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured output)
        pass


def _one_line(exc: BaseException) -> str:
    """The error as one line: an OSError as ``PATH: reason`` (not ``[Errno 2] ...``)."""
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc or 'MemoryError'}); try a smaller network, batch or dataset"
    if isinstance(exc, OSError) and not isinstance(exc, RelunetError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc)
    return " ".join(text.split())  # one line, whatever the message holds
