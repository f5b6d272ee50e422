"""An explorer's figure rendered to PNG fast: blitting, a layout kept while the texts fit,
and a quick PNG encoder.

Images (``AxesImage``, 'nearest' interpolation) are drawn as ``NearestImage``: the same
pixels as matplotlib's, with NumPy. Text dominates matplotlib's drawing time (a title takes
milliseconds), so a
``BlittedFigure`` redraws only the artists registered as dynamic (``add_dynamic``). A full
draw renders everything else once (with those artists marked animated, so it skips them)
and keeps the pixels; each render restores those pixels, draws the dynamic artists on top
(a dynamic colour bar or title that has not changed since its last draw gets that draw's
pixels back, also after a new static part if the pixels under it are the same) and encodes
the RGBA buffer (``png_bytes``). Whoever changes a static artist (axis limits, tick labels)
sets ``redraw_static``, or names the static part's new state with ``set_static_state(key)``:
the static pixels of the last ``MAX_BACKGROUNDS`` states (at most ``MAX_BACKGROUND_BYTES``)
are kept, uncompressed (copying them costs a fraction of a millisecond, compressing them
several), so going back to a state (a slider moved back and forth) pastes its pixels back
instead of drawing the static part again. The key may name single panels' states apart
(``panels``): when only some panels change (new limits on one image), those alone are drawn
again, over the static pixels with theirs wiped, if every panel's pixels lie in a box apart
from the others' (``panel_region``). While drawing, texts reuse the layouts and glyphs of
earlier draws and each axis updates its ticks once (``ticks_updated_once``).

Layout: constrained layout places the panels on the first draw; the layout is then kept
(recomputing it costs as much as a draw) as long as the texts fit. Every draw records the
window extents of the texts it draws (titles, labels, tick and colour-bar labels, legends);
when a text overlaps another one or leaves the figure (wider tick labels after a change of
limits push a label onto the next panel), the layout is recomputed once for that draw.
"""

from __future__ import annotations

import contextlib
import math
import struct
import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, NamedTuple, TypeGuard

import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import RenderMode
from matplotlib.image import AxesImage
from matplotlib.spines import Spine
from matplotlib.text import Text
from matplotlib.transforms import Bbox, BboxBase

from .drawing import CELL_GID

__all__ = ["BlittedFigure", "png_bytes", "clear_caches"]

PNG_LEVEL = 1  # fast zlib: redraw speed matters more than bytes
MAX_BACKGROUNDS = 64  # static states whose pixels are kept ...
MAX_BACKGROUND_BYTES = 48 * 2**20  # ... within this many bytes (a 1050 x 620 figure: 2.6 MB)
AXES_MARGIN_PX = 8  # around an axes' frame and texts: its tick marks and spines
TEXT_MARGIN_PX = 2  # around a text's extent: its anti-aliased edges

Boxes = npt.NDArray[np.float64]
"""(n, 4) window extents x0, y0, x1, y1 in pixels, from the bottom left."""
RGBA = npt.NDArray[np.uint8]
"""(H, W, 4) pixels, rows from the top."""


class Panel(NamedTuple):
    """One axes' share of a static draw."""

    key: Hashable
    """The panel's key when it was drawn (``set_static_state``; None: not named)."""
    region: Boxes | None
    """(1, 4) the box that holds all its pixels (``panel_region``; None: they may reach
    further)."""
    texts: Boxes
    """(n, 4) the boxes of its texts."""


class Static(NamedTuple):
    """The static pixels that renders blit on, and what they show."""

    pixels: RGBA
    at: tuple[Any, ...]
    """The layout they were drawn in (``BlittedFigure._positions``)."""
    key: Hashable | None
    """The static key beyond the panels' (None: not named)."""
    texts: Boxes
    """(n, 4) the boxes of every static text."""
    others: Boxes
    """(m, 4) the boxes of the static texts outside every panel (fixed artists')."""
    panels: dict[Axes, Panel]


