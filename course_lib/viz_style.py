"""The look every course figure shares (static figures and explorers), and its check.

Colours (colour-blind safe): inputs in gray; non-negative maps in viridis (``SEQUENTIAL``);
signed values (weights, gradients, pre-activation maps) in 'RdBu_r' (``DIVERGING``) with
symmetric limits (-m, m) (``signed_limits``) so white means zero, always with a colorbar;
lines, bars and outlines from the Okabe-Ito palette (``ORANGE`` ... ``PURPLE``).

Readable from the back of a room: a figure's PNG is shown at its natural width, shrunk to
fit a notebook column of ``MAX_WIDTH_PX`` when wider, so a text of s points in a figure of
dpi d whose PNG is W px wide shows s * d / 72 * min(1, MAX_WIDTH_PX / W) px tall; that must
be at least 11 pt on a 96-dpi screen (``MIN_TEXT_PX``, 14.67 px). At ``DPI`` the smallest
size, ``FONT_SMALL`` (tick labels, legends, numbers in cells), shows 15.3 px.
``use_lesson_style`` sets the lessons' sizes once (their setup cell calls it);
``audit_figure_text`` lists the texts of a figure that fall short; with the environment
variable ``COURSE_AUDIT_FIGURES=1`` (set by tests/conftest.py, inherited by nbval's
kernels) importing this module makes every figure the inline backend shows fail its cell
with an AssertionError when it is not readable.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.backend_bases import FigureCanvasBase, RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.typing import RcKeyType

__all__ = ["DIVERGING", "SEQUENTIAL", "ORANGE", "SKY", "GREEN", "YELLOW", "BLUE", "VERMILLION",
           "PURPLE", "DPI", "MAX_WIDTH_PX", "MIN_TEXT_PX", "FONT_SMALL", "FONT_LABEL",
           "FONT_TITLE", "LESSON_STYLE", "AUDIT_ENV", "use_lesson_style", "signed_limits",
           "audit_figure_text", "install_figure_audit", "remove_figure_audit"]

DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"
# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")

DPI = 100
MAX_WIDTH_PX = 1100  # the notebook column on a 1280-wide screen (JupyterLab, Notebook 7)
MIN_TEXT_PX = 11 * 96 / 72  # 11 pt on a 96-dpi screen
FONT_SMALL = 11  # tick labels, numbers written in cells, legends, annotations: 15.3 px
FONT_LABEL = 12  # axis and colour-bar labels
FONT_TITLE = 13  # panel titles
AUDIT_ENV = "COURSE_AUDIT_FIGURES"
LESSON_STYLE: dict[RcKeyType, Any] = {
    "figure.dpi": DPI, "font.size": 12, "axes.titlesize": FONT_TITLE,
    "axes.labelsize": FONT_LABEL, "xtick.labelsize": FONT_SMALL, "ytick.labelsize": FONT_SMALL,
    "legend.fontsize": FONT_SMALL, "legend.title_fontsize": FONT_SMALL, "figure.titlesize": 14,
    "figure.labelsize": FONT_LABEL}
"""matplotlib rc settings of the lessons' figures (``use_lesson_style``)."""


def use_lesson_style() -> None:
    """Set matplotlib's defaults to the lessons' readable sizes (``LESSON_STYLE``): 100 dpi,
    tick labels and legends 11 pt, axis labels 12 pt, titles 13 pt. A lesson's setup cell
    calls it once; figures wider than about 11 inches still shrink below 11 pt on screen
    (``audit_figure_text``)."""
    mpl.rcParams.update(LESSON_STYLE)


def signed_limits(a: npt.ArrayLike) -> tuple[float, float]:
    """Symmetric colour limits (-m, m) with m = max |a| (1 if a is all zeros)."""
    m = float(np.max(np.abs(a))) if np.size(a) else 0.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return -m, m


# ----------------------------------------------------------------------------- the audit
def _figure_name(fig: Figure) -> str:
    title = fig.get_suptitle()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    name = title or (" | ".join(titles[:2]) + (" | ..." if len(titles) > 2 else ""))
    number = getattr(fig, "number", None)  # set on figures made by pyplot
    label = f"figure {number}" if number is not None else "figure"
    return f"{label} {name!r}" if name else label


