"""Static matplotlib figures for the lessons.

Every function returns a ``matplotlib.figure.Figure``. Single-panel plots take ``ax=`` to
draw into an existing Axes (and return its figure); grids take ``fig=`` to draw into an
existing Figure or SubFigure. New figures are plain ``Figure`` objects, not registered with
pyplot: nothing leaks, and a notebook cell (with ``%matplotlib inline``, as the lessons
start) shows the figure once when it is the cell's value; elsewhere use ``display(fig)`` or
``fig.savefig(...)``.

Readable from the back of a room: a lesson figure's PNG (inline backend, tight bounding box)
is shown at its natural width, shrunk to fit a ~1100 px notebook column when wider, so a text
of s points in a figure of dpi d whose PNG is W px wide shows s * d / 72 * min(1, 1100 / W)
px tall; that must be at least 11 pt on a 96-dpi screen (14.67 px). ``audit_figure_text``
lists the texts of a figure that fall short, ``use_lesson_style`` sets the lessons' font
sizes once (their setup cell calls it), and with the environment variable
``COURSE_AUDIT_FIGURES=1`` (set by tests/conftest.py, inherited by nbval's kernels)
importing this module makes every figure the inline backend shows fail the cell with an
AssertionError when it is not readable.

Colour conventions (colour-blind safe): inputs in gray; non-negative maps in viridis;
signed values (weights, gradients, pre-activation maps) in 'RdBu_r' with symmetric limits
(-m, m) so white means zero, always with a colorbar.
"""

from __future__ import annotations

import math
import numbers
import os
import sys

import matplotlib as mpl
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from .validate import check_array, check_int

__all__ = ["audit_figure_text", "use_lesson_style", "install_figure_audit",
           "remove_figure_audit", "plot_history", "show_filters", "show_feature_maps",
           "show_images", "plot_confusion_matrix", "show_matrix", "signed_limits", "DIVERGING",
           "SEQUENTIAL"]

DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"
_WRONG_COLOR = "#d55e00"  # Okabe-Ito vermillion: mistakes
_RIGHT_COLOR = "#0072b2"  # Okabe-Ito blue
_DIAGONAL_COLOR = "#d9d9d9"  # light grey: the right answers of a confusion matrix
_ZERO_COLOR = "#8c8c8c"  # mid grey: no mistake
# Readable when projected (the sizes of course_lib.widgets): at the default 100 dpi,
# 11 pt is 15 px, more than 11 pt on a 96-dpi screen.
_FONT_SMALL, _FONT_LABEL, _FONT_TITLE, _FONT_COUNT = 11, 12, 13, 13
MAX_WIDTH_PX = 1100  # the notebook column on a 1280-wide screen (JupyterLab, Notebook 7)
MIN_TEXT_PX = 11 * 96 / 72  # 11 pt on a 96-dpi screen
AUDIT_ENV = "COURSE_AUDIT_FIGURES"
LESSON_STYLE = {"figure.dpi": 100, "font.size": 12, "axes.titlesize": _FONT_TITLE,
                "axes.labelsize": _FONT_LABEL, "xtick.labelsize": _FONT_SMALL,
                "ytick.labelsize": _FONT_SMALL, "legend.fontsize": _FONT_SMALL,
                "legend.title_fontsize": _FONT_SMALL, "figure.titlesize": 14,
                "figure.labelsize": _FONT_LABEL}
"""matplotlib rc settings of the lessons' figures (``use_lesson_style``)."""


def use_lesson_style() -> None:
    """Set matplotlib's defaults to the lessons' readable sizes (``LESSON_STYLE``): 100 dpi,
    tick labels and legends 11 pt, axis labels 12 pt, titles 13 pt. A lesson's setup cell
    calls it once; figures wider than about 11 inches still shrink below 11 pt on screen
    (``audit_figure_text``)."""
    mpl.rcParams.update(LESSON_STYLE)


# ----------------------------------------------------------------------------- readability
def _figure_name(fig) -> str:
    title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    name = title or (" | ".join(titles[:2]) + (" | ..." if len(titles) > 2 else ""))
    number = getattr(fig, "number", None)
    label = f"figure {number}" if number is not None else "figure"
    return f"{label} {name!r}" if name else label