class BlittedFigure:
    """Renders ``fig`` (on an Agg canvas) to PNG bytes, drawing only what changes."""

    def __init__(self, fig: Figure) -> None:
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self._layout = fig.get_layout_engine()
        self._dynamic: list[Artist] = []
        self.redraw_static = True
        """Draw everything, not only the dynamic artists, at the next render."""
        self._static: Static | None = None  # the static pixels renders blit on
        self._static_key: Hashable | None = None  # the static state (None: not named) ...
        self._panel_keys: dict[Axes, Hashable] = {}  # ... and its panels' states
        # (static key, panels' keys, axes positions) -> the static pixels drawn then
        self._backgrounds: OrderedDict[Hashable, Static] = OrderedDict()
        self._stuck = False  # the texts did not fit even after a new layout
        self._pixels: dict[Artist, tuple[Any, Boxes]] = {}  # pixels, texts of its last draw
        self._fixed: dict[Artist, tuple[Any, Any, Boxes] | None] = {}  # place, pixels, texts

    def add_dynamic(self, *artists: Artist) -> None:
        """Register artists that change between renders. The frame (spines) of an image's
        axes becomes dynamic too: it is drawn above the image, which would hide it."""
        for a in artists:
            spines = a.axes.spines.values() if isinstance(a, AxesImage) and a.axes else []
            for b in (a, *spines):
                if b not in self._dynamic:
                    self._dynamic.append(b)

    def add_fixed(self, *artists: Artist) -> None:
        """Register artists that never change and lie apart from every panel (a figure
        legend): a static draw pastes back their pixels while they keep their place."""
        self._fixed.update(dict.fromkeys(artists))

    def set_static_state(self, key: Hashable,
                         panels: Mapping[Axes, Hashable] | None = None) -> None:
        """Name the state of the static artists (equal keys: equal static pixels, whoever
        sets the keys vouches for them); a new state redraws the static part at the next
        render, or pastes back the pixels drawn when it last had this state.

        panels : {axes of the figure: key}, the states of single panels (their frame,
            ticks, labels, static images), ``key`` that of the rest. When only panels' keys
            change, only those panels are drawn again over the others' pixels, if their
            pixels lie apart (``_redraw_panels``).
        """
        panels = dict(panels or {})
        strangers = [ax for ax in panels if ax not in self.fig.axes]
        if strangers:
            raise ValueError(f"panels must be axes of the figure (fig.axes), got {strangers}")
        if key != self._static_key or panels != self._panel_keys:
            self._static_key, self._panel_keys = key, panels
            self.redraw_static = True

    def render(self, full: bool = False) -> bytes:
        """Draw the figure (blitting the static part unless ``full``) and return PNG bytes."""
        laid_out = False
        if full:
            self._pixels.clear()  # everything drawn anew
        with kept_text_layouts(), ticks_updated_once():  # for every draw below, patched once
            if full or self._static is None or (self.redraw_static and not self._restore_static()
                                                and not self._redraw_panels()):
                laid_out = self._draw_static(layout=self._static is None)
            else:
                np.copyto(self._rgba(), self._static.pixels)
            if not self._draw_dynamic() and not laid_out and not self._stuck:
                self._draw_static(layout=True)  # a changing text outgrew the layout
                self._stuck = not self._draw_dynamic()  # no retry until the texts fit
        return png_bytes(np.asarray(self.canvas.buffer_rgba()))

    def _draw_static(self, layout: bool) -> bool:
        """Draw all but the dynamic artists and keep the pixels as the blitting background.

        The constrained layout is recomputed if ``layout``, or if a text of this draw
        overlaps another one or leaves the figure. Returns whether it was recomputed.
        """
        with self._static_only():
            while True:
                if layout:
                    self.fig.set_layout_engine(self._layout)
                try:
                    with (drawn_texts(self.canvas.get_renderer()) as boxes,
                          drawn_panels(self.fig.axes, boxes) as spans):
                        self.canvas.draw()
                        self._draw_fixed(boxes)
                finally:
                    self.fig.set_layout_engine("none")  # keep the layout between draws
                texts = as_boxes(boxes)
                if layout or texts_fit(texts, texts, self.fig.bbox):
                    break
                layout = True
            panels = {ax: Panel(self._panel_keys.get(ax), panel_region(ax, texts[span]),
                                texts[span]) for ax, span in spans.items()}
        inside = np.zeros(len(texts), dtype=bool)
        for span in spans.values():
            inside[span] = True
        self._keep(Static(self._rgba().copy(), self._positions(), self._static_key, texts,
                          texts[~inside], panels))
        return layout

    def _redraw_panels(self) -> bool:
        """Draw again only the panels whose keys changed (``set_static_state``), over the
        static pixels with theirs wiped, if that draws the pixels of a full draw: the layout
        and the static key beyond the panels' are the same, the figure draws nothing static
        beside its panels and fixed artists, every panel's pixels lie within its region
        (``panel_region``) and the changed panels' regions, before and after, lie apart from
        the others' and the fixed artists'. Returns False (nothing kept) if not."""
        old = self._static
        if (old is None or self._static_key is None or self._static_key != old.key
                or old.at != self._positions() or set(old.panels) != set(self.fig.axes)
                or self._static_beside_panels()):
            return False
        changed = [ax for ax in self.fig.axes if self._panel_keys.get(ax) != old.panels[ax].key]
        kept = [p.region for ax, p in old.panels.items() if ax not in changed]
        wiped = [old.panels[ax].region for ax in changed]
        if not changed or not all_regions(kept) or not all_regions(wiped):
            return False
        others = np.concatenate([*kept, self._fixed_regions()])
        if sharing_pixels(np.concatenate(wiped), others):
            return False
        renderer = self.canvas.get_renderer()
        rgba = self._rgba()
        renderer.clear()
        self.fig.patch.draw(renderer)  # a blank figure, whose pixels replace the old panels'
        blank = [(rows, cols, rgba[rows, cols].copy())
                 for rows, cols in (pixel_slices(r, rgba.shape) for r in wiped)]
        np.copyto(rgba, old.pixels)
        for rows, cols, pixels in blank:
            rgba[rows, cols] = pixels
        panels = dict(old.panels)
        with self._static_only():
            for ax in sorted(changed, key=lambda a: a.get_zorder()):  # as the figure orders them
                with drawn_texts(renderer) as boxes:
                    ax.draw(renderer)
                texts = as_boxes(boxes)
                panels[ax] = Panel(self._panel_keys.get(ax), panel_region(ax, texts), texts)
        drawn = [panels[ax].region for ax in changed]
        texts = np.concatenate([old.others, *(p.texts for p in panels.values())])
        if (not all_regions(drawn) or sharing_pixels(np.concatenate(drawn), others)
                or not texts_fit(texts, texts, self.fig.bbox)):
            return False
        self._keep(Static(rgba.copy(), old.at, old.key, texts, old.others, panels))
        return True

    @contextlib.contextmanager
    def _static_only(self) -> Iterator[None]:
        """Within the block, drawing the figure draws only its static artists (the dynamic
        and fixed ones are marked animated), images as ``NearestImage``."""
        for ax in self.fig.axes:  # the same pixels, drawn faster
            for im in ax.images:
                if type(im) is AxesImage:
                    im.__class__ = NearestImage
        for a in (*self._dynamic, *self._fixed):
            a.set_animated(True)
        try:
            yield
        finally:
            for a in (*self._dynamic, *self._fixed):
                a.set_animated(False)

    def _static_beside_panels(self) -> bool:
        """Whether the figure draws static artists of its own (a suptitle, a legend not
        registered as fixed), beside its panels and fixed artists."""
        own = {self.fig.patch, *self.fig.axes, *self._fixed, *self._dynamic}
        return any(a.get_visible() for a in self.fig.get_children() if a not in own)

    def _fixed_regions(self) -> Boxes:
        """(n, 4) the boxes that hold the pixels of the fixed artists drawn."""
        return as_boxes([Bbox(kept[0].reshape(2, 2)).padded(TEXT_MARGIN_PX).extents
                         for a, kept in self._fixed.items() if kept is not None
                         and a.get_visible()])

    def _keep(self, static: Static) -> None:
        """Make ``static`` the pixels renders blit on; keep them for the static state they
        show, if it is named."""
        before, self._static = self._static, static
        self.redraw_static = False
        self._keep_pixels(before)
        if static.key is None:
            return
        key = self._state(static.at)
        self._backgrounds[key] = static
        self._backgrounds.move_to_end(key)
        while len(self._backgrounds) > 1 and (
                len(self._backgrounds) > MAX_BACKGROUNDS
                or sum(s.pixels.nbytes for s in self._backgrounds.values())
                > MAX_BACKGROUND_BYTES):
            self._backgrounds.popitem(last=False)

    def _state(self, at: tuple[Any, ...]) -> Hashable:
        """The static state's key in the layout ``at``: its own, its panels', the layout."""
        return self._static_key, tuple(self._panel_keys.get(ax) for ax in self.fig.axes), at

    def _rgba(self) -> RGBA:
        """The canvas's (H, W, 4) pixels (a view)."""
        return np.asarray(self.canvas.buffer_rgba())

    def _positions(self) -> tuple[Any, ...]:
        """The figure's size and the panels' places (a new layout draws other pixels)."""
        return self.fig.bbox.bounds, tuple(ax.get_position().bounds for ax in self.fig.axes)

    def _keep_pixels(self, before: Static | None) -> None:
        """After a new static part: forget the kept pixels of the dynamic artists (``_pixels``)
        unless the layout is the same and so are the static pixels under them (``before``:
        the static part they were drawn over)."""
        now = self._static
        if before is None or now is None or before.at != now.at:
            self._pixels.clear()
            return
        for a, (pixels, _) in list(self._pixels.items()):
            x0, y0, x1, y1 = pixels.get_extents()  # rows from the top
            if not np.array_equal(before.pixels[y0:y1, x0:x1], now.pixels[y0:y1, x0:x1]):
                del self._pixels[a]

    def _draw_fixed(self, boxes: list[Any]) -> None:
        """Draw the fixed artists on the canvas, or paste back their pixels if they are where
        they were drawn last; their texts' boxes join ``boxes``."""
        renderer = self.canvas.get_renderer()
        for a in self._fixed:
            if not a.get_visible():
                continue
            place = a.get_window_extent(renderer)
            kept = self._fixed[a]
            if kept is not None and np.array_equal(kept[0], place.extents):
                self.canvas.restore_region(kept[1])
                boxes.extend(kept[2])
                continue
            first = len(boxes)
            a.draw(renderer)
            region = Bbox.intersection(place.padded(TEXT_MARGIN_PX), self.fig.bbox)
            self._fixed[a] = None if region is None else (
                place.extents, self.canvas.copy_from_bbox(region), as_boxes(boxes[first:]))

    def _restore_static(self) -> bool:
        """Paste back the static pixels of the named static state, if they are kept."""
        if self._static_key is None:
            return False
        static = self._backgrounds.get(self._state(self._positions()))
        if static is None:
            return False
        self._keep(static)
        return True

    def _draw_dynamic(self) -> bool:
        """Draw the dynamic artists on the canvas; returns whether their texts fit (no
        overlap with each other or with the static texts, inside the figure).

        Drawing text is what costs, so a dynamic colour bar (Axes) or text outside every
        axes (a title) that has not changed since its last draw (not stale) gets the pixels
        of that draw back instead.
        """
        renderer = self.canvas.get_renderer()
        frames = as_boxes([ax.bbox.extents for ax in self.fig.axes])
        drawn: list[Boxes] = []
        for a in sorted(self._dynamic, key=lambda a: a.get_zorder()):
            if not a.get_visible():
                continue
            if not a.stale and a in self._pixels:
                pixels, texts = self._pixels[a]
                self.canvas.restore_region(pixels)
                drawn.append(texts)
                continue
            with drawn_texts(renderer) as boxes:
                a.draw(renderer)
            texts = as_boxes(boxes)
            drawn.append(texts)
            region = pixel_region(a, texts, frames)
            if region is not None:
                region = Bbox.intersection(region, self.fig.bbox)
            if region is not None:
                self._pixels[a] = (self.canvas.copy_from_bbox(region), texts)
            else:
                self._pixels.pop(a, None)
        dynamic = np.concatenate([np.empty((0, 4)), *drawn])
        static = self._static.texts if self._static is not None else np.empty((0, 4))
        fits = texts_fit(dynamic, np.concatenate([static, dynamic]), self.fig.bbox)
        if fits:
            self._stuck = False
        return fits