def _drawn_texts(fig: Figure) -> tuple[list[Text], RendererBase]:
    """Draw ``fig`` with the Agg renderer; the Texts drawn (in order) and the renderer."""
    drawn: list[Text] = []
    original_draw = Text.draw

    def recording_draw(self: Text, renderer: RendererBase) -> None:
        drawn.append(self)
        original_draw(self, renderer)

    old_canvas = fig.canvas
    canvas = old_canvas if isinstance(old_canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    setattr(Text, "draw", recording_draw)  # noqa: B010 (mypy forbids assigning a method)
    try:
        canvas.draw()
    finally:
        setattr(Text, "draw", original_draw)  # noqa: B010
        if canvas is not old_canvas:
            fig.set_canvas(old_canvas)
    return drawn, canvas.get_renderer()


def _audit(fig: Figure, max_width_px: float, min_px: float) -> tuple[str, list[str]]:
    """(the figure, its width and scale described; its texts too small to read)."""
    drawn, renderer = _drawn_texts(fig)
    pad = mpl.rcParams["savefig.pad_inches"]
    bbox = fig.get_tightbbox(renderer)
    dpi = fig.dpi
    width_px = (bbox.width + 2 * pad) * dpi
    scale = min(1.0, max_width_px / width_px)
    described = (f"{_figure_name(fig)}, {width_px:.0f} px wide at {dpi:g} dpi"
                 + (f", shrunk to {max_width_px:g} px" if scale < 1 else "")
                 + f"; texts must show >= {min_px:.1f} px")
    problems, seen = [], set()
    for text in drawn:
        content = text.get_text()
        if id(text) in seen or not text.get_visible() or not content.strip():
            continue
        seen.add(id(text))
        points = float(text.get_fontsize())
        shown = points * dpi / 72 * scale
        if shown < min_px - 1e-9:
            problems.append(f"{content!r}: {points:g} pt, {shown:.1f} px on screen")
    return described, problems


def audit_figure_text(fig: Figure, max_width_px: float = MAX_WIDTH_PX,
                      min_px: float = MIN_TEXT_PX) -> list[str]:
    """The texts of ``fig`` too small to read once it is shown in a notebook, described.

    The figure is drawn with the Agg renderer at its dpi, as the inline backend prints it
    (``bbox_inches="tight"``); its PNG, W px wide, is shown shrunk to ``max_width_px`` when
    wider. A text of s points then shows s * dpi / 72 * min(1, max_width_px / W) px tall.
    Every visible non-empty text that is drawn (titles, axis and tick labels, annotations,
    legend and colour-bar texts, suptitles) smaller than ``min_px`` is described in one
    string: its text and its size in points and on screen. An empty list means the figure
    reads well.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    return _audit(fig, max_width_px, min_px)[1]


PrintFigure = Callable[..., Any]
_ORIGINAL_PRINT_FIGURE = cast(PrintFigure, getattr(  # the unpatched one, even after a reload
    FigureCanvasBase.print_figure, "_course_original", FigureCanvasBase.print_figure))


def _audited_print_figure(self: FigureCanvasBase, *args: Any, **kwargs: Any) -> Any:
    result = _ORIGINAL_PRINT_FIGURE(self, *args, **kwargs)
    caller = sys._getframe(1)
    if (caller.f_code.co_name == "print_figure"
            and caller.f_globals.get("__name__") == "IPython.core.pylabtools"):
        described, problems = _audit(self.figure, MAX_WIDTH_PX, MIN_TEXT_PX)
        if problems:
            shown = problems[:12] + ([f"... and {len(problems) - 12} more"]
                                     if len(problems) > 12 else [])
            raise AssertionError(
                f"{len(problems)} text(s) too small to read in {described} "
                "(make the figure narrower, its fonts bigger or use fewer panels per row; "
                "course_lib.viz.use_lesson_style() sets readable font sizes):\n  "
                + "\n  ".join(shown))
    return result


setattr(_audited_print_figure, "_course_original", _ORIGINAL_PRINT_FIGURE)  # noqa: B010


def install_figure_audit() -> None:
    """Make every figure the notebook's inline backend shows (IPython's ``print_figure``)
    raise an AssertionError listing its unreadable texts (``audit_figure_text``). Done on
    import when the environment variable COURSE_AUDIT_FIGURES is "1"."""
    setattr(FigureCanvasBase, "print_figure", _audited_print_figure)  # noqa: B010


def remove_figure_audit() -> None:
    """Undo ``install_figure_audit``."""
    setattr(FigureCanvasBase, "print_figure", _ORIGINAL_PRINT_FIGURE)  # noqa: B010


if os.environ.get(AUDIT_ENV) == "1":
    install_figure_audit()
