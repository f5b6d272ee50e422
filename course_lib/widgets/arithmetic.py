"""``ConvArithmeticExplorer``: input size, kernel, padding, stride, dilation -> output size."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .. import functional as F
from ..validate import check_int, conv_output_size
from ..viz_style import FONT_SMALL, GREEN, ORANGE, SKY, VERMILLION, YELLOW
from ._base import Explorer, int_slider
from .drawing import highlight, label_axes, place, set_title

__all__ = ["ConvArithmeticExplorer", "conv_arithmetic", "read_counts"]

# cell categories of the padded-input picture, their colours and names
INPUT, PAD, UNREAD, TAP = range(4)
CELL_COLORS = [SKY, "#D9D9D9", VERMILLION, YELLOW]
CELL_NAMES = ["input", "padding", "never read", "first window's taps"]
GRID_COLORS = ListedColormap(CELL_COLORS, name="okabe_ito_cells")
OUTPUT_COLORS = ListedColormap([GREEN, YELLOW], name="okabe_ito_output")
LIMITS = {"input_size": (1, 16), "kernel_size": (1, 7), "padding": (0, 4), "stride": (1, 4),
          "dilation": (1, 3)}


def read_counts(n: int, kernel_size: int, stride: int, dilation: int
                ) -> npt.NDArray[np.int_]:
    """How many sliding windows read each cell of an (n, n) (already padded) grid.

    Computed with the library: the gradient of sum(conv2d(x, ones)) with respect to x
    counts, for every cell, the windows whose taps land on it. Returns (n, n) ints.
    """
    x = np.zeros((1, 1, n, n))
    w = np.ones((1, 1, kernel_size, kernel_size))
    out, cache = F.conv2d_forward(x, w, stride=stride, dilation=dilation)
    dx = F.conv2d_backward(np.ones_like(out), cache)[0]
    assert dx is not None  # input_grad=True
    return np.rint(dx[0, 0]).astype(int)


def conv_arithmetic(i: int, k: int, p: int, s: int, d: int) -> tuple[int | None, str]:
    """The output size along one axis and the formula written out with the numbers.

    Returns ``(o, text)``; ``o`` is None (and ``text`` says why) when the dilated kernel
    does not fit in the padded input.
    """
    span = d * (k - 1) + 1
    top = i + 2 * p - d * (k - 1) - 1
    lines = ["o = ⌊(i + 2p − d(k−1) − 1) / s⌋ + 1",
             f"  = ⌊({i} + 2×{p} − {d}×({k}−1) − 1) / {s}⌋ + 1"]
    try:
        o = conv_output_size(i, k, s, p, d)
    except ValueError:
        lines.append(f"  = ⌊{top} / {s}⌋ + 1: impossible. The kernel spans d(k−1)+1 = {span} "
                     f"cells but the padded input has only i + 2p = {i + 2 * p}.")
        need = -(-(span - i) // 2)
        lines.append(f"Use padding >= {need}, a smaller kernel or a smaller dilation.")
        return None, "\n".join(lines)
    lines.append(f"  = ⌊{top} / {s}⌋ + 1 = {top // s} + 1 = {o}")
    lines.append(f"output {o}×{o} from a {i}×{i} input")
    spare = top % s
    if spare:
        lines.append(f"stride {s} does not divide {top}: the last {spare} row(s)/column(s) "
                     "of the padded input are never read (red)")
    if s == 1 and d * (k - 1) % 2 == 0:
        same = d * (k - 1) // 2
        lines.append(f"'same' size (o = i) needs padding p = d(k−1)/2 = {same}"
                     + (" ✓" if p == same else ""))
    return o, "\n".join(lines)


class ConvArithmeticExplorer(Explorer):
    """Sliders for the convolution arithmetic along one axis (square input and kernel).

    Parameters: input_size, kernel_size, padding, stride, dilation (ints; the sliders
    widen to include them).

    Controls: ``input_size``, ``kernel_size``, ``padding``, ``stride``, ``dilation``
    (IntSliders, update on release).

    State
    -----
    ``output_size`` : int, or None when the combination is impossible (see ``readout``).
    ``read_counts`` : (i+2p, i+2p) windows reading each padded cell (None if impossible).
    ``never_read`` : (i+2p, i+2p) bool, padded cells no window reads (None if impossible).
    """

    figsize = (10.0, 5.2)

    deck_control = "stride"

    def __init__(self, input_size: int = 7, kernel_size: int = 3, padding: int = 0,
                 stride: int = 1, dilation: int = 1) -> None:
        values = {"input_size": check_int(input_size, "input_size", 1),
                  "kernel_size": check_int(kernel_size, "kernel_size", 1),
                  "padding": check_int(padding, "padding", 0),
                  "stride": check_int(stride, "stride", 1),
                  "dilation": check_int(dilation, "dilation", 1)}
        if values["input_size"] + 2 * values["padding"] > 64:
            raise ValueError(f"input_size + 2*padding must be at most 64 to draw, got "
                             f"{values['input_size'] + 2 * values['padding']}")
        controls = {name: int_slider(name, v, *LIMITS[name], continuous_update=False)
                    for name, v in values.items()}
        self._init_view(controls, rows=[["input_size", "kernel_size", "padding"],
                                        ["stride", "dilation"]])

    @classmethod
    def demo(cls) -> Self:
        """Lesson 03's setting: an 8x8 input, a 3x3 kernel, stride 2, no padding."""
        return cls(input_size=8, kernel_size=3, padding=0, stride=2)

    def _args(self) -> tuple[int, int, int, int, int]:
        c = self.controls
        return (c["input_size"].value, c["kernel_size"].value, c["padding"].value,
                c["stride"].value, c["dilation"].value)

    def _compute(self) -> None:
        i, k, p, s, d = self._args()
        self.output_size, self.readout = conv_arithmetic(i, k, p, s, d)
        if self.output_size is None:
            self.read_counts = self.never_read = None
            return
        self.read_counts = read_counts(i + 2 * p, k, s, d)
        self.never_read = self.read_counts == 0

    def _build(self) -> None:
        self._ax_in, self._ax_out = self.fig.subplots(1, 2, width_ratios=[1.6, 1])
        label_axes(self._ax_in, "")
        label_axes(self._ax_out, "", "output column", "output row")
        self._im_in = self._ax_in.imshow(np.zeros((1, 1)), cmap=GRID_COLORS, vmin=-0.5,
                                         vmax=3.5, interpolation="nearest")
        self._im_out = self._ax_out.imshow(np.zeros((1, 1)), cmap=OUTPUT_COLORS, vmin=-0.5,
                                           vmax=1.5, interpolation="nearest")
        self._lines = {ax: ax.add_collection(LineCollection([], colors="white", linewidths=1))
                       for ax in (self._ax_in, self._ax_out)}
        self._last_box = highlight(self._ax_in)
        # the frames and ticks are static: they change with the grids' sizes (_static_state)
        self._dyn(self._im_in, self._im_out, *self._lines.values(), self._last_box,
                  self._ax_in.title, self._ax_out.title)
        handles = [Patch(color=color, label=name)
                   for color, name in zip(CELL_COLORS, CELL_NAMES, strict=True)]
        handles.append(Patch(facecolor="none", edgecolor=ORANGE, label="last window"))
        self._fixed(self.fig.legend(handles=handles, loc="outside lower center", ncols=3,
                                    fontsize=FONT_SMALL))

    def _grid(self, ax: Axes, n: int) -> None:
        """Cell borders (one LineCollection: cheaper to draw than minor-tick grid lines)."""
        edges = np.arange(n + 1) - 0.5
        self._lines[ax].set_segments(
            [[(e, -0.5), (e, n - 0.5)] for e in edges] + [[(-0.5, e), (n - 0.5, e)]
                                                          for e in edges])
        step = 1 if n <= 12 else 2 if n <= 24 else 4
        ax.set_xticks(range(0, n, step))
        ax.set_yticks(range(0, n, step))
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)

    def _draw(self) -> None:
        i, k, p, s, d = self._args()
        n = i + 2 * p
        m = self.output_size or 1
        self._static_state(panels={self._ax_in: n, self._ax_out: m})  # the grids' ticks
        cells = np.full((n, n), PAD)
        cells[p:p + i, p:p + i] = INPUT
        o = self.output_size
        if o is not None:
            cells[self.never_read] = UNREAD
            taps = np.arange(k) * d
            cells[np.ix_(taps, taps)] = TAP
            last = (o - 1) * s
            place(self._last_box, (last, last + d * (k - 1) + 1), (last, last + d * (k - 1) + 1))
        self._last_box.set_visible(o is not None)
        self._im_in.set_data(cells)
        self._im_in.set_extent((-0.5, n - 0.5, n - 0.5, -0.5))
        self._grid(self._ax_in, n)
        set_title(self._ax_in, f"padded input {n}×{n} (i={i}, p={p}), k={k}, d={d}, s={s}")
        out = np.zeros((m, m))
        out[0, 0] = 1
        self._im_out.set_data(out)
        self._im_out.set_extent((-0.5, m - 0.5, m - 0.5, -0.5))
        self._im_out.set_visible(o is not None)
        self._grid(self._ax_out, m)
        set_title(self._ax_out, f"output {o}×{o}" if o is not None else "no output")

    def _describe(self) -> str:
        i, k, p, s, d = self._args()
        return f"input_size={i}, kernel_size={k}, padding={p}, stride={s}, dilation={d}"
