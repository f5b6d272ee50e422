"""Drawing helpers the explorers share: images and their colour scales, outlined boxes,
numbers written over cells, colour bars, titles and axis labels.

Each helper either creates artists once (in an explorer's ``_build``) or moves existing
ones (in ``_draw``), so a redraw never adds artists. Sizes and colours come from
``course_lib.viz_style``.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt
from matplotlib import artist, patheffects
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Transform

from ..viz_style import (
    DIVERGING,
    FONT_LABEL,
    FONT_SMALL,
    FONT_TITLE,
    ORANGE,
    SEQUENTIAL,
    signed_limits,
)

__all__ = ["OUTLINE", "CELL_GID", "show", "set_colors", "signed_clim", "nonneg_clim",
           "auto_clim", "highlight", "place", "cell_texts", "write_values", "colorbar",
           "set_title", "label_axes"]

OUTLINE: list[patheffects.AbstractPathEffect] = [
    patheffects.withStroke(linewidth=5, foreground="black")]
"""A highlight outline that stays visible on gray, viridis and red/blue maps alike."""
CELL_GID = "cell value"
"""gid of the texts ``cell_texts`` writes over image cells (exempt from the layout check)."""
CELL_MARGIN_PX = 3  # the least gap between the numbers of two neighbouring cells

Span = tuple[int, int]


# ---------------------------------------------------------------------- images, colours
def show(im: AxesImage, values: npt.NDArray[Any], origin: tuple[float, float] = (0.0, 0.0)
         ) -> None:
    """Put ``values`` (h, w) into the AxesImage ``im`` (any shape before) and fit its extent.

    origin : (row, col) of ``values[0, 0]`` in the axes' pixel coordinates.
    """
    height, width = values.shape
    row, col = origin
    im.set_data(values)
    im.set_extent((col - 0.5, col + width - 0.5, row + height - 0.5, row - 0.5))


def set_colors(im: AxesImage, cmap: str, vmin: float, vmax: float) -> None:
    """Set the colour map and limits of ``im``, touching only what changed (each change
    makes an attached colorbar rebuild itself)."""
    if im.get_cmap().name != cmap:
        im.set_cmap(cmap)
    if im.get_clim() != (vmin, vmax):
        im.set_clim(vmin, vmax)


def signed_clim(im: AxesImage, values: npt.NDArray[Any]) -> float:
    """Diverging map with symmetric limits (-m, m), m = max |values| (1 if all are 0);
    returns m."""
    lo, hi = signed_limits(values)
    set_colors(im, DIVERGING, lo, hi)
    return hi


def nonneg_clim(im: AxesImage, values: npt.NDArray[Any], cmap: str = SEQUENTIAL) -> None:
    """Sequential map from 0 to max(values) (1 if values are all 0)."""
    m = float(np.max(values)) if values.size else 0.0
    set_colors(im, cmap, 0.0, m if m > 0 else 1.0)


def auto_clim(im: AxesImage, values: npt.NDArray[Any], nonneg_cmap: str = SEQUENTIAL) -> bool:
    """Signed values -> diverging symmetric map; non-negative -> ``nonneg_cmap``. Returns
    whether the values are signed."""
    signed = bool(values.size) and float(np.min(values)) < 0
    if signed:
        signed_clim(im, values)
    else:
        nonneg_clim(im, values, nonneg_cmap)
    return signed


# ---------------------------------------------------------------------- boxes
def highlight(ax: Axes, color: str = ORANGE) -> Rectangle:
    """A box (moved later with ``place``) outlined in black so it shows on any map."""
    rect = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, linewidth=2.5, zorder=5)
    rect.set_path_effects(OUTLINE)
    ax.add_patch(rect)
    return rect


def place(rect: Rectangle, rows: Span, cols: Span) -> None:
    """Move ``rect`` to cover rows r0..r1-1 and columns c0..c1-1 (pixel centres at ints)."""
    rect.set_bounds(cols[0] - 0.5, rows[0] - 0.5, cols[1] - cols[0], rows[1] - rows[0])


# ---------------------------------------------------------------------- numbers in cells
class _CellGrid:
    """The texts of one ``cell_texts`` grid, drawn only while the widest of them fits in a
    cell: on a small panel (many cells, long numbers) the numbers are left out, never
    crammed over each other. The cell size is read when drawing (after the layout)."""

    def __init__(self, texts: list[Text]) -> None:
        self.texts = texts
        self.width = self.height = 0.0
        self._widths: dict[str, float] = {}

    def measure(self) -> None:
        """Record the size of the widest visible text (after the texts change)."""
        first = self.texts[0]
        figure = first.get_figure(root=True)
        if figure is None:
            return
        renderer = cast(FigureCanvasAgg, figure.canvas).get_renderer()  # the explorers' canvas
        prop = first.get_fontproperties()
        if not self._widths:  # the height of a line, as Text lays it out
            self._widths[""] = renderer.get_text_width_height_descent("lp", prop, False)[1]
        widths = [0.0]
        for t in self.texts:
            if t.get_visible():
                s = t.get_text()
                if s not in self._widths:
                    self._widths[s] = renderer.get_text_width_height_descent(s, prop, False)[0]
                widths.append(self._widths[s])
        self.width, self.height = max(widths), self._widths[""]

    def fits(self, data_to_pixels: Transform) -> bool:
        """Whether the widest text fits in a cell (1 data unit square)."""
        (x0, y0), (x1, y1) = data_to_pixels.transform([[0.0, 0.0], [1.0, 1.0]])
        return (self.width + CELL_MARGIN_PX <= abs(x1 - x0)
                and self.height <= abs(y1 - y0))


class _CellText(Text):
    """A number over an image cell (see ``_CellGrid``)."""

    grid: _CellGrid | None = None

    @artist.allow_rasterization
    def draw(self, renderer: RendererBase) -> None:
        if self.grid is None or self.axes is None or self.grid.fits(self.axes.transData):
            super().draw(renderer)


def cell_texts(ax: Axes, shape: tuple[int, int], fontsize: float = FONT_SMALL
               ) -> npt.NDArray[np.object_]:
    """A (h, w) grid of centred Text artists to write the values of a small array into
    (with ``write_values``); they are drawn only if the widest fits in a cell."""
    texts = np.empty(shape, dtype=object)
    for (i, j), _ in np.ndenumerate(texts):
        t = texts[i, j] = _CellText(j, i, "", ha="center", va="center", fontsize=fontsize,
                                    zorder=4, gid=CELL_GID)
        t.set_clip_path(ax.patch)
        ax.add_artist(t)
    grid = _CellGrid(list(texts.flat))
    for t in texts.flat:
        t.grid = grid
    return texts


def write_values(texts: npt.NDArray[np.object_], values: npt.NDArray[Any],
                 im: AxesImage | None = None, origin: tuple[int, int] = (0, 0),
                 visible: npt.NDArray[np.bool_] | None = None, digits: int = 3) -> None:
    """Write ``values`` (``digits`` significant digits) into the text grid ``texts`` (placed
    at ``origin``), in a colour that contrasts with ``im``'s colour at that cell (black on
    light, white on dark); cells outside ``values`` or not ``visible`` are hidden."""
    colors = None
    if im is not None:
        rgba = np.asarray(im.cmap(im.norm(values)))
        light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
        colors = np.where(light, "black", "white")
    row0, col0 = origin
    for (i, j), t in np.ndenumerate(texts):
        if i < values.shape[0] and j < values.shape[1] and (visible is None or visible[i, j]):
            text = f"{values[i, j]:.{digits}g}"
            t.set_text("0" if text == "-0" else text)
            t.set_position((col0 + j, row0 + i))
            t.set_color(colors[i, j] if colors is not None else "black")
            t.set_visible(True)
        else:
            t.set_visible(False)
    grid = getattr(texts.flat[0], "grid", None) if texts.size else None
    if grid is not None:
        grid.measure()


# ---------------------------------------------------------------------- labels
def colorbar(fig: Figure, im: AxesImage, ax: Axes, label: str) -> Axes:
    """A slim colorbar for ``im`` beside the image of ``ax`` (4/5 of its height, whatever
    the panel's aspect) with few ticks (tick labels are what makes a redraw slow). Returns
    its axes, to register as dynamic when ``im`` changes limits."""
    cbar = fig.colorbar(im, cax=ax.inset_axes((1.05, 0.1, 0.06, 0.8)))
    cbar.locator = MaxNLocator(nbins=4)
    cbar.ax.tick_params(labelsize=FONT_SMALL)
    cbar.set_label(label, fontsize=FONT_LABEL)
    return cbar.ax


def set_title(ax: Axes, title: str) -> None:
    """A panel title at the title size (left alone, not stale, if it already reads so), at
    the top of the frame: a fixed place (the panels have no ticks on top), so matplotlib
    does not measure the axes at every draw to lift it above them."""
    if ax.get_title() != title or ax.title.get_fontsize() != FONT_TITLE:
        ax.set_title(title, fontsize=FONT_TITLE, y=1.0)


def label_axes(ax: Axes, title: str, xlabel: str = "column", ylabel: str = "row") -> None:
    """Title and axis labels of an image panel (integer ticks, at most 6 per axis)."""
    set_title(ax, title)
    ax.set_xlabel(xlabel, fontsize=FONT_LABEL)
    ax.set_ylabel(ylabel, fontsize=FONT_LABEL)
    ax.tick_params(labelsize=FONT_SMALL)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
