"""Offline reveal.js decks and PDFs (course_lib.slides), checked on a small fixture lesson.

The fixture (tests/fixtures_slides/deck_fixture.ipynb) has every slide type, inline and
display math, a skipped setup cell and an ipywidgets slider + image + readout. It is
exported once per session (executed, widget state embedded); the browser tests open that
deck from disk and over HTTP with every request beyond 127.0.0.1 blocked, and print it.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import signal
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from browser_support import (
    FIXTURE_NOTEBOOK,
    ROOT,
    browser_marks,
    free_port,
    offline_page,
    serve_directory,
    shared_browser,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.slides import expected_slide_count, export_deck, export_pdf, find_lessons
from course_lib.slides.__main__ import main as slides_main
from course_lib.slides.__main__ import write_index
from course_lib.slides.app import voila_command
from course_lib.slides.assets import build_assets
from course_lib.slides.browser import is_local, wait_for_deck
from course_lib.slides.fit import MIN_ZOOM, SLIDE_HEIGHT, measure
from course_lib.slides.pdfcheck import pdf_problems

FIXTURE_SLIDES = 4  # title (+ fragment), subslide with display math, widget, summary
LESSON_02 = ROOT / "notebooks" / "03_padding_and_stride.ipynb"


def _cell(kind: str, slide_type: str | None):
    cell = new_markdown_cell("text") if kind == "md" else new_code_cell("1")
    if slide_type is not None:
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


# ---------------------------------------------------------------------- slide counting
def test_fixture_slide_count_matches_hand_count():
    assert expected_slide_count(FIXTURE_NOTEBOOK) == FIXTURE_SLIDES


@pytest.mark.parametrize("types, expected", [
    (["slide", "-", "fragment", "subslide", "slide"], 3),
    (["-", "-", "slide"], 2),                  # the first visible cell always opens a slide
    (["skip", "notes", "fragment", "slide"], 2),
    (["skip", "subslide", "subslide"], 2),     # skip cells before the first slide are ignored
    ([None, "slide", "notes", "skip"], 2),     # no metadata counts as '-'
    (["slide", "skip", "slide"], 2),
])
def test_expected_slide_count_follows_nbconvert_grouping(types, expected):
    nb = new_notebook(cells=[_cell("md", t) for t in types])
    assert expected_slide_count(nb) == expected


def test_expected_slide_count_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no visible cell"):
        expected_slide_count(new_notebook(cells=[_cell("md", "skip"), _cell("md", "notes")]))
    with pytest.raises(TypeError, match="notebook path or a notebook dict"):
        expected_slide_count(42)
    with pytest.raises(ValueError, match="existing .ipynb"):
        expected_slide_count(tmp_path / "missing.ipynb")


def test_find_lessons_by_name_prefix_and_path(tmp_path):
    for name in ("02_convolution", "03_padding_and_stride", "10_extra"):
        nbformat.write(new_notebook(cells=[_cell("md", "slide")]), tmp_path / f"{name}.ipynb")
    assert [p.stem for p in find_lessons([], tmp_path)] == ["02_convolution",
                                                            "03_padding_and_stride", "10_extra"]
    assert find_lessons(["03"], tmp_path)[0].stem == "03_padding_and_stride"
    assert find_lessons("02_convolution", tmp_path)[0].stem == "02_convolution"
    assert find_lessons([FIXTURE_NOTEBOOK], tmp_path) == [FIXTURE_NOTEBOOK]
    with pytest.raises(ValueError, match="matches 0 notebooks.*available: 02_convolution"):
        find_lessons(["04"], tmp_path)
    with pytest.raises(TypeError, match="str or Path"):
        find_lessons([3], tmp_path)


def test_cli_reports_an_unknown_lesson(capsys):
    assert slides_main(["no_such_lesson", "--no-pdf"]) == 2
    assert "lesson 'no_such_lesson' matches 0 notebooks" in capsys.readouterr().err


def test_index_links_each_deck_and_its_pdf(tmp_path):
    (tmp_path / "02_convolution.slides.html").write_text("deck")
    (tmp_path / "02_convolution.pdf").write_bytes(b"%PDF")
    (tmp_path / "03_padding_and_stride.slides.html").write_text("deck")
    page = write_index(tmp_path).read_text()
    assert '<a href="02_convolution.slides.html">02_convolution</a>' in page
    assert '<a href="02_convolution.pdf">PDF</a>' in page
    assert "03_padding_and_stride.slides.html" in page
    assert "03_padding_and_stride.pdf" not in page


def test_voila_command_validates_and_binds_locally(tmp_path):
    command = voila_command(FIXTURE_NOTEBOOK, 8899, open_browser=False)
    assert "--Voila.ip=127.0.0.1" in command and "--port=8899" in command
    assert "--template=course_app" in command and "--no-browser" in command
    assert str(tmp_path) in voila_command(tmp_path)  # a folder: Voila lists its notebooks
    with pytest.raises(ValueError, match="existing .ipynb file or folder"):
        voila_command(tmp_path / "nope.ipynb")
    with pytest.raises(ValueError, match="port must be"):
        voila_command(FIXTURE_NOTEBOOK, 0)


def test_is_local():
    assert is_local("http://127.0.0.1:8000/a.js") and is_local("file:///tmp/x.html")
    assert is_local("http://localhost/x") and is_local("data:text/plain,hi")
    assert not is_local("https://cdn.jsdelivr.net/npm/x") and not is_local("http://10.0.0.1/")


# ---------------------------------------------------------------------- the exported deck
def _export(notebook: Path, tmp_path_factory) -> Path:
    return export_deck(notebook, tmp_path_factory.mktemp("slides"))


@pytest.fixture(scope="session")
def fixture_deck(tmp_path_factory) -> Path:
    """The fixture lesson exported (executed) into a fresh folder; its path."""
    return _export(FIXTURE_NOTEBOOK, tmp_path_factory)


@pytest.fixture(scope="module")
def lesson_deck(tmp_path_factory) -> Path:
    """Lesson 03 (math, a SlidingWindowStepper, a ConvArithmeticExplorer) exported."""
    if not LESSON_02.is_file():
        pytest.skip(f"{LESSON_02.relative_to(ROOT)} is missing")
    return _export(LESSON_02, tmp_path_factory)


class _Refs(HTMLParser):
    """Collect the URLs a page loads: script src, link href, img src."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = {"script": "src", "link": "href", "img": "src"}.get(tag)
        if key and attrs.get(key):
            self.urls.append(attrs[key])


