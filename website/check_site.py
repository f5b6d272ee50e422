"""Open every page of the built website in Chromium, offline (``make site-check``).

    python website/check_site.py [--site build/site] [--workers 3] [--screenshots DIR]

Serves the site on 127.0.0.1 and opens each HTML page (the home page, every lesson and exercise
of the registry, the search page) in Debian's Chromium driven by playwright, with every request
that leaves this machine refused (a proxy that accepts no connection; local requests bypass it)
and counted. A page passes when

- it made no request beyond 127.0.0.1 and no local request failed (no 404: every figure,
  script, stylesheet and font is in the site);
- every image loaded (``naturalWidth > 0``) and every link within the site has its target;
- MathJax typeset every formula (no ``\\(`` left in the page's math elements);
- and the search page finds "im2col" in lesson 09 and "cross-correlation" in lesson 02.

Exit status 0 when every page passes, 1 otherwise (each problem printed).

tests/test_site.py runs the same checks (:func:`check_site` with the test session's browser).
Nothing waits for a fixed time: a few pages (``--workers``, tabs of one browser context, so
that each script and font is loaded and compiled once; each page's own events count its
requests) load and typeset at once while this process reads the results of one of them, and
everything a page is checked for comes back from one ``evaluate`` call that returns when MathJax
has finished, the images have settled and the fonts the formulas asked for have loaded. About
20 s for the 20 pages and 2 searches on two cores, most of it MathJax typesetting.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import http.server
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.lessons import LESSONS  # noqa: E402
from course_lib.slides.browser import (  # noqa: E402
    CHROMIUM_ARGS,
    find_chromium,
    is_local,
)

#: term -> the page (stem) the search must list for it
SEARCHES = {"im2col": "09_making_it_fast", "cross-correlation": "02_convolution"}
#: pages checked at once (one browser context each)
WORKERS = 3
#: how long a page may take to load, typeset and settle (ms)
TIMEOUT_MS = 60_000

#: Everything a page is checked for, in one call: waits for the load event, for MathJax to
#: typeset every formula, for every image to load or fail and for the fonts the typeset
#: formulas use (a missing font is a failed request, reported against this page).
PAGE_JS = r"""async (timeout) => {
    const deadline = Date.now() + timeout;
    const pause = ms => new Promise(r => setTimeout(r, ms));
    const within = (promise, ms) => Promise.race([promise, pause(Math.max(0, ms))]);
    if (document.readyState !== "complete")  // (waits for MathJax.js too: an async script)
        await within(new Promise(r => addEventListener("load", r, {once: true})), timeout);
    // Sphinx's math elements, not the ones MathJax's output adds (id MathJax-Span-N)
    const spans = Array.from(document.querySelectorAll('.math:not([id^="MathJax-"])'));
    const math = {count: spans.length, raw: 0, typeset: 0, ready: true};
    if (spans.length) {
        while (window.MathJax && !MathJax.isReady && Date.now() < deadline) await pause(20);
        math.ready = Boolean(window.MathJax && MathJax.isReady);
        if (math.ready)
            await within(new Promise(r => MathJax.Hub.Queue(r)), deadline - Date.now());
        math.raw = spans.filter(s => /\\\(|\\\[/.test(s.textContent)
                                     && !s.querySelector(".MathJax, .MathJax_Display, script"))
                        .length;
        math.typeset = document.querySelectorAll('script[type^="math/tex"]').length;
    }
    const images = Array.from(document.images);
    for (const img of images) if (img.loading === "lazy") img.loading = "eager";
    await within(Promise.all(images.filter(img => !img.complete).map(img => new Promise(r => {
        img.addEventListener("load", r, {once: true});
        img.addEventListener("error", r, {once: true});
    }))), deadline - Date.now());
    document.body.getBoundingClientRect();  // lay out the typeset math: its fonts load now
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    await within(document.fonts.ready, deadline - Date.now());
    return {
        math: math,
        images: images.length,
        broken: images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src),
        links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href)
                    .filter(h => h.startsWith(location.origin)),
    };
}"""

#: Sphinx's search page lists its results one by one: wait until the wanted page is listed
#: or the search says it has finished, then return the links it lists.
SEARCH_JS = """async ([stem, timeout]) => {
    const deadline = Date.now() + timeout;
    const links = () => Array.from(document.querySelectorAll("#search-results li a"))
                             .map(a => a.href);
    const done = () => /finished/i.test(
        (document.querySelector("#search-results .search-summary") || {}).textContent || "");
    while (Date.now() < deadline && !done() && !links().some(h => h.includes(stem)))
        await new Promise(r => setTimeout(r, 20));
    return links();
}"""


def pages() -> list[str]:
    """Site-relative paths of the pages to open: from the registry, not from a listing."""
    paths = ["index.html"]
    for lesson in LESSONS:
        paths.append(f"notebooks/{lesson.stem}.html")
        if lesson.checks:
            paths.append(f"exercises/{lesson.stem}.html")
    return paths


def searches() -> list[str]:
    """Site-relative URLs of the searches to run (``search.html?q=TERM``)."""
    return [f"search.html?q={term}" for term in SEARCHES]


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on http://127.0.0.1:<free port>/ in a thread; yield the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclasses.dataclass
class Report:
    """What the browser saw: problems by kind (each a list of messages) and per-page facts."""

    requests: list[str] = dataclasses.field(default_factory=list)  # external or failed
    images: list[str] = dataclasses.field(default_factory=list)
    math: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)
    search: list[str] = dataclasses.field(default_factory=list)
    #: path -> {"images": n, "formulas": n, "seconds": s} (or the search's result count)
    pages: dict[str, dict] = dataclasses.field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return self.requests + self.images + self.math + self.links + self.search


class _Slot:
    """A page that is reused: a path at a time, with the requests beyond this machine it made
    and the local requests that failed since it was given that path (its own events: the pages
    share one browser context, so its cache: each script and font is loaded and compiled once)."""

    def __init__(self, context):
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("request", lambda r: None if is_local(r.url) else self.blocked.append(r.url))
        self.page.on("websocket", lambda w: None if is_local(w.url)
                     else self.blocked.append(w.url))
        # (MathJax 2 opens an about:blank frame, which "fails": not a request for a file; a
        # request still pending when the page moves on is aborted: not a missing file either)
        self.page.on("requestfailed", lambda r: None if not is_local(r.url)
                     or r.url.startswith(("about:", "data:")) or r.failure == "net::ERR_ABORTED"
                     else self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        self.path: str | None = None
        self.start = 0.0

    def open(self, base: str, path: str) -> None:
        self.path, self.start = path, time.perf_counter()
        self.page.goto(base + path, wait_until="commit")

    def requests(self) -> list[str]:
        """This path's external and failed requests so far (and forget them)."""
        found = [f"{self.path}: external request {url}" for url in self.blocked]
        found += [f"{self.path}: failed request {what}" for what in self.failed]
        self.blocked.clear()
        self.failed.clear()
        return found


