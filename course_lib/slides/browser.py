"""Headless Chromium for the decks: print a deck to PDF, and keep every page offline.

Uses the Python ``playwright`` package driving Debian's Chromium (``apt-get install chromium``);
playwright's own browser download is never used. The browser tests reuse
:data:`CHROMIUM_ARGS`, :func:`block_external` and :func:`wait_for_deck`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..validate import check_path

if TYPE_CHECKING:   # playwright is imported when a browser is launched
    from playwright.sync_api import Browser, BrowserContext, Page, Route

#: Quiet, offline flags: no sandbox (root in CI), no GPU, no background traffic.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
INSTALL_HINT = "install Debian's Chromium with `apt-get install chromium`"


def find_chromium() -> str | None:
    """Path of a Chromium executable: ``$CHROMIUM``, then ``chromium`` on PATH; None if absent."""
    candidate = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).is_file() else None


def is_local(url: str) -> bool:
    """True for file:, data:, blob:, about: URLs and http(s) to 127.0.0.1 / localhost."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


def block_external(target: Page | BrowserContext) -> list[str]:
    """Abort every request of a playwright Page/BrowserContext that leaves this machine.

    Returns the list the blocked URLs are appended to (assert it stays empty).
    """
    blocked: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    target.route("**/*", handle)
    return blocked


WAIT_FOR_DECK_JS = """async () => {
    const deadline = Date.now() + 60000;
    const pause = () => new Promise(r => setTimeout(r, 50));
    while (!(window.Reveal && Reveal.isReady && Reveal.isReady()
             && document.documentElement.dataset.maths === "typeset")) {
        if (Date.now() > deadline) throw new Error("reveal.js did not start or typeset");
        await pause();
    }
    return Reveal.getTotalSlides();
}"""


#: print-pdf: the deck typeset its maths in the print layout (export_pdf opens it with print
#: media emulated, so MathJax measured what is printed); wait for the fonts and two frames.
SETTLE_PRINT_JS = """async () => {
    await document.fonts.ready;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


#: print-pdf: shrink each slide taller than its page so nothing is cut off; returns how many.
FIT_PAGES_JS = """() => {
    let scaled = 0;
    document.querySelectorAll('.reveal .pdf-page').forEach(page => {
        const slide = page.querySelector(':scope > section');
        if (!slide) return;
        const room = page.clientHeight, need = slide.scrollHeight;
        if (need > room) {
            // zoom, not transform: printing splits the *layout* box across pages, and
            // reveal's print stylesheet forces `transform: none !important` anyway
            const zoom = 0.99 * room / need, width = slide.offsetWidth;
            slide.style.setProperty('zoom', String(zoom), 'important');
            slide.style.setProperty('top', '0px', 'important');
            const left = (page.clientWidth - width * zoom) / 2 / zoom;
            slide.style.setProperty('left', `${left}px`, 'important');
            scaled += 1;
        }
    });
    return scaled;
}"""


def wait_for_deck(page: Page) -> int:
    """Wait until reveal.js is ready and the deck's maths typeset; return the number of
    slides."""
    return page.evaluate(WAIT_FOR_DECK_JS)


def export_pdf(deck: str | Path, pdf: str | Path | None = None, *,
               chromium: str | None = None, browser: Browser | None = None) -> Path:
    """Print a deck to PDF with reveal.js ``?print-pdf``: one page per slide.

    deck     : the ``.slides.html`` file (its ``assets/`` folder beside it).
    pdf      : output path; default the deck's path with ``.pdf``.
    chromium : Chromium executable; default :func:`find_chromium`.
    browser  : an already launched playwright Browser to reuse (then ``chromium`` is unused).
    Raises RuntimeError if the deck requests anything outside this machine.
    """
    deck = check_path(deck, "deck")
    if not deck.is_file():
        raise ValueError(f"deck must be an existing .slides.html file, got {str(deck)!r}")
    default = deck.with_name(deck.name.replace(".slides.html", "") + ".pdf")
    pdf = default if pdf is None else check_path(pdf, "pdf")
    if browser is not None:
        _print(browser, deck, pdf)
        return pdf
    with launch_chromium(chromium) as launched:
        _print(launched, deck, pdf)
    return pdf


@contextmanager
def launch_chromium(chromium: str | None = None) -> Iterator[Browser]:
    """Context manager yielding a headless playwright Browser on Debian's Chromium.

    chromium : executable path; default :func:`find_chromium`. RuntimeError if absent.
    """
    chromium = chromium or find_chromium()
    if chromium is None or not Path(chromium).is_file():
        raise RuntimeError(f"headless Chromium not found: {INSTALL_HINT} "
                           f"(or set $CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def _print(browser: Browser, deck: Path, pdf: Path) -> None:
    context = browser.new_context()
    try:
        blocked = block_external(context)
        page = context.new_page()
        page.emulate_media(media="print")  # typeset with the print stylesheets in force
        page.goto(deck.resolve().as_uri() + "?print-pdf")
        wait_for_deck(page)
        page.evaluate(SETTLE_PRINT_JS)
        page.evaluate(FIT_PAGES_JS)
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        if blocked:
            raise RuntimeError(f"{deck.name} requested {len(blocked)} outside URL(s), "
                               f"e.g. {blocked[0]}")
    finally:
        context.close()