def png_bytes(rgba: npt.NDArray[np.uint8], level: int = PNG_LEVEL) -> bytes:
    """Encode an (H, W, 4) uint8 image (the Agg buffer, opaque) as an RGBA PNG: every row
    'up'-filtered (minus the row above, which compresses flat figures well), then zlib.
    Twice as fast as Pillow's adaptive filters; RGBA rather than RGB because subtracting whole
    contiguous rows is 20 times faster than three channels out of four, and the constant
    alpha filters to zeros that cost zlib little."""
    height, width, _ = rgba.shape
    flat = rgba.reshape(height, 4 * width)
    rows = np.empty((height, 1 + 4 * width), dtype=np.uint8)
    rows[:, 0] = 2  # filter type 'up' (the first row's 'above' is zeros)
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.data, level)) + chunk(b"IEND", b""))


class NearestImage(AxesImage):
    """An AxesImage with 'nearest' interpolation drawn by picking, with NumPy, the data pixel
    under each screen pixel's centre (colour-mapping only the data). matplotlib instead
    resamples the data and its mask to the screen's size and colour-maps that: the same
    pixels (tests/test_widget_layout.py compares them), several times slower on a large
    panel. Other interpolations, array alphas and non-affine transforms are left to
    matplotlib."""

    def make_image(self, renderer: Any, magnification: float = 1.0, unsampled: bool = False
                   ) -> tuple[Any, float, float, Any]:
        trans = self.get_transform()
        A = self.get_array()
        figure = self.get_figure(root=True)
        if (unsampled or magnification != 1.0 or self.get_interpolation() != "nearest"
                or not trans.is_affine or isinstance(self.get_alpha(), np.ndarray) or A is None
                or A.ndim not in (2, 3) or figure is None):
            return super().make_image(renderer, magnification, unsampled)
        x1, x2, y1, y2 = self.get_extent()
        (dx1, dy1), (dx2, dy2) = trans.transform([[x1, y1], [x2, y2]])
        clip = ((self.get_clip_box() or self.axes.bbox) if self.get_clip_on()
                else figure.bbox)
        box = Bbox.intersection(Bbox([[min(dx1, dx2), min(dy1, dy2)],
                                      [max(dx1, dx2), max(dy1, dy2)]]), clip)
        if box is None:
            return None, 0, 0, None
        # whole screen pixels, rounded as matplotlib rounds them
        left, bottom = math.floor(box.x0 + 0.5), math.ceil(box.y0 - 0.5 - 1e-8)
        right, top = math.floor(box.x1 + 0.5 + 1e-8), math.ceil(box.y1 - 0.5)
        if right <= left or top <= bottom:
            return None, 0, 0, None
        height, width = A.shape[:2]
        # column 0 starts at x1; row 0 at y2 ('upper' origin) or y1 ('lower')
        row0, row_end = (dy2, dy1) if self.origin == "upper" else (dy1, dy2)
        cols = _nearest(np.arange(left, right) + 0.5, dx1, dx2, width)
        rows = _nearest(np.arange(bottom, top) + 0.5, row0, row_end, height)
        rgba = np.ascontiguousarray(self.to_rgba(A, bytes=True))  # the data's colours only
        # each pixel's 4 bytes picked as one uint32, columns first, then whole rows: 10 times
        # faster than picking (rows, cols, 4) bytes
        pixels = rgba.view(np.uint32)[..., 0][:, cols][rows]
        return pixels.view(np.uint8).reshape(*pixels.shape, 4), left, bottom, None