@contextlib.contextmanager
def refusing_proxy() -> Iterator[str]:
    """``http://127.0.0.1:PORT``: a port bound and never listened on, so every connection to
    it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _check(slot: _Slot, base: str, report: Report, links: dict[str, str],
           screenshots: Path | None) -> None:
    """Read the results of the path ``slot`` is showing into ``report``."""
    path = slot.path
    page = slot.page
    page.wait_for_load_state("load")
    if path.startswith("search.html"):
        term = path.split("?q=", 1)[1]
        hrefs = page.evaluate(SEARCH_JS, [SEARCHES[term], TIMEOUT_MS])
        if not hrefs:
            report.search.append(f"search for {term!r} found nothing")
        elif not any(SEARCHES[term] in href for href in hrefs):
            report.search.append(f"search for {term!r} did not find {SEARCHES[term]}: "
                                 f"{hrefs[:5]}")
        report.pages[path] = {"results": len(hrefs),
                              "seconds": time.perf_counter() - slot.start}
    else:
        seen = page.evaluate(PAGE_JS, TIMEOUT_MS)
        math = seen["math"]
        for href in seen["links"]:
            links.setdefault(href.split("#")[0].split("?")[0].removeprefix(base), path)
        report.images += [f"{path}: image did not load: {src[:80]}" for src in seen["broken"]]
        if not math["ready"]:
            report.math.append(f"{path}: MathJax did not start ({math['count']} formulas)")
        elif math["count"] and not math["typeset"]:
            report.math.append(f"{path}: MathJax typeset none of {math['count']} formulas")
        elif math["raw"]:
            report.math.append(f"{path}: MathJax left {math['raw']} of {math['count']} "
                               f"formulas untypeset")
        report.pages[path] = {"images": seen["images"], "formulas": math["count"],
                              "seconds": time.perf_counter() - slot.start}
    if screenshots:
        screenshots.mkdir(parents=True, exist_ok=True)
        name = path.replace("/", "_").replace("search.html?q=", "search_")
        page.screenshot(path=str(screenshots / f"{name}.png"))


def missing_links(site: Path, links: dict[str, str]) -> list[str]:
    """``links`` (site-relative target -> the page linking it) whose target is not a file."""
    problems = []
    for target, source in sorted(links.items()):
        file = site / target
        if not (file.is_file() or (file / "index.html").is_file()):
            problems.append(f"{source}: link to missing {target}")
    return problems


def check_site(site: Path, browser=None, *, workers: int = WORKERS,
               screenshots: Path | None = None,
               log: Callable[[str], None] | None = None) -> Report:
    """Open every page and run every search of the site in ``site``; return the report.

    browser: a playwright (sync) Browser to use, e.g. the test session's; by default Debian's
    Chromium is launched and closed here. ``log`` is called with a line per page checked.
    """
    report = Report()
    missing = [p for p in pages() + ["search.html"] if not (site / p).is_file()]
    if missing:
        report.links += [f"not built: {p} (run `make site`)" for p in missing]
        return report
    with contextlib.ExitStack() as stack:
        if browser is None:
            from playwright.sync_api import sync_playwright

            chromium = find_chromium()
            if chromium is None:
                report.requests.append("Debian's Chromium is not installed: "
                                       "`apt-get install chromium`")
                return report
            pw = stack.enter_context(sync_playwright())
            browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            stack.callback(browser.close)
        base = stack.enter_context(serve(site))
        proxy = stack.enter_context(refusing_proxy())
        links: dict[str, str] = {}
        todo = pages() + searches()
        # Requests beyond this machine go to a proxy that refuses every connection (Chromium
        # never reaches the network) and are counted from each page's request events; local
        # ones bypass it. (Playwright's request interception, a route called for every
        # request, would cost about 10 ms of CPU per request, and a lesson makes about 50.)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            proxy={"server": proxy, "bypass": "127.0.0.1,localhost,[::1]"})
        stack.callback(context.close)
        slots = [_Slot(context) for _ in range(max(1, min(workers, len(todo))))]
        busy: list[_Slot] = []  # in the order they were given their paths
        for slot in slots:
            slot.open(base, todo.pop(0))
            busy.append(slot)
        while busy:
            slot = busy.pop(0)
            _check(slot, base, report, links, screenshots)
            if log:
                facts = report.pages[slot.path]
                what = (f"{facts['results']} results" if "results" in facts else
                        f"{facts['images']:3d} images {facts['formulas']:4d} formulas")
                log(f"{slot.path:45s} {what}  {facts['seconds']:4.1f} s")
            if todo:
                report.requests += slot.requests()
                slot.open(base, todo.pop(0))
                busy.append(slot)
        for slot in slots:  # what arrived after the last evaluation
            report.requests += slot.requests()
    report.links += missing_links(site, links)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help="pages checked at once (default %(default)s)")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="save a screenshot of every page here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = check_site(args.site, workers=args.workers, screenshots=args.screenshots, log=print)
    for problem in report.problems:
        print("✗", problem)
    print(f"{'FAILED' if report.problems else 'OK'}: {len(pages())} pages, their links and "
          f"{len(SEARCHES)} searches checked offline in {time.perf_counter() - start:.0f} s, "
          f"{len(report.problems)} problems")
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
