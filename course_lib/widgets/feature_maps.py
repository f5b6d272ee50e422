"""``FeatureMapExplorer``: the feature maps of a trained network, image by image."""

from __future__ import annotations

import math
from typing import Self

import ipywidgets
import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..model import Sequential
from ..paths import WEIGHTS_DIR
from ..validate import check_array, check_labels
from ..viz_style import DIVERGING, FONT_LABEL, SEQUENTIAL
from ._base import Explorer, int_slider
from .drawing import colorbar, highlight, label_axes, place, set_colors, set_title, show
from .samples import sample_digits

__all__ = ["FeatureMapExplorer", "mosaic"]

SCALES = ("local", "global")


def mosaic(maps: npt.NDArray[np.floating], pad_value: float = np.nan
           ) -> tuple[npt.NDArray[np.float64], int]:
    """Tile (C, h, w) maps in a near-square grid with a 1-pixel gap; returns (grid, columns)."""
    C, h, w = maps.shape
    cols = math.ceil(math.sqrt(C))
    rows = math.ceil(C / cols)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), pad_value, dtype=np.float64)
    for c in range(C):
        r, q = divmod(c, cols)
        grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = maps[c]
    return grid, cols


class FeatureMapExplorer(Explorer):
    """Pick an image, a layer and a channel of a trained ``Sequential``.

    Parameters
    ----------
    model : ``course_lib.Sequential``; it is run in eval mode (its mode is restored).
    images : (N, C, H, W) float array the model accepts.
    labels : (N,) integer labels, optional (shown next to the prediction).

    Controls: ``image`` (IntSlider), ``layer`` (Dropdown of the layers with 4-D
    outputs, value = layer index), ``channel`` (IntSlider), ``scale`` ('local': this
    channel's own range; 'global': the range over all channels of the layer).

    The current image's activations are kept between updates: call ``refresh()`` after the
    model's weights change (e.g. more training).

    State: ``activations`` (outputs of every layer for the current image, batch of 1),
    ``feature_map`` (h, w), ``clim`` (vmin, vmax) of the colour scale, ``prediction``
    (class index or None if the last output is not (1, K)).
    """

    figsize = (10.5, 3.9)

    deck_control = "layer"

    def __init__(self, model: Sequential, images: npt.NDArray[np.floating],
                 labels: npt.NDArray[np.integer] | None = None) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"model must be a course_lib.Sequential, got {type(model).__name__}")
        check_array(images, "images", 4, axis_names="(N, C, H, W)")
        self.model, self.images = model, images
        if labels is not None:
            labels = check_labels(labels, "labels", images.shape[0], np.iinfo(np.int64).max)
        self.labels = labels
        self._cached: tuple[int, list[npt.NDArray[np.floating]]] | None = None
        acts = self._activations(0)
        layers = [(f"{k}: {model[k]!r} -> {'×'.join(map(str, a.shape[1:]))}", k)
                  for k, a in enumerate(acts) if a.ndim == 4]
        if not layers:
            raise ValueError("model has no layer with a 4-D (N, C, H, W) output to explore")
        controls = {
            "image": int_slider("image", 0, 0, images.shape[0] - 1, continuous_update=False),
            "layer": ipywidgets.Dropdown(options=layers, value=layers[0][1], description="layer",
                                         layout=ipywidgets.Layout(width="max-content")),
            "channel": int_slider("channel", 0, 0, acts[layers[0][1]].shape[1] - 1),
            "scale": ipywidgets.ToggleButtons(options=SCALES, value="local",
                                              description="colour scale"),
        }
        self._init_view(controls, rows=[["image", "layer"], ["channel", "scale"]])

    @classmethod
    def demo(cls) -> Self:
        """The course's trained LeNet (weights/lenet.npz) on 8 MNIST test digits, as lesson
        07 explores its own."""
        from ..data import normalize
        from ..train import load_model

        images, labels = sample_digits(8)
        return cls(load_model(WEIGHTS_DIR / "lenet.npz"), normalize(images), labels)

    def _activations(self, index: int) -> list[npt.NDArray[np.floating]]:
        """Every layer's output for image ``index`` (kept for the current image)."""
        if self._cached is None or self._cached[0] != index:
            self._cached = (index, _forward(self.model, self.images, index))
        return self._cached[1]

    def refresh(self) -> None:
        """Recompute the activations (after the model's weights changed) and redraw."""
        self._cached = None
        self.update()

    def _compute(self) -> None:
        c = self.controls
        n, k = c["image"].value, c["layer"].value
        self.activations = self._activations(n)
        layer_out = self.activations[k][0]
        c["channel"].max = layer_out.shape[0] - 1  # clamps the value too
        c["channel"].disabled = layer_out.shape[0] == 1
        ch = c["channel"].value
        self.feature_map = layer_out[ch]
        scope = self.feature_map if c["scale"].value == "local" else layer_out
        lo, hi = float(scope.min()), float(scope.max())
        self.signed = lo < 0
        if self.signed:
            m = max(-lo, hi)
            self.clim = (-m, m)
        else:
            self.clim = (0.0, hi if hi > 0 else 1.0)
        last = self.activations[-1]
        self.prediction = None
        lines = []
        if last.ndim == 2 and last.shape[0] == 1:
            p = F.softmax(last.astype(np.float64))[0]
            self.prediction = int(np.argmax(p))
            lines.append(f"image {n}: predicted {self.prediction} (p = {p.max():.2f})"
                         + (f", label {self.labels[n]}" if self.labels is not None else ""))
        fm = self.feature_map
        lines.append(f"layer {k} ({self.model[k]!r}) output {'×'.join(map(str, layer_out.shape))}"
                     f"; channel {ch}: min {fm.min():.3g}, max {fm.max():.3g}, "
                     f"mean {fm.mean():.3g}, {(fm == 0).mean():.0%} zeros")
        scope_text = ("this channel" if c["scale"].value == "local"
                      else f"all {layer_out.shape[0]} channels of the layer")
        lines.append(f"colour scale {c['scale'].value} ({scope_text}): "
                     f"[{self.clim[0]:.3g}, {self.clim[1]:.3g}]")
        self.readout = "\n".join(lines)

    def _build(self) -> None:
        ax_x, ax_f, ax_m = self.fig.subplots(1, 3, width_ratios=[1, 1.2, 1.2])
        img = self.images[0]
        self._im_x = ax_x.imshow(img[0], cmap="gray", interpolation="nearest",
                                 vmin=float(self.images.min()), vmax=float(self.images.max()))
        self._im_f = ax_f.imshow(np.zeros((1, 1)), interpolation="nearest")
        cb = colorbar(self.fig, self._im_f, ax_f, "activation")
        label_axes(ax_x, "")
        label_axes(ax_f, "")
        self._im_m = ax_m.imshow(np.zeros((1, 1)), interpolation="nearest")
        ax_m.set_xticks([])
        ax_m.set_yticks([])
        for spine in ax_m.spines.values():  # the tiles have their own white gaps
            spine.set_visible(False)
        self._box_m = highlight(ax_m)
        self._axes = ax_x, ax_f, ax_m
        self._dyn(self._im_x, self._im_f, cb, self._im_m, self._box_m,
                  *(a.title for a in self._axes))

    def _draw(self) -> None:
        c = self.controls
        n, k, ch = c["image"].value, c["layer"].value, c["channel"].value
        ax_x, ax_f, ax_m = self._axes
        self._im_x.set_data(self.images[n, 0])
        set_title(ax_x, f"input image {n}" + (f" (label {self.labels[n]})"
                                              if self.labels is not None else ""))
        layer_out = self.activations[k][0]
        # the maps' extents set the ticks of the map (and the mosaic's limits)
        self._static_state(panels={ax_f: layer_out.shape[1:], ax_m: layer_out.shape})
        cmap = DIVERGING if self.signed else SEQUENTIAL
        show(self._im_f, self.feature_map)
        set_colors(self._im_f, cmap, *self.clim)
        set_title(ax_f, f"layer {k}, channel {ch} ({c['scale'].value} scale)")
        grid, cols = mosaic(layer_out)
        show(self._im_m, grid)
        lo, hi = float(layer_out.min()), float(layer_out.max())
        m = max(-lo, hi, 1e-12)
        set_colors(self._im_m, cmap, -m if self.signed else 0.0, m)
        h, w = layer_out.shape[1:]
        r, q = divmod(ch, cols)
        place(self._box_m, (r * (h + 1), r * (h + 1) + h), (q * (w + 1), q * (w + 1) + w))
        set_title(ax_m, f"all {layer_out.shape[0]} channels (global scale)")
        ax_m.set_xlabel("box: selected channel", fontsize=FONT_LABEL)

    def _describe(self) -> str:
        c = self.controls
        return (f"images={self.images.shape[0]}, image={c['image'].value}, "
                f"layer={c['layer'].value}, channel={c['channel'].value}, "
                f"scale={c['scale'].value!r}")


def _forward(model: Sequential, images: npt.NDArray[np.floating], index: int
             ) -> list[npt.NDArray[np.floating]]:
    """Every layer's output for ``images[index:index+1]``, in eval mode (mode restored)."""
    mode = model.training
    model.train(False)
    try:
        return model.forward_with_activations(images[index:index + 1])
    finally:
        model.train(mode)
