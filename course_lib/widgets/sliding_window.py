"""``SlidingWindowStepper``: step the kernel across the input, one output cell at a time."""

from __future__ import annotations

from typing import Self

import ipywidgets
import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..validate import check_int, pair
from ._base import Explorer, as_image, fmt
from .drawing import (
    auto_clim,
    cell_texts,
    colorbar,
    highlight,
    label_axes,
    place,
    signed_clim,
    write_values,
)
from .kernel_editor import KERNELS

__all__ = ["SlidingWindowStepper", "dot_product_text"]

MAX_NUMBERS = 12  # write the values into the cells only up to this many rows/columns


def dot_product_text(patch: npt.NDArray[np.floating], kernel: npt.NDArray[np.floating],
                     result: float) -> str:
    """The dot product written out: '1×0 + 2×1 + ... = 7' (row by row)."""
    terms = [f"{fmt(a, True)}×{fmt(b, True)}"
             for a, b in zip(patch.ravel(), kernel.ravel(), strict=True)]
    per_row = kernel.shape[1]
    rows = [" + ".join(terms[r:r + per_row]) for r in range(0, len(terms), per_row)]
    return "  " + "\n+ ".join(rows) + f"\n= {fmt(result)}"


class SlidingWindowStepper(Explorer):
    """Step a kernel over a small image and see each output cell's dot product.

    Parameters
    ----------
    x : (H, W) float array (or (1, H, W), (1, 1, H, W)); small, e.g. 5x5 to 28x28.
    kernel : (KH, KW) float array (cast to x's dtype).
    stride, padding : int or (h, w) pair, as in ``conv2d``.
    step : the initial step, 0 <= step < OH*OW.

    Controls: ``step`` (IntSlider), ``play`` (Play, linked to ``step`` in the browser).

    State: ``step``, ``position`` (i, j) of the output cell, ``window`` ((r0, r1), (c0, c1))
    rows/columns of the padded input under the kernel, ``patch`` (KH, KW) those values,
    ``output`` (OH, OW) the whole ``conv2d`` result, ``padded`` the zero-padded input.
    """

    figsize = (10.5, 4.0)

    deck_control = "step"

    def __init__(self, x: npt.NDArray[np.floating], kernel: npt.NDArray[np.floating],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 step: int = 0) -> None:
        self.x = as_image(x, "x")
        kernel = as_image(kernel, "kernel")
        self.kernel = kernel.astype(self.x.dtype)
        self.stride = pair(stride, "stride", 1)
        self.padding = pair(padding, "padding")
        out = F.conv2d(self.x[None, None], self.kernel[None, None], stride=self.stride,
                       padding=self.padding)
        self.output = out[0, 0]
        self.padded = F.pad2d(self.x[None, None], self.padding)[0, 0]
        n = self.output.size
        step = check_int(step, "step", 0, n - 1)
        slider = ipywidgets.IntSlider(value=step, min=0, max=n - 1, description="step")
        play = ipywidgets.Play(value=step, min=0, max=n - 1, interval=900, description="play")
        self._link = ipywidgets.jslink((play, "value"), (slider, "value"))
        self._init_view({"play": play, "step": slider})

    @classmethod
    def demo(cls) -> Self:
        """Lesson 03's 7x7 input and Laplacian kernel, stride 2, padding 1."""
        x = np.arange(1, 50, dtype=np.float32).reshape(7, 7) % 5
        return cls(x, KERNELS["laplacian"], stride=2, padding=1)

    @property
    def step(self) -> int:
        return self.controls["step"].value

    def _compute(self) -> None:
        OH, OW = self.output.shape
        i, j = divmod(self.step, OW)
        (sh, sw), (KH, KW) = self.stride, self.kernel.shape
        self.position = (i, j)
        self.window = ((i * sh, i * sh + KH), (j * sw, j * sw + KW))
        (r0, r1), (c0, c1) = self.window
        self.patch = self.padded[r0:r1, c0:c1]
        ph, pw = self.padding
        self.readout = (
            f"step {self.step} of {OH * OW - 1}: output[{i}, {j}] = sum of "
            f"(input patch × kernel), patch = padded input rows {r0}–{r1 - 1}, "
            f"columns {c0}–{c1 - 1}"
            + (f" (padding {ph}, {pw} adds zeros)" if ph or pw else "") + "\n"
            + dot_product_text(self.patch, self.kernel, self.output[i, j]))

    def _build(self) -> None:
        ax_x, ax_k, ax_o = self.fig.subplots(1, 3, width_ratios=[1.5, 0.75, 1.1])
        ph, pw = self.padding
        Hp, Wp = self.padded.shape
        height, width = self.x.shape
        im_x = ax_x.imshow(self.padded, cmap="gray", interpolation="nearest",
                           vmin=min(0.0, self.x.min()), vmax=max(self.x.max(), 1e-12))
        small = max(Hp, Wp) <= MAX_NUMBERS
        if small:
            write_values(cell_texts(ax_x, (Hp, Wp)), self.padded, im_x)
        if ph or pw:  # the real input inside the padding
            border = highlight(ax_x, color="white")
            border.set_linestyle("--")
            border.set_path_effects([])
            border.set_edgecolor("#999999")
            place(border, (ph, ph + height), (pw, pw + width))
        label_axes(ax_x, f"input {height}×{width}"
                   + (f", padded to {Hp}×{Wp}" if ph or pw else ""))
        self._box_x = highlight(ax_x)
        im_k = ax_k.imshow(self.kernel, interpolation="nearest")
        signed_clim(im_k, self.kernel)
        colorbar(self.fig, im_k, ax_k, "weight")
        if max(self.kernel.shape) <= MAX_NUMBERS:
            write_values(cell_texts(ax_k, self.kernel.shape), self.kernel, im_k)
        label_axes(ax_k, "kernel", "kernel column", "kernel row")
        self._im_o = ax_o.imshow(np.ma.masked_all(self.output.shape), interpolation="nearest")
        auto_clim(self._im_o, self.output)
        colorbar(self.fig, self._im_o, ax_o, "output value")
        OH, OW = self.output.shape
        self._texts_o = cell_texts(ax_o, (OH, OW)) if max(OH, OW) <= MAX_NUMBERS else None
        label_axes(ax_o, f"output {OH}×{OW} (stride {self.stride[0]}, {self.stride[1]})")
        self._box_o = highlight(ax_o)
        self._dyn(self._box_x, self._im_o, self._box_o)
        if self._texts_o is not None:
            self._dyn(*self._texts_o.flat)

    def _draw(self) -> None:
        (r0, r1), (c0, c1) = self.window
        place(self._box_x, (r0, r1), (c0, c1))
        i, j = self.position
        place(self._box_o, (i, i + 1), (j, j + 1))
        done = np.arange(self.output.size).reshape(self.output.shape) <= self.step
        self._im_o.set_data(np.ma.masked_where(~done, self.output))
        if self._texts_o is not None:
            write_values(self._texts_o, self.output, self._im_o, visible=done)

    def _describe(self) -> str:
        return (f"x={self.x.shape[0]}×{self.x.shape[1]}, "
                f"kernel={self.kernel.shape[0]}×{self.kernel.shape[1]}, "
                f"stride={self.stride}, padding={self.padding}, step={self.step}")

    def close(self) -> None:
        self._link.close()
        super().close()
