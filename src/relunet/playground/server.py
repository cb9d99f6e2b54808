"""The playground's HTTP server: the standard library's threading server, local only.

It serves the page (``static/``, read from the installed package) and a small JSON API:

=======  ==============================  ==================================================
method   path                            answer
=======  ==============================  ==================================================
GET      ``/``, ``/static/NAME``         the page and its script and style sheet
GET      ``/api/catalog``                what the controls offer (settings.catalog)
GET      ``/api/health``                 ``{"ok": true, "sessions": n}``
POST     ``/api/sessions``               a new session: ``{"settings": {...}}`` -> its state
GET      ``/api/sessions/ID?since=N``    the state (history records from N on)
POST     ``/api/sessions/ID/train``      ``{"epochs": k, "since": N}``: train, then the state
POST     ``/api/sessions/ID/settings``   ``{"settings": {...}}``: new settings (epoch 0)
POST     ``/api/sessions/ID/reset``      the same settings from epoch 0
POST     ``/api/sessions/ID/trace``      ``{"part": "train", "index": i}``: one traced step
DELETE   ``/api/sessions/ID``            end the session
=======  ==============================  ==================================================

Safety: the server listens on 127.0.0.1 only. Every request must name the server as
``Host: 127.0.0.1:PORT`` or ``localhost:PORT`` and, when it has an ``Origin``, come from
``http://127.0.0.1:PORT`` or ``http://localhost:PORT``: a page of another site, also one
that rebinds its DNS name to 127.0.0.1, is refused (403). A POST must be
``application/json`` with a ``Content-Length`` of at most :data:`MAX_BODY` bytes (413 past
it, without reading the body). Every error is a JSON object ``{"error": message}`` with a
4xx status (5xx for the server's own failures, whose traceback goes to the server's log
only); a bad setting names the field. Connections are bounded (:data:`MAX_CONNECTIONS`),
each read times out after :data:`READ_TIMEOUT` seconds, sessions are bounded and evicted
when idle (:class:`relunet.playground.session.SessionStore`).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from relunet.errors import ConfigError, RelunetError
from relunet.playground import settings as settings_mod
from relunet.playground.session import Session, SessionStore

__all__ = ["PlaygroundServer", "MAX_BODY", "MAX_CONNECTIONS", "READ_TIMEOUT", "STATIC_FILES"]

#: the largest request body accepted (bytes); the page's largest request is ~1 KB
MAX_BODY = 16 * 1024
#: connections served at once; more are closed at once
MAX_CONNECTIONS = 64
#: seconds a connection may take to send its request (or stay idle between requests)
READ_TIMEOUT = 15.0
#: the page's files and their types
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}

_SESSION_PATH = re.compile(r"^/api/sessions/([A-Za-z0-9_-]{1,64})(?:/(train|settings|reset|trace))?$")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
}


def _load_static() -> dict[str, bytes]:
    folder = resources.files("relunet.playground") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC_FILES}


class _Refused(Exception):
    """A request answered with an error status (and a JSON message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PlaygroundServer(ThreadingHTTPServer):
    """The playground on ``127.0.0.1:port`` (0: a free port); see the module docstring.

    Args:
        port: the port (0 picks a free one; :attr:`port` then says which).
        store: the sessions (default: a :class:`SessionStore` with its defaults).
        max_connections: connections served at once.
        log: a stream for one line per request (None: quiet; errors go to stderr always).

    Use ``server.serve_forever()`` (``shutdown()`` from another thread stops it), then
    ``server.close()``.
    """

    daemon_threads = True
    allow_reuse_address = False
    #: the listen backlog: connections that arrive at once (20 pages reloading) wait in it
    #: instead of being reset (socketserver's default is 5)
    request_queue_size = 128

    def __init__(self, port: int = 0, *, store: SessionStore | None = None,
                 max_connections: int = MAX_CONNECTIONS, log: Any = None):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"port must be an integer from 0 to 65535 (0: a free port), got {port!r}")
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        self.store = store if store is not None else SessionStore()
        self.static = _load_static()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.log = log
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # too many connections: close this one now
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def close(self) -> None:
        """Close the socket and every session."""
        self.server_close()
        self.store.close()


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "relunet-playground"
    sys_version = ""
    timeout = READ_TIMEOUT
    # the headers and the body go out in two writes: without TCP_NODELAY the second one
    # waits for the client's delayed acknowledgement of the first
    disable_nagle_algorithm = True

    # -- answers ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in _HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, allow_nan=False, separators=(",", ":")).encode(),
                   "application/json")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error as JSON (also those of the request parsing: bad request line,
        headers too long, an unsupported method)."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self.close_connection = True
        self._json(code, {"error": message or phrase})

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log.write(f"{self.address_string()} {format % args}\n")

    # -- checks -------------------------------------------------------------------------
    def _check_origin(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.hosts:
            raise _Refused(403, f"refused: the Host header must be 127.0.0.1:{self.server.port} or "
                                f"localhost:{self.server.port}, got {host[:80]!r}")
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower() not in self.server.origins:
            raise _Refused(403, f"refused: requests from {origin[:80]!r} are not served; open "
                                f"{self.server.url} itself")
        if (self.headers.get("Sec-Fetch-Site") or "same-origin").lower() not in ("same-origin", "none"):
            raise _Refused(403, "refused: a cross-site request")

    def _body(self) -> dict[str, Any]:
        if self.headers.get("Transfer-Encoding"):
            raise _Refused(411, "send the body with a Content-Length, not chunked")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise _Refused(411, "a Content-Length is required")
        try:
            length = int(length_text)
        except ValueError:
            raise _Refused(400, f"bad Content-Length {length_text[:20]!r}") from None
        if length < 0:
            raise _Refused(400, f"bad Content-Length {length_text[:20]!r}")
        if length > MAX_BODY:
            raise _Refused(413, f"the request body may be at most {MAX_BODY} bytes, got {length}")
        if length and (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise _Refused(415, "the request body must be application/json")
        raw = self.rfile.read(length) if length else b"{}"
        if len(raw) != length:
            raise _Refused(400, "the request body ended early")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Refused(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the request body must be a JSON object")
        return body

    # -- methods ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._answer(self._get)

    def do_HEAD(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def do_DELETE(self) -> None:
        self._answer(self._delete)

    def do_PUT(self) -> None:
        self.send_error(405, "method not allowed: use GET, POST or DELETE")

    do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_PUT

    def _answer(self, route: Any) -> None:
        try:
            self._check_origin()
            route(urlsplit(self.path))
        except _Refused as exc:
            self.close_connection = exc.status in (411, 413) or self.close_connection
            self._json(exc.status, {"error": str(exc)})
        except RelunetError as exc:
            self._json(400, {"error": str(exc)})
        except MemoryError:
            self._json(503, {"error": "out of memory: try a smaller network or fewer sessions"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # the page gets one line; the server's log gets the traceback
            traceback.print_exc(file=sys.stderr)
            self._json(500, {"error": f"internal error ({type(exc).__name__}); see the server's log"})

    def _get(self, url: Any) -> None:
        path = url.path
        if path in ("/", "/index.html"):
            self._send(200, self.server.static["index.html"], STATIC_FILES["index.html"])
        elif path.startswith("/static/") and path[len("/static/"):] in self.server.static:
            name = path[len("/static/"):]
            self._send(200, self.server.static[name], STATIC_FILES[name])
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        elif path == "/api/catalog":
            self._json(200, settings_mod.catalog())
        elif path == "/api/health":
            self._json(200, {"ok": True, "sessions": len(self.server.store)})
        else:
            session, action = self._session(path)
            if action is not None:
                raise _Refused(405, f"{path} takes POST")
            query = parse_qs(url.query)
            since = query.get("since", ["0"])[0]
            if not since.isdigit() or len(since) > 9:
                raise _Refused(400, f"since must be an integer >= 0, got {since[:20]!r}")
            self._json(200, session.state(int(since), layout=query.get("layout", ["0"])[0] == "1"))

    def _post(self, url: Any) -> None:
        body = self._body()
        if url.path == "/api/sessions":
            self._allowed(body, {"settings"})
            session = self.server.store.create(settings_mod.parse(body.get("settings", {})))
            self._json(201, session.state(0, layout=True))
            return
        session, action = self._session(url.path)
        if action == "train":
            self._allowed(body, {"epochs", "since"})
            session.train(body.get("epochs", 1))
            self._json(200, session.state(body.get("since", 0)))
        elif action == "settings":
            self._allowed(body, {"settings"})
            session.configure(settings_mod.parse(body.get("settings", {}), session.settings))
            self._json(200, session.state(0, layout=True))
        elif action == "reset":
            self._allowed(body, set())
            session.reset()
            self._json(200, session.state(0, layout=True))
        elif action == "trace":
            self._allowed(body, {"part", "index"})
            self._json(200, session.trace(body.get("part", "train"), body.get("index", 0)))
        else:
            raise _Refused(405, f"{url.path} takes GET or DELETE")

    def _delete(self, url: Any) -> None:
        match = _SESSION_PATH.match(url.path)
        if match is None or match.group(2):
            raise _Refused(404, f"nothing to delete at {url.path[:80]}")
        if not self.server.store.remove(match.group(1)):
            raise _Refused(404, "no such session (it may have expired)")
        self._json(200, {"closed": True})

    def _session(self, path: str) -> tuple[Session, str | None]:
        match = _SESSION_PATH.match(path)
        if match is None:
            raise _Refused(404, f"not found: {path[:80]}")
        session = self.server.store.get(match.group(1))
        if session is None:
            raise _Refused(404, "no such session (it may have expired); reload the page")
        return session, match.group(2)

    @staticmethod
    def _allowed(body: dict[str, Any], keys: set[str]) -> None:
        unknown = sorted(set(body) - keys)
        if unknown:
            raise _Refused(400, f"unknown field {unknown[0]!r}; this request takes "
                                f"{', '.join(sorted(keys)) or 'no fields'}")
