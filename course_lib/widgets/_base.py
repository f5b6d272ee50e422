"""The machinery every explorer shares: controls, a persistent Agg figure, PNG rendering.

An explorer subclass builds its axes and artists once (``_build``), computes its state
from the controls (``_compute``, which also sets the readout) and moves its artists
(``_draw``, with ``set_data`` / ``set_clim`` / ``set_text``). ``update`` runs both and
renders the figure to PNG bytes for the ``ipywidgets.Image``. Nothing here draws with
pyplot, so no figure is ever registered with ``matplotlib.pyplot``.

Rendering is blitted, because text dominates matplotlib's drawing time (a title takes
milliseconds): the artists a subclass registers with ``_dyn`` are the only ones that
change. A full draw renders everything else once (with those artists marked animated, so
it skips them) and keeps the pixels; each update restores those pixels, draws the dynamic
artists on top (a dynamic colour bar or title that has not changed since its last draw
gets that draw's pixels back) and encodes the RGB buffer to PNG (``png_bytes``). A
subclass that changes a static artist (axis limits, tick labels) sets
``self._full_redraw = True``.

Layout: constrained layout places the panels on the first draw; the layout is then kept
(recomputing it costs as much as a draw) as long as the texts fit. Every draw records the
window extents of the texts it draws (titles, labels, tick and colour-bar labels, legends);
when a text overlaps another one or leaves the figure (wider tick labels after a change of
limits push a label onto the next panel), the layout is recomputed once for that draw.
Numbers written over image cells (``cell_texts``) are drawn only while they fit in a cell.

Readable from the back of a room: every size comes from the constants below (``DPI``,
``FONT_*``), applied as matplotlib's rc style while the figure is built and drawn; panel
titles must stay within their panel (constrained layout does not make room for a title's
width; tests/test_widget_layout.py checks every state for clipped or overlapping text).

Decks (no kernel)
-----------------
A slide deck has no kernel to recompute a picture, so a live control there would do nothing.
Instead, an explorer names one ``deck_control`` and ``frames()`` pre-renders one picture and
readout per value of that control. When the environment variable ``COURSE_DECK_FRAMES`` is
set (``course_lib.slides`` sets it while executing a lesson for its deck), displaying an
explorer adds those frames to its output under ``FRAMES_MIME``; the deck turns them into a
plain HTML range input that switches pictures in the browser.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import struct
import zlib

import ipywidgets as W
import matplotlib as mpl
import numpy as np
from matplotlib import artist, patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from ..validate import check_array
from ..viz import DIVERGING, SEQUENTIAL, signed_limits

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
# A highlight outline that stays visible on gray, viridis and red/blue maps alike.
OUTLINE = [patheffects.withStroke(linewidth=5, foreground="black")]
PNG_LEVEL = 1  # fast zlib: redraw speed matters more than bytes
DECK_FRAMES_ENV = "COURSE_DECK_FRAMES"
FRAMES_MIME = "application/vnd.course.frames+json"
MAX_DECK_FRAMES = 40

# Sizes, readable from the back row. A PNG is shown at its natural width, figsize[0] * DPI
# pixels, when that fits the notebook column (about 1000-1100 px in JupyterLab on a 1280-wide
# screen, hence MAX_WIDTH_PX); on a 96-dpi screen a text of s points drawn at DPI is then
# s * DPI / 72 px tall, which must be at least the 11 pt of a document (MIN_TEXT_PX).
DPI = 100
MAX_WIDTH_PX = 1100
MIN_TEXT_PX = 11 * 96 / 72
FONT_SMALL = 11   # tick labels, numbers written in cells, legends, annotations: 15.3 px
FONT_LABEL = 12   # axis and colour-bar labels
FONT_TITLE = 13   # panel titles
STYLE = {"font.size": FONT_SMALL, "axes.titlesize": FONT_TITLE, "axes.labelsize": FONT_LABEL,
         "xtick.labelsize": FONT_SMALL, "ytick.labelsize": FONT_SMALL,
         "legend.fontsize": FONT_SMALL, "legend.title_fontsize": FONT_SMALL,
         "figure.titlesize": FONT_TITLE, "figure.labelsize": FONT_LABEL}
"""matplotlib rc settings every explorer figure is built and drawn with."""
CELL_GID = "cell value"
"""gid of the texts ``cell_texts`` writes over image cells (exempt from the layout check)."""
CELL_MARGIN_PX = 3  # the least gap between the numbers of two neighbouring cells
PANEL_GAP_IN = 0.1  # around every panel (constrained layout's w_pad)
AXES_MARGIN_PX = 8  # around an axes' frame and texts: its tick marks and spines
TEXT_MARGIN_PX = 2  # around a text's extent: its anti-aliased edges


class PngFigure(Figure):
    """A Figure that a notebook shows as a PNG when it is a cell's value or displayed,
    whatever the matplotlib backend (a plain Figure shows as text unless the inline
    backend has registered its formatter)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with mpl.rc_context(STYLE):
            self.savefig(buf, format="png")
        return buf.getvalue()


