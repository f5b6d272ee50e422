"""Readable loop versions of conv and pooling: the code the lessons explain.

Same signatures and results as ``course_lib.functional`` (the tests check it), written
one output cell at a time so every line matches the math. They are about a hundred
times slower (see ``benchmarks/``); the layers use the fast versions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .functional import AvgPoolCache, MaxPoolCache, pad, unpad
from .validate import (
    Array,
    IntPair,
    Padding,
    Window,
    check_dout,
    conv_args,
    pool_args,
)

__all__ = [
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
]


class ConvLoopCache(NamedTuple):
    """What this module's ``conv2d_backward`` needs from its ``conv2d_forward``."""

    xp: np.ndarray             # (N, C, Hp, Wp), the padded input
    weight: np.ndarray         # (F, C, KH, KW)
    window: Window
    out_hw: tuple[int, int]
    has_bias: bool


def _patch(xp, n, i, j, window: Window):
    """The (C, KH, KW) window of padded image ``n`` that produces output cell (i, j)."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, left = i * sh, j * sw
    return xp[n, :, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]


def conv2d(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
           padding: Padding = 0, dilation: IntPair = 1) -> Array:
    """Loop version of ``course_lib.functional.conv2d``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
                   padding: Padding = 0, dilation: IntPair = 1) -> tuple[Array, ConvLoopCache]:
    """out[n, f, i, j] = bias[f] + sum(window(n, i, j) * weight[f]), one cell at a time.

    x: (N, C, H, W); weight: (F, C, KH, KW); bias: (F,) or None. Returns (out, cache).
    """
    window, (OH, OW) = conv_args(x, weight, bias, stride, padding, dilation)
    N, F = x.shape[0], weight.shape[0]
    xp = pad(x, window.pad4)
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    out[n, f, i, j] = np.sum(_patch(xp, n, i, j, window) * weight[f])
            if bias is not None:
                out[n, f] += bias[f]
    return out, ConvLoopCache(xp, weight, window, (OH, OW), bias is not None)


def conv2d_backward(dout: Array, cache: ConvLoopCache, input_grad: bool = True
                    ) -> tuple[Array | None, Array, Array | None]:
    """Each output cell sent its gradient back along the products that made it:

    dweight[f] += dout[n, f, i, j] * window(n, i, j)
    dx[window(n, i, j)] += dout[n, f, i, j] * weight[f]
    dbias[f] += dout[n, f, i, j]

    input_grad=False skips dx (returned as None).
    Returns (dx (N, C, H, W), dweight (F, C, KH, KW), dbias (F,) or None).
    """
    xp, weight, window, (OH, OW), has_bias = cache
    N, F = xp.shape[0], weight.shape[0]
    check_dout(dout, (N, F, OH, OW), xp.dtype)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    dweight[f] += dout[n, f, i, j] * _patch(xp, n, i, j, window)
                    _patch(dxp, n, i, j, window)[...] += dout[n, f, i, j] * weight[f]
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return (unpad(dxp, window.pad4) if input_grad else None), dweight, dbias


def max_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """Loop version of ``course_lib.functional.max_pool2d``."""
    return max_pool2d_forward(x, kernel_size, stride, padding)[0]


def max_pool2d_forward(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
                       padding: IntPair = 0) -> tuple[Array, MaxPoolCache]:
    """out[n, c, i, j] = max of the (KH, KW) window of channel c; padding is -inf.

    x: (N, C, H, W). Returns (out (N, C, OH, OW), cache).
    """
    window, (OH, OW) = pool_args(x, kernel_size, stride, padding)
    xp = pad(x, window.pad4, -np.inf)
    N, C = x.shape[:2]
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                out[n, :, i, j] = _patch(xp, n, i, j, window).max(axis=(1, 2))
    return out, MaxPoolCache(xp, out, window)


def max_pool2d_backward(dout: Array, cache: MaxPoolCache) -> Array:
    """The gradient of a window goes to its maximum only; on ties to the first maximum in
    row-major order (``np.argmax`` returns the first), as PyTorch does. Returns dx."""
    xp, out, window = cache
    N, C, OH, OW = out.shape
    check_dout(dout, out.shape, xp.dtype)
    dxp = np.zeros_like(xp)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    patch = _patch(xp, n, i, j, window)[c]
                    u, v = np.unravel_index(np.argmax(patch), patch.shape)
                    _patch(dxp, n, i, j, window)[c, u, v] += dout[n, c, i, j]
    return unpad(dxp, window.pad4)


def avg_pool2d(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Array:
    """Loop version of ``course_lib.functional.avg_pool2d``."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]


def avg_pool2d_forward(x: Array, kernel_size: IntPair, stride: IntPair | None = None,
                       padding: IntPair = 0) -> tuple[Array, AvgPoolCache]:
    """out[n, c, i, j] = mean of the (KH, KW) window (zero padding counts, as in PyTorch).

    x: (N, C, H, W). Returns (out (N, C, OH, OW), cache).
    """
    window, (OH, OW) = pool_args(x, kernel_size, stride, padding)
    xp = pad(x, window.pad4)
    N, C = x.shape[:2]
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                out[n, :, i, j] = _patch(xp, n, i, j, window).mean(axis=(1, 2))
    return out, AvgPoolCache(xp.shape, out.shape, x.dtype, window)


def avg_pool2d_backward(dout: Array, cache: AvgPoolCache) -> Array:
    """Every cell of a window gets dout / (KH * KW). Returns dx (N, C, H, W)."""
    xp_shape, out_shape, dtype, window = cache
    N, C, OH, OW = out_shape
    check_dout(dout, out_shape, dtype)
    dxp = np.zeros(xp_shape, dtype=dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                share = dout[n, :, i, j] / (window.kernel[0] * window.kernel[1])  # (C,)
                _patch(dxp, n, i, j, window)[...] += share[:, None, None]
    return unpad(dxp, window.pad4)