def _nearest(centres: npt.NDArray[np.float64], start: float, end: float, n: int
             ) -> npt.NDArray[np.intp]:
    """Indices of the data pixels (n of them, from screen coordinate ``start`` to ``end``)
    under the screen pixel ``centres``."""
    index = np.floor((centres - start) * (n / (end - start))).astype(np.intp)
    return np.clip(index, 0, n - 1)


# ---------------------------------------------------------------------- the texts a draw makes
_EXTENTS: dict[tuple[Any, ...], Boxes] = {}  # (string, font, angle, dpi) -> extent - anchor


@contextlib.contextmanager
def drawn_texts(renderer: RendererAgg) -> Iterator[list[Any]]:
    """Collect the window extents (x0, y0, x1, y1) of the texts drawn in the block, except
    the values written over cells (``CELL_GID``): they sit inside their axes whatever the
    layout."""
    boxes: list[Any] = []
    draw_text = renderer.draw_text
    height = renderer.get_canvas_width_height()[1]

    def record(gc: Any, x: float, y: float, s: str, prop: Any, angle: float,
               ismath: Any = False, mtext: Text | None = None) -> None:
        yd = height - y if renderer.flipy() else y  # the line's anchor, from the bottom
        if mtext is not None:  # a one-line Text: its extent, moved with its anchor
            if mtext.get_gid() != CELL_GID:
                key = (s, prop, angle, ismath, renderer.dpi)
                if key not in _EXTENTS:
                    if len(_EXTENTS) > 4096:
                        _EXTENTS.clear()
                    # keyed by a snapshot of the font (FontProperties are mutable)
                    _EXTENTS[(s, prop.copy(), angle, ismath, renderer.dpi)] = (
                        np.asarray(mtext.get_window_extent(renderer).extents) - (x, yd, x, yd))
                boxes.append(_EXTENTS[key] + (x, yd, x, yd))
        elif s.strip():  # one line of a multi-line text: the box of its glyphs
            w, h, d = renderer.get_text_width_height_descent(s, prop, ismath)
            a = np.deg2rad(angle)
            corners = np.array([[0, -d], [w, -d], [w, h - d], [0, h - d]])
            xs = x + corners[:, 0] * np.cos(a) - corners[:, 1] * np.sin(a)
            ys = yd + corners[:, 0] * np.sin(a) + corners[:, 1] * np.cos(a)
            boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
        if ismath or not gc.get_antialiased() or not draw_cached_text(renderer, gc, x, y, s,
                                                                        prop, angle, mtext):
            draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    setattr(renderer, "draw_text", record)  # noqa: B010 (mypy forbids assigning a method)
    try:
        yield boxes
    finally:
        delattr(renderer, "draw_text")  # noqa: B043 (back to the class's method)


