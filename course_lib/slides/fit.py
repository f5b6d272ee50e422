"""Make every slide of a lesson fit the projector, at authoring time.

    python -m course_lib.slides.fit 02_convolution      # rewrite the notebook's slide breaks
    python -m course_lib.slides.fit --check             # every lesson: report, change nothing

The deck is exported from the notebook's saved outputs and measured in headless Chromium.
reveal.js lays a slide out at a fixed logical size (``SLIDE_WIDTH`` x ``SLIDE_HEIGHT``) and
scales it to the screen, so a slide that fits fits on a 1280x720 and a 1024x768 projector
alike. A slide taller than that is split into sub-slides at cell boundaries (the cells that
start a part become ``subslide``); a Markdown cell too tall on its own is first split in two
at a paragraph boundary (never inside maths, code, a table or a ``<details>`` answer); a
code cell too tall on its own gets the tag ``hide-input``, so the deck shows what it prints
or draws without its code (the notebook keeps it). Text wraps instead of running off the
right edge (the deck template's CSS), and a slide at most ``1 / MIN_ZOOM`` times too tall is
shown at that zoom (the deck template's script), which keeps code at 11 pt or more. Only
slide metadata, tags and Markdown cell boundaries change: a
learner reading the notebook sees the same text and code.

An explorer's deck frames (a range input and a readout under its picture) exist only in an
executed deck; ``FRAME_ROOM`` pixels are kept free for them on every slide with an explorer.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from ..lessons import LESSONS, get_lesson
from . import export_deck

if TYPE_CHECKING:   # playwright is imported when a browser is launched
    from playwright.sync_api import Browser

SLIDE_WIDTH, SLIDE_HEIGHT = 960, 700  # the deck template's reveal.js width and height
FRAME_ROOM = 110                       # px for an explorer's range input and readout
MIN_ZOOM = 0.85                        # = the deck template's minZoom
VIEWPORTS = ((1280, 720), (1024, 768))

#: Every slide measured at once: the deck template's class ``course-layout-all`` lays out every
#: slide (reveal.js hides the distant ones), with no slide zoomed (the template zooms the one on
#: screen if it is a little too tall).
MEASURE_JS = """() => {
    const deck = document.querySelector('.reveal');
    const sections = [...deck.querySelectorAll('.slides section')];
    const zooms = sections.map(s => s.style.zoom);
    sections.forEach(s => { s.style.zoom = ""; });
    deck.classList.add('course-layout-all');
    const scale = Reveal.getScale();
    const slides = Reveal.getSlides().map(slide => {
        const at = Reveal.getIndices(slide), top = slide.getBoundingClientRect().top;
        const cells = [...slide.querySelectorAll('.jp-Cell')].map(cell => {
            const box = cell.getBoundingClientRect();
            return {id: cell.id.replace(/^cell-id=/, ''),
                    top: (box.top - top) / scale, bottom: (box.bottom - top) / scale};
        });
        return {h: at.h, v: at.v, height: slide.scrollHeight, width: slide.scrollWidth,
                explorers: slide.querySelectorAll('.course-live-note').length, cells};
    });
    deck.classList.remove('course-layout-all');
    sections.forEach((s, k) => { s.style.zoom = zooms[k]; });
    return slides;
}"""


#: after a resize: reveal.js lays the slides out for the new window, then two frames pass
RELAYOUT_JS = """() => {
    Reveal.layout();
    return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


@dataclass
class SlideSize:
    """One slide as measured: its content box and its cells' vertical extents."""

    h: int
    v: int
    height: float
    width: float
    explorers: int
    cells: list[dict] = field(default_factory=list)

    @property
    def room(self) -> float:
        return SLIDE_HEIGHT / MIN_ZOOM - FRAME_ROOM * self.explorers

    @property
    def overflows(self) -> bool:
        return self.height > self.room + 1 or self.width > SLIDE_WIDTH + 1

    def describe(self) -> str:
        return (f"slide {self.h + 1}.{self.v + 1}: {self.height:.0f}×{self.width:.0f} px "
                f"(room {self.room:.0f}×{SLIDE_WIDTH})")


def measure(deck: Path, browser: Browser,
            viewport: tuple[int, int] = VIEWPORTS[0]) -> list[SlideSize]:
    """Every slide of ``deck`` measured in ``browser`` (a playwright Browser) at ``viewport``."""
    return measure_sizes(deck, browser, (viewport,))[viewport]


def measure_sizes(deck: Path, browser: Browser, viewports: Sequence[tuple[int, int]] = VIEWPORTS
                  ) -> dict[tuple[int, int], list[SlideSize]]:
    """Every slide of ``deck`` measured at each of ``viewports``: the deck is loaded (and its
    maths typeset) once, then the window is resized and reveal.js lays the slides out again."""
    from .browser import block_external, wait_for_deck

    first, *others = viewports
    context = browser.new_context(viewport={"width": first[0], "height": first[1]})
    try:
        block_external(context)
        page = context.new_page()
        page.goto(deck.resolve().as_uri())
        wait_for_deck(page)
        sizes = {first: [SlideSize(**s) for s in page.evaluate(MEASURE_JS)]}
        for viewport in others:
            page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
            page.evaluate(RELAYOUT_JS)
            sizes[viewport] = [SlideSize(**s) for s in page.evaluate(MEASURE_JS)]
        return sizes
    finally:
        context.close()


def _slide_type(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def split_markdown(source: str) -> tuple[str, str] | None:
    """Split Markdown at the paragraph boundary nearest its middle (by characters), never
    inside a code fence, display maths or a ``<details>`` block, nor before a list item or a
    table row; None if there is no such boundary."""
    lines = source.split("\n")
    candidates, code, maths, details = [], False, False, 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("```"):
            code = not code
        elif not code:
            maths ^= stripped.count("$$") % 2 == 1
            details += stripped.count("<details") - stripped.count("</details>")
        if stripped or code or maths or details or not 0 < i < len(lines) - 1:
            continue
        after = lines[i + 1].lstrip()
        if after and not re.match(r"([-*+|]|\d+[.)])\s", after):
            candidates.append(i)
    if not candidates:
        return None
    middle = len(source) / 2
    best = min(candidates, key=lambda i: abs(len("\n".join(lines[:i])) - middle))
    return "\n".join(lines[:best]).rstrip(), "\n".join(lines[best + 1:]).strip()


HIDE_INPUT = "hide-input"  # the deck shows the cell's outputs only (Jupyter Book's tag too)


def plan(nb: nbformat.NotebookNode,
         slides: list[SlideSize]) -> tuple[set[str], set[str], set[str]]:
    """(cells to start a sub-slide, Markdown cells to split, code cells whose input the deck
    hides) for the overflowing slides."""
    by_id = {cell.get("id"): cell for cell in nb.cells}
    breaks, splits, hides = set(), set(), set()
    for slide in slides:
        if not slide.overflows or not slide.cells:
            continue
        # the slide's own margins and paddings around its cells
        overhead = slide.height - (max(c["bottom"] for c in slide.cells)
                                   - min(c["top"] for c in slide.cells))
        room = slide.room - max(overhead, 0)
        start = slide.cells[0]["top"]
        for k, cell in enumerate(slide.cells):
            too_tall_alone = cell["bottom"] - cell["top"] > room
            nb_cell = by_id.get(cell["id"])
            if too_tall_alone and nb_cell is not None and nb_cell.cell_type == "markdown":
                splits.add(cell["id"])
            if too_tall_alone and nb_cell is not None and nb_cell.cell_type == "code":
                hides.add(cell["id"])
            if k and cell["bottom"] - start > room:
                breaks.add(cell["id"])
                start = cell["top"]
    return breaks, splits, hides


def apply(nb: nbformat.NotebookNode, breaks: set[str], splits: set[str],
          hides: set[str]) -> int:
    """Make ``breaks`` start sub-slides, split the Markdown cells in ``splits`` and tag the
    code cells in ``hides``; return the number of changes."""
    changes, cells = 0, []
    for cell in nb.cells:
        cid = cell.get("id")
        tags = cell.metadata.get("tags", [])
        if cid in hides and HIDE_INPUT not in tags:
            cell.metadata["tags"] = [*tags, HIDE_INPUT]
            changes += 1
        if cid in breaks and _slide_type(cell) not in ("slide", "subslide", "skip", "notes"):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
            changes += 1
        parts = split_markdown(cell.source) if cid in splits else None
        if parts:
            cell.source = parts[0]
            rest = nbformat.v4.new_markdown_cell(parts[1])
            rest.id = uuid.uuid4().hex[:8]
            rest.metadata["slideshow"] = {"slide_type": "subslide"}
            cells += [cell, rest]
            changes += 1
        else:
            cells.append(cell)
    nb.cells = cells
    return changes


def fit_notebook(path: Path, browser: Browser, out_dir: Path, rounds: int = 6) -> list[SlideSize]:
    """Split ``path``'s overflowing slides until they fit (or nothing more can be split);
    write the notebook back if it changed. Returns the slides that still overflow."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for _ in range(rounds):
        nbformat.write(nb, out_dir / path.name)
        deck = export_deck(out_dir / path.name, out_dir, execute=False)
        slides = measure(deck, browser)
        if not apply(nb, *plan(nb, slides)):
            break
        changed = True
    if changed:
        nbformat.write(nb, path)
    return [s for s in slides if s.overflows]


def check_deck(deck: Path, browser: Browser) -> list[str]:
    """Overflowing slides of an exported deck at every size in ``VIEWPORTS``."""
    return [f"{deck.name} at {viewport[0]}×{viewport[1]}: {s.describe()}"
            for viewport, slides in measure_sizes(deck, browser).items()
            for s in slides if s.overflows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.slides.fit",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson stems or numbers; default: all")
    parser.add_argument("--check", action="store_true", help="report only, change nothing")
    args = parser.parse_args(argv)
    from .browser import launch_chromium

    lessons = [get_lesson(name) for name in args.lessons] if args.lessons else list(LESSONS)
    left = 0
    with launch_chromium() as browser, tempfile.TemporaryDirectory() as tmp:
        for lesson in lessons:
            if args.check:
                deck = export_deck(lesson.notebook, Path(tmp), execute=False)
                problems = check_deck(deck, browser)
            else:
                problems = [f"{lesson.stem}: {s.describe()}"
                            for s in fit_notebook(lesson.notebook, browser, Path(tmp))]
            left += len(problems)
            print(f"{lesson.stem}: " + ("fits" if not problems else
                                        f"{len(problems)} slide(s) too large"))
            for problem in problems:
                print("  " + problem)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
