"""``relunet playground``: its options, the address it prints, the browser it opens, the
port it cannot take (the server and the page: tests/test_playground.py)."""

from __future__ import annotations

import socket

import pytest

from cli_helpers import run_cli, usage_error
from relunet.cli import build_parser
from relunet.playground.server import PlaygroundServer


@pytest.fixture
def stop_at_once(monkeypatch):
    """serve_forever returns as Ctrl-C would make it; remembers the server it ran."""
    served = []

    def serve(self, poll_interval=0.5):
        served.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(PlaygroundServer, "serve_forever", serve)
    return served


def test_prints_the_address_and_opens_no_browser_when_asked(capsys, monkeypatch, stop_at_once):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    rc, out, err = run_cli(capsys, ["playground", "--no-browser"])
    assert rc == 0, err
    server = stop_at_once[0]
    assert f"relunet playground: http://127.0.0.1:{server.port}/" in out and "stopped" in out
    assert server.server_address[0] == "127.0.0.1" and server.port > 0
    assert opened == []
    assert server.socket.fileno() == -1  # closed on the way out


def test_opens_the_browser_at_the_address(capsys, monkeypatch, stop_at_once):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    rc, out, _ = run_cli(capsys, ["playground", "--max-sessions", "3", "--max-epochs", "10"])
    assert rc == 0
    server = stop_at_once[0]
    server_url = f"http://127.0.0.1:{server.port}/"
    for _ in range(100):  # opened from a thread
        if opened:
            break
        __import__("time").sleep(0.01)
    assert opened == [server_url]
    assert server.store.max_sessions == 3 and server.store.options["max_epochs"] == 10


def test_listens_on_the_given_port(capsys, stop_at_once):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, out, _ = run_cli(capsys, ["playground", "--no-browser", "--port", str(port)])
    assert rc == 0 and f"127.0.0.1:{port}/" in out and stop_at_once[0].port == port


def test_a_taken_port_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        usage_error(capsys, ["playground", "--no-browser", "--port", str(port)], f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("argv, needle", [
    (["--port", "70000"], "a port is from 0 to 65535"),
    (["--port", "http"], "expected a port number"),
    (["--max-sessions", "0"], "expected an integer >= 1"),
    (["--max-epochs", "-5"], "expected an integer >= 1"),
])
def test_bad_options(capsys, argv, needle):
    usage_error(capsys, ["playground", *argv], needle)


def test_is_listed_in_the_help():
    assert "playground" in build_parser().format_help()
