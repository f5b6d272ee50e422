"""The machinery every explorer shares: controls, a persistent Agg figure, PNG rendering.

An explorer subclass builds its axes and artists once (``_build``), computes its state
from the controls (``_compute``, which also sets the readout) and moves its artists
(``_draw``, with ``set_data`` / ``set_clim`` / ``set_text``). ``update`` runs both and
renders the figure to PNG bytes for the ``ipywidgets.Image``. Nothing here draws with
pyplot, so no figure is ever registered with ``matplotlib.pyplot``.

Rendering is blitted, because text (tick labels) dominates matplotlib's drawing time:
the artists a subclass registers with ``_dyn`` are the only ones that change. A full
draw renders everything else once (with those artists marked animated, so it skips
them) and keeps the pixels; each update restores those pixels, draws the dynamic
artists on top and encodes the RGB buffer to PNG with Pillow. A subclass that changes
a static artist (axis limits, tick labels) sets ``self._full_redraw = True``. The
layout is computed once (constrained layout on the first draw), then frozen.

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

import ipywidgets as W
import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from PIL import Image

from ..validate import check_array
from ..viz import DIVERGING, SEQUENTIAL, signed_limits

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
# A highlight outline that stays visible on gray, viridis and red/blue maps alike.
OUTLINE = [patheffects.withStroke(linewidth=5, foreground="black")]
PNG_OPTIONS = {"compress_level": 1}  # fast zlib: redraw speed matters more than bytes
DECK_FRAMES_ENV = "COURSE_DECK_FRAMES"
FRAMES_MIME = "application/vnd.course.frames+json"
MAX_DECK_FRAMES = 40


class PngFigure(Figure):
    """A Figure that a notebook shows as a PNG when it is a cell's value or displayed,
    whatever the matplotlib backend (a plain Figure shows as text unless the inline
    backend has registered its formatter)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
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

    figsize = (9.0, 3.2)
    dpi = 80
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
        self._readout = ""
        self._png = b""
        self._dynamic: list = []
        self._background = None
        self._full_redraw = True
        self.fig = PngFigure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        FigureCanvasAgg(self.fig)
        self._build()
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
        if full or self._full_redraw or self._background is None:
            for a in self._dynamic:
                a.set_animated(True)
            try:
                canvas.draw()
            finally:
                for a in self._dynamic:
                    a.set_animated(False)
            self.fig.set_layout_engine("none")  # freeze the layout found by the first draw
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._full_redraw = False
        else:
            canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for a in sorted(self._dynamic, key=lambda a: a.get_zorder()):
            if a.get_visible():
                a.draw(renderer)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).save(buf, format="png",
                                                                         **PNG_OPTIONS)
        return buf.getvalue()

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
        try:
            for _, value in pairs:
                with self.hold():
                    control.value = value
                frames.append({"png": base64.b64encode(self.png).decode("ascii"),
                               "readout": self.readout})
        finally:
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


def cell_texts(ax, shape: tuple[int, int], fontsize: float = 8) -> np.ndarray:
    """A (h, w) grid of centred Text artists to write the values of a small array into."""
    h, w = shape
    texts = np.empty(shape, dtype=object)
    for i in range(h):
        for j in range(w):
            texts[i, j] = ax.text(j, i, "", ha="center", va="center", fontsize=fontsize,
                                  zorder=4)
    return texts


def write_values(texts: np.ndarray, values: np.ndarray, im=None, origin=(0, 0),
                 visible: np.ndarray | None = None) -> None:
    """Write ``values`` into the text grid ``texts`` (placed at ``origin``), in a colour
    that contrasts with ``im``'s colour at that cell (black on light, white on dark)."""
    colors = None
    if im is not None:
        rgba = im.cmap(im.norm(values))
        light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
        colors = np.where(light, "black", "white")
    r0, c0 = origin
    for (i, j), t in np.ndenumerate(texts):
        if i < values.shape[0] and j < values.shape[1] and (visible is None or visible[i, j]):
            t.set_text(f"{values[i, j]:.3g}")
            t.set_position((c0 + j, r0 + i))
            t.set_color(colors[i, j] if colors is not None else "black")
            t.set_visible(True)
        else:
            t.set_visible(False)


def colorbar(fig, im, ax, label: str):
    """A slim colorbar for ``im`` next to ``ax`` with few ticks (tick labels are what makes
    a redraw slow). Returns its axes, to register with ``_dyn`` when ``im`` changes limits."""
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, aspect=15)
    cbar.locator = MaxNLocator(nbins=4)
    cbar.ax.tick_params(labelsize=7)
    cbar.set_label(label, fontsize=8)
    return cbar.ax


def label_axes(ax, title: str, xlabel: str = "column", ylabel: str = "row") -> None:
    """Title and axis labels of an image panel."""
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def int_slider(description: str, value: int, lo: int, hi: int, **kw) -> W.IntSlider:
    """An IntSlider whose range is widened to include ``value``."""
    return W.IntSlider(value=value, min=min(lo, value), max=max(hi, value),
                       description=description, style={"description_width": "initial"}, **kw)