_TEXT_LAYOUTS: dict[tuple[Any, ...], Any] = {}
"""(string, font, rotation, alignments, line spacing, dpi, renderer type) -> Text._get_layout"""


@contextlib.contextmanager
def kept_text_layouts() -> Iterator[None]:
    """Within the block, a text's layout (``Text._get_layout``: its lines and box around its
    anchor, which do not depend on where it is) is reused from an earlier text with the same
    string, font, rotation and alignment: tick labels and titles drawn again skip the font
    look-ups and metrics. Texts with TeX, wrapping or a transform that rotates them are left
    to matplotlib."""
    get_layout = Text._get_layout  # type: ignore[attr-defined]  # matplotlib's private API
    if getattr(get_layout, "kept", False):  # already inside such a block
        yield
        return

    def kept(text: Text, renderer: Any) -> Any:
        if text.get_usetex() or text.get_wrap() or text.get_transform_rotates_text():
            return get_layout(text, renderer)
        prop = text.get_fontproperties()
        key = (text.get_text(), prop, text.get_rotation(), text.get_horizontalalignment(),
               text.get_verticalalignment(), text.get_rotation_mode(),
               getattr(text, "_multialignment", None), getattr(text, "_linespacing", None),
               getattr(text.get_figure(root=True), "dpi", None), type(renderer))
        layout = _TEXT_LAYOUTS.get(key)
        if layout is None:
            if len(_TEXT_LAYOUTS) > MAX_KEPT:
                _TEXT_LAYOUTS.clear()
            layout = _TEXT_LAYOUTS[(key[0], prop.copy(), *key[2:])] = get_layout(text, renderer)
        return layout

    kept.kept = True  # type: ignore[attr-defined]
    setattr(Text, "_get_layout", kept)  # noqa: B010
    try:
        yield
    finally:
        setattr(Text, "_get_layout", get_layout)  # noqa: B010


