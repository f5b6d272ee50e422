"""Shared pieces of the browser tests (test_slides.py, test_browser.py).

Debian's Chromium driven by playwright (never a browser download), one browser per test
session, pages whose requests beyond this machine are aborted and counted, and local servers
(a static file server, Voila) on 127.0.0.1 with free ports. Without Chromium the tests that
need it are skipped with a reason that says how to enable them.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import http.server
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course_lib.slides.browser import CHROMIUM_ARGS, block_external, find_chromium

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_NOTEBOOK = ROOT / "tests" / "fixtures_slides" / "deck_fixture.ipynb"


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: run `make setup` (requirements.txt pins it)"
    if find_chromium() is None:
        return ("Debian's Chromium is not installed: `apt-get install chromium` enables the "
                "browser tests (or set $CHROMIUM to a Chromium executable)")
    return None


SKIP_REASON = _skip_reason()
#: ``pytestmark = browser_marks`` in a module of browser tests.
browser_marks = [pytest.mark.browser,
                 pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")]


@functools.cache
def shared_browser():
    """One headless Chromium for the whole test session (closed when Python exits)."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=find_chromium(),
                                         args=list(CHROMIUM_ARGS))

    def close():
        browser.close()
        playwright.stop()

    atexit.register(close)
    return browser