def test_deck_loads_only_files_shipped_beside_it(fixture_deck):
    html = fixture_deck.read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(html)
    assert len(refs.urls) >= 5, refs.urls  # jQuery, require, MathJax, reveal css + theme
    for url in refs.urls:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        assert not parts.scheme and not parts.netloc, f"deck loads a remote URL: {url}"
        assert (fixture_deck.parent / unquote(parts.path)).is_file(), f"missing asset {url}"
    # the URLs built in JavaScript: reveal.js via require
    for path in re.findall(r'"(assets/[^"?]+\.js)"', html):
        assert (fixture_deck.parent / path).is_file(), f"missing asset {path}"
    # and no widget renderer: nothing in a deck would use it
    assert "widgetRendererSrc" not in html and "embed-amd" not in html
    # no live widget in a deck (nothing would run it): explorers come as pre-rendered frames
    assert "application/vnd.jupyter.widget-state+json" not in html
    assert "application/vnd.jupyter.widget-view+json" not in html
    assert html.count('class="course-frames"') == 1 and "make app LESSON=deck_fixture" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_cli_exports_saved_outputs_and_writes_an_index(fixture_deck, tmp_path, capsys):
    out = tmp_path / "decks"
    code = slides_main([str(FIXTURE_NOTEBOOK), "--no-execute", "--no-pdf", "--out", str(out)])
    assert code == 0
    assert "deck_fixture.slides.html  (4 slides" in capsys.readouterr().out
    assert (out / "assets" / "reveal.js").is_dir() and (out / "assets" / "require.js").is_file()
    assert not (out / "assets" / "html-manager").exists()
    assert "deck_fixture.slides.html" in (out / "index.html").read_text()