class Explorer:
    """Base class of the course's interactive explorers.

    Attributes shared by every explorer
    -----------------------------------
    controls : dict name -> ipywidgets control; set ``.value`` to move the explorer.
    readout : the current text readout (also shown, HTML-escaped, under the picture).
    widget : the ipywidgets container to display.
    static_figure() : the matplotlib Figure of the current state.
    """

    figsize = (10.0, 4.0)
    """Inches; figsize[0] * dpi must stay <= MAX_WIDTH_PX (see the constants above)."""
    dpi = DPI
    layout = "constrained"
    """matplotlib layout engine of the figure (recomputed when texts no longer fit)."""
    deck_control: str | None = None
    """The control whose values a deck pre-renders (see ``frames``); None: picture only."""
    auto_render = True
    """Render the PNG on every update. False skips drawing until ``png`` is read (for batch
    computations and tests of the state; the image widget then lags behind)."""

    # ------------------------------------------------------------------ construction
    def _init_view(self, controls: dict, rows: list[list[str]] | None = None) -> None:
        """Create the figure, image, readout and container; observe ``controls``; draw once.

        rows : control names per row of the control panel (default: one row of all).
        """
        self.controls = controls
        self._holding = 0
        self._styling = 0
        self._readout = ""
        self._png = b""
        self._dynamic: list = []
        self._background = None
        self._full_redraw = True
        self._static_boxes = np.empty((0, 4))
        self._stuck = False
        self._pixels: dict = {}  # dynamic Axes -> (pixels, text boxes) of its last draw
        self.fig = PngFigure(figsize=self.figsize, dpi=self.dpi, layout=self.layout)
        self._layout = self.fig.get_layout_engine()
        if self.layout == "constrained":  # a clear gap between neighbouring panels' labels
            self._layout.set(w_pad=PANEL_GAP_IN, wspace=0.04)
        FigureCanvasAgg(self.fig)
        with self._styled():
            self._build()
        for ax in self.fig.axes:  # ticks made later (new limits) are made outside the style
            for axis in (ax.xaxis, ax.yaxis):
                if "labelsize" not in axis._major_tick_kw:
                    axis.set_tick_params(which="both", labelsize=FONT_SMALL)
        width = round(self.figsize[0] * self.dpi)  # natural size: no blurry upscaling
        self._image = W.Image(format="png", width=str(width),
                              layout=W.Layout(max_width="100%", height="auto"))
        self._html = W.HTML()
        for control in controls.values():
            if hasattr(getattr(control, "style", None), "description_width"):
                control.style.description_width = "initial"  # never truncate the names
            if isinstance(control, W.ValueWidget) and not isinstance(control, W.Play):
                control.observe(self._on_change, names="value")
        rows = rows if rows is not None else [list(controls)]
        self._boxes = [W.HBox([controls[name] for name in row]) for row in rows]
        self._boxes.append(W.VBox(self._boxes[:]))
        self.widget = W.VBox([self._boxes[-1], self._image, self._html])
        self.update()

    @contextlib.contextmanager
    def _styled(self):
        """matplotlib's rc set to ``STYLE`` (texts and ticks created now get its sizes)."""
        if self._styling:
            yield
            return
        self._styling += 1
        try:
            with mpl.rc_context(STYLE):
                yield
        finally:
            self._styling -= 1

    # ------------------------------------------------------------------ subclass hooks
    def _build(self) -> None:
        """Create axes and artists once (called before the first ``update``)."""
        raise NotImplementedError

    def _compute(self) -> None:
        """Recompute the state arrays and ``self.readout`` from the controls (control
        changes made here, e.g. clamping a slider, do not trigger another update)."""
        raise NotImplementedError

    def _draw(self) -> None:
        """Move the artists to the current state (no new artists)."""
        raise NotImplementedError

    def _describe(self) -> str:
        """Stable arguments for ``repr`` (no ids, no addresses)."""
        return ""

    # ------------------------------------------------------------------ updating
    def _on_change(self, change) -> None:
        if not self._holding:
            self.update()

    @contextlib.contextmanager
    def hold(self):
        """Change several controls at once with a single redraw at the end::

            with explorer.hold():
                explorer.controls["stride"].value = 2
                explorer.controls["padding"].value = 1
        """
        self._holding += 1
        try:
            yield self
        finally:
            self._holding -= 1
        if self._holding == 0:
            self.update()

    def update(self) -> None:
        """Recompute the state from the controls, move the artists and re-render the PNG."""
        with self._styled():
            self._holding += 1  # control changes made while computing do not re-enter
            try:
                self._compute()
                self._draw()
            finally:
                self._holding -= 1
            self._png = b""
            if self.auto_render:
                self._image.value = self.png

    def _dyn(self, *artists):
        """Register artists that change between updates (see the module docstring)."""
        self._dynamic.extend(artists)
        return artists[0] if len(artists) == 1 else artists

    def _render(self, full: bool = False) -> bytes:
        """Draw the figure (blitting the static part unless ``full``) and return PNG bytes."""
        canvas = self.fig.canvas
        with self._styled():
            laid_out = False
            if full or self._full_redraw or self._background is None:
                laid_out = self._draw_static(layout=self._background is None)
            else:
                canvas.restore_region(self._background)
            if not self._draw_dynamic() and not laid_out and not self._stuck:
                self._draw_static(layout=True)  # a changing text outgrew the layout
                self._stuck = not self._draw_dynamic()  # no retry until the texts fit
        return png_bytes(np.asarray(canvas.buffer_rgba())[..., :3])

    def _draw_static(self, layout: bool) -> bool:
        """Draw all but the dynamic artists and keep the pixels as the blitting background.

        The constrained layout is recomputed if ``layout``, or if a text of this draw
        overlaps another one or leaves the figure. Returns whether it was recomputed.
        """
        canvas = self.fig.canvas
        for a in self._dynamic:
            a.set_animated(True)
        try:
            while True:
                if layout:
                    self.fig.set_layout_engine(self._layout)
                try:
                    with _drawn_texts(canvas.get_renderer()) as boxes:
                        canvas.draw()
                finally:
                    self.fig.set_layout_engine("none")  # keep the layout between draws
                self._static_boxes = _as_array(boxes)
                if layout or _fits(self._static_boxes, self._static_boxes, self.fig.bbox):
                    break
                layout = True
        finally:
            for a in self._dynamic:
                a.set_animated(False)
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        self._full_redraw = False
        self._pixels.clear()
        return layout

    def _draw_dynamic(self) -> bool:
        """Draw the dynamic artists on the canvas; returns whether their texts fit (no
        overlap with each other or with the static texts, inside the figure).

        Drawing text is what costs (a title takes milliseconds), so a dynamic colour bar
        (Axes) or text outside every axes (a title) that has not changed since its last
        draw (not stale) gets the pixels of that draw back instead.
        """
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        frames = _as_array([ax.bbox.extents for ax in self.fig.axes])
        boxes: list = []
        for a in sorted(self._dynamic, key=lambda a: a.get_zorder()):
            if not a.get_visible():
                continue
            if not a.stale and a in self._pixels:
                pixels, texts = self._pixels[a]
                canvas.restore_region(pixels)
                boxes.extend(texts)
                continue
            with _drawn_texts(renderer) as texts:
                a.draw(renderer)
            boxes.extend(texts)
            region = _pixel_region(a, _as_array(texts), frames)
            if region is not None:
                region = Bbox.intersection(region, self.fig.bbox)
            if region is not None:
                self._pixels[a] = (canvas.copy_from_bbox(region), texts)
            else:
                self._pixels.pop(a, None)
        boxes = _as_array(boxes)
        fits = _fits(boxes, np.concatenate([self._static_boxes, boxes]), self.fig.bbox)
        if fits:
            self._stuck = False
        return fits

    # ------------------------------------------------------------------ outputs
    @property
    def readout(self) -> str:
        """The current text readout (formula with numbers, dot product, probabilities...)."""
        return self._readout

    @readout.setter
    def readout(self, text: str) -> None:
        self._readout = text
        self._html.value = ('<div style="font-family: monospace; white-space: pre-wrap">'
                            f"{html.escape(text)}</div>")

    @property
    def png(self) -> bytes:
        """PNG bytes of the current state (what the image widget shows)."""
        if not self._png:
            self._png = self._render()
        return self._png

    def _control_values(self, name: str, max_frames: int) -> list[tuple[str, object]]:
        """(label, value) for every value of control ``name`` (at most ``max_frames``, evenly
        spaced, always including the current value)."""
        control = self.controls[name]
        if hasattr(control, "_options_values"):  # Dropdown, ToggleButtons, SelectionSlider
            pairs = list(zip(control._options_labels, control._options_values, strict=True))
        elif isinstance(control, W.IntSlider):
            pairs = [(str(v), v) for v in range(control.min, control.max + 1, control.step)]
        elif isinstance(control, (W.FloatSlider, W.FloatLogSlider)):
            values = np.linspace(control.min, control.max, max_frames - 1)
            if isinstance(control, W.FloatLogSlider):
                values = control.base ** values
            values = sorted({*values.tolist(), float(control.value)})  # the current one too
            pairs = [(f"{v:.3g}", v) for v in values]
        else:
            raise TypeError(f"deck_control {name!r} is a {type(control).__name__}: "
                            "frames need a slider or a selection")
        if len(pairs) > max_frames:
            keep = set(np.linspace(0, len(pairs) - 1, max_frames).round().astype(int).tolist())
            current = [k for k, (_, v) in enumerate(pairs) if v == control.value]
            pairs = [p for k, p in enumerate(pairs) if k in keep or k in current]
        return pairs

    def frames(self, max_frames: int = MAX_DECK_FRAMES) -> dict:
        """Pictures of the explorer for every value of ``deck_control`` (the other controls as
        they are now), for a deck without a kernel; the explorer ends in its current state.

        Returns {"control": its description, "labels": [str], "index": the current value's
        position, "frames": [{"png": base64 PNG, "readout": str}]}.
        """
        if self.deck_control is None:
            raise ValueError(f"{type(self).__name__} has no deck_control: nothing to pre-render")
        control = self.controls[self.deck_control]
        start = control.value
        pairs = self._control_values(self.deck_control, max_frames)
        frames = []
        layout = [(ax, ax.get_position(original=True), ax.get_position()) for ax in self.fig.axes]
        try:
            for _, value in pairs:
                with self.hold():
                    control.value = value
                frames.append({"png": base64.b64encode(self.png).decode("ascii"),
                               "readout": self.readout})
        finally:
            for ax, original, active in layout:  # a frame may have recomputed the layout
                ax._set_position(original, which="original")
                ax._set_position(active, which="active")
            self._full_redraw = True
            with self.hold():
                control.value = start
        values = [v for _, v in pairs]
        index = min(range(len(values)), key=lambda k: abs(values[k] - start)
                    if isinstance(start, (int, float)) else values[k] != start)
        return {"control": control.description or self.deck_control,
                "labels": [label for label, _ in pairs], "index": index, "frames": frames}

    def static_figure(self) -> Figure:
        """The explorer's matplotlib Figure, drawn in the current state.

        It is the explorer's own persistent figure (not registered with pyplot; it shows as
        a PNG when displayed): display or save it; further control changes redraw it.
        """
        return self.fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget view plus a PNG of the current state and a stable text/plain.

        Frontends with a widget manager show the widget; GitHub, nbconvert without widget
        state and slides fall back to the PNG; nbval compares only the text.
        """
        data = dict(self.widget._repr_mimebundle_() or {})
        data["text/plain"] = repr(self)
        data["image/png"] = base64.b64encode(self.png).decode("ascii")
        if os.environ.get(DECK_FRAMES_ENV) and self.deck_control is not None:
            data[FRAMES_MIME] = self.frames()
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def close(self) -> None:
        """Close the ipywidgets (frees their front-end models)."""
        for w in (*self.controls.values(), *self._boxes, self._image, self._html, self.widget):
            w.close()


def png_bytes(rgb: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG: every row 'up'-filtered (minus the row above,
    which compresses flat figures well), then zlib. Twice as fast as Pillow's adaptive
    filters, which made up half of a redraw."""
    h, w, _ = rgb.shape
    rows = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    rows[:, 0] = 2  # filter type 'up' (the first row's 'above' is zeros)
    flat = rgb.reshape(h, 3 * w)
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, level)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------- layout check
_EXTENTS: dict = {}  # (string, font, angle, dpi) -> window extent relative to its anchor