def audit_figure_text(fig, max_width_px: float = MAX_WIDTH_PX, min_px: float = MIN_TEXT_PX
                      ) -> list[str]:
    """The texts of ``fig`` too small to read once it is shown in a notebook, described.

    The figure is drawn with the Agg renderer at its dpi, as the inline backend prints it
    (``bbox_inches="tight"``); its PNG, W px wide, is shown shrunk to ``max_width_px`` when
    wider. A text of s points then shows s * dpi / 72 * min(1, max_width_px / W) px tall.
    Every visible non-empty text that is drawn (titles, axis and tick labels, annotations,
    legend and colour-bar texts, suptitles) smaller than ``min_px`` is described in one
    string: its text and its size in points and on screen (the figure's width and scale are
    in ``fig._course_audit``). An empty list means the figure reads well.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    drawn: list[Text] = []
    original_draw = Text.draw

    def recording_draw(self, renderer):
        drawn.append(self)
        return original_draw(self, renderer)

    old_canvas = fig.canvas
    canvas = old_canvas if isinstance(old_canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    Text.draw = recording_draw
    try:
        canvas.draw()
        renderer = canvas.get_renderer()
        pad = mpl.rcParams["savefig.pad_inches"]
        bbox = fig.get_tightbbox(renderer)
    finally:
        Text.draw = original_draw
        if canvas is not old_canvas:
            fig.set_canvas(old_canvas)
    dpi = fig.dpi
    width_px = (bbox.width + 2 * pad) * dpi
    scale = min(1.0, max_width_px / width_px)
    fig._course_audit = (f"{_figure_name(fig)}, {width_px:.0f} px wide at {dpi:g} dpi"
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
    return problems


_ORIGINAL_PRINT_FIGURE = getattr(FigureCanvasBase.print_figure, "_course_original",
                                 FigureCanvasBase.print_figure)  # safe under a reload


def _audited_print_figure(self, *args, **kwargs):
    result = _ORIGINAL_PRINT_FIGURE(self, *args, **kwargs)
    caller = sys._getframe(1)
    if (caller.f_code.co_name == "print_figure"
            and caller.f_globals.get("__name__") == "IPython.core.pylabtools"):
        problems = audit_figure_text(self.figure)
        if problems:
            shown = problems[:12] + ([f"... and {len(problems) - 12} more"]
                                     if len(problems) > 12 else [])
            raise AssertionError(
                f"{len(problems)} text(s) too small to read in {self.figure._course_audit} "
                "(make the figure narrower, its fonts bigger or use fewer panels per row; "
                "course_lib.viz.use_lesson_style() sets readable font sizes):\n  "
                + "\n  ".join(shown))
    return result


_audited_print_figure._course_original = _ORIGINAL_PRINT_FIGURE


def install_figure_audit() -> None:
    """Make every figure the notebook's inline backend shows (IPython's ``print_figure``)
    raise an AssertionError listing its unreadable texts (``audit_figure_text``). Done on
    import when the environment variable COURSE_AUDIT_FIGURES is "1"."""
    FigureCanvasBase.print_figure = _audited_print_figure


def remove_figure_audit() -> None:
    """Undo ``install_figure_audit``."""
    FigureCanvasBase.print_figure = _ORIGINAL_PRINT_FIGURE


if os.environ.get(AUDIT_ENV) == "1":
    install_figure_audit()


def signed_limits(a) -> tuple[float, float]:
    """Symmetric colour limits (-m, m) with m = max |a| (1 if a is all zeros)."""
    m = float(np.max(np.abs(a))) if np.size(a) else 0.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return -m, m


def _readable(ax, cbar=None):
    """Set the texts of ``ax`` (and of a colour bar) to the readable sizes."""
    ax.tick_params(which="both", labelsize=_FONT_SMALL)
    ax.xaxis.label.set_fontsize(_FONT_LABEL)
    ax.yaxis.label.set_fontsize(_FONT_LABEL)
    ax.title.set_fontsize(_FONT_TITLE)
    if cbar is not None:
        _readable_colorbar(cbar)


def _readable_colorbar(cbar):
    cbar.ax.tick_params(which="both", labelsize=_FONT_SMALL)
    for axis in (cbar.ax.xaxis, cbar.ax.yaxis):
        axis.label.set_fontsize(_FONT_LABEL)
    return cbar


def _new_axes(ax, figsize):
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def _grid(fig, n, ncols, panel_size, title):
    """A figure (new, or the given Figure/SubFigure) with an (nrows, ncols) grid of axes."""
    nrows = math.ceil(n / ncols)
    if fig is None:
        fig = Figure(figsize=(panel_size * ncols + 1.2, panel_size * nrows + 0.6),
                     layout="constrained")
    elif not isinstance(fig, (Figure, SubFigure)):
        raise TypeError(f"fig must be a matplotlib Figure, SubFigure or None, got "
                        f"{type(fig).__name__}")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for a in axes[n:]:
        a.set_visible(False)
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=_FONT_TITLE)
    return (fig.figure if isinstance(fig, SubFigure) else fig), fig, axes[:n]


def _check_ncols(ncols, n):
    return min(check_int(ncols, "ncols", 1), max(n, 1))


# ----------------------------------------------------------------------------- training curves
def plot_history(history, *, axes=None, title: str | None = None) -> Figure:
    """Loss and accuracy curves from ``course_lib.train.fit``'s History (or its to_dict()).

    Left: the loss of every step (faint), its per-epoch mean (line, at each epoch's end) and,
    if recorded, the validation loss. Right: accuracy per epoch, training and validation.
    axes : optional pair of Axes to draw on.
    """
    h = history.to_dict() if hasattr(history, "to_dict") else history
    if not isinstance(h, dict) or "step_loss" not in h:
        raise TypeError(f"history must be a course_lib.train.History or its to_dict(), got "
                        f"{type(history).__name__}")
    if not h["step_loss"]:
        raise ValueError("history is empty: train for at least one step first")
    if axes is None:
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax_loss, ax_acc = fig.subplots(1, 2)
    else:
        if len(axes) != 2 or not all(isinstance(a, Axes) for a in axes):
            raise TypeError("axes must be a pair of matplotlib Axes (loss, accuracy) or None")
        ax_loss, ax_acc = axes
        fig = ax_loss.figure
    spe = max(h["steps_per_epoch"], 1)
    steps = np.arange(1, len(h["step_loss"]) + 1)
    epoch_ends = spe * np.arange(1, len(h["epoch_loss"]) + 1)
    ax_loss.plot(steps, h["step_loss"], color=_RIGHT_COLOR, alpha=0.3, lw=0.8,
                 label="training loss per step")
    if h["epoch_loss"]:
        ax_loss.plot(epoch_ends, h["epoch_loss"], "o-", color=_RIGHT_COLOR,
                     label="training loss, epoch mean")
    if h.get("val_loss"):
        ax_loss.plot(epoch_ends[:len(h["val_loss"])], h["val_loss"], "s--",
                     color=_WRONG_COLOR, label="validation loss")
    ax_loss.set_yscale("log")
    ax_loss.set(xlabel=f"optimiser step ({spe} per epoch)", ylabel="cross-entropy loss (log)",
                title="Loss")
    ax_loss.legend(fontsize=_FONT_SMALL)
    epochs = np.arange(1, len(h["epoch_acc"]) + 1)
    if len(epochs):
        ax_acc.plot(epochs, 100 * np.asarray(h["epoch_acc"]), "o-", color=_RIGHT_COLOR,
                    label="training (mean over epoch)")
    if h.get("val_acc"):
        ax_acc.plot(epochs[:len(h["val_acc"])], 100 * np.asarray(h["val_acc"]), "s--",
                    color=_WRONG_COLOR, label="validation (after epoch)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    if len(epochs):
        ax_acc.set_xticks(epochs)
        ax_acc.legend(fontsize=_FONT_SMALL)
    for ax in (ax_loss, ax_acc):
        _readable(ax)
    if title:
        fig.suptitle(title, fontsize=_FONT_TITLE)
    return fig


# ----------------------------------------------------------------------------- weights, maps
def show_filters(weight, *, channel: int | None = None, ncols: int = 8, fig=None,
                 title: str = "Learned convolution filters") -> Figure:
    """Each filter of a conv layer as a small image, on one symmetric diverging scale.

    weight : (F, C, KH, KW), e.g. ``model[0].params["weight"]``. With C == 1 (or
        ``channel`` given) one panel per filter; otherwise one row per filter and one
        column per input channel.
    Red is positive, blue negative, white zero; one shared colorbar.
    """
    check_array(weight, "weight", 4, axis_names="(F, C, KH, KW)")
    F, C = weight.shape[:2]
    if channel is not None:
        channel = check_int(channel, "channel")
        if channel >= C:
            raise ValueError(f"channel must be < {C} (weight.shape[1]), got {channel}")
        weight = weight[:, channel:channel + 1]
        C = 1
    if C == 1:
        panels = [(weight[f, 0], f"filter {f}") for f in range(F)]
        ncols = _check_ncols(ncols, F)
    else:
        panels = [(weight[f, c], f"f{f}, in {c}") for f in range(F) for c in range(C)]
        ncols = C
    vmin, vmax = signed_limits(weight)
    suffix = "" if channel is None else f" (input channel {channel})"
    figure, target, axes = _grid(fig, len(panels), ncols, 1.2, title + suffix)
    im = None
    for a, (w, label) in zip(axes, panels, strict=True):
        im = a.imshow(w, cmap=DIVERGING, vmin=vmin, vmax=vmax)
        a.set_title(label, fontsize=_FONT_SMALL)
    _readable_colorbar(target.colorbar(im, ax=list(axes), label="weight", shrink=0.8))
    return figure


def show_feature_maps(maps, *, scale: str = "global", ncols: int = 8, fig=None,
                      title: str = "Feature maps", cmap: str | None = None) -> Figure:
    """One layer's output channels for one image.

    maps : (C, H, W) or (1, C, H, W), e.g. ``model.forward_with_activations(x[:1])[0]``.
    scale : "global" (one colour scale for all maps, so channels compare; one colorbar)
        or "per_map" (each map stretched to its own range; a colorbar each).
    cmap : default 'RdBu_r' with symmetric limits if any value is negative, else viridis.
    """
    check_array(maps, "maps", finite=False)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"maps must be one image's (C, H, W) or (1, C, H, W), got a batch "
                             f"of shape {maps.shape}; pick one image, e.g. maps[0]")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must be 3-D (C, H, W), got shape {maps.shape}")
    if scale not in ("global", "per_map"):
        raise ValueError(f"scale must be 'global' or 'per_map', got {scale!r}")
    signed = bool((maps < 0).any())
    cmap = cmap or (DIVERGING if signed else SEQUENTIAL)
    C = maps.shape[0]
    note = "one colour scale for all" if scale == "global" else "each map on its own scale"
    figure, target, axes = _grid(fig, C, _check_ncols(ncols, C), 1.2, f"{title} ({note})")

    def limits(a):
        if signed:
            return signed_limits(a)
        lo, hi = float(a.min()), float(a.max())
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    vmin, vmax = limits(maps)
    im = None
    for c, a in enumerate(axes):
        if scale == "per_map":
            vmin, vmax = limits(maps[c])
        im = a.imshow(maps[c], cmap=cmap, vmin=vmin, vmax=vmax)
        a.set_title(f"channel {c}", fontsize=_FONT_SMALL)
        if scale == "per_map":
            _readable_colorbar(target.colorbar(im, ax=a, shrink=0.7))
    if scale == "global":
        _readable_colorbar(target.colorbar(im, ax=list(axes), label="activation",
                                           shrink=0.8))
    return figure


def show_images(images, labels=None, preds=None, *, ncols: int = 8, fig=None,
                title: str = "MNIST digits", class_names=None) -> Figure:
    """A grid of images in gray, titled with their labels and (optionally) predictions.

    images : (N, H, W) or (N, 1, H, W), uint8 or float.
    labels, preds : (N,) integer classes or None. A wrong prediction's title is written
        "true 3 / pred 5" (on two lines) in vermillion and bold; a right one in blue.
    class_names : optional list of names for the classes (e.g. Fashion-MNIST's).
    """
    check_array(images, "images", floating=False, finite=False)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or (N, 1, H, W), got shape {images.shape}")
    n = images.shape[0]
    for name, y in (("labels", labels), ("preds", preds)):
        if y is not None and (not isinstance(y, np.ndarray) or y.shape != (n,)):
            raise ValueError(f"{name} must be an array of shape ({n},) matching images, got "
                             f"{getattr(y, 'shape', type(y).__name__)}")

    def name(k):
        return str(class_names[int(k)]) if class_names is not None else str(int(k))

    figure, _, axes = _grid(fig, n, _check_ncols(ncols, n), 1.2, title)
    for i, a in enumerate(axes):
        a.imshow(images[i], cmap="gray")
        if preds is not None and labels is not None:
            wrong = preds[i] != labels[i]
            a.set_title(f"true {name(labels[i])}\npred {name(preds[i])}" if wrong
                        else f"{name(labels[i])}", fontsize=_FONT_SMALL,
                        color=_WRONG_COLOR if wrong else _RIGHT_COLOR,
                        fontweight="bold" if wrong else "normal")
        elif preds is not None:
            a.set_title(f"pred {name(preds[i])}", fontsize=_FONT_SMALL)
        elif labels is not None:
            a.set_title(f"label {name(labels[i])}", fontsize=_FONT_SMALL)
        else:
            a.set_title(f"#{i}", fontsize=_FONT_SMALL)
    return figure


def plot_confusion_matrix(cm, *, class_names=None, normalize: bool = False,
                          cmap: str = SEQUENTIAL, ax=None, title: str = "Confusion matrix"
                          ) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted) with the counts written in.

    The diagonal (the right answers) is grey with its counts in bold, so the colours show
    the mistakes: with counts, the colour scale runs from 0 to the largest mistake count.

    cm : (K, K) non-negative counts, e.g. ``course_lib.train.confusion_matrix(y, pred)``.
    normalize : colour by the fraction of each true class (rows sum to 1), on a 0-1 scale;
        the cells still show the counts. cmap : 'viridis' or 'cividis' (sequential,
        colour-blind safe).
    """
    check_array(cm, "cm", 2, floating=False)
    if cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be square (K, K), got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("cm must hold non-negative counts, got a negative entry")
    if cmap not in ("viridis", "cividis"):
        raise ValueError(f"cmap must be 'viridis' or 'cividis', got {cmap!r}")
    k = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"class_names must have {k} entries, got {len(names)}")
    fig, ax = _new_axes(ax, (0.6 * k + 2.8, 0.6 * k + 1.6))
    values = cm.astype(np.float64)
    if normalize:
        values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    diagonal = np.eye(k, dtype=bool)
    mistakes = np.ma.masked_array(values, mask=diagonal)
    vmax = 1.0 if normalize else max(float(mistakes.max()) if k > 1 else 0.0, 1.0)
    colormap = colormaps[cmap].with_extremes(bad=_DIAGONAL_COLOR)
    im = ax.imshow(mistakes, cmap=colormap, vmin=0, vmax=vmax)
    rgba = colormap(im.norm(values))
    light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
    integer = np.issubdtype(cm.dtype, np.integer)
    for i in range(k):
        for j in range(k):
            color = ("black" if i == j or light[i, j] else
                     _ZERO_COLOR if cm[i, j] == 0 else "white")  # zeros recede
            ax.text(j, i, f"{int(cm[i, j])}" if integer else f"{cm[i, j]:.3g}",
                    ha="center", va="center", fontsize=_FONT_COUNT,
                    fontweight="bold" if i == j else "normal", color=color)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.tick_params(labelsize=_FONT_SMALL)
    ax.set_xlabel("predicted class", fontsize=_FONT_LABEL)
    ax.set_ylabel("true class", fontsize=_FONT_LABEL)
    ax.set_title(title, fontsize=_FONT_TITLE)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    if not normalize:
        cbar.locator = MaxNLocator(integer=True)
    cbar.set_label("mistakes: fraction of the true class" if normalize
                   else "mistakes (count); grey diagonal: right", fontsize=_FONT_LABEL)
    cbar.ax.tick_params(labelsize=_FONT_SMALL)
    return fig


def show_matrix(a, *, ax=None, title: str = "", cmap: str | None = None,
                annotate: bool = True, fmt: str = "{:g}", highlight=None,
                xlabel: str = "column", ylabel: str = "row", colorbar: bool = True) -> Figure:
    """A small 2-D array drawn as coloured cells with its values written in.

    a : (H, W) numbers (a kernel, a 4x4 pooling example...).
    cmap : default 'RdBu_r' with symmetric limits if any value is negative, else viridis.
    highlight : optional (row, col, height, width) rectangle to outline (e.g. a window).
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy.ndarray, got {type(a).__name__}")
    check_array(a, "a", 2, floating=False)
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format string like '{{:g}}', got {fmt!r}")
    values = a.astype(np.float64)
    signed = bool((values < 0).any())
    cmap = cmap or (DIVERGING if signed else SEQUENTIAL)
    vmin, vmax = signed_limits(values) if signed else (0.0, max(values.max(), 1e-12))
    fig, ax = _new_axes(ax, (0.6 * a.shape[1] + 1.8, 0.6 * a.shape[0] + 0.8))
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        norm = im.norm
        for (i, j), v in np.ndenumerate(a):
            shade = norm(float(v))
            dark = shade < 0.25 or shade > 0.75 if signed else shade < 0.6
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=_FONT_SMALL,
                    color="white" if dark else "black")
    if highlight is not None:
        if len(highlight) != 4 or not all(isinstance(v, numbers.Integral) for v in highlight):
            raise ValueError(f"highlight must be (row, col, height, width) ints, got "
                             f"{highlight!r}")
        from matplotlib.patches import Rectangle
        r, c, hh, ww = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), ww, hh, fill=False, lw=2.5,
                               edgecolor=_WRONG_COLOR))
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    _readable(ax, fig.colorbar(im, ax=ax, label="value", shrink=0.8) if colorbar else None)
    return fig