def test_build_assets_is_idempotent(fixture_deck):
    stamp = fixture_deck.parent / "assets" / "SOURCES.json"
    before = stamp.stat().st_mtime_ns
    build_assets(fixture_deck.parent)
    assert stamp.stat().st_mtime_ns == before


def _check_deck(page, blocked, url):
    page.goto(url)
    assert wait_for_deck(page) == FIXTURE_SLIDES == expected_slide_count(FIXTURE_NOTEBOOK)
    assert page.evaluate("Reveal.isReady()")
    # inline and display math typeset by MathJax (the TeX source is gone from the page)
    assert page.locator(".MathJax").count() >= 2
    assert page.locator(".MathJax_Display").count() >= 1
    assert "\\lfloor" not in page.inner_text(".reveal .slides")
    # no live-looking control that does nothing: the plain widget is its text and a note,
    # the explorer a frame switcher whose range input works without a kernel
    page.evaluate("Reveal.slide(1, 0)")  # slide 0 has the math subslide below it
    slide = page.evaluate("""() => { const s = Reveal.getCurrentSlide();
        return {widgets: s.querySelectorAll('.widget-slider, .jupyter-widgets').length,
                ranges: s.querySelectorAll('.course-frames input[type=range]').length,
                notes: s.querySelectorAll('.course-live-note').length, text: s.innerText}; }""")
    assert (slide["widgets"], slide["ranges"], slide["notes"]) == (0, 1, 2), slide
    assert "step 0 of 3:" in slide["text"]
    frames = page.locator(".course-frames")
    before = frames.locator("img").get_attribute("src")
    frames.locator("input[type=range]").focus()
    for _ in range(2):
        page.keyboard.press("ArrowRight")  # moves the frames, never the slide
    assert page.evaluate("[Reveal.getIndices().h, Reveal.getIndices().v]") == [1, 0]
    assert "step 2 of 3:" in frames.locator(".course-frames-readout").inner_text()
    assert frames.locator("output").inner_text() == "2"
    assert frames.locator("img").get_attribute("src") != before
    assert blocked == [], f"requests left this machine: {blocked}"


class TestDeckInBrowser:
    pytestmark = browser_marks

    def test_deck_served_over_http_starts_offline(self, fixture_deck):
        with serve_directory(fixture_deck.parent) as base, offline_page() as (page, blocked):
            _check_deck(page, blocked, base + fixture_deck.name)
            # MathJax 2 probes web-font support with an about:blank font; nothing else may fail
            failed = [url for url in page.failed_requests if url != "about:blank"]
            assert failed == [], "local assets failed to load"

    def test_deck_opened_from_disk_starts_offline(self, fixture_deck):
        with offline_page() as (page, blocked):
            _check_deck(page, blocked, fixture_deck.resolve().as_uri())

    def test_pdf_has_one_page_per_slide(self, fixture_deck):
        pypdf = pytest.importorskip("pypdf")
        pdf = export_pdf(fixture_deck, browser=shared_browser())
        reader = pypdf.PdfReader(pdf)
        assert len(reader.pages) == expected_slide_count(FIXTURE_NOTEBOOK) == FIXTURE_SLIDES
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "FIXTURE DECK" in text.upper() and "step 0 of 3" in text

    def test_pdf_maths_is_typeset_for_print_five_builds_running(self, fixture_deck, tmp_path):
        """The print race garbled 1 build in 3 before SETTLE_PRINT_JS: five clean in a row."""
        for build in range(5):
            pdf = export_pdf(fixture_deck, tmp_path / f"build{build}.pdf", browser=shared_browser())
            assert pdf_problems(pdf) == [], f"build {build + 1}"


