"""Open every page of the built website in Chromium, offline (``make site-check``).

    python website/check_site.py [--site build/site] [--screenshots DIR]

Serves the site on 127.0.0.1 and opens each HTML page (the home page, every lesson and exercise
of the registry, the search page) in Debian's Chromium driven by playwright, with every request
that leaves this machine aborted and counted. A page passes when

- it made no request beyond 127.0.0.1 and no local request failed (no 404: every figure,
  script, stylesheet and font is in the site);
- every image loaded (``naturalWidth > 0``) and every link within the site has its target;
- MathJax typeset every formula (no ``\\(`` left in the page's math elements);
- and the search page finds "im2col" in lesson 09 and "cross-correlation" in lesson 02.

Exit status 0 when every page passes, 1 otherwise (each problem printed). Takes about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.lessons import LESSONS  # noqa: E402
from course_lib.slides.browser import CHROMIUM_ARGS, block_external, find_chromium  # noqa: E402

SEARCHES = {"im2col": "09_making_it_fast", "cross-correlation": "02_convolution"}

MATH_JS = """async () => {
    const spans = Array.from(document.querySelectorAll('.math'));
    if (!spans.length) return {count: 0, raw: 0, typeset: 0};
    const deadline = Date.now() + 30000;
    while (!(window.MathJax && MathJax.Hub && MathJax.isReady)) {
        if (Date.now() > deadline) return {count: spans.length, raw: -1, typeset: 0};
        await new Promise(r => setTimeout(r, 50));
    }
    await new Promise(r => MathJax.Hub.Queue(r));
    const raw = spans.filter(s => /\\\\\\(|\\\\\\[/.test(s.textContent)
                                  && !s.querySelector('.MathJax, .MathJax_Display, script')).length;
    return {count: spans.length, raw: raw,
            typeset: document.querySelectorAll('script[type^="math/tex"]').length};
}"""

LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
    .map(a => a.href).filter(h => h.startsWith(location.origin))"""

IMAGES_JS = """() => Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"""


def pages() -> list[str]:
    """Site-relative paths of the pages to open: from the registry, not from a listing."""
    paths = ["index.html"]
    for lesson in LESSONS:
        paths.append(f"notebooks/{lesson.stem}.html")
        if lesson.checks:
            paths.append(f"exercises/{lesson.stem}.html")
    return paths


@contextlib.contextmanager
def serve(folder: Path):
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


def check_site(site: Path, screenshots: Path | None = None) -> list[str]:
    """Open every page; return the problems found (empty: the site passes)."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        return ["Debian's Chromium is not installed: `apt-get install chromium`"]
    missing = [p for p in pages() if not (site / p).is_file()]
    if missing:
        return [f"not built: {p} (run `make site`)" for p in missing]
    problems: list[str] = []
    links: dict[str, str] = {}
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        blocked = block_external(context)
        page = context.new_page()
        failed: list[str] = []
        # (MathJax 2 opens an about:blank frame, which "fails": not a request for a file)
        page.on("requestfailed", lambda r: None if r.url.startswith(("about:", "data:"))
                else failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        for path in pages():
            start = time.perf_counter()
            blocked.clear()
            failed.clear()
            page.goto(base + path, wait_until="load")
            math = page.evaluate(MATH_JS)
            broken = page.evaluate(IMAGES_JS)
            for href in page.evaluate(LINKS_JS):
                links.setdefault(href.split("#")[0].split("?")[0].removeprefix(base), path)
            name = f"{path}:"
            problems += [f"{name} external request {url}" for url in blocked]
            problems += [f"{name} failed request {url}" for url in failed]
            problems += [f"{name} image did not load: {src[:80]}" for src in broken]
            if math["raw"]:
                problems.append(f"{name} MathJax left {math['raw']} of {math['count']} "
                                f"formulas untypeset")
            print(f"{path:45s} {len(page.query_selector_all('img')):3d} images "
                  f"{math['count']:4d} formulas  {time.perf_counter() - start:4.1f} s")
            if screenshots:
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / (path.replace("/", "_") + ".png")))
        for term, stem in SEARCHES.items():
            blocked.clear()
            page.goto(base + f"search.html?q={term}", wait_until="load")
            try:
                page.wait_for_selector("#search-results li", timeout=20_000)
            except Exception:  # noqa: BLE001 (playwright's TimeoutError)
                problems.append(f"search for {term!r} found nothing")
                continue
            hrefs = page.eval_on_selector_all("#search-results li a",
                                              "links => links.map(a => a.href)")
            if not any(stem in href for href in hrefs):
                problems.append(f"search for {term!r} did not find {stem}: {hrefs[:5]}")
            problems += [f"search.html: external request {url}" for url in blocked]
            print(f"search {term!r:22s} {len(hrefs)} results")
            if screenshots:
                page.screenshot(path=str(screenshots / f"search_{term}.png"))
        browser.close()
    for target, source in sorted(links.items()):
        file = site / target
        if not (file.is_file() or (file / "index.html").is_file()):
            problems.append(f"{source}: link to missing {target}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="save a screenshot of every page here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    problems = check_site(args.site, args.screenshots)
    for problem in problems:
        print("✗", problem)
    print(f"{'FAILED' if problems else 'OK'}: {len(pages())} pages, their links and "
          f"{len(SEARCHES)} searches "
          f"checked offline in {time.perf_counter() - start:.0f} s, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
