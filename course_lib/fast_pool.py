"""Pooling for the layers: ``functional``'s ops, on parts of the batch on two threads.

``functional.max_pool2d_forward`` / ``avg_pool2d_forward`` and their backward passes (the
versions to read) run on parts of the batch shared by two threads (``course_lib.parallel``),
the parts written into one fresh result: the same numbers, on two cores. With one thread
(the default) or a small batch these are exactly ``functional``'s calls.

    out, cache = split_forward(F.max_pool2d_forward, x, 2)
    dx = split_backward(F.max_pool2d_backward, dout, cache)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .parallel import split, splits
from .validate import Array, IntPair, check_dout, pool_args

__all__ = ["split_forward", "split_backward", "SplitCache"]


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
    _, out_hw = pool_args(x, kernel_size, stride, padding)
    N, C = x.shape[:2]
    if not splits(N, x.size):
        return forward(x, kernel_size, stride, padding)
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
