"""``ShiftExplorer``: move a digit a few pixels and watch two trained networks change their
minds (the multilayer perceptron much sooner than the CNN)."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..data import normalize, shift_images
from ..model import Sequential
from ..paths import WEIGHTS_DIR
from ..validate import check_array, check_int, check_labels
from ..viz_style import BLUE, FONT_LABEL, FONT_SMALL, GREEN, ORANGE, SKY, VERMILLION
from ._base import Explorer, int_slider
from .drawing import highlight, place, set_title
from .samples import sample_digits

__all__ = ["ShiftExplorer", "MAX_SHIFT", "MAX_IMAGES", "shipped_models"]

MAX_SHIFT = 4     # the sliders span -4 ... 4 pixels
MAX_IMAGES = 32   # every (image, shift) pair is precomputed: keep it small
LINE_STYLES: tuple[dict[str, Any], ...] = ({"color": VERMILLION, "marker": "o", "linestyle": "--"},
               {"color": BLUE, "marker": "s", "linestyle": "-"})


def shipped_models() -> dict[str, Sequential]:
    """The course's trained networks: ``{"MLP": weights/mlp.npz, "LeNet": weights/lenet.npz}``
    loaded with ``course_lib.train.load_model``."""
    from ..train import load_model
    return {"MLP": load_model(WEIGHTS_DIR / "mlp.npz"),
            "LeNet": load_model(WEIGHTS_DIR / "lenet.npz")}


def _probabilities(model: Sequential, x: npt.NDArray[np.floating]
                   ) -> npt.NDArray[np.floating]:
    """softmax of ``model``'s logits for x (N, 1, H, W), in eval mode, as float64 (N, K)."""
    from ..train import predict
    dtype = next(iter(model.params.values())).dtype
    _, logits = predict(model, x.astype(dtype, copy=False), return_logits=True)
    if logits.ndim != 2:
        raise ValueError(f"models must map (N, 1, H, W) images to (N, K) logits, got an "
                         f"output of shape {logits.shape}")
    return F.softmax(logits.astype(np.float64))


