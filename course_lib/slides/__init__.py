"""Instructor slides: reveal.js decks and PDFs of the lesson notebooks that work offline.

    python -m course_lib.slides                      # every lesson in notebooks/, decks + PDFs
    python -m course_lib.slides 02_convolution --no-pdf
    python -m course_lib.slides --serve              # then open http://127.0.0.1:8000/

A deck is the lesson executed and exported with nbconvert's reveal template pointed at a local
``assets/`` folder (see :mod:`course_lib.slides.assets`). Cells become slides from their
``metadata.slideshow.slide_type`` (slide, subslide, fragment, notes, skip, ``-``).

A deck has no kernel, so no live widget is put in it (no control may look live and do
nothing). Each explorer of ``course_lib.widgets`` is shown instead as pre-rendered frames
of its ``deck_control`` (``Explorer.frames``): a plain HTML range input switches the pictures
and readouts in the browser, arrow keys on it move the frames (never the slides), and a note
says where the live version is (``make app LESSON=...``). Any other widget output keeps its
static picture (or text) with the same note.

Public API
----------
export_deck(notebook, out_dir, ...)  -> Path of ``<name>.slides.html``
export_pdf(deck, pdf=None, ...)      -> Path of the PDF (one page per slide, headless Chromium)
expected_slide_count(nb)             -> number of reveal.js slides the notebook makes
build_assets(out_dir)                -> the local assets folder
find_lessons(names, notebooks_dir)   -> notebook paths for lesson names
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

import nbformat

from .. import paths
from ..validate import check_int
from .assets import URLS, build_assets
from .browser import CHROMIUM_ARGS, export_pdf, find_chromium

TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE_NAME = "course_reveal"
NotebookLike = str | Path | dict   # a notebook's path, or the notebook (e.g. a NotebookNode)

__all__ = ["export_deck", "export_pdf", "expected_slide_count", "build_assets", "find_lessons",
           "deck_outputs", "FRAMES_MIME", "WIDGET_VIEW",
           "find_chromium", "CHROMIUM_ARGS", "URLS"]


def _as_notebook(nb: NotebookLike, name: str = "nb") -> nbformat.NotebookNode:
    if isinstance(nb, (str, Path)):
        path = Path(nb)
        if not path.is_file():
            raise ValueError(f"{name} must be an existing .ipynb file, got {str(path)!r}")
        return nbformat.read(path, as_version=4)
    if isinstance(nb, dict) and "cells" in nb:
        return nbformat.from_dict(nb)
    raise TypeError(f"{name} must be a notebook path or a notebook dict, got {type(nb).__name__}")


def _slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def expected_slide_count(nb: NotebookLike) -> int:
    """Number of slides reveal.js shows for ``nb`` (``Reveal.getTotalSlides()``).

    nb : notebook path or dict. nbconvert opens a slide at the first cell that is not
    ``notes``/``skip`` whatever its type, then at every later ``slide`` or ``subslide`` cell
    (a subslide is a vertical slide, counted like any other); ``fragment``, ``-``, ``notes``
    and ``skip`` cells never start one.
    """
    cells = _as_notebook(nb).cells
    types = [_slide_type(cell) for cell in cells]
    visible = [i for i, t in enumerate(types) if t not in ("notes", "skip")]
    if not visible:
        raise ValueError("nb has no visible cell (all are notes/skip): no slide to show")
    return 1 + sum(t in ("slide", "subslide") for t in types[visible[0] + 1:])


def find_lessons(names: str | Sequence[str | Path] = (),
                 notebooks_dir: str | Path | None = None) -> list[Path]:
    """Notebook paths for lesson ``names`` (``"02_convolution"``, ``"02"`` or a path).

    With no names, every ``*.ipynb`` in ``notebooks_dir`` in sorted order.
    """
    if isinstance(names, str):
        names = [names]
    notebooks_dir = Path(paths.NOTEBOOKS_DIR if notebooks_dir is None else notebooks_dir)
    available = sorted(notebooks_dir.glob("*.ipynb"))
    if not names:
        if not available:
            raise ValueError(f"notebooks_dir {str(notebooks_dir)!r} holds no .ipynb file")
        return available
    found = []
    for name in names:
        if not isinstance(name, (str, Path)):
            raise TypeError(f"lesson names must be str or Path, got {type(name).__name__}")
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            found.append(path)
            continue
        matches = [p for p in available if p.stem == str(name) or p.stem.startswith(f"{name}_")]
        if len(matches) != 1:
            choices = ", ".join(p.stem for p in available) or "none"
            raise ValueError(f"lesson {str(name)!r} matches {len(matches)} notebooks in "
                             f"{str(notebooks_dir)!r}; expected exactly one (available: {choices})")
        found.append(matches[0])
    return found


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FRAMES_MIME = "application/vnd.course.frames+json"  # = course_lib.widgets._base.FRAMES_MIME
DECK_FRAMES_ENV = "COURSE_DECK_FRAMES"


def execute_notebook(nb: NotebookLike, cwd: str | Path,
                     timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel, explorers adding their deck frames."""
    from nbclient import NotebookClient

    nb = _as_notebook(nb)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}},
                            store_widget_state=False)
    saved = os.environ.get(DECK_FRAMES_ENV)
    os.environ[DECK_FRAMES_ENV] = "1"  # the kernel inherits it
    try:
        client.execute()
    finally:
        if saved is None:
            del os.environ[DECK_FRAMES_ENV]
        else:
            os.environ[DECK_FRAMES_ENV] = saved
    return nb


