"""The playground under load: view updates per second, the latency of a concurrent request,
and 20 sessions training at once for a minute with the server's peak memory.

The server runs as ``relunet playground --no-browser`` in its own process (as a user runs
it); the clients are threads of this process talking HTTP over loopback with keep-alive,
as the page does (one ``POST /api/sessions/ID/train`` per view update, the next one sent
when the answer is in).

* **updates**: one client plays a 2-8-8-1 ReLU network on spirals (the page's defaults:
  Adam, mini-batches of 10, 200 training samples) for ``--seconds``, at 1, 2 and 5 epochs
  per update; meanwhile a second client sends ``GET /api/health`` every 50 ms: its latency
  says whether the server stays responsive while it trains. The transport's own cost is
  the health request's latency on an idle server.
* **browser** (when Debian's chromium and chromium-driver and selenium are installed): the
  page itself in headless Chromium plays the same network; the page counts its updates
  (requests answered and drawn) per second.
* **load**: ``--sessions`` clients (20), each with its own session (seeds differ), train
  for ``--load-seconds`` (60) without pause; every answer must be a 200; the server's
  resident memory is read from ``/proc/PID/status`` (VmRSS now, VmHWM peak) before and after.

Run from the repository root: ``python benchmarks/bench_playground.py [--quick]``; the
results go to ``benchmarks/results-playground.json`` (``--out``). ``python -m benchmarks``
runs it as one section of the suite (:func:`measure`; ``--quick`` there: 1 s measurements,
a 3 s load, no browser; ``--no-playground`` skips it), its results under ``playground`` in
``results.json`` and :func:`table` in ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SPIRALS = {"dataset": "spirals", "hidden": [8, 8], "activation": "relu", "optimizer": "adam", "lr": 0.03,
           "batch_mode": "minibatch", "batch_size": 10}


def cpu() -> str:
    try:
        names = re.findall(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        return f"{names[0]} x {len(names)}" if names else platform.processor()
    except OSError:
        return platform.processor()


class Client:
    """One keep-alive HTTP connection to the server, as a page holds one."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Host": f"127.0.0.1:{self.port}", "Origin": f"http://127.0.0.1:{self.port}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")


def start_server(max_sessions: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "relunet", "playground", "--no-browser",
                             "--max-sessions", str(max_sessions)], stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, int(match.group(1))