@contextlib.contextmanager
def _drawn_texts(renderer):
    """Collect the window extents (x0, y0, x1, y1) of the texts drawn in the block, except
    the values written over cells (``CELL_GID``): they sit inside their axes whatever the
    layout."""
    boxes: list = []
    draw_text = renderer.draw_text
    height = renderer.get_canvas_width_height()[1]

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        yd = height - y if renderer.flipy() else y  # the line's anchor, from the bottom
        if mtext is not None:  # a one-line Text: its extent, moved with its anchor
            if mtext.get_gid() != CELL_GID:
                key = (s, prop, angle, ismath, renderer.dpi)
                if key not in _EXTENTS:
                    if len(_EXTENTS) > 4096:
                        _EXTENTS.clear()
                    # keyed by a snapshot of the font (FontProperties are mutable)
                    _EXTENTS[(s, prop.copy(), angle, ismath, renderer.dpi)] = (
                        mtext.get_window_extent(renderer).extents - (x, yd, x, yd))
                boxes.append(_EXTENTS[key] + (x, yd, x, yd))
        elif s.strip():  # one line of a multi-line text: the box of its glyphs
            w, h, d = renderer.get_text_width_height_descent(s, prop, ismath)
            a = np.deg2rad(angle)
            corners = np.array([[0, -d], [w, -d], [w, h - d], [0, h - d]])
            xs = x + corners[:, 0] * np.cos(a) - corners[:, 1] * np.sin(a)
            ys = yd + corners[:, 0] * np.sin(a) + corners[:, 1] * np.cos(a)
            boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        yield boxes
    finally:
        del renderer.draw_text