class ShiftExplorer(Explorer):
    """Shift a digit by (dy, dx) pixels; compare two networks' class probabilities.

    Parameters
    ----------
    images : (N, H, W) uint8 digits as ``load_mnist`` gives them (background 0), 1 <= N <= 32;
        they are shifted with ``course_lib.data.shift_images`` (zeros come in), then
        ``normalize``d for the models.
    labels : (N,) integer labels.
    models : dict of two names -> ``Sequential`` mapping (B, 1, H, W) float images to (B, K)
        logits; default ``shipped_models()``, the course's trained MLP and LeNet.
    image, dy, dx : initial index and shift (dy down, dx right; both in -4 ... 4).

    Controls: ``image`` (IntSlider), ``dy`` and ``dx`` (IntSliders, -4 ... 4).

    Every image at every one of the 81 shifts goes through both models once, when the explorer
    is built (``table``); a control change only looks the answers up and redraws.

    State
    -----
    ``table`` {name: (N, 9, 9, K) float64}: probabilities for image n shifted by (dy, dx) at
    ``[n, dy + 4, dx + 4]``; ``shifted`` (H, W) uint8 the current digit; ``probs``
    {name: (K,)}; ``predictions`` {name: int}; ``curves`` {name: (9,)} the probability of the
    label at dx = -4 ... 4 for the current dy; ``correct`` {name: number of the 81 shifts of
    this image the model gets right}; ``ink_lost`` ink pixels pushed out of the frame.
    """

    figsize = (10.0, 7.0)

    deck_control = "dx"

    def __init__(self, images: npt.NDArray[np.uint8], labels: npt.NDArray[np.integer],
                 models: dict[str, Sequential] | None = None, *, image: int = 0, dy: int = 0,
                 dx: int = 0) -> None:
        check_array(images, "images", 3, floating=False, finite=False, axis_names="(N, H, W)")
        if images.dtype != np.uint8:
            raise TypeError(f"images must be raw uint8 digits (N, H, W), pixels 0-255 with "
                            f"background 0, got dtype {images.dtype}")
        N, height, width = images.shape
        if N > MAX_IMAGES:
            raise ValueError(f"images must hold at most {MAX_IMAGES} digits (every shift of "
                             f"each is precomputed), got {N}")
        if min(height, width) <= 2 * MAX_SHIFT:
            raise ValueError(f"images must be larger than {2 * MAX_SHIFT}×{2 * MAX_SHIFT} "
                             f"pixels to shift by up to {MAX_SHIFT}, got {height}×{width}")
        self.labels = check_labels(labels, "labels", N, np.iinfo(np.int64).max)
        models = shipped_models() if models is None else models
        if not isinstance(models, dict) or len(models) != 2 or not all(
                isinstance(k, str) and isinstance(m, Sequential) for k, m in models.items()):
            raise TypeError(f"models must be a dict of two names -> course_lib.Sequential, "
                            f"got {models!r}"[:200])
        self.images, self.models = images, models
        image = check_int(image, "image", 0, N - 1)
        dy = check_int(dy, "dy", -MAX_SHIFT, MAX_SHIFT)
        dx = check_int(dx, "dx", -MAX_SHIFT, MAX_SHIFT)
        self.table = self._precompute()
        K = next(iter(self.table.values())).shape[-1]
        if self.labels.size and self.labels.max() >= K:
            raise ValueError(f"labels must be class indices in [0, {K}), got "
                             f"{int(self.labels.max())}")
        self._ink = (images > 0).sum(axis=(1, 2))
        self._boxes_ink = [_bounding_box(img > 0) for img in images]
        controls = {
            "image": int_slider("image", image, 0, N - 1, disabled=N == 1),
            "dy": int_slider("dy (down)", dy, -MAX_SHIFT, MAX_SHIFT),
            "dx": int_slider("dx (right)", dx, -MAX_SHIFT, MAX_SHIFT),
        }
        self._init_view(controls, rows=[["image"], ["dy", "dx"]])

    @classmethod
    def demo(cls) -> Self:
        """The course's trained MLP and LeNet on 4 MNIST test digits, shifted 3 px right
        (lesson 01 shows 8)."""
        images, labels = sample_digits(4)
        return cls(images, labels, dx=3)

    def _precompute(self) -> dict[str, npt.NDArray[np.floating]]:
        """Probabilities of every model for every image at every shift: {name: (N, 9, 9, K)}."""
        S = 2 * MAX_SHIFT + 1
        N, height, width = self.images.shape
        batch = np.empty((S, S, N, height, width), dtype=np.uint8)
        for a in range(S):
            for b in range(S):
                batch[a, b] = shift_images(self.images, a - MAX_SHIFT, b - MAX_SHIFT)
        x = normalize(batch.reshape(-1, height, width))
        table = {}
        for name, model in self.models.items():
            p = _probabilities(model, x)
            table[name] = p.reshape(S, S, N, -1).transpose(2, 0, 1, 3).copy()
        return table

    def _compute(self) -> None:
        c = self.controls
        n, dy, dx = c["image"].value, c["dy"].value, c["dx"].value
        label = int(self.labels[n])
        self.shifted = shift_images(self.images[n:n + 1], dy, dx)[0]
        self.ink_lost = int(self._ink[n] - (self.shifted > 0).sum())
        self.probs = {k: t[n, dy + MAX_SHIFT, dx + MAX_SHIFT] for k, t in self.table.items()}
        self.predictions = {k: int(np.argmax(p)) for k, p in self.probs.items()}
        self.curves = {k: t[n, dy + MAX_SHIFT, :, label] for k, t in self.table.items()}
        self.correct = {k: int((t[n].argmax(axis=-1) == label).sum())
                        for k, t in self.table.items()}
        down = "down" if dy >= 0 else "up"
        right = "right" if dx >= 0 else "left"
        lines = [f"image {n} (label {label}) shifted {abs(dy)} px {down}, {abs(dx)} px {right}"
                 f": {self.ink_lost} of {self._ink[n]} ink pixels left the frame"]
        width = max(map(len, self.probs))
        for k, p in self.probs.items():
            pred = self.predictions[k]
            verdict = "right" if pred == label else "WRONG"
            lines.append(f"{k:>{width}}: predicts {pred} with p = {p[pred]:.3f} ({verdict}); "
                         f"p(label {label}) = {p[label]:.3f}; right at {self.correct[k]} of "
                         f"{(2 * MAX_SHIFT + 1) ** 2} shifts of this digit")
        self.readout = "\n".join(lines)

    def _build(self) -> None:
        (ax_x, ax_c), ax_bars = self.fig.subplots(2, 2)  # digit and curve above, bars below
        self._im = ax_x.imshow(self.images[0], cmap="gray", vmin=0, vmax=255,
                               interpolation="nearest")
        self._box = highlight(ax_x, SKY)
        self._box.set_linestyle("--")
        ax_x.set_xticks([])
        ax_x.set_yticks([])
        ax_x.set_xlabel("dashed: the unshifted digit", fontsize=FONT_LABEL)
        K = next(iter(self.table.values())).shape[-1]
        self._bars = []
        for ax, name in zip(ax_bars, self.models, strict=True):
            bars = ax.bar(range(K), np.zeros(K), color=SKY, edgecolor="black", linewidth=0.5)
            ax.set_xticks(range(K))
            ax.tick_params(labelsize=FONT_SMALL)
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("class (hatched: the label)", fontsize=FONT_LABEL)
            ax.set_ylabel("probability", fontsize=FONT_LABEL)
            set_title(ax, name)
            self._bars.append(bars)
        shifts = np.arange(-MAX_SHIFT, MAX_SHIFT + 1)
        self._lines = [ax_c.plot(shifts, np.zeros_like(shifts, dtype=float), label=name,
                                 linewidth=2, markersize=6, **style)[0]
                       for name, style in zip(self.models, LINE_STYLES, strict=True)]
        self._vline = ax_c.axvline(0, color="gray", linewidth=6, alpha=0.35)
        ax_c.set_xticks(shifts[::2])
        ax_c.set_ylim(-0.03, 1.05)
        ax_c.tick_params(labelsize=FONT_SMALL)
        ax_c.set_xlabel("dx: shift right (px)", fontsize=FONT_LABEL)
        ax_c.set_ylabel("p(label)", fontsize=FONT_LABEL)
        ax_c.legend(fontsize=FONT_SMALL, loc="lower center")
        ax_c.grid(alpha=0.3)
        set_title(ax_c, "p(label) against dx, same dy")
        self._axes = (ax_x, *ax_bars, ax_c)
        self._dyn(self._im, self._box, *(p for b in self._bars for p in b.patches),
                  *self._lines, self._vline, *(ax.title for ax in self._axes[:-1]))

    def _draw(self) -> None:
        c = self.controls
        n, dy, dx = c["image"].value, c["dy"].value, c["dx"].value
        label = int(self.labels[n])
        ax_x, *ax_bars, _ = self._axes
        self._im.set_data(self.shifted)
        rows, cols = self._boxes_ink[n]
        place(self._box, rows, cols)
        set_title(ax_x, f"label {label}, shift ({dy:+d}, {dx:+d})")
        for ax, bars, name in zip(ax_bars, self._bars, self.models, strict=True):
            p, pred = self.probs[name], self.predictions[name]
            for k, bar in enumerate(bars.patches):
                bar.set_height(p[k])
                bar.set_facecolor(SKY if k != pred else GREEN if pred == label else ORANGE)
                bar.set_hatch("//" if k == label else "")
            verdict = "right" if pred == label else "wrong"
            set_title(ax, f"{name}: {pred} ({verdict}, p = {p[pred]:.2f})")
        for line, name in zip(self._lines, self.models, strict=True):
            line.set_ydata(self.curves[name])
        self._vline.set_xdata([dx, dx])

    def _describe(self) -> str:
        c = self.controls
        return (f"images={self.images.shape[0]}, models={list(self.models)}, "
                f"image={c['image'].value}, dy={c['dy'].value}, dx={c['dx'].value}")


def _bounding_box(mask: npt.NDArray[np.bool_]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((r0, r1), (c0, c1)): rows r0..r1-1 and columns c0..c1-1 hold every True pixel."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return (0, mask.shape[0]), (0, mask.shape[1])
    return (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)
