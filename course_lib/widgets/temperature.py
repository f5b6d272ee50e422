"""``TemperatureExplorer``: softmax(z / T) and its entropy as the temperature T moves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import ipywidgets
import numpy as np
import numpy.typing as npt

from .. import functional as F
from ..validate import check_array, check_real
from ..viz_style import BLUE, FONT_LABEL, FONT_SMALL, ORANGE
from ._base import Explorer, fmt
from .drawing import set_title

__all__ = ["TemperatureExplorer", "softmax_with_temperature"]

LOG10_T_RANGE = (-2.0, 2.0)  # the slider spans T = 0.01 ... 100


def softmax_with_temperature(logits: npt.NDArray[np.floating], temperature: float
                             ) -> tuple[npt.NDArray[np.floating], float]:
    """Probabilities softmax(z / T) and their entropy in nats, with the library's ops.

    Computed in float64 through ``log_softmax``, so both stay finite for any finite
    logits and T > 0: H = -sum p log p, with 0 log 0 = 0. Returns (p (K,), H).
    """
    z = logits.astype(np.float64) / float(temperature)
    logp = F.log_softmax(z)
    p = F.softmax(z)
    return p, float(-(p * logp).sum())


class TemperatureExplorer(Explorer):
    """A temperature slider over softmax probabilities.

    Parameters
    ----------
    logits : (K,) float array, K >= 2 (a network's scores for one input).
    labels : K class names (default '0' ... 'K-1').
    temperature : initial T > 0.

    Controls: ``temperature`` (FloatLogSlider, 0.01 to 100).

    State: ``temperature``, ``probs`` (K,) float64 summing to 1, ``entropy`` (nats).
    """

    figsize = (10.0, 4.0)

    deck_control = "temperature"

    def __init__(self, logits: npt.NDArray[np.floating], labels: Sequence[object] | None = None,
                 temperature: float = 1.0) -> None:
        check_array(logits, "logits", 1, axis_names="(num_classes,)")
        if logits.shape[0] < 2:
            raise ValueError(f"logits must have at least 2 classes, got shape {logits.shape}")
        self.logits = logits
        K = logits.shape[0]
        if labels is None:
            labels = [str(k) for k in range(K)]
        if isinstance(labels, str) or len(labels) != K:
            raise ValueError(f"labels must be a sequence of {K} names (one per logit), "
                             f"got {labels!r}")
        self.labels = [str(label) for label in labels]
        temperature = check_real(temperature, "temperature", minimum=10 ** LOG10_T_RANGE[0],
                                 maximum=10 ** LOG10_T_RANGE[1])
        slider = ipywidgets.FloatLogSlider(
            value=temperature, base=10, min=LOG10_T_RANGE[0], max=LOG10_T_RANGE[1], step=0.01,
            description="temperature", readout_format=".3g")
        self._init_view({"temperature": slider})

    @classmethod
    def demo(cls) -> Self:
        """Ten classes' logits, seeded, at T = 1."""
        return cls(np.random.default_rng(0).standard_normal(10) * 3)

    @property
    def temperature(self) -> float:
        return float(self.controls["temperature"].value)

    def _compute(self) -> None:
        T = self.temperature
        self.probs, self.entropy = softmax_with_temperature(self.logits, T)
        K = len(self.labels)
        top = int(np.argmax(self.probs))
        listing = ", ".join(f"{name}: {p:.3f}" for name, p in zip(self.labels, self.probs,
                                                                  strict=True))
        self.readout = (
            f"T = {T:.3g}: p = softmax(z / T), sum = {self.probs.sum():.6f}\n"
            f"p = [{listing}]\n"
            f"entropy H = −Σ p log p = {fmt(self.entropy)} nats "
            f"(0 = certain, log {K} = {np.log(K):.3f} = uniform)\n"
            f"most likely: {self.labels[top]} with p = {self.probs[top]:.3f}; "
            "T < 1 sharpens, T > 1 flattens, T = 1 is the plain softmax")

    def _build(self) -> None:
        ax_p, ax_h = self.fig.subplots(1, 2, width_ratios=[1.4, 1])
        K = len(self.labels)
        self._bars = ax_p.bar(range(K), np.zeros(K), color=BLUE)
        ax_p.set_xticks(range(K), self.labels, rotation=45 if K > 10 else 0)
        ax_p.set_ylim(0, 1.02)
        ax_p.set_xlabel("class", fontsize=FONT_LABEL)
        ax_p.set_ylabel("probability", fontsize=FONT_LABEL)
        ax_p.tick_params(labelsize=FONT_SMALL)
        self._ax_p = ax_p
        temps = np.logspace(*LOG10_T_RANGE, 200)
        curve = [softmax_with_temperature(self.logits, t)[1] for t in temps]
        ax_h.plot(temps, curve, color=BLUE)
        ax_h.axhline(np.log(K), color="gray", linestyle="--", linewidth=1)
        ax_h.text(temps[0], np.log(K), " uniform: log K", va="bottom", fontsize=FONT_SMALL)
        ax_h.set_xscale("log")
        ax_h.set_ylim(-0.05 * np.log(K), 1.1 * np.log(K))
        ax_h.set_xlabel("temperature T (log scale)", fontsize=FONT_LABEL)
        ax_h.set_ylabel("entropy H (nats)", fontsize=FONT_LABEL)
        ax_h.tick_params(labelsize=FONT_SMALL)
        set_title(ax_h, "entropy grows with T")
        (self._marker,) = ax_h.plot([], [], "o", color=ORANGE, markeredgecolor="black",
                                    markersize=8)
        self._dyn(*self._bars.patches, self._marker, ax_p.title)

    def _draw(self) -> None:
        top = int(np.argmax(self.probs))
        for k, (bar, p) in enumerate(zip(self._bars.patches, self.probs, strict=True)):
            bar.set_height(p)
            bar.set_color(ORANGE if k == top else BLUE)
        set_title(self._ax_p, f"softmax(z / T) at T = {self.temperature:.3g}")
        self._marker.set_data([self.temperature], [self.entropy])

    def _describe(self) -> str:
        return f"classes={len(self.labels)}, temperature={self.temperature:.3g}"