def _pixel_region(a, texts: np.ndarray, frames: np.ndarray) -> Bbox | None:
    """The pixels that hold all of artist ``a`` (just drawn, its ``texts`` boxes), if they
    can be pasted back while it is unchanged: an Axes (frame, tick marks, texts), or a text
    outside every axes frame (``frames``, where other dynamic artists may change)."""
    if isinstance(a, Axes):
        extents = np.concatenate([[a.bbox.extents], texts])
        margin = AXES_MARGIN_PX
    elif isinstance(a, Text) and len(texts) == 1 and not _overlapping(texts, frames).any():
        extents, margin = texts, TEXT_MARGIN_PX
    else:
        return None
    (x0, y0), (x1, y1) = extents[:, :2].min(axis=0), extents[:, 2:].max(axis=0)
    return Bbox([[x0 - margin, y0 - margin], [x1 + margin, y1 + margin]])


def _as_array(boxes: list) -> np.ndarray:
    return np.array(boxes, dtype=float).reshape(-1, 4)


def _overlapping(a: np.ndarray, b: np.ndarray, tol: float = 0.5) -> np.ndarray:
    """(len(a), len(b)) bool: boxes (x0, y0, x1, y1) that overlap by more than ``tol`` px."""
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return (ix > tol) & (iy > tol)