def _live_note(lesson: str) -> str:
    return (f'<p class="course-live-note">Live version: <code>make app LESSON={lesson}</code>'
            "</p>")


def _frames_html(frames: dict, lesson: str) -> str:
    """A range input that switches pre-rendered pictures (wired by the deck template)."""
    n, index = len(frames["frames"]), frames["index"]
    first = frames["frames"][index]
    payload = json.dumps(frames).replace("</", "<\\/")
    label = html.escape(str(frames["control"]))
    return (f'<div class="course-frames">'
            f'<script type="application/json">{payload}</script>'
            f'<label>{label} <input type="range" min="0" max="{n - 1}" value="{index}" '
            f'step="1" aria-label="{label}"> <output>{html.escape(frames["labels"][index])}'
            f"</output></label>"
            f'<img alt="{label} = {html.escape(frames["labels"][index])}" '
            f'src="data:image/png;base64,{first["png"]}">'
            f'<pre class="course-frames-readout">{html.escape(first["readout"])}</pre>'
            f"{_live_note(lesson)}</div>")


def deck_outputs(nb: NotebookLike, lesson: str) -> nbformat.NotebookNode:
    """``nb`` with every widget output made deck-safe (see the module docstring): explorer
    frames become HTML frame switchers; other widget views are dropped, keeping the output's
    picture or text, with a note on the live version. Widget state metadata is removed."""
    nb = _as_notebook(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data and FRAMES_MIME not in data:
                continue
            frames = data.pop(FRAMES_MIME, None)
            data.pop(WIDGET_VIEW, None)
            if frames:
                data.clear()
                data["text/html"] = _frames_html(frames, lesson)
            elif "image/png" in data:
                data["text/html"] = (f'<img src="data:image/png;base64,{data["image/png"]}">'
                                     + _live_note(lesson))
            else:
                text = data.get("text/plain", "")
                data["text/html"] = f"<pre>{html.escape(''.join(text))}</pre>" + _live_note(lesson)
    return nb


def export_deck(notebook: str | Path, out_dir: str | Path = "build/slides", *,
                execute: bool = True, timeout: int = 600) -> Path:
    """Export one lesson to ``out_dir/<name>.slides.html``; return that path.

    notebook  : path of the lesson notebook.
    execute   : run it first (in its own folder) so outputs and explorer frames are fresh;
                False exports the outputs saved in the file.
    The assets folder is (re)built in ``out_dir`` when missing.
    """
    from nbconvert import SlidesExporter

    path = Path(notebook)
    nb = _as_notebook(path, "notebook")
    check_int(timeout, "timeout", 1)
    out_dir = Path(out_dir)
    build_assets(out_dir)
    if execute:
        nb = execute_notebook(nb, cwd=path.parent, timeout=timeout)
    nb = deck_outputs(nb, path.stem)
    from traitlets.config import Config

    config = Config()  # cells tagged hide-input show their outputs only (course_lib.slides.fit)
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = ("hide-input",)
    exporter = SlidesExporter(template_name=TEMPLATE_NAME, config=config,
                              extra_template_basedirs=[str(TEMPLATES)],
                              reveal_theme="white", **URLS)
    resources = {"metadata": {"name": path.stem}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    deck = out_dir / f"{path.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck
