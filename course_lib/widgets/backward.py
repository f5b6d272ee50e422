"""``BackwardStepper``: where one upstream-gradient cell of a convolution flows back to."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..validate import check_array, check_same_dtype, pair
from ._base import Explorer, fmt, int_slider
from .drawing import (
    auto_clim,
    cell_texts,
    colorbar,
    highlight,
    label_axes,
    place,
    set_title,
    signed_clim,
    write_values,
)

__all__ = ["BackwardStepper"]

MAX_NUMBERS = 10


class BackwardStepper(Explorer):
    """Pick one cell (f, i, j) of the upstream gradient dout and see what it feeds.

    out[f, i, j] = b[f] + sum(W[f] * patch(i, j)), so that cell's gradient adds
    dout[f, i, j] * patch(i, j) to dW[f] and dout[f, i, j] * W[f] to the patch's dX.

    Parameters
    ----------
    x : (C, H, W) or (H, W) float array (one input, no batch axis).
    w : (F, C, KH, KW) or (KH, KW) float array, same dtype as x.
    stride, padding : int or (h, w) pair.
    dout : (F, OH, OW) upstream gradient, same dtype (default: all ones).

    Controls: ``f``, ``i``, ``j`` (IntSliders: the dout cell), ``channel`` (the input
    channel drawn).

    State
    -----
    ``dx_contrib`` (C, H, W), ``dw_contrib`` (F, C, KH, KW): that one cell's contribution,
    computed by ``conv2d_backward`` of a dout that is zero except at (f, i, j); summed over
    every cell they give ``conv2d_backward(dout)``. ``dx_mask`` (C, H, W) and ``dw_mask``
    (F, C, KH, KW) bool: the entries it feeds (the window inside the unpadded input, and
    filter f), whatever their values. ``window``: ((r0, r1), (c0, c1)) in the padded input;
    ``patch`` (C, KH, KW) the padded input there (dw_contrib[f] = dout[f, i, j] * patch).
    """

    figsize = (10.0, 7.6)

    deck_control = "j"

    def __init__(self, x: npt.NDArray[np.floating], w: npt.NDArray[np.floating],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dout: npt.NDArray[np.floating] | None = None) -> None:
        check_array(x, "x")
        check_array(w, "w")
        if x.ndim not in (2, 3):
            raise ValueError(f"x must be (C, H, W) or (H, W), got shape {x.shape}")
        if w.ndim not in (2, 4):
            raise ValueError(f"w must be (F, C, KH, KW) or (KH, KW), got shape {w.shape}")
        self.x = x if x.ndim == 3 else x[None]
        self.w = w if w.ndim == 4 else w[None, None]
        check_same_dtype(x=self.x, w=self.w)
        self.stride, self.padding = pair(stride, "stride", 1), pair(padding, "padding")
        out, self._cache = F.conv2d_forward(self.x[None], self.w, stride=self.stride,
                                            padding=self.padding)
        if dout is None:
            dout = np.ones(out.shape[1:], dtype=self.x.dtype)
        check_array(dout, "dout", 3, axis_names="(F, OH, OW)")
        if dout.shape != out.shape[1:]:
            raise ValueError(f"dout must have the output's shape {out.shape[1:]}, "
                             f"got {dout.shape}")
        check_same_dtype(x=self.x, dout=dout)
        self.dout = dout
        self.padded = F.pad2d(self.x[None], self.padding)[0]
        Fn, OH, OW = dout.shape
        controls = {"f": int_slider("filter f", 0, 0, Fn - 1),
                    "i": int_slider("row i", 0, 0, OH - 1),
                    "j": int_slider("column j", 0, 0, OW - 1),
                    "channel": int_slider("input channel", 0, 0, self.x.shape[0] - 1)}
        for c in controls.values():
            c.disabled = c.max == 0
        self._init_view(controls, rows=[["f", "i", "j"], ["channel"]])

    @classmethod
    def demo(cls) -> Self:
        """Two 6x6 input channels and three 3x3 filters (seeded, one decimal), stride 2,
        padding 1, as lesson 06 steps through them."""
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 6, 6)).round(1)
        w = rng.standard_normal((3, 2, 3, 3)).round(1)
        return cls(x, w, stride=2, padding=1)

    def contribution(self, f: int, i: int, j: int
                     ) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]:
        """(dx, dw) of the single dout cell (f, i, j), via ``conv2d_backward``."""
        one = np.zeros_like(self.dout)
        one[f, i, j] = self.dout[f, i, j]
        dx, dw, _ = F.conv2d_backward(one[None], self._cache)
        assert dx is not None  # input_grad=True
        return dx[0], dw

    def _cell(self) -> tuple[int, int, int]:
        c = self.controls
        return c["f"].value, c["i"].value, c["j"].value

    def _compute(self) -> None:
        f, i, j = self._cell()
        self.dx_contrib, self.dw_contrib = self.contribution(f, i, j)
        (sh, sw), (ph, pw) = self.stride, self.padding
        KH, KW = self.w.shape[2:]
        height, width = self.x.shape[1:]
        self.window = ((i * sh, i * sh + KH), (j * sw, j * sw + KW))
        (r0, r1), (c0, c1) = self.window
        self.patch = self.padded[:, r0:r1, c0:c1]
        self.dx_mask = np.zeros(self.x.shape, dtype=bool)
        self.dx_mask[:, max(r0 - ph, 0):max(r1 - ph, 0), max(c0 - pw, 0):max(c1 - pw, 0)] = True
        self.dw_mask = np.zeros(self.w.shape, dtype=bool)
        self.dw_mask[f] = True
        g = self.dout[f, i, j]
        inside = int(self.dx_mask[0].sum())
        rows = f"{max(r0 - ph, 0)}:{min(r1 - ph, height)}"
        cols = f"{max(c0 - pw, 0)}:{min(c1 - pw, width)}"
        lines = [
            f"dout[{f}, {i}, {j}] = {fmt(g)}; out[{f}, {i}, {j}] = b[{f}] + sum(W[{f}] × "
            f"patch), patch = x[:, {rows}, {cols}]" + (" and the zeros of the padding"
                                                      if inside < KH * KW else ""),
            f"-> dW[{f}] += {fmt(g)} × patch: all {self.w[0].size} entries of filter {f}, "
            "nothing else in dW",
            f"-> dX[:, {rows}, {cols}] += {fmt(g)} × W[{f}]: {inside} of {height * width} "
            "pixels per channel" + (f" ({KH * KW - inside} taps fall on padding and are dropped)"
                          if inside < KH * KW else ""),
            f"-> db[{f}] += {fmt(g)}",
            "summed over every dout cell, these contributions are exactly conv2d_backward's "
            "dW and dX"]
        self.readout = "\n".join(lines)

    def _build(self) -> None:
        (ax_x, ax_g), (ax_dx, ax_dw) = self.fig.subplots(2, 2)
        height, width = self.x.shape[1:]
        KH, KW = self.w.shape[2:]
        self._im_x = ax_x.imshow(self.x[0], cmap="gray", interpolation="nearest",
                                 vmin=float(self.x.min()), vmax=float(self.x.max()) + 1e-12)
        self._box_x = highlight(ax_x)
        self._im_g = ax_g.imshow(self.dout[0], interpolation="nearest")
        auto_clim(self._im_g, self.dout)
        cb_g = colorbar(self.fig, self._im_g, ax_g, "dout")
        self._box_g = highlight(ax_g)
        label_axes(ax_g, "upstream gradient dout[f]", "output column j", "output row i")
        self._im_dx = ax_dx.imshow(np.zeros((height, width)), interpolation="nearest")
        cb_dx = colorbar(self.fig, self._im_dx, ax_dx, "dX contribution")
        self._box_dx = highlight(ax_dx)
        self._im_dw = ax_dw.imshow(np.zeros((KH, KW)), interpolation="nearest")
        cb_dw = colorbar(self.fig, self._im_dw, ax_dw, "dW contribution")
        label_axes(ax_dw, "", "kernel column", "kernel row")
        label_axes(ax_dx, "")
        label_axes(ax_x, "")
        self._t_dx = (cell_texts(ax_dx, (height, width)) if max(height, width) <= MAX_NUMBERS
                      else None)
        self._t_dw = cell_texts(ax_dw, (KH, KW)) if max(KH, KW) <= MAX_NUMBERS else None
        self._axes = ax_x, ax_g, ax_dx, ax_dw
        self._dyn(self._im_x, self._box_x, self._im_g, cb_g, self._box_g, self._im_dx, cb_dx,
                  self._box_dx, self._im_dw, cb_dw, *(a.title for a in self._axes))
        for texts in (self._t_dx, self._t_dw):
            if texts is not None:
                self._dyn(*texts.flat)

    def _draw(self) -> None:
        f, i, j = self._cell()
        c = self.controls["channel"].value
        ax_x, ax_g, ax_dx, ax_dw = self._axes
        (r0, r1), (c0, c1) = self.window
        ph, pw = self.padding
        self._im_x.set_data(self.x[c])
        set_title(ax_x, f"input x[{c}], window of ({i}, {j})")
        place(self._box_x, (r0 - ph, r1 - ph), (c0 - pw, c1 - pw))
        self._im_g.set_data(self.dout[f])
        place(self._box_g, (i, i + 1), (j, j + 1))
        set_title(ax_g, f"dout[{f}], cell ({i}, {j})")
        dx = self.dx_contrib[c]
        self._im_dx.set_data(dx)
        signed_clim(self._im_dx, dx)
        place(self._box_dx, (r0 - ph, r1 - ph), (c0 - pw, c1 - pw))
        set_title(ax_dx, f"its share of dX[{c}]")
        dw = self.dw_contrib[f, c]
        self._im_dw.set_data(dw)
        signed_clim(self._im_dw, dw)
        set_title(ax_dw, f"its share of dW[{f}, {c}]")
        if self._t_dx is not None:
            write_values(self._t_dx, dx, self._im_dx, visible=self.dx_mask[c], digits=2)
        if self._t_dw is not None:
            write_values(self._t_dw, dw, self._im_dw, digits=2)

    def _describe(self) -> str:
        f, i, j = self._cell()
        return (f"x={'×'.join(map(str, self.x.shape))}, w={'×'.join(map(str, self.w.shape))}, "
                f"stride={self.stride}, padding={self.padding}, cell=({f}, {i}, {j})")