def _fits(boxes: np.ndarray, others: np.ndarray, bbox, tol: float = 0.5) -> bool:
    """Whether the text ``boxes`` lie inside ``bbox`` and overlap neither each other nor
    ``others`` (which may contain ``boxes`` themselves: identical rows are skipped)."""
    if not len(boxes):
        return True
    x0, y0, x1, y1 = bbox.extents
    if ((boxes[:, 0] < x0 - tol) | (boxes[:, 1] < y0 - tol) | (boxes[:, 2] > x1 + tol)
            | (boxes[:, 3] > y1 + tol)).any():
        return False
    same = (boxes[:, None, :] == others[None, :, :]).all(axis=-1)
    return not (_overlapping(boxes, others, tol) & ~same).any()


# ---------------------------------------------------------------------- helpers
def as_image(x, name: str) -> np.ndarray:
    """Validate one grayscale image: (H, W), (1, H, W) or (1, 1, H, W) float -> (H, W)."""
    check_array(x, name)
    img = x
    while img.ndim > 2 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"{name} must be one grayscale image of shape (H, W) (or (1, H, W), "
                         f"(1, 1, H, W)), got shape {x.shape}")
    return img


def fmt(v, parens: bool = False) -> str:
    """A number as the readouts write it: 4 significant digits (negatives in parentheses
    when ``parens``, for products such as 2×(-1))."""
    s = f"{float(v):.4g}"
    if s == "-0":
        s = "0"
    return f"({s})" if parens and s.startswith("-") else s


