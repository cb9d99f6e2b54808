"""A tour of ``relunet playground`` in headless Chromium, with a screenshot of each state.

The walk the playground's browser test takes (tests/test_playground.py):

1. open the page, pick XOR, one hidden layer of 4 ReLU units, full batch (Adam, lr 0.05);
2. play until the test loss is below 0.1, read the boundary (the predicted class at the
   four corners) and trace one backpropagation step on the sample (1, 1);
3. switch the output to ReLU with MSE: the doctor's warnings appear;
4. spirals, 2-8-8-1, SGD: raise the learning rate until ReLU units die, see them marked;
5. type a learning rate out of range: the page shows the server's message.

Screenshots: ``playground-start.png``, ``playground-xor-trained.png``,
``playground-relu-mse-doctor.png``, ``playground-dead-units.png``.

Needs Debian's ``chromium`` and ``chromium-driver`` and ``pip install selenium``; the
system driver (/usr/bin/chromedriver) is used, never one downloaded by Selenium Manager.

Run: python examples/playground_tour.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
from pathlib import Path
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"


class NoBrowser(Exception):
    """Chromium, its driver or selenium is missing (the message says which)."""


def browser(width: int = 1400, height: int = 1500) -> Any:
    """A headless Chromium driven by the system's chromedriver."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.exists(chromium) and os.path.exists(CHROMEDRIVER)):
        raise NoBrowser("headless browser: Debian's chromium and chromium-driver are not installed "
                        "(apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise NoBrowser("headless browser: selenium is not installed (pip install selenium)") from None
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    except Exception as exc:  # a driver that does not start (version mismatch, missing libraries)
        raise NoBrowser(f"headless chromium did not start: {str(exc).splitlines()[0]}") from None


def tour(driver: Any, url: str, shots: Path) -> dict:
    """Walk the page at ``url`` (see the module docstring); screenshots go to ``shots``.
    Returns what was read from the page. Quits the driver at the end."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 30)
    seen: dict = {}
    shots = Path(shots)

    def state():
        return driver.execute_script("return window.playground && window.playground.state")

    def set_control(el_id, value):
        el = driver.find_element("id", el_id)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:  # the value as typed, then the change event the page reacts to
            driver.execute_script("arguments[0].value = arguments[1];"
                                  "arguments[0].dispatchEvent(new Event('change'))", el, value)

    def settled(check):
        wait.until(lambda d: state() is not None and check(state()))

    def playing():
        return driver.execute_script("return window.playground.playing")

    def trace(index):
        driver.execute_script(f"document.getElementById('trace-index').value = '{index}'")
        driver.execute_script("window.playground.trace = null")
        driver.find_element("id", "trace").click()
        wait.until(lambda d: d.execute_script("return window.playground.trace !== null"))

    try:
        driver.get(url)
        wait.until(lambda d: d.execute_script("return !!(window.playground && window.playground.ready)"))
        # 1. XOR, one hidden layer of 4 ReLU units
        set_control("dataset", "xor")
        settled(lambda s: s["settings"]["dataset"] == "xor")
        set_control("hidden", "4")
        set_control("activation", "relu")
        set_control("batch_mode", "full")
        set_control("lr", "0.05")
        settled(lambda s: s["settings"]["hidden"] == [4] and s["settings"]["batch_mode"] == "full"
                and s["settings"]["lr"] == 0.05 and s["epoch"] == 0)
        driver.save_screenshot(str(shots / "playground-start.png"))
        # 2. train until the test loss is below 0.1
        Select(driver.find_element("id", "speed")).select_by_value("20")
        driver.find_element("id", "play").click()
        wait.until(lambda d: ((state()["last"] or {}).get("val_loss") or 1) < 0.1 or state()["status"] != "ready")
        if playing():
            driver.find_element("id", "play").click()
        wait.until(lambda d: not playing())
        st = state()
        seen["xor_loss"], seen["xor_status"] = st["last"]["val_loss"], st["status"]
        seen["xor_corners"] = driver.execute_script(
            "const p = window.playground; return p.layout.train.x.map((x, i) => [x, p.state.views.pred.train[i]])")
        seen["ups"] = driver.execute_script("return window.playground.ups")
        trace(3)
        seen["trace_rows"] = len(driver.find_elements("css selector", "#trace-out table tr"))
        driver.save_screenshot(str(shots / "playground-xor-trained.png"))
        # 3. the output switched to ReLU + MSE: the doctor's warnings
        set_control("output", "relu")
        set_control("loss", "mse")
        settled(lambda s: s["settings"]["output"] == "relu" and s["settings"]["loss"] == "mse")
        seen["doctor"] = [(e.get_attribute("data-rule"), e.text)
                          for e in driver.find_elements("css selector", "#doctor .finding")]
        driver.save_screenshot(str(shots / "playground-relu-mse-doctor.png"))
        # 4. spirals, SGD: raise the learning rate until units die
        for key, value in (("output", "auto"), ("loss", "auto"), ("dataset", "spirals"), ("hidden", "8, 8"),
                           ("batch_mode", "minibatch"), ("optimizer", "sgd")):
            set_control(key, value)
        settled(lambda s: s["settings"]["optimizer"] == "sgd" and s["settings"]["hidden"] == [8, 8]
                and s["settings"]["dataset"] == "spirals" and s["settings"]["output"] == "auto")
        for lr in ("0.1", "0.3", "1", "3", "10"):
            set_control("lr", lr)
            settled(lambda s, lr=lr: s["settings"]["lr"] == float(lr) and s["epoch"] == 0)
            for _ in range(5):
                driver.find_element("id", "step").click()
            settled(lambda s: s["epoch"] >= 5 or s["status"] != "ready")
            if any(state()["views"]["dead"][:-1]):
                seen["dead_lr"] = float(lr)
                break
        seen["dead"] = state()["views"]["dead"]
        seen["dead_marked"] = len(driver.find_elements("css selector", "#net-view .unit.dead"))
        trace(0)
        driver.save_screenshot(str(shots / "playground-dead-units.png"))
        # 5. a bad value is answered in the page
        set_control("lr", "1000")
        wait.until(lambda d: d.find_element("id", "error").is_displayed())
        seen["error"] = driver.find_element("id", "error").text
        seen["console"] = [entry["message"] for entry in driver.get_log("browser")
                           if entry["level"] == "SEVERE" and "/settings" not in entry["message"]]
    finally:
        driver.quit()
    return seen


def main(argv: list[str] | None = None) -> dict:
    from relunet.playground.server import PlaygroundServer

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "figures"))
    args = p.parse_args(argv)
    server = PlaygroundServer(0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        seen = tour(browser(), server.url, Path(args.out))
    finally:
        server.shutdown()
        server.close()
    print(f"XOR: test loss {seen['xor_loss']:.4f}, corners {seen['xor_corners']}")
    print(f"ReLU + MSE, the doctor: {[rule for rule, _ in seen['doctor']]}")
    print(f"dead units at lr {seen.get('dead_lr')}: {seen['dead']} ({seen['dead_marked']} marked)")
    print(f"bad value: {seen['error']}")
    print(f"screenshots in {args.out}")
    return seen


if __name__ == "__main__":
    main()