@contextlib.contextmanager
def ticks_updated_once() -> Iterator[None]:
    """Within the block, an axis being drawn (``Axis.draw``) updates its ticks and measures
    their labels once. matplotlib updates them (locator, formatter, every tick's place and
    label) three times per draw: to draw them, to place the axis label and for the extent
    of the spine beside them; and measures the labels twice. Nothing moves meanwhile, so
    the first results serve all."""
    own = {name: getattr(Axis, name) for name in ("draw", "_update_ticks",
                                                  "_get_ticklabel_bboxes")}
    if getattr(own["draw"], "once", False):  # already inside such a block
        yield
        return
    drawing: dict[Axis, dict[str, Any]] = {}  # axis being drawn -> its ticks, label boxes

    def draw(axis: Axis, renderer: Any) -> None:
        drawing[axis] = {}
        try:
            own["draw"](axis, renderer)
        finally:
            del drawing[axis]

    def update_ticks(axis: Axis) -> Any:
        kept = drawing.get(axis)
        if kept is None:
            return own["_update_ticks"](axis)
        if "ticks" not in kept:
            kept["ticks"] = own["_update_ticks"](axis)
        return kept["ticks"]

    def label_boxes(axis: Axis, ticks: Any, renderer: Any) -> Any:
        kept = drawing.get(axis)
        if kept is None or ticks is not kept.get("ticks"):
            return own["_get_ticklabel_bboxes"](axis, ticks, renderer)
        if "boxes" not in kept:
            kept["boxes"] = own["_get_ticklabel_bboxes"](axis, ticks, renderer)
        return kept["boxes"]

    draw.once = True  # type: ignore[attr-defined]
    for name, f in zip(own, (draw, update_ticks, label_boxes), strict=True):
        setattr(Axis, name, f)
    try:
        yield
    finally:
        for name, f in own.items():
            setattr(Axis, name, f)


# ---------------------------------------------------------------------- glyphs kept between draws
_LAYOUTS: dict[tuple[Any, ...], list[Any]] = {}  # (string, font, dpi, ...) -> its glyphs
_GLYPHS: dict[tuple[Any, ...], tuple[npt.NDArray[np.uint8], int, int]] = {}
"""(font, size, dpi, glyph, angle, 1/64 px offsets, hinting) -> bitmap, left, top."""
MAX_KEPT = 20_000  # layouts or glyphs; both dicts are emptied when one grows past it