def show(im, arr: np.ndarray, origin=(0.0, 0.0)) -> None:
    """Put ``arr`` (h, w) into the AxesImage ``im`` (any shape) and fit the axes to it.

    origin : (row, col) of ``arr[0, 0]`` in the axes' pixel coordinates.
    """
    h, w = arr.shape
    r, c = origin
    im.set_data(arr)
    im.set_extent((c - 0.5, c + w - 0.5, r + h - 0.5, r - 0.5))


def set_colors(im, cmap: str, vmin: float, vmax: float) -> None:
    """Set the colour map and limits of ``im``, touching only what changed (each change
    makes an attached colorbar rebuild itself)."""
    if im.get_cmap().name != cmap:
        im.set_cmap(cmap)
    if im.get_clim() != (vmin, vmax):
        im.set_clim(vmin, vmax)


def signed_clim(im, arr: np.ndarray) -> float:
    """Diverging map with symmetric limits (-m, m), m = max |arr| (1 if arr is all 0)."""
    lo, hi = signed_limits(arr)
    set_colors(im, DIVERGING, lo, hi)
    return hi


def nonneg_clim(im, arr: np.ndarray, cmap: str = SEQUENTIAL) -> None:
    """Sequential map from 0 to max(arr) (1 if arr is all 0)."""
    m = float(np.max(arr)) if arr.size else 0.0
    set_colors(im, cmap, 0.0, m if m > 0 else 1.0)


def auto_clim(im, arr: np.ndarray, nonneg_cmap: str = SEQUENTIAL) -> bool:
    """Signed values -> diverging symmetric map; non-negative -> ``nonneg_cmap``. Returns signed."""
    signed = bool(arr.size) and float(np.min(arr)) < 0
    if signed:
        signed_clim(im, arr)
    else:
        nonneg_clim(im, arr, nonneg_cmap)
    return signed


def highlight(ax, color: str = ORANGE) -> Rectangle:
    """A box (moved later with ``set_bounds``) outlined in black so it shows on any map."""
    rect = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, linewidth=2.5, zorder=5)
    rect.set_path_effects(OUTLINE)
    ax.add_patch(rect)
    return rect


