"""The last factor of two: conv2d with the tricks that ``functional.conv2d`` leaves out.

``course_lib.functional.conv2d_forward`` / ``conv2d_backward`` are the version to read: one
im2col, one matmul. This module computes the same numbers (the tests force every branch
below and compare) and is what ``layers.Conv2d`` uses. What it adds, each where it pays off
(lesson 09, "the last 2x"; measured in ``benchmarks/README.md``):

1. **Per-image products.** For outputs of at least ``PER_IMAGE_MIN_PIXELS`` pixels, one
   (F, K) @ (K, OH*OW) product per image lands straight in (N, F, OH, OW) order; the
   batch-wide product needs a copy to get there. Small outputs stay batch-wide: products
   that small are too small for BLAS to run fast.
2. **im2col rows ordered (kh, kw, c)** with the batch second: each kernel tap fills one
   contiguous (C, N, OH, OW) block in a single copy.
3. **Matching memory order in col2im**: the scatter-adds run faster when dx and dcols are
   laid out alike (channel-major for the batch-wide product).
4. **The stride-1 col2im**: with short output rows (LeNet's 10-wide maps) each tap's
   scatter becomes one add of a long contiguous run instead of OH short rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .functional.conv import pad, padded_shape, tap_view, unpad
from .validate import (
    Array,
    IntPair,
    Padding,
    Window,
    check_dout,
    conv_args,
)

__all__ = ["conv2d", "conv2d_forward", "conv2d_backward", "FastConvCache",
           "PER_IMAGE_MIN_PIXELS", "SHORT_ROW_MAX_WIDTH"]

PER_IMAGE_MIN_PIXELS = 256  # per-image products from this many output pixels (trick 1)
SHORT_ROW_MAX_WIDTH = 16    # the stride-1 col2im up to this output width (trick 4)


class FastConvCache(NamedTuple):
    """What ``conv2d_backward`` needs from this module's ``conv2d_forward``."""

    x_shape: tuple[int, int, int, int]
    weight: np.ndarray         # (F, C, KH, KW)
    w_rows: np.ndarray         # (F, KH*KW*C): weight with rows ordered (kh, kw, c)
    cols: np.ndarray           # (KH*KW*C, N, OH*OW)
    window: Window
    out_hw: tuple[int, int]
    has_bias: bool
    per_image: bool            # one product per image (trick 1)?


