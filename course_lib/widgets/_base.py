"""``Explorer``, the base class of every explorer: controls, updates, the picture and its
static fallbacks (a PNG in the notebook, pre-rendered frames for a deck).

A subclass builds its axes and artists once (``_build``), computes its state from the
controls (``_compute``, which also sets the readout) and moves its artists (``_draw``, with
``set_data`` / ``set_clim`` / ``set_text`` and the helpers of ``widgets.drawing``).
``update`` runs both and renders the figure to PNG bytes for the ``ipywidgets.Image``.
Nothing here draws with pyplot, so no figure is ever registered with ``matplotlib.pyplot``.
Rendering is blitted (``widgets.rendering``): the artists a subclass registers with
``_dyn`` are the only ones redrawn; a subclass that changes a static artist (axis limits,
tick labels) names the static part's state with ``_static_state(key)`` (a state seen before
gets its pixels back) or calls ``_static_changed()``; ``_fixed`` registers artists that never
change (a figure legend: drawn once). Every subclass also defines ``demo()``, the
explorer as its lesson shows it built from small deterministic inputs: the tests and the
benchmarks find the explorers (``explorer_classes()``) and build each that way.

Readable from the back of a room: every size comes from ``course_lib.viz_style``, applied
as matplotlib's rc style (``STYLE``) while the figure is built and drawn; panel titles must
stay within their panel (constrained layout does not make room for a title's width;
tests/test_widget_layout.py checks every state for clipped or overlapping text).

Dragged sliders
---------------
A change that comes from the browser (ipywidgets' ``set_state``, in a comm message) while an
asyncio event loop runs (the kernel's) is drawn a few turns of the loop later
(``_defer_update``): the values that arrived meanwhile make one update of the latest state.
Changes made in code (a cell, ``hold()``, a test) update at once, as before.

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

import asyncio
import base64
import contextlib
import html
import io
import os
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, ClassVar, Literal, Self, SupportsFloat

import ipywidgets
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.typing import RcKeyType

from ..validate import check_array
from ..viz_style import DPI, FONT_LABEL, FONT_SMALL, FONT_TITLE
from .rendering import BlittedFigure

__all__ = ["Explorer", "PngFigure", "STYLE", "DECK_FRAMES_ENV", "FRAMES_MIME",
           "MAX_DECK_FRAMES", "int_slider", "fmt", "as_image"]

DECK_FRAMES_ENV = "COURSE_DECK_FRAMES"
FRAMES_MIME = "application/vnd.course.frames+json"
MAX_DECK_FRAMES = 40
QUIET_TURNS = 3
"""Turns of the event loop without a new change before a deferred update runs
(``Explorer._defer_update``). ipykernel 7 reads one message per turn from its shell socket
and handles it two turns later (a task per message, serialized by a lock), so the messages
already waiting are all handled first; a turn costs microseconds."""
MAX_DEFER_TURNS = 50
"""A deferred update runs after this many turns even while changes keep coming."""
PANEL_GAP_IN = 0.1  # around every panel (constrained layout's w_pad)
STYLE: dict[RcKeyType, Any] = {
    "font.size": FONT_SMALL, "axes.titlesize": FONT_TITLE, "axes.labelsize": FONT_LABEL,
    "xtick.labelsize": FONT_SMALL, "ytick.labelsize": FONT_SMALL, "legend.fontsize": FONT_SMALL,
    "legend.title_fontsize": FONT_SMALL, "figure.titlesize": FONT_TITLE,
    "figure.labelsize": FONT_LABEL}
"""matplotlib rc settings every explorer figure is built and drawn with."""


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

    A subclass's docstring names all its controls, as ``name``, in a paragraph that starts
    with "Controls" (tests/test_widgets.py holds every demo to it).
    """

    figsize: ClassVar[tuple[float, float]] = (10.0, 4.0)
    """Inches; figsize[0] * dpi must stay <= viz_style.MAX_WIDTH_PX."""
    dpi: ClassVar[float] = DPI
    layout: ClassVar[Literal["constrained", "compressed", "tight"] | None] = "constrained"
    """matplotlib layout engine of the figure (recomputed when texts no longer fit)."""
    panel_gap: ClassVar[float] = PANEL_GAP_IN
    """Inches of space around every panel's labels (constrained layout's w_pad): more lets
    changing tick labels widen without a new layout (which costs as much as a full draw)."""
    deck_control: str | None = None
    """The control whose values a deck pre-renders (see ``frames``); None: picture only."""
    auto_render = True
    """Render the PNG on every update. False skips drawing until ``png`` is read (for batch
    computations and tests of the state; the image widget then lags behind)."""

    controls: dict[str, Any]
    widget: Any

    # ------------------------------------------------------------------ construction
    @classmethod
    def demo(cls) -> Self:
        """The explorer at its lesson's size, built from small deterministic inputs (the
        tests and the benchmarks build every explorer this way; each subclass defines it)."""
        raise NotImplementedError(f"{cls.__name__} defines no demo()")

    def _init_view(self, controls: dict[str, Any], rows: list[list[str]] | None = None
                   ) -> None:
        """Create the figure, image, readout and container; observe ``controls``; draw once.

        rows : control names per row of the control panel (default: one row of all).
        """
        self.controls = controls
        self._holding = 0
        self._styling = 0
        self._stale = False  # a control changed and the update is deferred (_defer_update)
        self._deferred: asyncio.Handle | None = None
        self._quiet_turns = 0
        self._readout = ""
        self._png = b""
        self.fig = PngFigure(figsize=self.figsize, dpi=self.dpi, layout=self.layout)
        engine = self.fig.get_layout_engine()
        if isinstance(engine, ConstrainedLayoutEngine):  # a clear gap between panels' labels
            engine.set(w_pad=self.panel_gap, wspace=0.04)
        self._blit = BlittedFigure(self.fig)
        with self._styled():
            self._build()
        for ax in self.fig.axes:  # ticks made later (new limits) are made outside the style
            for axis in (ax.xaxis, ax.yaxis):
                if "labelsize" not in axis.get_tick_params(which="major"):
                    axis.set_tick_params(which="both", labelsize=FONT_SMALL)
        width = round(self.figsize[0] * self.dpi)  # natural size: no blurry upscaling
        self._image = ipywidgets.Image(format="png", width=str(width),
                                       layout=ipywidgets.Layout(max_width="100%", height="auto"))
        self._html = ipywidgets.HTML()
        for control in controls.values():
            if hasattr(getattr(control, "style", None), "description_width"):
                control.style.description_width = "initial"  # never truncate the names
            if (isinstance(control, ipywidgets.ValueWidget)
                    and not isinstance(control, ipywidgets.Play)):
                control.observe(self._on_change, names="value")
        rows = rows if rows is not None else [list(controls)]
        self._boxes = [ipywidgets.HBox([controls[name] for name in row]) for row in rows]
        self._boxes.append(ipywidgets.VBox(self._boxes[:]))
        self.widget = ipywidgets.VBox([self._boxes[-1], self._image, self._html])
        self.update()

    @contextlib.contextmanager
    def _styled(self) -> Iterator[None]:
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
    def _on_change(self, change: dict[str, Any]) -> None:
        if self._holding:
            return
        loop = _running_loop()
        if loop is not None and _from_frontend(change):
            self._defer_update(loop)
        else:
            self.update()

    def _defer_update(self, loop: asyncio.AbstractEventLoop) -> None:
        """Update soon on ``loop`` instead of now: the changes that arrive meanwhile (a
        dragged slider's next values) are drawn together, in one update of the latest state.

        The update waits until ``QUIET_TURNS`` turns of the loop have passed without a new
        change (at most ``MAX_DEFER_TURNS`` in all), so the comm messages the kernel has
        already received are handled first."""
        self._stale = True
        self._quiet_turns = 0
        if self._deferred is None:
            self._deferred = loop.call_soon(self._deferred_update, loop, MAX_DEFER_TURNS)

    def _deferred_update(self, loop: asyncio.AbstractEventLoop, turns_left: int) -> None:
        self._quiet_turns += 1
        if self._quiet_turns < QUIET_TURNS and turns_left > 0:
            self._deferred = loop.call_soon(self._deferred_update, loop, turns_left - 1)
            return
        self._deferred = None
        if self._stale and not self._holding:
            self.update()

    @contextlib.contextmanager
    def hold(self) -> Iterator[Self]:
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
        self._stale = False
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

    def _dyn(self, *artists: Artist) -> None:
        """Register artists that change between updates (the only ones redrawn)."""
        self._blit.add_dynamic(*artists)

    def _fixed(self, *artists: Artist) -> None:
        """Register artists that never change, apart from the panels (a figure legend): their
        pixels are drawn once and pasted back at each full draw."""
        self._blit.add_fixed(*artists)

    def _static_changed(self) -> None:
        """A static artist changed (axis limits, tick labels, a static text): the next
        render draws everything."""
        self._blit.set_static_state(None)
        self._blit.redraw_static = True

    def _static_state(self, *key: Hashable, panels: Mapping[Axes, Hashable] | None = None
                      ) -> None:
        """Name the state of the static artists (``key``: everything they show that can
        change, e.g. an image's shape and a label): a new state redraws everything at the
        next render, unless the static pixels of that state are still kept.

        panels : {axes: key} the states of single panels (what their static artists show,
            e.g. the limits of one image), ``key`` that of the rest: when only panels' keys
            change, only those panels are drawn again (if they lie apart from the others).
        """
        self._blit.set_static_state(key, panels)

    def _render(self, full: bool = False) -> bytes:
        """Draw the figure (blitting the static part unless ``full``) and return PNG bytes."""
        with self._styled():
            return self._blit.render(full)

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

    def control_values(self, name: str, limit: int = MAX_DECK_FRAMES) -> list[tuple[str, Any]]:
        """(label, value) for every value of control ``name``: a slider or a selection (at
        most ``limit``, evenly spaced, always including the current value)."""
        control = self.controls[name]
        if hasattr(control, "_options_values"):  # Dropdown, ToggleButtons, SelectionSlider
            pairs = list(zip(control._options_labels, control._options_values, strict=True))
        elif isinstance(control, ipywidgets.IntSlider):
            pairs = [(str(v), v) for v in range(control.min, control.max + 1, control.step)]
        elif isinstance(control, (ipywidgets.FloatSlider, ipywidgets.FloatLogSlider)):
            values = np.linspace(control.min, control.max, limit - 1)
            if isinstance(control, ipywidgets.FloatLogSlider):
                values = control.base ** values
            floats = sorted({*values.tolist(), float(control.value)})  # the current one too
            pairs = [(f"{v:.3g}", v) for v in floats]
        else:
            raise TypeError(f"control {name!r} is a {type(control).__name__}: "
                            "only a slider or a selection has values to go through")
        if len(pairs) > limit:
            keep = set(np.linspace(0, len(pairs) - 1, limit).round().astype(int).tolist())
            current = [k for k, (_, v) in enumerate(pairs) if v == control.value]
            pairs = [p for k, p in enumerate(pairs) if k in keep or k in current]
        return pairs

    def frames(self, max_frames: int = MAX_DECK_FRAMES) -> dict[str, Any]:
        """Pictures of the explorer for every value of ``deck_control`` (the other controls as
        they are now), for a deck without a kernel; the explorer ends in its current state.

        Returns {"control": its description, "labels": [str], "index": the current value's
        position, "frames": [{"png": base64 PNG, "readout": str}]}.
        """
        if self.deck_control is None:
            raise ValueError(f"{type(self).__name__} has no deck_control: nothing to pre-render")
        control = self.controls[self.deck_control]
        start = control.value
        try:
            pairs = self.control_values(self.deck_control, max_frames)
        except TypeError:
            raise TypeError(f"deck_control {self.deck_control!r} is a {type(control).__name__}: "
                            "frames need a slider or a selection") from None
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
                ax.set_position(original, which="original")
                ax.set_position(active, which="active")
                ax.set_in_layout(True)  # set_position takes an Axes out of the layout
            self._static_changed()
            with self.hold():
                control.value = start
        values = [v for _, v in pairs]
        return {"control": control.description or self.deck_control,
                "labels": [label for label, _ in pairs], "index": _position(values, start),
                "frames": frames}

    def static_figure(self) -> Figure:
        """The explorer's matplotlib Figure, drawn in the current state.

        It is the explorer's own persistent figure (not registered with pyplot; it shows as
        a PNG when displayed): display or save it; further control changes redraw it.
        """
        return self.fig

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
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
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for w in (*self.controls.values(), *self._boxes, self._image, self._html, self.widget):
            w.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio event loop running in this thread (the kernel's, in a comm handler)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _from_frontend(change: dict[str, Any]) -> bool:
    """Whether a control's change came from the browser: ipywidgets sets a front end's state
    (``Widget.set_state``) with the names it received in the widget's ``_property_lock``
    (a selection receives ``index``, its ``value`` follows)."""
    return bool(getattr(change["owner"], "_property_lock", None))


def _position(values: list[Any], current: Any) -> int:
    """The index of ``current`` in ``values`` (of the nearest one, for a float slider)."""
    if current in values:
        return values.index(current)
    if isinstance(current, (int, float)):
        return min(range(len(values)), key=lambda k: abs(values[k] - current))
    return 0


# ---------------------------------------------------------------------- for the subclasses
def int_slider(description: str, value: int, lo: int, hi: int, **kw: Any) -> Any:
    """An ipywidgets IntSlider whose range is widened to include ``value``."""
    return ipywidgets.IntSlider(value=value, min=min(lo, value), max=max(hi, value),
                                description=description,
                                style={"description_width": "initial"}, **kw)


def fmt(v: SupportsFloat, parens: bool = False) -> str:
    """A number as the readouts write it: 4 significant digits (negatives in parentheses
    when ``parens``, for products such as 2×(-1))."""
    s = f"{float(v):.4g}"
    if s == "-0":
        s = "0"
    return f"({s})" if parens and s.startswith("-") else s


def as_image(x: Any, name: str) -> npt.NDArray[np.floating]:
    """Validate one grayscale image: (H, W), (1, H, W) or (1, 1, H, W) float -> (H, W)."""
    check_array(x, name)
    img = x
    while img.ndim > 2 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"{name} must be one grayscale image of shape (H, W) (or (1, H, W), "
                         f"(1, 1, H, W)), got shape {x.shape}")
    return img
