"""Pooling for the layers: ``functional``'s ops, on parts of the batch on two threads.

``functional.max_pool2d_forward`` / ``avg_pool2d_forward`` and their backward passes (the
versions to read) run on parts of the batch shared by two threads (``course_lib.parallel``),
the parts written into one fresh result: the same numbers, on two cores. With one thread
(the default) or a small batch these are exactly ``functional``'s calls.

    out, cache = split_forward(F.max_pool2d_forward, x, 2)
    dx = split_backward(F.max_pool2d_backward, dout, cache)

``max_pool2d_forward`` / ``max_pool2d_backward`` here are ``functional``'s max pooling with
one trick for windows that tile the input (stride = kernel, no padding: LeNet's 2x2 pools):
the forward records where each maximum is, separably (the column within each window row,
then the row), so that the backward routes the gradient with a few long operations instead
of four compare-and-mask passes per tap over short strided rows. Same numbers and the same
tie rule (the first maximum in row-major order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import functional as F
from .parallel import split, splits
from .validate import Array, IntPair, check_dout, pool_args

__all__ = ["split_forward", "split_backward", "SplitCache", "TileCache", "max_pool2d_forward",
           "max_pool2d_backward"]


class SplitCache(NamedTuple):
    """The op's cache for each part of the batch: ((start, stop, cache), ...)."""

    parts: tuple[tuple[int, int, Any], ...]
    x_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    dtype: np.dtype


def split_forward(forward: Callable[..., tuple[Array, Any]], x: Array, kernel_size: IntPair,
                  stride: IntPair | None = None, padding: IntPair = 0
                  ) -> tuple[Array, Any]:
    """``forward(x, kernel_size, stride, padding)`` (a ``functional`` pooling forward) on
    each part of the batch. Shape: x (N, C, H, W) -> out (N, C, OH, OW), fresh.
    Returns (out, SplitCache), or ``forward``'s own result when the batch is not split."""
    if not (isinstance(x, np.ndarray) and x.ndim == 4 and splits(len(x), x.size)):
        return forward(x, kernel_size, stride, padding)  # which checks the arguments
    _, out_hw = pool_args(x, kernel_size, stride, padding)
    N, C = x.shape[:2]
    out = np.empty((N, C) + out_hw, dtype=x.dtype)
    parts: dict[int, tuple[int, int, Any]] = {}

    def part(a, b):
        out[a:b], cache = forward(x[a:b], kernel_size, stride, padding)
        parts[a] = (a, b, cache)

    split(part, N, x.size)
    return out, SplitCache(tuple(parts[a] for a in sorted(parts)), x.shape, out.shape,
                           x.dtype)


def split_backward(backward: Callable[[Array, Any], Array], dout: Array, cache: Any) -> Array:
    """``backward(dout, cache)`` (the matching ``functional`` backward) for a
    ``split_forward`` cache: dout (N, C, OH, OW) -> dx (N, C, H, W), fresh."""
    if not isinstance(cache, SplitCache):
        return backward(dout, cache)
    parts, x_shape, out_shape, dtype = cache
    check_dout(dout, out_shape, dtype)
    dx = np.empty(x_shape, dtype=dtype)

    def run(i, j):
        for a, b, part in parts[i:j]:
            dx[a:b] = backward(dout[a:b], part)

    split(run, len(parts), dx.size)
    return dx


class TileCache(NamedTuple):
    """What ``max_pool2d_backward`` needs when the windows tile the input: where each
    maximum is (indices of the first maximum, so ties go where ``functional`` sends them)."""

    x_shape: tuple[int, int, int, int]
    row: np.ndarray            # (N, C, OH, OW) unsigned: the window row holding the maximum
    col: np.ndarray            # (N, C, OH*KH, OW) unsigned: each window row's maximum's column
    kernel: tuple[int, int]
    dtype: np.dtype


def max_pool2d_forward(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
                       padding: IntPair = 0) -> tuple[Array, Any]:
    """``functional.max_pool2d_forward``, same arguments and numbers; for windows that tile
    the input (stride = kernel_size, no padding) the cache is a ``TileCache``.

    Shape: x (N, C, H, W) -> out (N, C, OH, OW), fresh. Returns (out, cache).
    """
    window, (OH, OW) = pool_args(x, kernel_size, stride, padding)
    if window.stride != window.kernel or any(window.pad4):
        return F.max_pool2d_forward(x, kernel_size, stride, padding)
    KH, KW = window.kernel
    tiled = x[:, :, :OH * KH, :OW * KW]             # rows and columns beyond the last window
    row_max, col = _first_max([tiled[..., v::KW] for v in range(KW)])  # (N, C, OH*KH, OW)
    out, row = _first_max([row_max[:, :, u::KH] for u in range(KH)])   # (N, C, OH, OW)
    return out, TileCache(x.shape, row, col, window.kernel, x.dtype)


def max_pool2d_backward(dout: Array, cache: Any) -> Array:
    """``functional.max_pool2d_backward`` for a cache from ``max_pool2d_forward`` above.

    Shape: dout (N, C, OH, OW) -> dx (N, C, H, W), fresh.
    """
    if not isinstance(cache, TileCache):
        return F.max_pool2d_backward(dout, cache)
    x_shape, row, col, (KH, KW), dtype = cache
    check_dout(dout, row.shape, dtype)
    OH, OW = row.shape[2:]
    d_rows = np.empty(col.shape, dtype=dtype)       # the gradient of each window row's maximum
    for u in range(KH):
        np.multiply(dout, row == u, out=d_rows[:, :, u::KH])
    dx = np.empty(x_shape, dtype=dtype)
    dx[:, :, OH * KH:] = 0                          # cells in no window
    dx[:, :, :, OW * KW:] = 0
    for v in range(KW):
        np.multiply(d_rows, col == v, out=dx[:, :, :OH * KH, v:OW * KW:KW])
    return dx


def _first_max(views: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The elementwise maximum of same-shaped arrays (fresh) and the index of the first
    array that holds it (unsigned, as small a type as fits)."""
    dtype = np.min_scalar_type(len(views) - 1)
    best, index = views[0], np.zeros(views[0].shape, dtype=dtype)
    for k, view in enumerate(views[1:], 1):
        better = np.greater(view, best).view(np.uint8)
        # k exceeds every earlier index: where view beats the best so far, the maximum is k
        index = better.astype(dtype, copy=False) if k == 1 else np.maximum(
            index, better * dtype.type(k))
        best = np.maximum(best, view)
    return (best.copy() if len(views) == 1 else best), index
