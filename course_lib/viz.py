"""Static matplotlib figures for the lessons.

Every function returns a ``matplotlib.figure.Figure``. Single-panel plots take ``ax=`` to
draw into an existing Axes (and return its figure); grids take ``fig=`` to draw into an
existing Figure or SubFigure. New figures are plain ``Figure`` objects, not registered with
pyplot: nothing leaks, and a notebook cell (with ``%matplotlib inline``, as the lessons
start) shows the figure once when it is the cell's value; elsewhere use ``display(fig)`` or
``fig.savefig(...)``.

Colours and text sizes come from ``course_lib.viz_style`` (re-exported here, with
``use_lesson_style`` and the readability audit ``audit_figure_text``): inputs in gray;
non-negative maps in viridis; signed values (weights, gradients, pre-activation maps) in
'RdBu_r' with symmetric limits (-m, m) so white means zero, always with a colorbar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .validate import check_array, check_bool, check_choice, check_int, check_labels
from .viz_style import (
    AUDIT_ENV,
    BLUE,
    DIVERGING,
    FONT_LABEL,
    FONT_SMALL,
    FONT_TITLE,
    LESSON_STYLE,
    MAX_WIDTH_PX,
    MIN_TEXT_PX,
    SEQUENTIAL,
    VERMILLION,
    audit_figure_text,
    install_figure_audit,
    remove_figure_audit,
    signed_limits,
    use_lesson_style,
)

if TYPE_CHECKING:
    from .train import History

__all__ = ["plot_history", "show_filters", "show_feature_maps", "show_images",
           "plot_confusion_matrix", "show_matrix", "audit_figure_text", "use_lesson_style",
           "install_figure_audit", "remove_figure_audit", "signed_limits", "DIVERGING",
           "SEQUENTIAL", "LESSON_STYLE", "MAX_WIDTH_PX", "MIN_TEXT_PX", "AUDIT_ENV"]

WRONG_COLOR = VERMILLION  # mistakes
RIGHT_COLOR = BLUE
DIAGONAL_COLOR = "#d9d9d9"  # light grey: the right answers of a confusion matrix
ZERO_COLOR = "#8c8c8c"  # mid grey: no mistake
FONT_COUNT = 13  # the counts of a confusion matrix: they are the point


Limits = tuple[float, float]


def _readable(ax: Axes, cbar: Colorbar | None = None) -> None:
    """Set the texts of ``ax`` (and of a colour bar) to the readable sizes."""
    ax.tick_params(which="both", labelsize=FONT_SMALL)
    ax.xaxis.label.set_fontsize(FONT_LABEL)
    ax.yaxis.label.set_fontsize(FONT_LABEL)
    ax.title.set_fontsize(FONT_TITLE)
    if cbar is not None:
        _readable_colorbar(cbar)


def _readable_colorbar(cbar: Colorbar) -> None:
    cbar.ax.tick_params(which="both", labelsize=FONT_SMALL)
    for axis in (cbar.ax.xaxis, cbar.ax.yaxis):
        axis.label.set_fontsize(FONT_LABEL)


def _root_figure(ax: Axes) -> Figure:
    """The Figure that holds ``ax`` (through any SubFigure)."""
    return cast(Figure, ax.get_figure(root=True))  # an Axes always lies in a Figure


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return _root_figure(ax), ax


def _grid(fig: Figure | SubFigure | None, n: int, ncols: int, panel_size: float, title: str
          ) -> tuple[Figure, Figure | SubFigure, list[Axes]]:
    """(the root figure, the figure drawn into: new or ``fig``, its first n axes of an
    (nrows, ncols) grid without ticks)."""
    nrows = math.ceil(n / ncols)
    if fig is None:
        fig = Figure(figsize=(panel_size * ncols + 1.2, panel_size * nrows + 0.6),
                     layout="constrained")
    elif not isinstance(fig, (Figure, SubFigure)):
        raise TypeError(f"fig must be a matplotlib Figure, SubFigure or None, got "
                        f"{type(fig).__name__}")
    axes: list[Axes] = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for a in axes[n:]:
        a.set_visible(False)
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=FONT_TITLE)
    return fig.get_figure(root=True), fig, axes[:n]


def _check_ncols(ncols: int, n: int) -> int:
    return min(check_int(ncols, "ncols", 1), max(n, 1))


# ----------------------------------------------------------------------------- training curves
def plot_history(history: History | dict[str, Any], *, axes: Sequence[Axes] | None = None,
                 title: str | None = None) -> Figure:
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
        fig = _root_figure(ax_loss)
    spe = max(h["steps_per_epoch"], 1)
    steps = np.arange(1, len(h["step_loss"]) + 1)
    epoch_ends = spe * np.arange(1, len(h["epoch_loss"]) + 1)
    ax_loss.plot(steps, h["step_loss"], color=RIGHT_COLOR, alpha=0.3, lw=0.8,
                 label="training loss per step")
    if h["epoch_loss"]:
        ax_loss.plot(epoch_ends, h["epoch_loss"], "o-", color=RIGHT_COLOR,
                     label="training loss, epoch mean")
    if h.get("val_loss"):
        ax_loss.plot(epoch_ends[:len(h["val_loss"])], h["val_loss"], "s--",
                     color=WRONG_COLOR, label="validation loss")
    ax_loss.set_yscale("log")
    ax_loss.set(xlabel=f"optimiser step ({spe} per epoch)", ylabel="cross-entropy loss (log)",
                title="Loss")
    ax_loss.legend(fontsize=FONT_SMALL)
    epochs = np.arange(1, len(h["epoch_acc"]) + 1)
    if len(epochs):
        ax_acc.plot(epochs, 100 * np.asarray(h["epoch_acc"]), "o-", color=RIGHT_COLOR,
                    label="training (mean over epoch)")
    if h.get("val_acc"):
        ax_acc.plot(epochs[:len(h["val_acc"])], 100 * np.asarray(h["val_acc"]), "s--",
                    color=WRONG_COLOR, label="validation (after epoch)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    if len(epochs):
        ax_acc.set_xticks(epochs)
        ax_acc.legend(fontsize=FONT_SMALL)
    for ax in (ax_loss, ax_acc):
        _readable(ax)
    if title:
        fig.suptitle(title, fontsize=FONT_TITLE)
    return fig


# ----------------------------------------------------------------------------- weights, maps
def show_filters(weight: npt.NDArray[np.floating], *, channel: int | None = None,
                 ncols: int = 8, fig: Figure | SubFigure | None = None,
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
        channel = check_int(channel, "channel", 0, C - 1)
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
    for a, (w, label) in zip(axes, panels, strict=True):
        im = a.imshow(w, cmap=DIVERGING, vmin=vmin, vmax=vmax)
        a.set_title(label, fontsize=FONT_SMALL)
    _readable_colorbar(target.colorbar(im, ax=axes, label="weight", shrink=0.8))
    return figure


def show_feature_maps(maps: npt.NDArray[np.floating], *, scale: str = "global",
                      ncols: int = 8, fig: Figure | SubFigure | None = None,
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
    scale = check_choice(scale, "scale", ("global", "per_map"))
    signed = bool((maps < 0).any())
    cmap = cmap or (DIVERGING if signed else SEQUENTIAL)
    C = maps.shape[0]
    note = "one colour scale for all" if scale == "global" else "each map on its own scale"
    figure, target, axes = _grid(fig, C, _check_ncols(ncols, C), 1.2, f"{title} ({note})")

    def limits(a: npt.NDArray[np.floating]) -> Limits:
        if signed:
            return signed_limits(a)
        lo, hi = float(a.min()), float(a.max())
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    shared = limits(maps)
    for c, a in enumerate(axes):
        vmin, vmax = limits(maps[c]) if scale == "per_map" else shared
        im = a.imshow(maps[c], cmap=cmap, vmin=vmin, vmax=vmax)
        a.set_title(f"channel {c}", fontsize=FONT_SMALL)
        if scale == "per_map":
            _readable_colorbar(target.colorbar(im, ax=a, shrink=0.7))
    if scale == "global":
        _readable_colorbar(target.colorbar(im, ax=axes, label="activation", shrink=0.8))
    return figure


def show_images(images: npt.NDArray[np.number], labels: npt.NDArray[np.integer] | None = None,
                preds: npt.NDArray[np.integer] | None = None, *, ncols: int = 8,
                fig: Figure | SubFigure | None = None, title: str = "MNIST digits",
                class_names: Sequence[object] | None = None) -> Figure:
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
    classes = len(class_names) if class_names is not None else np.iinfo(np.int64).max
    for argument, y in (("labels", labels), ("preds", preds)):
        if y is not None:
            check_labels(y, argument, n, classes)

    def name(k: np.integer) -> str:
        return str(class_names[int(k)]) if class_names is not None else str(int(k))

    figure, _, axes = _grid(fig, n, _check_ncols(ncols, n), 1.2, title)
    for i, a in enumerate(axes):
        a.imshow(images[i], cmap="gray")
        if preds is not None and labels is not None:
            wrong = preds[i] != labels[i]
            a.set_title(f"true {name(labels[i])}\npred {name(preds[i])}" if wrong
                        else f"{name(labels[i])}", fontsize=FONT_SMALL,
                        color=WRONG_COLOR if wrong else RIGHT_COLOR,
                        fontweight="bold" if wrong else "normal")
        elif preds is not None:
            a.set_title(f"pred {name(preds[i])}", fontsize=FONT_SMALL)
        elif labels is not None:
            a.set_title(f"label {name(labels[i])}", fontsize=FONT_SMALL)
        else:
            a.set_title(f"#{i}", fontsize=FONT_SMALL)
    return figure


def plot_confusion_matrix(cm: npt.NDArray[np.number], *,
                          class_names: Sequence[object] | None = None, normalize: bool = False,
                          cmap: str = SEQUENTIAL, ax: Axes | None = None,
                          title: str = "Confusion matrix") -> Figure:
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
    cmap = check_choice(cmap, "cmap", ("viridis", "cividis"))
    normalize = check_bool(normalize, "normalize")
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
    colormap = colormaps[cmap].with_extremes(bad=DIAGONAL_COLOR)
    im = ax.imshow(mistakes, cmap=colormap, vmin=0, vmax=vmax)
    rgba = np.asarray(colormap(im.norm(values)))
    light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
    integer = np.issubdtype(cm.dtype, np.integer)
    for i in range(k):
        for j in range(k):
            color = ("black" if i == j or light[i, j] else
                     ZERO_COLOR if cm[i, j] == 0 else "white")  # zeros recede
            ax.text(j, i, f"{int(cm[i, j])}" if integer else f"{cm[i, j]:.3g}",
                    ha="center", va="center", fontsize=FONT_COUNT,
                    fontweight="bold" if i == j else "normal", color=color)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.tick_params(labelsize=FONT_SMALL)
    ax.set_xlabel("predicted class", fontsize=FONT_LABEL)
    ax.set_ylabel("true class", fontsize=FONT_LABEL)
    ax.set_title(title, fontsize=FONT_TITLE)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    if not normalize:
        cbar.locator = MaxNLocator(integer=True)
    cbar.set_label("mistakes: fraction of the true class" if normalize
                   else "mistakes (count); grey diagonal: right", fontsize=FONT_LABEL)
    cbar.ax.tick_params(labelsize=FONT_SMALL)
    return fig


def show_matrix(a: npt.NDArray[np.number], *, ax: Axes | None = None, title: str = "",
                cmap: str | None = None, annotate: bool = True, fmt: str = "{:g}",
                highlight: tuple[int, int, int, int] | None = None, xlabel: str = "column",
                ylabel: str = "row", colorbar: bool = True) -> Figure:
    """A small 2-D array drawn as coloured cells with its values written in.

    a : (H, W) numbers (a kernel, a 4x4 pooling example...).
    cmap : default 'RdBu_r' with symmetric limits if any value is negative, else viridis.
    highlight : optional (row, col, height, width) rectangle to outline (e.g. a window).
    """
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
        shades = np.asarray(im.norm(values))
        for (i, j), v in np.ndenumerate(a):
            shade = shades[i, j]
            dark = shade < 0.25 or shade > 0.75 if signed else shade < 0.6
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=FONT_SMALL,
                    color="white" if dark else "black")
    if highlight is not None:
        if not isinstance(highlight, (tuple, list)) or len(highlight) != 4:
            raise ValueError(f"highlight must be (row, col, height, width) ints, got "
                             f"{highlight!r}")
        row, col, height, width = (check_int(v, f"highlight[{k}]", None)
                                   for k, v in enumerate(highlight))
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False, lw=2.5,
                               edgecolor=WRONG_COLOR))
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    _readable(ax, fig.colorbar(im, ax=ax, label="value", shrink=0.8) if colorbar else None)
    return fig