def clear_caches() -> None:
    """Forget the texts' extents, layouts and glyphs kept between draws (as in a new kernel)."""
    _EXTENTS.clear()
    _LAYOUTS.clear()
    _GLYPHS.clear()
    _TEXT_LAYOUTS.clear()


def draw_cached_text(renderer: RendererAgg, gc: Any, x: float, y: float, s: str, prop: Any,
                     angle: float, mtext: Text | None) -> bool:
    """Draw a plain (not math) anti-aliased text as ``RendererAgg.draw_text`` does (glyph by
    glyph, each at its 1/64-pixel position), reusing the glyphs' layout and bitmaps of earlier
    draws: a glyph's bitmap depends on its position only through the fraction of a pixel
    (a whole-pixel move moves the bitmap), so redrawn titles, tick labels and numbers cost a
    fraction of a new text. Uses matplotlib's private glyph API (3.11): returns False, so the
    caller draws the text itself, if it is missing."""
    try:
        hinting = backend_agg.get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        key = (s, hash(prop), size, renderer.dpi, hinting, features, language)
        items = _LAYOUTS.get(key)
        if items is None:
            items = renderer._prepare_font(prop)._layout(s, flags=hinting, features=features,
                                                         language=language)
            _LAYOUTS[key] = items = [(i.ft_object, i.glyph_index, i.x, i.y) for i in items]
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        height = renderer.height
        for font, glyph, dx, dy in items:
            pen_x = round(0x40 * (x + dx * cos - dy * sin))
            pen_y = round(0x40 * (height - y + dx * sin + dy * cos))
            gkey = (font, size, renderer.dpi, glyph, angle, pen_x & 0x3F, pen_y & 0x3F, hinting)
            kept = _GLYPHS.get(gkey)
            if kept is None:
                font.set_size(size, renderer.dpi)
                font._set_transform((0x10000 * np.array([[cos, -sin], [sin, cos]])).round()
                                    .astype(int), [pen_x & 0x3F, pen_y & 0x3F])
                bitmap = font._render_glyph(glyph, hinting, RenderMode.NORMAL)
                _GLYPHS[gkey] = kept = (bitmap.buffer.copy(), bitmap.left, bitmap.top)
            buffer, left, top = kept
            renderer._renderer.draw_text_image(
                buffer, left + (pen_x >> 6), int(height) - top - (pen_y >> 6) + buffer.shape[0],
                0, gc)
    except (AttributeError, TypeError):  # another matplotlib: its own draw_text
        return False
    if len(_LAYOUTS) > MAX_KEPT or len(_GLYPHS) > MAX_KEPT:
        _LAYOUTS.clear()
        _GLYPHS.clear()
    return True


def pixel_region(a: Artist, texts: Boxes, frames: Boxes) -> Bbox | None:
    """The pixels that hold all of artist ``a`` (just drawn, its ``texts`` boxes), if they
    can be pasted back while it is unchanged: an Axes (frame, tick marks, texts), or a text,
    whose pixels reach into no other axes frame (``frames``, where other dynamic artists,
    e.g. an image beside a colour bar, may change)."""
    if isinstance(a, Axes):
        extents = np.concatenate([[a.bbox.extents], texts])
        margin = AXES_MARGIN_PX
        frames = frames[~(frames == a.bbox.extents).all(axis=1)]
    elif isinstance(a, Text) and len(texts) == 1:
        extents, margin = texts, TEXT_MARGIN_PX
    else:
        return None
    region = around(extents, margin)
    # within 2 px counts: whole pixels are copied, an image's edge pixels round outwards
    return None if overlapping(region, frames, tol=-2).any() else Bbox(region.reshape(2, 2))


@contextlib.contextmanager
def drawn_panels(axes: list[Axes], boxes: list[Any]) -> Iterator[dict[Axes, slice]]:
    """Within the block, record which of ``boxes`` (the texts ``drawn_texts`` collects) each
    of ``axes`` draws: {axes: slice of boxes}, for the axes drawn."""
    spans: dict[Axes, slice] = {}

    def recorder(ax: Axes) -> Any:
        def draw(renderer: Any) -> None:
            first = len(boxes)
            own(renderer)
            spans[ax] = slice(first, len(boxes))

        own = ax.draw
        return draw

    for ax in axes:
        setattr(ax, "draw", recorder(ax))  # noqa: B010 (mypy forbids assigning a method)
    try:
        yield spans
    finally:
        for ax in axes:
            delattr(ax, "draw")  # noqa: B043 (back to the class's method)


