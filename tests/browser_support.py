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
import random
import socket
import subprocess
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
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(voila_command(notebook, port, open_browser=False),
                                env=voila_env(), stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"voila exited with {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"voila did not listen on port {port} within "
                                   f"{startup_timeout} s:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
