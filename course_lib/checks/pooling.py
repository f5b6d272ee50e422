"""Checks for the lesson "Pooling": ``max_pool2d_forward`` and ``avg_pool2d_forward``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import functional as F
from ._engine import Case, Mistake, Spec, make_check, randn
from .convolution import LOWER_PRECISION, lower_precision

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("max_pool2d_forward", "avg_pool2d_forward")


def pool_loop(x: npt.NDArray[np.floating], kernel_size: int, stride: int,
              reduce: Callable[..., Any], ceil_mode: bool = False) -> npt.NDArray[np.floating]:
    """Pooling written as loops, optionally keeping partial windows at the border (ceil mode)."""
    k, s = kernel_size, stride
    n, c, h, w = x.shape

    def size(length):
        return -(-(length - k) // s) + 1 if ceil_mode else (length - k) // s + 1

    out = np.empty((n, c, size(h), size(w)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def _pool_cases(rng):
    def case(label, shape, k, s, dtype=np.float64, negative=False):
        x = randn(rng, *shape, dtype=dtype)
        if negative:  # below -0.5 whatever the seed, but in one map (so 0s are not constant)
            x = -np.abs(x) - dtype(0.5)
            x[0, 0] *= -1
        return Case(label, x=x, kernel_size=k, stride=s)
    return [
        case("2 x 2 windows, stride 2, on 4 x 4 maps", (2, 3, 4, 4), 2, 2),
        case("stride 2 that does not divide a 5 x 7 map (the last row and column are dropped)",
             (1, 2, 5, 7), 2, 2),
        case("overlapping 3 x 3 windows, stride 2", (2, 2, 5, 6), 3, 2),
        case("2 x 2 windows, stride 1", (1, 3, 4, 5), 2, 1),
        case("all values negative, except in the first map", (2, 2, 4, 6), 2, 2,
             negative=True),
        case("batch 1, float32, 3 x 3 windows, stride 3", (1, 2, 6, 9), 3, 3, np.float32),
    ]


def _pooled_over(ref, reduce, axes):
    """Every window reduced over ``axes`` too (channels, or batch and channels)."""
    return np.broadcast_to(reduce(ref, axis=axes, keepdims=True), ref.shape)


def _shape_hint(a):
    n, c, h, w = a.x.shape
    k, s = a.kernel_size, a.stride
    return (f"Each side has (size - kernel_size) // stride + 1 windows: (N, C, OH, OW) = "
            f"({n}, {c}, {(h - k) // s + 1}, {(w - k) // s + 1}).")


def _common(reduce, name):
    """Mistakes that max and average pooling share."""
    return [
        Mistake("The stride is ignored: window (i, j) starts at row `i * stride`, column "
                "`j * stride`.",
                lambda a, ref: pool_loop(a.x, a.kernel_size, 1, reduce)),
        Mistake("You used kernel_size as the stride: use the `stride` argument.",
                lambda a, ref: pool_loop(a.x, a.kernel_size, a.kernel_size, reduce)),
        Mistake("You kept the partial windows at the border; like PyTorch (ceil_mode=False), "
                "drop a window that does not fit: OH = (H - kernel_size) // stride + 1.",
                lambda a, ref: pool_loop(a.x, a.kernel_size, a.stride, reduce, ceil_mode=True)),
        Mistake("The output is one row and one column too small: "
                "OH = (H - kernel_size) // stride + 1.", lambda a, ref: ref[..., :-1, :-1]),
        Mistake(f"You took the {name} over all channels at once: pool each channel separately "
                f"(reduce over the window axes only, `axis=(2, 3)` of the window).",
                lambda a, ref: _pooled_over(ref, reduce, 1)),
        Mistake(f"You took the {name} over the whole batch and all channels at once: pool "
                f"each image and channel separately (`axis=(2, 3)` of the window, e.g. "
                f"`window.{name[:3] if name == 'maximum' else name}(axis=(2, 3))`).",
                lambda a, ref: _pooled_over(ref, reduce, (0, 1))),
        Mistake("Your output is in NHWC order (N, OH, OW, C); the course uses NCHW.",
                lambda a, ref: ref.transpose(0, 2, 3, 1)),
        Mistake(LOWER_PRECISION, test=lambda a, actual, ref: lower_precision(a, actual, ref)),
    ]


# course_lib's pooling, switched off while grading (see Spec.implementations). The layers keep
# their forward (fast_pool's for max pooling) as a class attribute too (``_forward``), so it
# is named as well.
MAX_IMPLEMENTATIONS = ("functional.max_pool2d", "functional.pooling.max_pool2d",
                       "functional.max_pool2d_forward", "functional.pooling.max_pool2d_forward",
                       "readable.max_pool2d", "readable.max_pool2d_forward",
                       "layers.MaxPool2d.forward", "layers.MaxPool2d._forward",
                       "layers._Pool2d.forward", "fast_pool.max_pool2d_forward")
AVG_IMPLEMENTATIONS = ("functional.avg_pool2d", "functional.pooling.avg_pool2d",
                       "functional.avg_pool2d_forward", "functional.pooling.avg_pool2d_forward",
                       "readable.avg_pool2d", "readable.avg_pool2d_forward",
                       "layers.AvgPool2d.forward", "layers.AvgPool2d._forward",
                       "layers._Pool2d.forward")

MAX_POOL2D_FORWARD = Spec(
    name="max_pool2d_forward",
    reference=lambda x, kernel_size, stride: F.max_pool2d(x, kernel_size, stride),
    cases=_pool_cases,
    mistakes=[
        Mistake("This is average pooling: take the maximum of each window (`.max()`).",
                lambda a, ref: F.avg_pool2d(a.x, a.kernel_size, a.stride)),
        Mistake("Your maximum starts at 0, so a window of negative values gives 0: start from "
                "the window's first value, or `-np.inf`, or use `window.max()`.",
                lambda a, ref: np.maximum(ref, 0)),
        Mistake("You took the minimum of each window: use the maximum.",
                lambda a, ref: -F.max_pool2d(-a.x, a.kernel_size, a.stride)),
        *_common(np.max, "maximum"),
    ],
    shape_hint=_shape_hint,
    implementations=MAX_IMPLEMENTATIONS,
)

AVG_POOL2D_FORWARD = Spec(
    name="avg_pool2d_forward",
    reference=lambda x, kernel_size, stride: F.avg_pool2d(x, kernel_size, stride),
    cases=_pool_cases,
    mistakes=[
        Mistake("You summed each window: divide by the number of values, "
                "kernel_size * kernel_size (or use `.mean()`).",
                lambda a, ref: ref * a.kernel_size ** 2),
        Mistake("You divided by kernel_size; a window holds kernel_size * kernel_size values.",
                lambda a, ref: ref * a.kernel_size),
        Mistake("This is max pooling: take the mean of each window.",
                lambda a, ref: F.max_pool2d(a.x, a.kernel_size, a.stride)),
        *_common(np.mean, "mean"),
    ],
    shape_hint=_shape_hint,
    implementations=AVG_IMPLEMENTATIONS,
)


check_max_pool2d_forward = make_check(MAX_POOL2D_FORWARD)
check_avg_pool2d_forward = make_check(AVG_POOL2D_FORWARD)

__all__ = [f"check_{name}" for name in GRADED]