def place(rect: Rectangle, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Move ``rect`` to cover rows r0..r1-1 and columns c0..c1-1 (pixel centres at ints)."""
    rect.set_bounds(cols[0] - 0.5, rows[0] - 0.5, cols[1] - cols[0], rows[1] - rows[0])


class _CellGrid:
    """The texts of one ``cell_texts`` grid, drawn only while the widest of them fits in a
    cell: on a small panel (many cells, long numbers) the numbers are left out, never
    crammed over each other. The cell size is read when drawing (after the layout)."""

    def __init__(self, texts: np.ndarray):
        self.texts = texts
        self.width = self.height = 0.0
        self._widths: dict[str, float] = {}

    def measure(self) -> None:
        """Record the size of the widest visible text (after the texts change)."""
        first = self.texts.flat[0]
        renderer = first.get_figure(root=True).canvas.get_renderer()
        prop = first.get_fontproperties()
        if not self._widths:  # the height of a line, as Text lays it out
            self._widths[""] = renderer.get_text_width_height_descent("lp", prop, False)[1]
        widths = [0.0]
        for t in self.texts.flat:
            if t.get_visible():
                s = t.get_text()
                if s not in self._widths:
                    self._widths[s] = renderer.get_text_width_height_descent(s, prop, False)[0]
                widths.append(self._widths[s])
        self.width, self.height = max(widths), self._widths[""]

    def fits(self, ax) -> bool:
        (x0, y0), (x1, y1) = ax.transData.transform([[0.0, 0.0], [1.0, 1.0]])
        return (self.width + CELL_MARGIN_PX <= abs(x1 - x0)
                and self.height <= abs(y1 - y0))


class _CellText(Text):
    """A number over an image cell (see ``_CellGrid``)."""

    grid: _CellGrid | None = None

    @artist.allow_rasterization
    def draw(self, renderer):
        if self.grid is None or self.axes is None or self.grid.fits(self.axes):
            super().draw(renderer)


def cell_texts(ax, shape: tuple[int, int], fontsize: float = FONT_SMALL) -> np.ndarray:
    """A (h, w) grid of centred Text artists to write the values of a small array into
    (with ``write_values``); they are drawn only if the widest fits in a cell."""
    h, w = shape
    texts = np.empty(shape, dtype=object)
    for i in range(h):
        for j in range(w):
            t = texts[i, j] = _CellText(j, i, "", ha="center", va="center",
                                        fontsize=fontsize, zorder=4, gid=CELL_GID)
            t.set_clip_path(ax.patch)
            ax.add_artist(t)
    grid = _CellGrid(texts)
    for t in texts.flat:
        t.grid = grid
    return texts


def write_values(texts: np.ndarray, values: np.ndarray, im=None, origin=(0, 0),
                 visible: np.ndarray | None = None, digits: int = 3) -> None:
    """Write ``values`` (``digits`` significant digits) into the text grid ``texts`` (placed
    at ``origin``), in a colour that contrasts with ``im``'s colour at that cell (black on
    light, white on dark)."""
    colors = None
    if im is not None:
        rgba = im.cmap(im.norm(values))
        light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
        colors = np.where(light, "black", "white")
    r0, c0 = origin
    for (i, j), t in np.ndenumerate(texts):
        if i < values.shape[0] and j < values.shape[1] and (visible is None or visible[i, j]):
            text = f"{values[i, j]:.{digits}g}"
            t.set_text("0" if text == "-0" else text)
            t.set_position((c0 + j, r0 + i))
            t.set_color(colors[i, j] if colors is not None else "black")
            t.set_visible(True)
        else:
            t.set_visible(False)
    grid = getattr(texts.flat[0], "grid", None) if texts.size else None
    if grid is not None:
        grid.measure()


def colorbar(fig, im, ax, label: str):
    """A slim colorbar for ``im`` beside the image of ``ax`` (4/5 of its height, whatever
    the panel's aspect) with few ticks (tick labels are what makes a redraw slow). Returns
    its axes, to register with ``_dyn`` when ``im`` changes limits."""
    cbar = fig.colorbar(im, cax=ax.inset_axes([1.05, 0.1, 0.06, 0.8]))
    cbar.locator = MaxNLocator(nbins=4)
    cbar.ax.tick_params(labelsize=FONT_SMALL)
    cbar.set_label(label, fontsize=FONT_LABEL)
    return cbar.ax


def set_title(ax, title: str) -> None:
    """A panel title at the title size (left alone, not stale, if it already reads so)."""
    if ax.get_title() != title or ax.title.get_fontsize() != FONT_TITLE:
        ax.set_title(title, fontsize=FONT_TITLE)


def label_axes(ax, title: str, xlabel: str = "column", ylabel: str = "row") -> None:
    """Title and axis labels of an image panel (integer ticks, at most 6 per axis)."""
    set_title(ax, title)
    ax.set_xlabel(xlabel, fontsize=FONT_LABEL)
    ax.set_ylabel(ylabel, fontsize=FONT_LABEL)
    ax.tick_params(labelsize=FONT_SMALL)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def int_slider(description: str, value: int, lo: int, hi: int, **kw) -> W.IntSlider:
    """An IntSlider whose range is widened to include ``value``."""
    return W.IntSlider(value=value, min=min(lo, value), max=max(hi, value),
                       description=description, style={"description_width": "initial"}, **kw)