def memory(pid: int) -> dict[str, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {k: int(re.search(rf"{k}:\s*(\d+)", text).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}


def percentiles(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    return {"p50_ms": 1e3 * v[len(v) // 2], "p95_ms": 1e3 * v[int(0.95 * (len(v) - 1))], "max_ms": 1e3 * v[-1],
            "n": len(v)}


class Prober(threading.Thread):
    """``GET /api/health`` every ``period`` seconds until stopped; the latencies."""

    def __init__(self, port: int, period: float = 0.05):
        super().__init__(daemon=True)
        self.client, self.period, self.latencies, self.stop = Client(port), period, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            status, _ = self.client.call("GET", "/api/health")
            assert status == 200
            self.latencies.append(time.perf_counter() - t0)
            self.stop.wait(self.period)


def bench_updates(port: int, seconds: float) -> dict:
    idle = Prober(port, period=0.01)
    idle.start()
    time.sleep(min(2.0, seconds / 2))
    idle.stop.set()
    idle.join()
    out: dict = {"transport_idle": percentiles(idle.latencies), "updates": []}
    for epochs in (1, 2, 5):
        c = Client(port)
        status, st = c.call("POST", "/api/sessions", {"settings": SPIRALS})
        assert status == 201, st
        sid, since, times = st["id"], 0, []
        prober = Prober(port)
        prober.start()
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            status, st = c.call("POST", f"/api/sessions/{sid}/train", {"epochs": epochs, "since": since})
            assert status == 200, st
            since = st["epoch"]
            times.append(time.perf_counter() - t0)
        prober.stop.set()
        prober.join()
        c.call("DELETE", f"/api/sessions/{sid}")
        out["updates"].append({"epochs_per_update": epochs, "updates_per_s": len(times) / sum(times),
                               "epochs": since, "request": percentiles(times),
                               "concurrent_health": percentiles(prober.latencies)})
    return out


def bench_browser(port: int, seconds: float) -> dict | None:
    if not (shutil.which("chromium") and os.path.exists("/usr/bin/chromedriver")):
        return None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import Select, WebDriverWait
    except ImportError:
        return None
    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!(window.playground && window.playground.ready)"))
        Select(driver.find_element("id", "speed")).select_by_value("2")
        prober = Prober(port)
        prober.start()
        driver.find_element("id", "play").click()
        time.sleep(seconds)
        seen = driver.execute_script("const p = window.playground; return {ups: p.ups, epoch: p.state.epoch, "
                                     "timing: p.timing, settings: p.state.settings}")
        driver.find_element("id", "play").click()
        prober.stop.set()
        prober.join()
        seen["concurrent_health"] = percentiles(prober.latencies)
        return seen
    finally:
        driver.quit()


def bench_load(port: int, pid: int, sessions: int, seconds: float) -> dict:
    before = memory(pid)
    counts, errors, latencies = [0] * sessions, [], []
    lock = threading.Lock()
    go = threading.Barrier(sessions)

    def client(k: int) -> None:
        try:
            c = Client(port)
            status, st = c.call("POST", "/api/sessions", {"settings": {**SPIRALS, "seed": k}})
            assert status == 201, st
            sid, since = st["id"], 0
            go.wait(timeout=120)
            t_end = time.perf_counter() + seconds
            mine = []
            while time.perf_counter() < t_end:
                t0 = time.perf_counter()
                status, st = c.call("POST", f"/api/sessions/{sid}/train", {"epochs": 2, "since": since})
                if status != 200 or st.get("id") != sid:
                    raise AssertionError(f"client {k}: {status} {st.get('error')}")
                mine.append(time.perf_counter() - t0)
                since = st["epoch"]
                counts[k] += 1
            with lock:
                latencies.extend(mine)
        except BaseException as exc:  # counted, reported
            go.abort()
            with lock:
                errors.append(f"{k}: {exc!r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    after = memory(pid)
    return {"sessions": sessions, "seconds": seconds, "wall_s": wall, "requests": sum(counts),
            "requests_per_s": sum(counts) / wall, "per_session_updates_per_s": sum(counts) / wall / sessions,
            "errors": errors, "request": percentiles(latencies),
            "rss_before_mib": before["VmRSS"], "rss_after_mib": after["VmRSS"], "peak_rss_mib": after["VmHWM"]}


QUICK = {"seconds": 3.0, "load_seconds": 10.0}
#: the suite's ``--quick`` smoke run (``python -m benchmarks --quick``): shorter still
SUITE_QUICK = {"seconds": 1.0, "load_seconds": 3.0}


def measure(quick: bool = False, log: Any = print, *, seconds: float | None = None, sessions: int = 20,
            load_seconds: float | None = None, browser: bool = True,
            command: str = "python benchmarks/bench_playground.py") -> dict[str, Any]:
    """Every measurement (see the module docstring) against a fresh server; ``quick``: 3 s
    measurements and a 10 s load (``seconds`` / ``load_seconds`` override). ``log`` gets
    the result lines."""
    seconds = seconds if seconds is not None else (QUICK["seconds"] if quick else 10.0)
    load_seconds = load_seconds if load_seconds is not None else (QUICK["load_seconds"] if quick else 60.0)
    t0 = time.perf_counter()
    proc, port = start_server(max_sessions=max(32, sessions + 4))
    try:
        res: dict[str, Any] = {
            "command": command + (" --quick" if quick else ""), "cpu": cpu(), "cores": os.cpu_count(),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
            "server_rss_at_start_mib": memory(proc.pid)["VmRSS"]}
        res.update(bench_updates(port, seconds))
        res["browser"] = bench_browser(port, seconds) if browser else None
        res["load"] = bench_load(port, proc.pid, sessions, load_seconds)
        res["load_average_at_end"] = os.getloadavg()
    finally:
        proc.terminate()
        proc.wait(10)
    res["seconds"] = time.perf_counter() - t0
    for line in lines(res):
        log(line, flush=True)
    return res


def lines(res: dict[str, Any]) -> list[str]:
    """The results as text, one measurement a line."""
    out = [f"CPU: {res['cpu']}, load average at start {res['load_average_at_start'][0]:.1f}",
           f"transport (GET /api/health, idle server): p50 {_ms(res['transport_idle'], 'p50_ms', '.2f')} ms"]
    for u in res["updates"]:
        h = u["concurrent_health"]
        out.append(f"2-8-8-1 spirals, {u['epochs_per_update']} epoch(s)/update: {u['updates_per_s']:.1f} updates/s "
                   f"(request p50 {_ms(u['request'], 'p50_ms')} ms); concurrent GET p50 {_ms(h, 'p50_ms')} ms, "
                   f"p95 {_ms(h, 'p95_ms')} ms, max {_ms(h, 'max_ms')} ms")
    if res["browser"]:
        b = res["browser"]
        h = b["concurrent_health"]
        out.append(f"page in headless Chromium, 2 epochs/update: {b['ups']:.1f} updates/s (request "
                   f"{b['timing']['request']:.1f} ms, drawing {b['timing']['render']:.1f} ms); concurrent GET p50 "
                   f"{_ms(h, 'p50_ms')} ms, p95 {_ms(h, 'p95_ms')} ms")
    lo = res["load"]
    out.append(f"load: {lo['sessions']} sessions x {lo['seconds']:.0f} s: {lo['requests']} requests, "
               f"{len(lo['errors'])} errors, {lo['per_session_updates_per_s']:.1f} updates/s per session, request "
               f"p50 {_ms(lo['request'], 'p50_ms', '.0f')} ms p95 {_ms(lo['request'], 'p95_ms', '.0f')} ms; server "
               f"RSS {lo['rss_before_mib']:.0f} -> {lo['rss_after_mib']:.0f} MiB, peak {lo['peak_rss_mib']:.0f} MiB")
    return out


def _ms(stats: dict[str, float], key: str, fmt: str = ".1f") -> str:
    """A latency of :func:`percentiles`' result, or '-' when nothing was timed."""
    return format(stats[key], fmt) if key in stats else "-"


def table(res: dict[str, Any]) -> str:
    """A Markdown table of the results (the suite's report)."""
    rows = ["| what | result |", "| --- | --- |",
            f"| `GET /api/health` on an idle server | median {_ms(res['transport_idle'], 'p50_ms', '.2f')} ms |"]
    for u in res["updates"]:
        h = u["concurrent_health"]
        rows.append(f"| 2-8-8-1 ReLU on spirals over the API, {u['epochs_per_update']} epoch(s) per update | "
                    f"{u['updates_per_s']:.1f} updates/s (request median {_ms(u['request'], 'p50_ms')} ms); "
                    f"concurrent `GET /api/health` median {_ms(h, 'p50_ms')} ms, p95 {_ms(h, 'p95_ms')} ms |")
    if res.get("browser"):
        b = res["browser"]
        rows.append(f"| the page in headless Chromium, 2 epochs per update | {b['ups']:.1f} view updates/s "
                    f"(request {b['timing']['request']:.1f} ms, drawing {b['timing']['render']:.1f} ms) |")
    lo = res["load"]
    rows.append(f"| {lo['sessions']} sessions training at once for {lo['seconds']:g} s | {lo['requests']} requests, "
                f"{len(lo['errors'])} errors, {lo['per_session_updates_per_s']:.1f} updates/s per session, request "
                f"median {_ms(lo['request'], 'p50_ms', '.0f')} ms; server RSS {lo['rss_before_mib']:.0f} -> "
                f"{lo['rss_after_mib']:.0f} MiB, peak {lo['peak_rss_mib']:.0f} MiB |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="per updates measurement (default 10; --quick 3)")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--load-seconds", type=float, default=None, help="the load run (default 60; --quick 10)")
    ap.add_argument("--quick", action="store_true", help="3 s measurements, a 10 s load")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results-playground.json"))
    args = ap.parse_args(argv)
    res = measure(args.quick, seconds=args.seconds, sessions=args.sessions, load_seconds=args.load_seconds,
                  browser=not args.no_browser)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
