"""Lessons served live by Voila, driven in Debian's headless Chromium, fully offline.

One Voila server (``python -m course_lib.slides.app``'s command, on 127.0.0.1 with a free
port, rooted at the repository) serves the fixture and the lessons; their pages are all
requested up front so the kernels run side by side, each in a page whose requests beyond
this machine are aborted and counted. Each test then changes a control the way a student
would (keyboard on the slider, typing in a number box), waits for the *readout text* the
kernel recomputes, and checks that the picture was redrawn too.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from browser_support import (
    FIXTURE_NOTEBOOK,
    READOUT_JS,
    ROOT,
    browser_marks,
    offline_page,
    voila_server,
)

pytestmark = browser_marks

CONVOLUTION = ROOT / "notebooks" / "02_convolution.ipynb"
PADDING_AND_STRIDE = ROOT / "notebooks" / "03_padding_and_stride.ipynb"
FIRST_RENDER_MS = 120_000  # Voila runs the whole lesson before the widgets show
UPDATE_MS = 30_000


def _missing(*notebooks: Path) -> str | None:
    try:
        from course_lib.widgets import KernelEditor, SlidingWindowStepper  # noqa: F401
    except ImportError as err:
        return f"course_lib.widgets (KernelEditor, SlidingWindowStepper) is missing: {err}"
    absent = [str(nb.relative_to(ROOT)) for nb in notebooks if not nb.is_file()]
    return f"lesson notebook(s) missing: {', '.join(absent)}" if absent else None


@pytest.fixture(scope="module")
def app_pages(tmp_path_factory):
    """{notebook: (page, blocked)} for the fixture and the lessons present, all loading."""
    notebooks = [nb for nb in (FIXTURE_NOTEBOOK, CONVOLUTION, PADDING_AND_STRIDE) if nb.is_file()]
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with voila_server(ROOT, log) as base, contextlib.ExitStack() as pages:
        opened = {}
        for nb in notebooks:
            page, blocked = pages.enter_context(offline_page(1280, 1000))
            # return at once: Voila streams the page while the kernel runs the notebook
            page.goto(f"{base}voila/render/{nb.relative_to(ROOT).as_posix()}",
                      wait_until="commit")
            opened[nb] = (page, blocked)
        yield opened


def _explorer(page, marker: str):
    """The innermost widget box whose readout contains ``marker``: an ElementHandle, so it
    stays the same explorer after the readout text changes."""
    box = page.locator(".widget-vbox", has=page.locator(".widget-html-content",
                                                        has_text=marker))
    # a cell that raised shows its traceback instead: fail at once, saying why
    error = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]',
                         has_text="Error")
    box.first.or_(error.first).wait_for(timeout=FIRST_RENDER_MS)
    if not box.count():
        pytest.fail(f"the lesson raised before showing {marker!r}:\n"
                    + error.first.inner_text()[-2000:])
    return box.last.element_handle()


def _readout(explorer) -> str:
    return explorer.evaluate(READOUT_JS)


def _wait_for_readout(page, explorer, pattern: str) -> str:
    """Wait until the explorer's readout matches the regex ``pattern``; return the text."""
    page.wait_for_function(f"([box, pattern]) => new RegExp(pattern).test(({READOUT_JS})(box))",
                           arg=[explorer, pattern], timeout=UPDATE_MS)
    return _readout(explorer)


def _image_src(explorer) -> str:
    return explorer.eval_on_selector("img.widget-image", "img => img.src")


def _step_slider(page, explorer, pattern: str) -> str:
    """Press the right arrow on the explorer's slider; wait for ``pattern``; new readout."""
    explorer.query_selector(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    return _wait_for_readout(page, explorer, pattern)


def _wait_for_new_image(page, explorer, before: str) -> None:
    """Wait until the explorer's picture is replaced (it arrives after the readout)."""
    page.wait_for_function("([box, before]) => box.querySelector('img.widget-image').src "
                           "!== before", arg=[explorer, before], timeout=UPDATE_MS)


def _assert_code_hidden(page):
    assert page.locator(".jp-Cell").count() > 0, "no notebook cells on the page"
    code = page.locator(".jp-CodeCell .jp-InputArea, .jp-InputArea-editor")
    assert code.count() == 0, "Voila app shows code cells"


def test_fixture_app_slider_updates_image_and_readout(app_pages):
    page, blocked = app_pages[FIXTURE_NOTEBOOK]
    app = _explorer(page, "shift = 0;")
    assert "shift = 0; top-left pixel = 0" in _readout(app)
    before = _image_src(app)
    text = _step_slider(page, app, r"shift = 1;")
    assert "shift = 1; top-left pixel = 124" in text  # np.roll moved column 31 (4*31) left
    _wait_for_new_image(page, app, before)
    _assert_code_hidden(page)
    assert page.locator(".MathJax, mjx-container").count() >= 2, "math not typeset"
    assert blocked == [], f"requests left this machine: {blocked}"


@pytest.mark.skipif(_missing(CONVOLUTION) is not None, reason=_missing(CONVOLUTION) or "")
def test_lesson_01_kernel_editor_filters_live(app_pages):
    page, blocked = app_pages[CONVOLUTION]
    editor = _explorer(page, "kernel sum =")
    boxes = editor.query_selector_all("input[type=number]")
    assert len(boxes) == 9, "the 3x3 kernel grid"
    kernel = [float(box.input_value()) for box in boxes]
    before_text, before_image = _readout(editor), _image_src(editor)
    centre = boxes[4]
    centre.fill(repr(kernel[4] + 1))
    centre.press("Enter")
    # the readout leads with the new sum, written as the widgets write numbers
    old_sum = re.search(r"kernel sum = (\S+?):", before_text).group(1)
    text = _wait_for_readout(page, editor, rf"kernel sum = (?!{re.escape(old_sum)}:)")
    new_sum = float(re.search(r"kernel sum = \(?(-?[\d.e+-]+)\)?:", text).group(1))
    assert new_sum == pytest.approx(sum(kernel) + 1, abs=1e-3)
    _wait_for_new_image(page, editor, before_image)  # the filtered image is redrawn
    _assert_code_hidden(page)
    assert blocked == [], f"requests left this machine: {blocked}"


@pytest.mark.skipif(_missing(PADDING_AND_STRIDE) is not None,
                    reason=_missing(PADDING_AND_STRIDE) or "")
def test_lesson_02_sliding_window_stepper_steps(app_pages):
    page, blocked = app_pages[PADDING_AND_STRIDE]
    stepper = _explorer(page, "step 0 of")
    before = _image_src(stepper)
    assert "output[0, 0]" in _readout(stepper)
    text = _step_slider(page, stepper, r"step 1 of \d+: output\[0, 1\]")
    assert re.search(r"= \(?-?[\d.]+\)?\s*$", text), "the dot product is written out"
    _wait_for_new_image(page, stepper, before)  # the highlighted window moved
    # a burst of key presses, as a dragged slider sends: the last value is drawn (queued
    # changes are drawn together), the readout and picture end on it
    before = _image_src(stepper)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    _wait_for_readout(page, stepper, r"step 4 of \d+: output\[\d+, \d+\]")
    _wait_for_new_image(page, stepper, before)
    page.wait_for_timeout(300)  # nothing older arrives after the last picture
    assert _readout(stepper).startswith("step 4 of")
    _assert_code_hidden(page)
    assert blocked == [], f"requests left this machine: {blocked}"
