"""The drawing explorer in a real browser: JupyterLab and the Voila app, each with a live kernel,
driven through Debian's headless Chromium with mouse strokes on the canvas, fully offline.

In each, the test draws a vertical stroke and waits for the new prediction (LeNet must read a
1) and the new picture, then clears the canvas and draws a loop with a tail (a 9). The times from a
stroke's end to the new readout and picture are printed (pytest -s shows them); they are
measured, not asserted: benchmarks/bench_drawing_browser.py records them.
"""

from __future__ import annotations

import pytest
from browser_support import (
    LOOP_WITH_TAIL,
    ONE,
    browser_marks,
    clear_canvas,
    draw,
    drawing_explorer,
    drawing_pages,
)

pytestmark = browser_marks

FIRST_RENDER_MS = 120_000


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    with drawing_pages(tmp_path_factory.mktemp("drawing"), FIRST_RENDER_MS) as opened:
        yield opened


@pytest.mark.parametrize("where", ["JupyterLab", "Voila"])
def test_strokes_drawn_with_the_mouse_are_read_live(pages, where):
    page, blocked = pages[where]
    explorer = drawing_explorer(page, FIRST_RENDER_MS)
    first = clear_canvas(page, explorer)
    assert "input: the canvas is blank" in first

    one = draw(page, explorer, ONE)
    assert one["readout"].startswith("LeNet reads a 1 "), one["readout"]
    assert "input: your drawing" in one["readout"]
    print(f"\n{where}: a '1': prediction after {one['prediction_ms']:.0f} ms, picture after "
          f"{one['picture_ms']:.0f} ms")

    clear_canvas(page, explorer)
    loop = draw(page, explorer, LOOP_WITH_TAIL)
    assert "input: your drawing" in loop["readout"]
    assert loop["readout"].startswith("LeNet reads a 9 "), loop["readout"]
    print(f"{where}: a loop with a tail: {loop['readout'].splitlines()[0]}; prediction after "
          f"{loop['prediction_ms']:.0f} ms, picture after {loop['picture_ms']:.0f} ms")
    assert page.failed_requests == [], page.failed_requests
    assert blocked == [], f"requests left this machine: {blocked}"
