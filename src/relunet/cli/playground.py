"""``relunet playground``: a local web page that trains a network with relunet's engine
and shows it learning (the server and the sessions live in :mod:`relunet.playground`).

Exit status: 0 after Ctrl-C; 2 when the port cannot be taken (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser

from relunet.cli import common
from relunet.playground.server import PlaygroundServer
from relunet.playground.session import SessionStore

NAME = "playground"
HELP = "a local web page to watch a network learn (decision boundary, units, weights, backprop step)"

_port = common.numeric(int, lambda v: 0 <= v <= 65535, "a port number", "a port is from 0 to 65535")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=_port, default=0,
                   help="the port on 127.0.0.1 (default 0: a free port; the address is printed)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in the web browser")
    p.add_argument("--max-sessions", type=common.positive_int_arg, default=32, metavar="N",
                   help="pages served at once (the least recently used one is closed past it; default 32)")
    p.add_argument("--max-epochs", type=common.positive_int_arg, default=5000, metavar="N",
                   help="the most epochs one page may train before a reset (default 5000)")
    p.add_argument("--log", action="store_true", help="print one line per request on stderr")


def run(args: argparse.Namespace) -> int:
    store = SessionStore(max_sessions=args.max_sessions, max_epochs=args.max_epochs)
    server = PlaygroundServer(args.port, store=store, log=sys.stderr if args.log else None)
    try:
        print(f"relunet playground: {server.url}  (Ctrl-C stops it)", flush=True)
        if not args.no_browser:
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        print("relunet playground: stopped", flush=True)
    finally:
        server.close()
    return 0
