"""``DrawDigitExplorer``: draw a digit and watch a trained network read it, layer by layer,
then ask which pixels mattered (saliency and occlusion, ``course_lib.explain``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Self

import ipywidgets
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from .. import functional as F
from ..explain import (
    PATCH,
    STRIDE,
    mnist_preprocess,
    normalize_image,
    occluded_probabilities,
    occlusion,
    saliency,
)
from ..layers import Conv2d, _Pool2d
from ..model import Sequential
from ..paths import WEIGHTS_DIR
from ..train._checks import model_dtype
from ..validate import check_array, check_labels
from ..viz_style import DIVERGING, ORANGE, SEQUENTIAL
from ._base import Explorer
from .digit_canvas import DigitCanvas
from .drawing import set_colors, set_title, show
from .feature_maps import mosaic
from .samples import sample_digits

__all__ = ["DrawDigitExplorer"]

MAX_LAYER_PANELS = 4   # conv and pool layers pictured (LeNet has four)
MIN_DROP_SCALE = 0.05  # occlusion's colour scale reaches at least this drop of p
KEPT_OCCLUSIONS = 32   # (network, input) pairs whose occluded probabilities are kept, 12 KB each
BLUE_BAR = "#4878a8"


class DrawDigitExplorer(Explorer):
    """Draw a digit, or start from a stored one, and watch trained networks read it.

    Parameters
    ----------
    models : {name: Sequential} trained on normalised MNIST digits (``data.normalize``), or one
        Sequential; each maps (N, 1, 28, 28) to (N, 10) logits.
    images : (N, 28, 28) digits to start from (uint8 0-255 or float 0-1, background 0), e.g.
        validation digits; optional.
    labels : (N,) their labels; optional.

    The canvas (``canvas``, a ``DigitCanvas`` shown left of the controls) is the input: when a
    stroke ends, the drawing is prepared as MNIST's digits were (``explain.mnist_preprocess``:
    the ink's box scaled to 20 pixels, its centre of mass put at the centre of a 28 x 28
    frame) and read by the chosen network.

    Controls: ``model`` (Dropdown of the networks), ``digit`` (Dropdown: 'your drawing', or one
    of the stored digits, which is then painted on the canvas, enlarged, to draw over; the network
    reads the stored digit itself until the canvas changes), ``target`` (Dropdown: the class
    that saliency and occlusion explain; 'predicted' by default).

    State: ``image`` (28, 28) in [0, 1], what the network reads; ``probabilities`` (10,);
    ``prediction``; ``activations`` {layer index: (C, h, w)} for every conv and pool layer;
    ``saliency`` (``explain.Saliency``) and ``occlusion`` (``explain.Occlusion``) of the
    target class.
    """

    figsize = (10.5, 6.2)
    deck_control = "digit"

    def __init__(self, models: Mapping[str, Sequential] | Sequential,
                 images: npt.NDArray[Any] | None = None,
                 labels: npt.NDArray[np.integer] | None = None) -> None:
        if isinstance(models, Sequential):
            models = {"network": models}
        if not isinstance(models, Mapping) or not models:
            raise TypeError("models must be a Sequential or a non-empty {name: Sequential} "
                            f"mapping, got {type(models).__name__}")
        for name, model in models.items():
            if not isinstance(model, Sequential):
                raise TypeError(f"models[{name!r}] must be a course_lib.Sequential, got "
                                f"{type(model).__name__}")
        self.models = dict(models)
        self._layers = {name: _pictured_layers(model) for name, model in self.models.items()}
        for model in self.models.values():  # the largest occlusion batch (every patch changes
            # a blank input): the layers' scratch memory grows once now, not at later drawings
            occluded_probabilities(model, np.zeros((1, 28, 28), model_dtype(model)), fill=1.0)
        self.images = _as_digits(images)
        if labels is not None:
            if self.images is None:
                raise ValueError("labels were given without images")
            labels = check_labels(labels, "labels", len(self.images), 10)
        self.labels = labels
        self.canvas = DigitCanvas()
        self._painted = b""   # the canvas value the explorer painted itself (a stored digit)
        # (network, input bytes) -> its occluded probabilities, for the latest inputs
        self._occluded: OrderedDict[tuple[str, bytes], npt.NDArray[np.floating]] = OrderedDict()
        digits: list[tuple[str, int | None]] = [("your drawing", None)]
        if self.images is not None:
            digits += [(f"image {k}" + (f" (label {labels[k]})" if labels is not None else ""),
                        k) for k in range(len(self.images))]
        controls = {
            "model": ipywidgets.Dropdown(options=list(self.models), description="network"),
            "digit": ipywidgets.Dropdown(options=digits, description="start from",
                                         value=None if self.images is None else 0),
            "target": ipywidgets.Dropdown(
                options=[("predicted class", None)] + [(str(k), k) for k in range(10)],
                value=None, description="explain class"),
        }
        self._init_view(controls, rows=[["model"], ["digit"], ["target"]])
        self.canvas.observe(self._on_canvas, names="value")
        old = self.widget   # the canvas left of the controls and readout, the picture below
        side = ipywidgets.VBox([self._boxes[-1], self._html],
                               layout=ipywidgets.Layout(margin="0 0 0 16px", flex="1 1 auto"))
        self._top = ipywidgets.HBox([self.canvas, side])
        self.widget = ipywidgets.VBox([self._top, self._image])
        old.close()

    @classmethod
    def demo(cls) -> Self:
        """The shipped LeNet and seed net, starting from the first 8 MNIST test digits."""
        from ..train import load_model

        images, labels = sample_digits(8)
        return cls({"LeNet": load_model(WEIGHTS_DIR / "lenet.npz"),
                    "seed net": load_model(WEIGHTS_DIR / "seed.npz")}, images, labels)

    # ------------------------------------------------------------------ the canvas
    def _on_canvas(self, change: dict[str, Any]) -> None:
        """A stroke ended or Clear was pressed: the network reads the drawing (unless the
        canvas merely shows the stored digit the explorer painted)."""
        showing_stored = self.controls["digit"].value is not None
        if self._holding or (showing_stored and change["new"] == self._painted):
            return
        with self.hold():
            self.controls["digit"].value = None

    def _paint(self, index: int) -> None:
        """Show stored digit ``index`` on the canvas, enlarged to its size."""
        assert self.images is not None
        size = self.canvas.size
        big = ndimage.zoom(self.images[index], size / self.images.shape[1], order=1,
                           grid_mode=True, mode="nearest")
        drawing = np.clip(np.round(big * 255), 0, 255).astype(np.uint8)
        self._painted = drawing.tobytes()
        if self.canvas.value != self._painted:
            self.canvas.value = self._painted

    # ------------------------------------------------------------------ state
    def _compute(self) -> None:
        c = self.controls
        name, index = c["model"].value, c["digit"].value
        model = self.models[name]
        if index is not None:
            assert self.images is not None
            self._paint(index)
            self.image = self.images[index].astype(np.float32)
        else:
            self.image = mnist_preprocess(self.canvas.drawing.astype(np.float32))
        x = normalize_image(self.image, model_dtype(model))
        with model.evaluating():
            outputs = model.forward_with_activations(x[None])
        self.probabilities = F.softmax(outputs[-1][0].astype(np.float64))
        self.prediction = int(np.argmax(self.probabilities))
        self.activations = {k: outputs[k][0] for k in self._layers[name]}
        target = self.prediction if c["target"].value is None else c["target"].value
        self.saliency = saliency(model, x, target)
        key = (name, x.tobytes())   # another target class, or an input seen before: kept
        if key not in self._occluded:
            self._occluded[key] = occluded_probabilities(model, x)
            while len(self._occluded) > KEPT_OCCLUSIONS:
                self._occluded.popitem(last=False)
        self._occluded.move_to_end(key)
        self.occlusion = occlusion(model, x, target, probabilities=self._occluded[key])
        self.readout = self._describe_state(name, index)

    def _describe_state(self, name: str, index: int | None) -> str:
        p = self.probabilities
        first, second = np.argsort(p)[::-1][:2]
        blank = index is None and not self.image.any()
        if index is None:
            source = ("the canvas is blank: draw a digit (then the network reads it)" if blank
                      else "your drawing, prepared as MNIST's digits were (box scaled to 20 "
                           "px, centre of mass at the centre)")
        else:
            label = f", label {self.labels[index]}" if self.labels is not None else ""
            source = f"stored image {index}{label}, as stored; draw over it to change it"
        target, o = self.saliency.target, self.occlusion
        row, col = np.unravel_index(np.argmax(o.drop), o.drop.shape)
        (top, left), last = (row * STRIDE, col * STRIDE), PATCH - 1
        return "\n".join([
            f"{name} reads a {first} (p = {p[first]:.2f}); next: {second} (p = {p[second]:.2f})",
            f"input: {source}",
            "p: " + "  ".join(f"{k}:{v:.2f}" for k, v in enumerate(p)),
            f"explaining class {target} (p = {o.probability:.2f}): covering rows {top}-{top + last}"
            f", columns {left}-{left + last} lowers it most, by {o.drop.max():.2f}",
        ])

    # ------------------------------------------------------------------ picture
    def _build(self) -> None:
        grid = self.fig.add_gridspec(2, MAX_LAYER_PANELS, height_ratios=[1, 1.1])
        top = [self.fig.add_subplot(grid[0, k]) for k in range(4)]
        self._ax_in, self._ax_p, self._ax_s, self._ax_o = top
        self._ax_layers = [self.fig.add_subplot(grid[1, k]) for k in range(MAX_LAYER_PANELS)]
        blank = np.zeros((28, 28))
        self._im_in = self._ax_in.imshow(blank, cmap="gray", vmin=0, vmax=1,
                                         interpolation="nearest")
        self._bars = self._ax_p.bar(range(10), np.zeros(10), color=BLUE_BAR)
        self._ax_p.set_ylim(0, 1)
        self._ax_p.set_xticks(range(10))
        self._ax_p.set_xlabel("class")
        self._im_s = self._ax_s.imshow(blank, cmap=DIVERGING, interpolation="nearest")
        self._im_o = self._ax_o.imshow(blank, cmap=DIVERGING, interpolation="nearest")
        self._ink = [ax.imshow(np.zeros((28, 28, 4)), interpolation="nearest")
                     for ax in (self._ax_s, self._ax_o)]
        self._ax_s.set_xlabel("red: raises the score")
        self._ax_o.set_xlabel("red: hiding it lowers p")
        self._im_layers = [ax.imshow(np.zeros((1, 1)), interpolation="nearest")
                           for ax in self._ax_layers]
        for ax in (self._ax_in, self._ax_s, self._ax_o, *self._ax_layers):
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in self._ax_layers:
            for spine in ax.spines.values():  # the tiles have their own white gaps
                spine.set_visible(False)
        self._model_shown: str | None = None
        self._dyn(self._im_in, *self._bars, self._im_s, self._im_o, *self._ink,
                  *self._im_layers, *(ax.title for ax in (*top, *self._ax_layers)))

    def _draw(self) -> None:
        name = self.controls["model"].value
        if name != self._model_shown:   # other layers: other panels and extents
            self._model_shown = name
            for k, (ax, im) in enumerate(zip(self._ax_layers, self._im_layers, strict=True)):
                for a in (ax, im, ax.title):   # a panel this network has no layer for
                    a.set_visible(k < len(self._layers[name]))
        self._static_state(name)   # the panels shown (a network seen before: its pixels back)
        self._im_in.set_data(self.image)
        set_title(self._ax_in, "what the network reads")
        for k, bar in enumerate(self._bars):
            bar.set_height(self.probabilities[k])
            bar.set_color(ORANGE if k == self.prediction else BLUE_BAR)
        set_title(self._ax_p, f"p(class): reads {self.prediction}")
        ink = np.zeros((28, 28, 4))
        ink[..., 3] = 0.5 * self.image
        target = self.saliency.target
        gradient = self.saliency.gradient[0]
        show(self._im_s, gradient)
        m = float(np.abs(gradient).max())
        set_colors(self._im_s, DIVERGING, -m or -1.0, m or 1.0)
        set_title(self._ax_s, f"saliency of class {target}")
        drop = self.occlusion.pixel_drop
        m = max(float(np.abs(drop).max()), MIN_DROP_SCALE)
        show(self._im_o, drop)
        set_colors(self._im_o, DIVERGING, -m, m)
        set_title(self._ax_o, f"occlusion, class {target}")
        for im in self._ink:
            im.set_data(ink)
        model = self.models[name]
        for ax, im, k in zip(self._ax_layers, self._im_layers, self._layers[name], strict=False):
            maps = self.activations[k]
            tiles, _ = mosaic(maps)
            show(im, tiles)
            lo, hi = float(maps.min()), float(maps.max())
            if lo < 0:
                m = max(-lo, hi, 1e-12)
                set_colors(im, DIVERGING, -m, m)
            else:
                set_colors(im, SEQUENTIAL, 0.0, hi if hi > 0 else 1.0)
            kind = "conv" if isinstance(model[k], Conv2d) else "pool"
            C, h, w = maps.shape
            set_title(ax, f"{k}: {kind}, {C} × {h}×{w}")

    def close(self) -> None:
        """Close the ipywidgets, the canvas included."""
        for w in (self.canvas, *self._top.children, self._top):
            w.close()
        super().close()

    def _describe(self) -> str:
        c = self.controls
        return (f"models={list(self.models)}, model={c['model'].value!r}, "
                f"digit={c['digit'].value}, target={c['target'].value}")


def _pictured_layers(model: Sequential) -> list[int]:
    """Indices of the conv and pool layers (at most MAX_LAYER_PANELS, the first ones)."""
    layers = [k for k, layer in enumerate(model.layers)
              if isinstance(layer, (Conv2d, _Pool2d))]
    return layers[:MAX_LAYER_PANELS]


def _as_digits(images: npt.NDArray[Any] | None) -> npt.NDArray[np.float32] | None:
    """(N, 28, 28) digits, uint8 0-255 or float 0-1, as float32 in [0, 1] (None stays None)."""
    if images is None:
        return None
    check_array(images, "images", 3, floating=False, axis_names="(N, 28, 28)")
    if images.shape[1:] != (28, 28):
        raise ValueError(f"images must be 28 x 28 digits, got shape {images.shape}")
    if images.dtype == np.uint8:
        return (images / 255).astype(np.float32)
    check_array(images, "images", 3)
    if images.min() < 0 or images.max() > 1:
        raise ValueError("float images must hold grey levels in [0, 1] (MNIST / 255), got "
                         f"values in [{images.min():.3g}, {images.max():.3g}]")
    return images.astype(np.float32)