@contextlib.contextmanager
def offline_page(width: int = 1280, height: int = 800):
    """Yield ``(page, blocked)``: a fresh page whose non-local requests are aborted.

    ``blocked`` lists the aborted URLs; ``page.failed_local`` the local requests that failed.
    """
    context = shared_browser().new_context(viewport={"width": width, "height": height})
    try:
        blocked = block_external(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.failed_requests = failed
        yield page, blocked
    finally:
        context.close()


def free_port() -> int:
    """A port free now, below the ephemeral range (kernels bind ports there at random, so a
    port the OS handed out for a moment could be taken by another test's kernel before our
    server binds it)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) \
        if Path("/proc/sys/net/ipv4/ip_local_port_range").exists() else 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free port below the ephemeral range")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_directory(path: Path):
    """Serve ``path`` over http://127.0.0.1:<free port>/ in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def voila_server(notebook: Path, log_path: Path, startup_timeout: float = 60.0):
    """Run ``python -m course_lib.slides.app``'s Voila command for ``notebook``; yield its URL.

    Voila's output goes to ``log_path`` (shown in the error if it does not come up).
    """
    from course_lib.slides.app import voila_command, voila_env

    port = free_port()
    with _server(voila_command(notebook, port, open_browser=False), voila_env(), ROOT, port,
                 log_path, "voila", startup_timeout) as url:
        yield url


@contextlib.contextmanager
def _server(command, env, cwd, port: int, log_path: Path, name: str, timeout: float):
    """Run ``command`` (a server that will listen on ``port``), its output in ``log_path``;
    yield its URL once it listens, stop it afterwards."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        _wait_for_port(proc, port, timeout, log_path, name)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


def _wait_for_port(proc, port: int, timeout: float, log_path: Path, name: str) -> None:
    """Wait until ``proc`` listens on ``port``; raise with its log if it exits or is late."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not listen on port {port} within {timeout} s:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.2)


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def jupyterlab_server(root: Path, state: Path, startup_timeout: float = 90.0):
    """Run JupyterLab on ``root`` (no token, on 127.0.0.1, a free port); yield its URL.

    ``state`` (a fresh folder) holds its settings, workspaces, runtime files and log, so the
    user's own JupyterLab setup is neither read nor changed. ``window.jupyterapp`` is exposed
    for the tests to run commands; nothing is fetched from the internet (no news, no update
    check).
    """
    port = free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(state / "runtime"),
               JUPYTER_CONFIG_DIR=str(state / "config"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--allow-root",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with _server(command, env, root, port, state / "jupyterlab.log", "jupyter lab",
                 startup_timeout) as url:
        yield url


# An explorer box's readout text (the last HTML widget in the box).
READOUT_JS = "box => { const r = box.querySelectorAll('.widget-html-content'); " \
             "return r[r.length - 1].innerText; }"


# Run every cell of the notebook JupyterLab shows (once its kernel is ready).
RUN_ALL_JS = """async () => {
  const app = window.jupyterapp;
  await app.restored;
  for (let i = 0; i < 600; i++) {
    const w = app.shell.currentWidget;
    if (w && w.sessionContext && w.content && w.content.widgets) {
      await w.context.ready;
      await w.sessionContext.ready;
      await app.commands.execute('notebook:run-all-cells');
      return w.sessionContext.session.kernel.name;
    }
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error('JupyterLab opened no notebook');
}"""

# Arm one measurement on a drawing explorer's box: t.end when the stroke ends (pointerup),
# then when its readout text and its picture change. All three times are the page's own.
ARM_STROKE_JS = """(box) => {
  const readout = [...box.querySelectorAll('.widget-html-content')].pop();
  const img = box.querySelector('img.widget-image');
  const t = window.__stroke = {end: null, readout: null, picture: null};
  document.addEventListener('pointerup', () => { t.end = performance.now(); },
                            {capture: true, once: true});
  const when = (key) => (_, observer) => {
    if (t.end !== null && t[key] === null) { t[key] = performance.now(); observer.disconnect(); }
  };
  new MutationObserver(when('readout')).observe(readout,
      {childList: true, subtree: true, characterData: true});
  new MutationObserver(when('picture')).observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def drawing_explorer(page, timeout_ms: float):
    """The box of the drawing explorer on ``page`` (canvas, controls, readout, picture)."""
    box = page.locator(".widget-vbox", has=page.locator("canvas.course-digit-canvas"))
    box.last.wait_for(timeout=timeout_ms)
    page.locator(".widget-html-content", has_text="reads a").first.wait_for(timeout=timeout_ms)
    return box.last.element_handle()


def draw(page, explorer, points, timeout_ms: float = 30_000) -> dict:
    """Draw one stroke through ``points`` ((x, y) as fractions of the canvas) with the mouse,
    and wait until the readout and the picture have changed; returns the readout and the
    milliseconds from the stroke's end to each change."""
    canvas = explorer.query_selector("canvas.course-digit-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    explorer.evaluate(ARM_STROKE_JS)
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()
    page.wait_for_function("() => window.__stroke.readout !== null && "
                           "window.__stroke.picture !== null", timeout=timeout_ms)
    t = page.evaluate("() => window.__stroke")
    readout = explorer.evaluate(READOUT_JS)
    return {"readout": readout, "prediction_ms": t["readout"] - t["end"],
            "picture_ms": t["picture"] - t["end"]}


def clear_canvas(page, explorer, timeout_ms: float = 30_000) -> str:
    """Press the canvas's Clear button; wait for the blank canvas's readout; return it."""
    explorer.query_selector("button.course-digit-clear").click()
    page.wait_for_function(f"box => ({READOUT_JS})(box).includes('the canvas is blank')",
                           arg=explorer, timeout=timeout_ms)
    return explorer.evaluate(READOUT_JS)


DRAW_DIGIT_NOTEBOOK = ROOT / "tests" / "fixtures" / "draw_digit.ipynb"


@contextlib.contextmanager
def drawing_pages(tmp: Path, timeout_ms: float = 120_000):
    """Yield {"JupyterLab": (page, blocked), "Voila": (page, blocked)}: the drawing explorer's
    fixture notebook run in JupyterLab (a copy in ``tmp``, which JupyterLab may save) and
    rendered by the Voila app, both loading at once."""
    shutil.copy(DRAW_DIGIT_NOTEBOOK, tmp / DRAW_DIGIT_NOTEBOOK.name)
    (tmp / "state").mkdir()
    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(jupyterlab_server(tmp, tmp / "state"))
        voila = stack.enter_context(voila_server(ROOT, tmp / "state" / "voila.log"))
        opened = {}
        page, blocked = stack.enter_context(offline_page(1280, 1000))
        path = DRAW_DIGIT_NOTEBOOK.relative_to(ROOT).as_posix()
        page.goto(f"{voila}voila/render/{path}", wait_until="commit")
        opened["Voila"] = (page, blocked)
        page, blocked = stack.enter_context(offline_page(1280, 1000))
        page.goto(f"{lab}lab/tree/{DRAW_DIGIT_NOTEBOOK.name}")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout_ms)
        kernel = page.evaluate(RUN_ALL_JS)
        if kernel != "python3":
            raise RuntimeError(f"JupyterLab ran the notebook with kernel {kernel!r}")
        opened["JupyterLab"] = (page, blocked)
        yield opened


ONE = [(0.5, 0.15), (0.5, 0.85)]
"""A vertical stroke down the middle: a '1'."""
LOOP_WITH_TAIL = [(0.62, 0.3), (0.5, 0.18), (0.36, 0.24), (0.32, 0.38), (0.42, 0.48),
                  (0.58, 0.44), (0.63, 0.3), (0.62, 0.55), (0.6, 0.88)]
"""A loop at the top, closed on its right, and a tail down from it: a '9'."""
