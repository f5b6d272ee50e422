"""``PoolingExplorer``: max/average pooling, where max pooling's gradient goes, and what a
small shift of the input changes."""

from __future__ import annotations

from typing import Any, Self

import ipywidgets
import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..validate import check_choice, check_int, pool_args
from ..viz_style import FONT_LABEL, ORANGE, SEQUENTIAL
from ._base import Explorer, as_image, int_slider
from .drawing import colorbar, label_axes, nonneg_clim, set_colors, set_title, show
from .samples import sample_digits

__all__ = ["PoolingExplorer", "shift_image", "pool"]

MODES = ("max", "avg")
MAX_MARKERS = 1024  # draw the argmax dots only up to this many windows
SAME = "kernel_size"
"""The value of the stride option that follows the kernel size (labelled 'k (= kernel_size)')."""


def stride_options(kernel_size: int, largest: int) -> list[tuple[str, Any]]:
    """The stride Dropdown's (label, value) pairs: the kernel size first, then 1 ... largest."""
    return [(f"{kernel_size} (= kernel_size)", SAME)] + [(str(v), v)
                                                          for v in range(1, largest + 1)]


def shift_image(image: npt.NDArray[np.floating], shift: int) -> npt.NDArray[np.floating]:
    """Move the image ``shift`` pixels right (left if negative); the columns that come in
    repeat the edge column (the background, for a digit)."""
    width = image.shape[1]
    cols = np.clip(np.arange(width) - shift, 0, width - 1)
    return image[:, cols]


def pool(image: npt.NDArray[np.floating], kernel_size: int, stride: int | None, mode: str
         ) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int_]]:
    """Pool one image (H, W) with the library; returns (output (OH, OW), argmax_count (H, W)).

    argmax_count[r, c] = how many max-pooling windows pick pixel (r, c) as their (first)
    maximum, i.e. ``max_pool2d_backward`` of an upstream gradient of ones. It is computed
    for both modes (it is where max pooling would send the gradient).
    """
    x = image[None, None]
    out, cache = F.max_pool2d_forward(x, kernel_size, stride)
    counts = np.rint(F.max_pool2d_backward(np.ones_like(out), cache)[0, 0]).astype(int)
    if mode == "avg":
        out = F.avg_pool2d(x, kernel_size, stride)
    return out[0, 0], counts