def conv2d(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
           padding: Padding = 0, dilation: IntPair = 1) -> Array:
    """``functional.conv2d``, faster. See ``conv2d_forward``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
                   padding: Padding = 0, dilation: IntPair = 1) -> tuple[Array, FastConvCache]:
    """``functional.conv2d_forward`` with tricks 1 and 2; same arguments, same result.

    Shape: x (N, C, H, W), weight (F, C, KH, KW), bias (F,) or None -> out (N, F, OH, OW).
    Returns (out, FastConvCache).
    """
    window, out_hw = conv_args(x, weight, bias, stride, padding, dilation)
    N, C = x.shape[:2]
    F, _, KH, KW = weight.shape
    (dh, dw), s = window.dilation, window.stride
    xt = pad(x, window.pad4).transpose(1, 0, 2, 3)          # (C, N, Hp, Wp), a view
    cols = np.empty((KH, KW, C, N) + out_hw, dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            cols[u, v] = tap_view(xt, dh * u, dw * v, s, out_hw)
    cols = cols.reshape(KH * KW * C, N, -1)                 # (KH*KW*C, N, OH*OW)
    w_rows = weight.transpose(0, 2, 3, 1).reshape(F, -1)    # (F, KH*KW*C), same row order
    per_image = out_hw[0] * out_hw[1] >= PER_IMAGE_MIN_PIXELS
    if per_image:
        out = np.matmul(w_rows, cols.transpose(1, 0, 2))    # (N, F, OH*OW), NCHW already
    else:
        out = _batch_to_nchw(w_rows @ cols.reshape(len(cols), -1), N)
    if bias is not None:
        out += bias[:, None]
    cache = FastConvCache(x.shape, weight, w_rows, cols, window, out_hw, bias is not None,
                          per_image)
    return out.reshape((N, F) + out_hw), cache


def conv2d_backward(dout: Array, cache: FastConvCache, input_grad: bool = True
                    ) -> tuple[Array | None, Array, Array | None]:
    """``functional.conv2d_backward`` with tricks 1, 3 and 4; same result.

    Shape: dout (N, F, OH, OW) -> dx (N, C, H, W) or None (``input_grad=False``),
    dweight (F, C, KH, KW), dbias (F,) or None.
    """
    x_shape, weight, w_rows, cols, window, out_hw, has_bias, per_image = cache
    N, C = x_shape[:2]
    F, _, KH, KW = weight.shape
    check_dout(dout, (N, F) + out_hw, weight.dtype)
    if per_image:  # dW = sum_n dout_n @ cols_n.T
        dw_rows = np.matmul(dout.reshape(N, F, -1), cols.transpose(1, 2, 0)).sum(axis=0)
    else:          # one product; (cols @ dout.T).T is faster than dout @ cols.T in OpenBLAS
        dout_t = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, -1)
        dw_rows = (cols.reshape(len(cols), -1) @ dout_t.T).T
    dweight = np.ascontiguousarray(dw_rows.reshape(F, KH, KW, C).transpose(0, 3, 1, 2))
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    if not input_grad:
        return None, dweight, dbias
    short_rows = window.stride == (1, 1) and out_hw[1] <= SHORT_ROW_MAX_WIDTH
    dxp = (_col2im_stride1 if short_rows else _col2im)(dout, cache)
    dx = unpad(dxp, window.pad4)
    if not per_image:  # dxp was channel-major in memory: back to NCHW
        dx = np.ascontiguousarray(dx)
    return dx, dweight, dbias


def _batch_to_nchw(a, n):
    """(A, N*P) with columns ordered (n, p) -> contiguous (N, A, P)."""
    return np.ascontiguousarray(a.reshape(len(a), n, -1).transpose(1, 0, 2))


def _wt_times(w_rows, d, per_image):
    """W.T @ d_n for every image: d (N, F, A, B) -> dcols (N, KH*KW*C, A*B), maybe a view."""
    N, F = d.shape[:2]
    if per_image:
        return np.matmul(w_rows.T, d.reshape(N, F, -1))
    d_t = np.ascontiguousarray(d.transpose(1, 0, 2, 3)).reshape(F, -1)
    return (w_rows.T @ d_t).reshape(w_rows.shape[1], N, -1).transpose(1, 0, 2)


def _zeros_like_dcols(shape, per_image, dtype):
    """Zeros of shape (N, C, ...) laid out in memory like ``_wt_times``' result (trick 3):
    NCHW per image, channel-major (C, N, ...) for the batch-wide product."""
    if per_image:
        return np.zeros(shape, dtype)
    return np.zeros((shape[1], shape[0]) + shape[2:], dtype).swapaxes(0, 1)


def _col2im(dout, cache: FastConvCache):
    """dx of the padded input: dcols = W.T @ dout, added back with one slice-add per tap."""
    x_shape, weight, w_rows, _, window, out_hw, _, per_image = cache
    N, C = x_shape[:2]
    KH, KW = window.kernel
    dcols = _wt_times(w_rows, dout, per_image).reshape((N, KH, KW, C) + out_hw)
    dxp = _zeros_like_dcols(padded_shape(x_shape, window.pad4), per_image, dout.dtype)
    (dh, dw), s = window.dilation, window.stride
    for u in range(KH):
        for v in range(KW):
            tap_view(dxp, dh * u, dw * v, s, out_hw)[...] += dcols[:, u, v]
    return dxp


def _col2im_stride1(dout, cache: FastConvCache):
    """``_col2im`` for stride 1 and short output rows (trick 4).

    Flatten the padded image to rows of Wp: tap (u, v) then moves every output cell by the
    same offset u*dh*Wp + v*dw. Spread dout over an output grid as wide as the input (zeros
    in the extra columns, which feed nothing), and each tap's scatter is one add of a long
    contiguous run instead of OH short rows.
    """
    x_shape, weight, w_rows, _, window, (OH, OW), _, per_image = cache
    N, C = x_shape[:2]
    F = weight.shape[0]
    (KH, KW), (dh, dw) = window.kernel, window.dilation
    xp_shape = padded_shape(x_shape, window.pad4)
    Hp, Wp = xp_shape[2:]
    wide = np.zeros((N, F, OH, Wp), dtype=dout.dtype)
    wide[..., :OW] = dout
    dcols = _wt_times(w_rows, wide, per_image).reshape(N, KH, KW, C, OH * Wp)
    dxp = _zeros_like_dcols((N, C, Hp * Wp + (KW - 1) * dw), per_image, dout.dtype)
    for u in range(KH):
        for v in range(KW):
            start = u * dh * Wp + v * dw
            dxp[:, :, start:start + OH * Wp] += dcols[:, u, v]
    return dxp[:, :, :Hp * Wp].reshape(xp_shape)
