"""Max, average and global average pooling, with their backward passes."""

from __future__ import annotations

from functools import reduce
from typing import NamedTuple

import numpy as np

from ..validate import (
    Array,
    IntPair,
    Window,
    check_array,
    check_dout,
    pool_args,
)
from .conv import pad, tap_view, unpad


class MaxPoolCache(NamedTuple):
    """What ``max_pool2d_backward`` needs: the padded input and the maxima, to find them."""

    xp: np.ndarray             # (N, C, Hp, Wp), padded with -inf
    out: np.ndarray            # (N, C, OH, OW)
    window: Window


class AvgPoolCache(NamedTuple):
    """What ``avg_pool2d_backward`` needs: only shapes."""

    xp_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    dtype: np.dtype
    window: Window


def max_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """Max pooling, like ``torch.nn.functional.max_pool2d``. See ``max_pool2d_forward``."""
    return max_pool2d_forward(x, kernel_size, stride, padding)[0]


def max_pool2d_forward(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
                       padding: IntPair = 0) -> tuple[Array, MaxPoolCache]:
    """Maximum over each (KH, KW) window, per channel.

    out[n, c, i, j] = max_{u, v} xp[n, c, s*i + u, s*j + v], xp padded with -inf.
    Shape: x (N, C, H, W) -> out (N, C, OH, OW).
    kernel_size, stride, padding : int or (h, w) pair; ``stride`` defaults to
    ``kernel_size``; padding is at most half the kernel. Returns (out, cache).
    """
    window, out_hw = pool_args(x, kernel_size, stride, padding)
    xp = pad(x, window.pad4, -np.inf)
    # Separable: the maximum over each window's rows first (whole contiguous image rows,
    # (N, C, OH, Wp)), then over its columns: fewer, longer operations than K*K window slices.
    (KH, KW), (sh, sw) = window.kernel, window.stride
    rows_hw = (out_hw[0], xp.shape[3])
    rows = reduce(np.maximum, (tap_view(xp, u, 0, (sh, 1), rows_hw) for u in range(KH)))
    out = reduce(np.maximum, (tap_view(rows, 0, v, (1, sw), out_hw) for v in range(KW)))
    if KH * KW == 1:
        out = out.copy()  # a 1x1 window's maximum is the input itself: do not alias it
    return out, MaxPoolCache(xp, out, window)


def max_pool2d_backward(dout: Array, cache: MaxPoolCache) -> Array:
    """Backward of max pooling: each window's gradient goes to its maximum.

    Ties: the whole gradient goes to the *first* maximum in row-major order within the
    window, as PyTorch does (the taps are visited in row-major order and a window, once
    routed, takes no more).
    Shape: dout (N, C, OH, OW) -> dx (N, C, H, W).
    """
    xp, out, window = cache
    check_dout(dout, out.shape, out.dtype)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    (KH, KW), stride, out_hw = window.kernel, window.stride, out.shape[2:]
    disjoint = stride[0] >= KH and stride[1] >= KW  # windows do not overlap
    unrouted = np.ones(out.shape, dtype=bool)  # windows whose maximum has not been found yet
    hit = np.empty(out.shape, dtype=bool)
    for u in range(KH):
        for v in range(KW):
            np.equal(tap_view(xp, u, v, stride, out_hw), out, out=hit)
            hit &= unrouted  # only the first maximum of each window
            unrouted ^= hit
            if disjoint:  # each input cell is in one window: write, no need to add
                np.multiply(dout, hit, out=tap_view(dxp, u, v, stride, out_hw))
            else:
                tap_view(dxp, u, v, stride, out_hw)[...] += dout * hit
    return unpad(dxp, window.pad4)


def avg_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """Average pooling, like ``torch.nn.functional.avg_pool2d``. See ``avg_pool2d_forward``."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]


def avg_pool2d_forward(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
                       padding: IntPair = 0) -> tuple[Array, AvgPoolCache]:
    """Mean over each (KH, KW) window, per channel.

    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``).
    Shape: x (N, C, H, W) -> out (N, C, OH, OW). Returns (out, cache).
    """
    window, out_hw = pool_args(x, kernel_size, stride, padding)
    xp = pad(x, window.pad4)
    (KH, KW), stride = window.kernel, window.stride
    out = tap_view(xp, 0, 0, stride, out_hw).copy()
    for u in range(KH):
        for v in range(KW):
            if u or v:
                out += tap_view(xp, u, v, stride, out_hw)
    out /= KH * KW
    return out, AvgPoolCache(xp.shape, out.shape, x.dtype, window)


def avg_pool2d_backward(dout: Array, cache: AvgPoolCache) -> Array:
    """Backward of average pooling: each window spreads dout / (KH*KW) over its cells.

    Shape: dout (N, C, OH, OW) -> dx (N, C, H, W).
    """
    xp_shape, out_shape, dtype, window = cache
    check_dout(dout, out_shape, dtype)
    (KH, KW), stride = window.kernel, window.stride
    share = dout / (KH * KW)
    dxp = np.zeros(xp_shape, dtype=dtype)
    for u in range(KH):
        for v in range(KW):
            tap_view(dxp, u, v, stride, out_shape[2:])[...] += share
    return unpad(dxp, window.pad4)


class ShapeCache(NamedTuple):
    """All that a backward needs when it only reshapes or spreads: the input's shape."""

    shape: tuple[int, ...]
    dtype: np.dtype


def global_avg_pool2d(x: Array) -> Array:
    """Mean of every channel over all positions, (N, C, H, W) -> (N, C): like
    ``torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)``. See the forward below."""
    return global_avg_pool2d_forward(x)[0]


def global_avg_pool2d_forward(x: Array) -> tuple[Array, ShapeCache]:
    """Global average pooling: one number per channel, the mean of its H*W values.

    out[n, c] = 1 / (H W) * sum_{i, j} x[n, c, i, j]

    It replaces a network's flatten + large dense layers: the classifier after it sees C
    numbers whatever the image size, and the layer itself has no parameters.
    x : (N, C, H, W). Returns out (N, C) and a cache for ``global_avg_pool2d_backward``.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)")
    return x.mean(axis=(2, 3)), ShapeCache(x.shape, x.dtype)


def global_avg_pool2d_backward(dout: Array, cache: ShapeCache) -> Array:
    """Backward of global average pooling: every position gets an equal share.

    d out[n, c] / d x[n, c, i, j] = 1 / (H W), so dx[n, c, i, j] = dout[n, c] / (H W).
    dout : (N, C). Returns dx (N, C, H, W).
    """
    x_shape, dtype = cache
    check_dout(dout, x_shape[:2], dtype)
    share = dout / (x_shape[2] * x_shape[3])
    return np.ascontiguousarray(np.broadcast_to(share[:, :, None, None], x_shape))