class PoolingExplorer(Explorer):
    """Pooling on one image, with a horizontal shift to test translation invariance.

    Parameters
    ----------
    image : (H, W) float array (or (1, H, W), (1, 1, H, W)), e.g. an MNIST digit.
    kernel_size : int >= 1 (square window); stride : int or None (= kernel_size).
    mode : 'max' or 'avg'; shift : pixels to move the image right (negative: left).

    Controls: ``kernel_size`` (IntSlider), ``stride`` (Dropdown: SAME, labelled
    'k (= kernel_size)', follows the kernel size; or 1 ... 4; None counts as SAME),
    ``mode`` (ToggleButtons), ``shift`` (IntSlider).

    State
    -----
    ``shifted`` (H, W) the shifted input; ``output`` (OH, OW) its pooled values;
    ``reference`` (OH, OW) the pooled unshifted image; ``argmax_mask`` (H, W) bool, the
    pixels max pooling picks (the first maximum of each window, as ``max_pool2d_backward``
    routes the gradient; computed in both modes); ``argmax_count`` (H, W) how many windows
    pick each pixel (> 1 only for overlapping windows).
    """

    figsize = (10.5, 3.5)

    deck_control = "shift"

    def __init__(self, image: npt.NDArray[np.floating], kernel_size: int = 2,
                 stride: int | None = None, mode: str = "max", shift: int = 0) -> None:
        self.image = as_image(image, "image")
        k = check_int(kernel_size, "kernel_size", 1)
        s = None if stride is None else check_int(stride, "stride", 1)
        pool_args(self.image[None, None], k, s, 0)  # raises if the window does not fit
        mode = check_choice(mode, "mode", MODES)
        height, width = self.image.shape
        shift = check_int(shift, "shift", -(width - 1), width - 1)
        kmax = min(max(4, k), height, width)
        self._largest_stride = max(4, s or 1)
        controls = {
            "kernel_size": int_slider("kernel_size", k, 1, kmax, continuous_update=False),
            "stride": ipywidgets.Dropdown(options=stride_options(k, self._largest_stride),
                                          value=SAME if s is None else s, description="stride"),
            "mode": ipywidgets.ToggleButtons(options=MODES, value=mode, description="mode"),
            "shift": int_slider("shift (px right)", shift, -4, 4),
        }
        self._init_view(controls, rows=[["kernel_size", "stride"], ["mode", "shift"]])

    @classmethod
    def demo(cls) -> Self:
        """Lesson 04's MNIST 7 (28x28), max pooling 2x2, shifted 1 px right."""
        digit = sample_digits(1)[0][0].astype(np.float32) / np.float32(255)
        return cls(digit, kernel_size=2, shift=1)

    def _settings(self) -> tuple[int, int, str, int]:
        c = self.controls
        k, s = c["kernel_size"].value, c["stride"].value
        return k, (k if s in (None, SAME) else s), c["mode"].value, c["shift"].value

    def _sync_stride(self) -> None:
        """Label the stride option that follows the kernel size with its number, and turn
        'no selection' (value None) into that option."""
        c = self.controls
        stride = c["stride"]
        value = SAME if stride.value is None else stride.value
        options = stride_options(c["kernel_size"].value, self._largest_stride)
        if stride._options_labels[0] != options[0][0]:
            stride.options = options  # resets the value: set it back below
        if stride.value != value:
            stride.value = value

    def _compute(self) -> None:
        self._sync_stride()
        k, s, mode, shift = self._settings()
        height, width = self.image.shape
        if k > min(height, width):
            self.readout = f"kernel_size {k} does not fit in the {height}×{width} image"
            return
        self.shifted = shift_image(self.image, shift)
        self.output, self.argmax_count = pool(self.shifted, k, s, mode)
        self.argmax_mask = self.argmax_count > 0
        self.reference = pool(self.image, k, s, mode)[0]
        OH, OW = self.output.shape
        changed = self.output != self.reference
        moved = self.shifted != self.image
        name = {"max": "max", "avg": "average"}[mode]
        lines = [f"{name} pooling {k}×{k}, stride {s}: {height}×{width} -> {OH}×{OW}"]
        covered = (OH - 1) * s + k, (OW - 1) * s + k
        if covered != (height, width):
            lines.append(f"the windows cover only rows 0–{covered[0] - 1} and columns "
                         f"0–{covered[1] - 1}: the rest is dropped")
        direction = "right" if shift >= 0 else "left"
        lines.append(f"shift {abs(shift)} px {direction}: {changed.sum()} of {changed.size} "
                     f"pooled values change ({changed.mean():.0%}), against {moved.sum()} of "
                     f"{moved.size} input pixels ({moved.mean():.0%})")
        if mode == "max":
            lines.append("dots: the pixel each window picks (its first maximum, also in flat "
                         "windows where all are equal); only these pixels receive a gradient")
        else:
            lines.append("average pooling: every pixel of a window gets 1/"
                         f"{k * k} of its gradient")
        self.readout = "\n".join(lines)

    def _build(self) -> None:
        ax_x, ax_o, ax_d = self.fig.subplots(1, 3)
        self._im_x = ax_x.imshow(self.image, cmap="gray", interpolation="nearest",
                                 vmin=min(0.0, self.image.min()), vmax=self.image.max() or 1.0)
        self._dots = ax_x.scatter([], [], s=8, color=ORANGE, edgecolors="black",
                                  linewidths=0.5, zorder=5)
        self._ax_x = ax_x
        self._im_o = ax_o.imshow(np.zeros((1, 1)), interpolation="nearest")
        self._im_d = ax_d.imshow(np.zeros((1, 1)), interpolation="nearest")
        cb_o = colorbar(self.fig, self._im_o, ax_o, "pooled value")
        cb_d = colorbar(self.fig, self._im_d, ax_d, "|change|")
        self._ax_o, self._ax_d = ax_o, ax_d
        for ax in (ax_x, ax_o, ax_d):
            label_axes(ax, "")
        self._dyn(self._im_x, self._dots, ax_x.title, self._im_o, cb_o, self._im_d, cb_d,
                  ax_o.title, ax_d.title)

    def _draw(self) -> None:
        k, s, mode, shift = self._settings()
        if k > min(self.image.shape):
            return
        self._im_x.set_data(self.shifted)
        rows, cols = np.nonzero(self.argmax_mask)
        show_dots = mode == "max" and self.output.size <= MAX_MARKERS
        self._dots.set_offsets(np.c_[cols, rows] if show_dots else np.empty((0, 2)))
        set_title(self._ax_x, f"input shifted {shift:+d} px")
        xlabel = "column" + (" (dots: argmax)" if show_dots else "")
        if self._ax_x.get_xlabel() != xlabel:
            self._ax_x.set_xlabel(xlabel, fontsize=FONT_LABEL)
        show(self._im_o, self.output)
        shape = self.output.shape  # the output's extent sets the ticks of its two panels
        self._static_state(panels={self._ax_x: xlabel, self._ax_o: shape, self._ax_d: shape})
        lo, hi = min(0.0, float(self.output.min())), float(self.output.max())
        set_colors(self._im_o, SEQUENTIAL, lo, hi if hi > lo else lo + 1.0)
        OH, OW = self.output.shape
        set_title(self._ax_o, f"{mode} pooled {OH}×{OW}")
        diff = np.abs(self.output - self.reference)
        show(self._im_d, diff)
        nonneg_clim(self._im_d, diff)
        set_title(self._ax_d, f"the shift changes {(diff > 0).mean():.0%}")

    def _describe(self) -> str:
        k, s, mode, shift = self._settings()
        height, width = self.image.shape
        return (f"image={height}×{width}, kernel_size={k}, stride={s}, mode={mode!r}, "
                f"shift={shift}")
