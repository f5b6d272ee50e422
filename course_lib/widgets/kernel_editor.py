"""``KernelEditor``: type a 3x3 kernel (or pick a preset) and watch the filtered image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import ipywidgets
import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..validate import check_array, check_choice
from ..viz_style import FONT_LABEL
from ._base import Explorer, as_image, fmt
from .drawing import (
    auto_clim,
    cell_texts,
    colorbar,
    label_axes,
    set_title,
    show,
    signed_clim,
    write_values,
)
from .samples import sample_digits, sample_photo

__all__ = ["KERNELS", "BORDERS", "KernelEditor", "filter_image", "as_kernel"]


def _kernels() -> dict[str, npt.NDArray[np.float64]]:
    gauss = np.outer([1, 2, 1], [1, 2, 1]) / 16
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    kernels = {
        "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        "box blur": np.full((3, 3), 1 / 9),
        "gaussian": gauss,
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
        "sobel x": sobel_x,
        "sobel y": sobel_x.T,
        "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
    }
    for name, k in kernels.items():
        kernels[name] = k.astype(np.float64)
        kernels[name].flags.writeable = False
    return kernels


KERNELS: dict[str, npt.NDArray[np.float64]] = _kernels()
"""Preset 3x3 kernels (read-only float64), applied as cross-correlation like conv2d."""

BORDERS = ("valid", "zero padding", "reflect")
"""Border modes: no padding (output shrinks by 2), one ring of zeros, mirrored edge pixels."""


def as_kernel(kernel: str | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A preset name from ``KERNELS`` or a finite (3, 3) array of numbers -> (3, 3) float64."""
    if isinstance(kernel, str):
        return KERNELS[check_choice(kernel, "kernel", KERNELS)]
    values = check_array(np.asarray(kernel), "kernel", 2, floating=False)
    if values.shape != (3, 3):
        raise ValueError(f"kernel must have shape (3, 3), got {values.shape}")
    if values.dtype.kind not in "fiu":
        raise TypeError(f"kernel must hold real numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


def _preset_name(kernel: npt.NDArray[np.float64]) -> str:
    for name, k in KERNELS.items():
        if np.allclose(kernel, k, rtol=0, atol=1e-9):
            return name
    return "custom"


def filter_image(image: npt.NDArray[np.floating], kernel: npt.NDArray[np.floating],
                 border: str) -> npt.NDArray[np.floating]:
    """Cross-correlate one image (H, W) with one kernel (3, 3) using ``functional.conv2d``.

    border : 'valid' -> (H-2, W-2); 'zero padding' -> (H, W); 'reflect' -> (H, W), the
    image mirrored by one pixel (``np.pad(mode='reflect')``) before a valid convolution.
    """
    x = image[None, None]
    w = kernel.astype(image.dtype)[None, None]
    if border == "reflect":
        return F.conv2d(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"), w)[0, 0]
    return F.conv2d(x, w, padding=1 if border == "zero padding" else 0)[0, 0]


class KernelEditor(Explorer):
    """A 3x3 kernel editor that filters an image live.

    Parameters
    ----------
    image : (H, W) float array (or (1, H, W), (1, 1, H, W)), at least 3x3, e.g.
        ``sample_photo()`` or an MNIST digit ``x[0, 0]``; or a dict name -> such array
        to switch between images, e.g. ``{"photo": sample_photo(), "digit": x[0, 0]}``.
    kernel : a preset name from ``KERNELS`` or a (3, 3) float array.
    border : one of ``BORDERS``.

    Controls
    --------
    ``k00`` ``k01`` ``k02`` / ``k10`` ``k11`` ``k12`` / ``k20`` ``k21`` ``k22`` (FloatText: the
    kernel's cells), ``preset`` (Dropdown, 'custom' when the numbers match no preset),
    ``normalise`` (Button: divide by the sum), ``border`` (ToggleButtons), and ``image``
    (Dropdown) when a dict of images is given.

    State
    -----
    ``image`` the current input (H, W), ``kernel`` (3, 3) float64, ``output`` the filtered
    image (H, W), or (H-2, W-2) for 'valid'.
    """

    figsize = (10.5, 3.8)
    panel_gap = 0.15  # the presets' colour-bar labels (-4 ... 4, 0.125) fit one layout

    deck_control = "preset"

    def __init__(self, image: npt.NDArray[np.floating] | Mapping[str, npt.NDArray[np.floating]],
                 kernel: str | npt.ArrayLike = "identity", border: str = "zero padding"
                 ) -> None:
        images = image if isinstance(image, Mapping) else {"image": image}
        if not images:
            raise ValueError("image must be an array or a non-empty dict of arrays, got {}")
        self.images: dict[str, npt.NDArray[np.floating]] = {}
        for name, img in images.items():
            label = "image" if len(images) == 1 else f"image[{name!r}]"
            self.images[str(name)] = as_image(img, label)
            if min(self.images[str(name)].shape) < 3:
                raise ValueError(f"{label} must be at least 3x3 for a 3x3 kernel, "
                                 f"got shape {img.shape}")
        values = as_kernel(kernel)
        border = check_choice(border, "border", BORDERS)
        self._note = ""
        self._preset = _preset_name(values)
        controls = {f"k{i}{j}": ipywidgets.FloatText(value=float(values[i, j]), step=0.1,
                                                     layout=ipywidgets.Layout(width="80px"))
                    for i in range(3) for j in range(3)}
        controls["preset"] = ipywidgets.Dropdown(options=[*KERNELS, "custom"],
                                                 value=self._preset, description="preset")
        controls["normalise"] = ipywidgets.Button(description="normalise to sum 1")
        controls["normalise"].on_click(lambda _: self.normalise())
        controls["border"] = ipywidgets.ToggleButtons(options=BORDERS, value=border,
                                                      description="border")
        rows = [["k00", "k01", "k02", "preset"], ["k10", "k11", "k12", "normalise"],
                ["k20", "k21", "k22", "border"]]
        if len(self.images) > 1:
            controls["image"] = ipywidgets.Dropdown(options=list(self.images),
                                                    description="image")
            rows[0].append("image")
        self._shown: npt.NDArray[np.floating] | None = None
        self._init_view(controls, rows=rows)

    @classmethod
    def demo(cls) -> Self:
        """Lesson 02's photo (128x128) and an MNIST 7 to switch to, under 'sobel x'."""
        digit = sample_digits(1)[0][0].astype(np.float32) / np.float32(255)
        return cls({"photo": sample_photo(128), "digit": digit}, "sobel x")

    @property
    def image(self) -> npt.NDArray[np.floating]:
        """The image being filtered, (H, W)."""
        choice = self.controls.get("image") if hasattr(self, "controls") else None
        return self.images[choice.value] if choice else next(iter(self.images.values()))

    # ------------------------------------------------------------------ API
    @property
    def kernel(self) -> npt.NDArray[np.float64]:
        """The kernel in the grid, (3, 3) float64."""
        return np.array([[self.controls[f"k{i}{j}"].value for j in range(3)] for i in range(3)],
                        dtype=np.float64)

    def set_kernel(self, kernel: str | npt.ArrayLike) -> None:
        """Write a preset name or a (3, 3) array into the grid (one redraw)."""
        values = as_kernel(kernel)
        with self.hold():
            for (i, j), v in np.ndenumerate(values):
                self.controls[f"k{i}{j}"].value = float(v)

    def normalise(self) -> None:
        """Divide the kernel by its sum so it sums to 1 (impossible if the sum is 0)."""
        total = self.kernel.sum()
        if abs(total) < 1e-12:
            self._note = "cannot normalise: the kernel sums to 0 (as edge detectors do)"
            self.update()
            self._note = ""
            return
        self.set_kernel(self.kernel / total)

    # ------------------------------------------------------------------ explorer hooks
    def _compute(self) -> None:
        preset = self.controls["preset"].value
        if preset != self._preset and preset != "custom":  # a preset was picked: fill the grid
            for (i, j), v in np.ndenumerate(KERNELS[preset]):
                self.controls[f"k{i}{j}"].value = float(v)
        k = self.kernel
        self._preset = self.controls["preset"].value = _preset_name(k)  # or the grid was edited
        border = self.controls["border"].value
        if not np.isfinite(k).all():
            self.readout = "the kernel must hold finite numbers: fix the grid"
            return
        self.output = filter_image(self.image, k, border)
        total = float(k.sum())
        if abs(total - 1) < 1e-9:
            effect = "flat regions keep their brightness"
        elif abs(total) < 1e-9:
            effect = "flat regions become 0: only changes (edges) respond"
        else:
            effect = f"flat regions are scaled by {fmt(total)}"
        (h, w), (oh, ow) = self.image.shape, self.output.shape
        pad = {"valid": "no padding", "zero padding": "one ring of zeros",
               "reflect": "edge pixels mirrored"}[border]
        lines = [f"kernel sum = {fmt(total)}: {effect}",
                 f"border '{border}' ({pad}): input {h}×{w} -> output {oh}×{ow}",
                 f"output range [{fmt(self.output.min())}, {fmt(self.output.max())}]"]
        if self._note:
            lines.append(self._note)
        self.readout = "\n".join(lines)

    def _build(self) -> None:
        ax_in, ax_k, ax_out = self.fig.subplots(1, 3, width_ratios=[1, 0.75, 1.1])
        self._im_in = ax_in.imshow(np.zeros((1, 1)), cmap="gray", interpolation="nearest")
        label_axes(ax_in, "")
        self._ax_in = ax_in
        self._im_k = ax_k.imshow(np.zeros((3, 3)), interpolation="nearest")
        cbar_k = colorbar(self.fig, self._im_k, ax_k, "weight")
        self._k_texts = cell_texts(ax_k, (3, 3))
        label_axes(ax_k, "kernel (cross-correlation)", "kernel column", "kernel row")
        ax_k.set_xticks(range(3))
        ax_k.set_yticks(range(3))
        self._im_out = ax_out.imshow(np.zeros((1, 1)), interpolation="nearest")
        cbar_out = self._cbar_out = colorbar(self.fig, self._im_out, ax_out, "output value")
        label_axes(ax_out, "")
        self._ax_out = ax_out
        self._dyn(self._im_k, *self._k_texts.flat, cbar_k, self._im_out, cbar_out,
                  ax_out.title)

    def _draw(self) -> None:
        k = self.kernel
        if not np.isfinite(k).all():
            return
        self._im_k.set_data(k)
        signed_clim(self._im_k, k)
        write_values(self._k_texts, k, self._im_k)
        img = self.image
        name = self.controls["image"].value if "image" in self.controls else None
        self._static_state(panels={self._ax_in: name, self._ax_out: name})  # limits, title
        if self._shown is not img:  # another input (static): new limits and ticks
            self._shown = img
            h, w = img.shape
            show(self._im_in, img)
            self._im_in.set_clim(float(img.min()), float(img.max()))
            set_title(self._ax_in, f"input image {h}×{w}")
            for ax in (self._ax_in, self._ax_out):
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
        valid = self.controls["border"].value == "valid"
        show(self._im_out, self.output, origin=(1, 1) if valid else (0, 0))
        signed = auto_clim(self._im_out, self.output, nonneg_cmap="gray")
        oh, ow = self.output.shape
        set_title(self._ax_out, f"output {oh}×{ow}")
        label = "value: red > 0 > blue" if signed else "output value"
        if self._cbar_out.get_ylabel() != label:
            self._cbar_out.set_ylabel(label, fontsize=FONT_LABEL)

    def _describe(self) -> str:
        h, w = self.image.shape
        name = f"{self.controls['image'].value!r} " if "image" in self.controls else ""
        return (f"image={name}{h}×{w}, kernel={self.controls['preset'].value!r}, "
                f"border={self.controls['border'].value!r}")