def panel_region(ax: Axes, texts: Boxes) -> Boxes | None:
    """(1, 4) the box that holds every static pixel of panel ``ax`` (just drawn, its
    ``texts`` boxes): its frame, tick marks and texts, and artists clipped to its frame;
    None if something of it may draw beyond (an unclipped artist, such as a legend or an
    inset axes that is not dynamic; tick marks or spines wider than the margin; a moved
    spine). Dynamic (animated) artists are not static pixels."""
    dpi = ax.get_figure(root=True).dpi  # type: ignore[union-attr]  # a drawn panel has one
    reach = (AXES_MARGIN_PX - 2) * 72 / dpi  # points a tick mark or spine may reach out
    bounds = ax.bbox.padded(1).extents  # what a clip box may cover
    for a in ax.get_children():
        if a is ax.patch or not a.get_visible() or a.get_animated():
            continue
        if isinstance(a, Axis):
            marks = [t.tick1line for t in (*a.majorTicks[:1], *a.minorTicks[:1])]
            if any(m.get_markersize() + m.get_markeredgewidth() > reach for m in marks):
                return None
        elif isinstance(a, Spine):
            if (a.spine_type not in ("left", "right", "bottom", "top")
                    or a.get_position() != ("outward", 0) or a.get_linewidth() > reach):
                return None
        elif isinstance(a, Text) and a.get_gid() != CELL_GID:
            continue  # drawn_texts recorded it
        else:
            box = a.get_clip_box() if a.get_clip_on() else None
            if box is None or not (np.all(box.extents[:2] >= bounds[:2])
                                   and np.all(box.extents[2:] <= bounds[2:])):
                return None
    frame = around(np.array([ax.bbox.extents]), AXES_MARGIN_PX)
    return around(np.concatenate([frame, texts + np.array([-1, -1, 1, 1]) * TEXT_MARGIN_PX]), 0)


def all_regions(regions: list[Boxes | None]) -> TypeGuard[list[Boxes]]:
    """Whether every panel's pixels have a region (``panel_region``)."""
    return all(r is not None for r in regions)


def around(extents: Boxes, margin: float) -> Boxes:
    """(1, 4) the box around all of ``extents`` (n, 4), ``margin`` px wider on every side."""
    (x0, y0), (x1, y1) = extents[:, :2].min(axis=0), extents[:, 2:].max(axis=0)
    return np.array([[x0 - margin, y0 - margin, x1 + margin, y1 + margin]])


def pixel_slices(region: Boxes, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """(rows, columns) of an (H, W, ...) image, rows from the top, that cover ``region``
    (x0, y0, x1, y1 from the bottom left, whole pixels outwards)."""
    height, width = shape[:2]
    x0, y0, x1, y1 = np.ravel(region)
    rows = slice(max(0, height - math.ceil(y1)), min(height, height - math.floor(y0)))
    cols = slice(max(0, math.floor(x0)), min(width, math.ceil(x1)))
    return rows, cols


def as_boxes(boxes: Any) -> Boxes:
    """A list of (x0, y0, x1, y1) as an (n, 4) float array (n may be 0)."""
    return np.array(boxes, dtype=float).reshape(-1, 4)


def overlapping(a: Boxes, b: Boxes, tol: float = 0.5) -> npt.NDArray[np.bool_]:
    """(len(a), len(b)) bool: boxes (x0, y0, x1, y1) that overlap by more than ``tol`` px."""
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return (ix > tol) & (iy > tol)


def sharing_pixels(a: Boxes, b: Boxes) -> bool:
    """Whether a whole pixel touched by a box of ``a`` (n, 4) is touched by one of ``b``."""
    def outwards(boxes: Boxes) -> Boxes:
        return np.concatenate([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])], axis=1)

    return bool(overlapping(outwards(a), outwards(b), tol=0).any())


def texts_fit(boxes: Boxes, others: Boxes, bbox: BboxBase, tol: float = 0.5) -> bool:
    """Whether the text ``boxes`` lie inside ``bbox`` and overlap neither each other nor
    ``others`` (which may contain ``boxes`` themselves: identical rows are skipped)."""
    if not len(boxes):
        return True
    x0, y0, x1, y1 = bbox.extents
    if ((boxes[:, 0] < x0 - tol) | (boxes[:, 1] < y0 - tol) | (boxes[:, 2] > x1 + tol)
            | (boxes[:, 3] > y1 + tol)).any():
        return False
    same = (boxes[:, None, :] == others[None, :, :]).all(axis=-1)
    return not (overlapping(boxes, others, tol) & ~same).any()