#: show slide [h, v]: its natural height and its zoom
SHOWN_JS = """([h, v]) => {
    Reveal.slide(h, v);
    const slide = Reveal.getCurrentSlide(), zoom = slide.style.zoom;
    slide.style.zoom = "";
    const height = slide.scrollHeight;
    slide.style.zoom = zoom;
    return [height, Number(zoom || 1)];
}"""

#: from now on, collect MathJax's messages (its typesetting and re-rendering announce themselves)
LISTEN_TO_MATHJAX_JS = """() => {
    window.mathJaxMessages = [];
    MathJax.Hub.signal.Interest(message => { window.mathJaxMessages.push(String(message)); },
                                true);  // (true: not the messages sent before)
}"""


class TestLessonDeckInBrowser:
    """A real lesson: every slide there, math typeset, every explorer's frames, nothing remote."""

    pytestmark = browser_marks

    def test_lesson_deck_opens_offline_with_all_widgets(self, lesson_deck):
        with serve_directory(lesson_deck.parent) as base, offline_page() as (page, blocked):
            page.goto(base + lesson_deck.name)
            assert wait_for_deck(page) == expected_slide_count(LESSON_02)
            assert page.locator(".MathJax").count() >= 1
            views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]')
            assert views.count() == 0  # no live widget without a kernel
            frames = page.locator(".course-frames")
            assert frames.count() >= 2  # the stepper and the arithmetic explorer
            assert page.locator(".course-frames img").count() == frames.count()
            assert page.locator(".course-live-note").count() >= frames.count()
            failed = [url for url in page.failed_requests if url != "about:blank"]
            assert failed == [] and blocked == [], (failed, blocked)

    def test_a_slide_shown_has_the_height_and_zoom_the_fit_check_measured(self, lesson_deck):
        """The maths is typeset before any slide is measured or shown, and showing a slide
        typesets nothing. (Typeset again when shown, a slide grew by up to 300 px after the
        template had zoomed it, and the fit check measured it with its formulas removed.)"""
        sizes = measure(lesson_deck, shared_browser())
        with offline_page() as (page, blocked):
            page.goto(lesson_deck.resolve().as_uri())
            wait_for_deck(page)
            page.evaluate(LISTEN_TO_MATHJAX_JS)
            for size in sizes:
                height, zoom = page.evaluate(SHOWN_JS, [size.h, size.v])
                expected = max(MIN_ZOOM, SLIDE_HEIGHT / height) if height > SLIDE_HEIGHT else 1
                assert abs(height - size.height) <= 1, (size.describe(), height)
                assert zoom == pytest.approx(expected, abs=1e-3), (size.describe(), zoom)
            page.wait_for_timeout(300)  # (MathJax re-rendered a shown slide 100-150 ms later)
            assert page.evaluate("window.mathJaxMessages") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_app_launcher_stops_voila_and_its_kernels(signum, tmp_path):
    """`make app` then Ctrl-C (SIGINT) or SIGTERM leaves no Voila and no kernel behind."""
    psutil = pytest.importorskip("psutil")
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "course_lib.slides.app", str(FIXTURE_NOTEBOOK), "--port",
         str(port), "--no-browser"], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        page = None
        while page is None and time.monotonic() < deadline:  # rendering starts a kernel
            assert launcher.poll() is None, f"the launcher exited with {launcher.returncode}"
            with contextlib.suppress(OSError, http.client.HTTPException):
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read()
            time.sleep(0.3)
        assert page and b"Fixture deck" in page
        family = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children(True)]
        assert any("ipykernel" in " ".join(p.cmdline()) for p in family[1:]), family
        launcher.send_signal(signum)
        assert launcher.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(family, timeout=15)
        assert alive == [], f"left running: {[p.cmdline() for p in alive]}"
    finally:
        if launcher.poll() is None:
            launcher.kill()
