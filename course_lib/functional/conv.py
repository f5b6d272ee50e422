"""Padding, im2col and the convolution: the batch-wide version lesson 09 explains.

One im2col builds every window of the batch as a column; one matmul with the flattened
weights computes the whole output; the backward pass is two more matmuls and a col2im.
``course_lib.fast_conv`` computes the same with the tricks that buy the last factor of two.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validate import (
    Array,
    IntPair,
    Padding,
    Window,
    check_array,
    check_dout,
    conv_args,
    padding4,
)


def pad2d(x: Array, padding: int | tuple[int, ...], value: float = 0.0) -> Array:
    """Pad the H and W axes of ``x``: (N, C, H, W) -> (N, C, H+top+bottom, W+left+right).

    padding: int (every side), (ph, pw) (ph above and below, pw left and right) or
    (left, right, top, bottom) in ``torch.nn.functional.pad``'s order.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)", finite=False)
    return pad(x, padding4(padding), value)


def pad(x: Array, pad4: tuple[int, int, int, int], value: float = 0.0) -> Array:
    """``pad2d`` without the checks, for the ops: pad4 is (top, bottom, left, right), as in
    ``Window.pad4``. Returns x itself when pad4 is all zeros."""
    top, bottom, left, right = pad4
    if not any(pad4):
        return x
    N, C, H, W = x.shape
    out = np.full((N, C, H + top + bottom, W + left + right), value, dtype=x.dtype)
    out[:, :, top:top + H, left:left + W] = x
    return out


def unpad(xp: Array, pad4: tuple[int, int, int, int]) -> Array:
    """The inverse of ``pad``: the view of (N, C, Hp, Wp) without its (top, bottom, left,
    right) border. A backward pass uses it to drop the gradient of the padding."""
    top, bottom, left, right = pad4
    return xp[:, :, top:xp.shape[2] - bottom, left:xp.shape[3] - right]


def tap_view(xp: Array, top: int, left: int, stride: tuple[int, int],
             out_hw: tuple[int, int]) -> Array:
    """(N, C, OH, OW) view of ``xp`` whose cell (i, j) is ``xp[:, :, top + sh*i, left + sw*j]``.

    With (top, left) = (d*u, d*v), it holds, for every output cell, the input under kernel
    tap (u, v): K*K such views cover all the windows, without copying anything.
    """
    (sh, sw), (OH, OW) = stride, out_hw
    return xp[:, :, top:top + sh * (OH - 1) + 1:sh, left:left + sw * (OW - 1) + 1:sw]


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs from ``conv2d_forward``."""

    x_shape: tuple[int, int, int, int]
    weight: np.ndarray         # (F, C, KH, KW)
    cols: np.ndarray           # (C*KH*KW, N*OH*OW): im2col of the padded input
    window: Window
    out_hw: tuple[int, int]
    has_bias: bool


def conv2d(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
           padding: Padding = 0, dilation: IntPair = 1) -> Array:
    """2-D cross-correlation, like ``torch.nn.functional.conv2d``. See ``conv2d_forward``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
                   padding: Padding = 0, dilation: IntPair = 1) -> tuple[Array, ConvCache]:
    """Convolution (cross-correlation, no kernel flip) of a batch of images, as one matmul.

    out[n, f, i, j] = bias[f] + sum_{c, u, v} weight[f, c, u, v] * xp[n, c, s*i + d*u, s*j + d*v]
    where xp is x zero-padded. im2col lays every window out as a column, so the sum over
    (c, u, v) for every (n, i, j) at once is ``weight.reshape(F, -1) @ cols``.

    Shape:
        x : (N, C, H, W) float32 or float64; weight : (F, C, KH, KW), same dtype; bias : (F,)
        out : (N, F, OH, OW) with OH = floor((H + 2p - d(KH-1) - 1) / s) + 1
    stride, dilation : int or (h, w) pair, >= 1
    padding : int, (h, w) pair, 'valid' or 'same' (stride 1 only; odd extra at bottom/right)
    Returns (out, cache) for ``conv2d_backward``.
    """
    window, out_hw = conv_args(x, weight, bias, stride, padding, dilation)
    N, F = x.shape[0], weight.shape[0]
    cols = im2col(pad(x, window.pad4), window, out_hw)      # (C*KH*KW, N*OH*OW)
    out = weight.reshape(F, -1) @ cols                        # (F, N*OH*OW)
    if bias is not None:
        out += bias[:, None]
    out = out.reshape((F, N) + out_hw).transpose(1, 0, 2, 3)  # (N, F, OH, OW)
    return np.ascontiguousarray(out), ConvCache(x.shape, weight, cols, window, out_hw,
                                                bias is not None)


def conv2d_backward(dout: Array, cache: ConvCache, input_grad: bool = True
                    ) -> tuple[Array | None, Array, Array | None]:
    """Backward pass of ``conv2d_forward``: three matmuls' worth of chain rule.

    With out = W cols (W = weight.reshape(F, -1)) and dout laid out like out, (F, N*OH*OW):
        dW = dout cols^T,   dbias = sum of dout over (n, i, j),   dcols = W^T dout,
    and col2im adds each column of dcols back onto the input cells it was copied from.

    dout : (N, F, OH, OW). input_grad : False skips dx (returned as None).
    Returns (dx (N, C, H, W), dweight (F, C, KH, KW), dbias (F,) or None).
    """
    x_shape, weight, cols, window, out_hw, has_bias = cache
    F = weight.shape[0]
    check_dout(dout, (x_shape[0], F) + out_hw, weight.dtype)
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)    # (F, N*OH*OW), columns as cols'
    dweight = (dout_rows @ cols.T).reshape(weight.shape)
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    if not input_grad:
        return None, dweight, dbias
    dcols = weight.reshape(F, -1).T @ dout_rows               # (C*KH*KW, N*OH*OW)
    dxp = col2im(dcols, padded_shape(x_shape, window.pad4), window, out_hw)
    return np.ascontiguousarray(unpad(dxp, window.pad4)), dweight, dbias


def im2col(xp: Array, window: Window, out_hw: tuple[int, int]) -> Array:
    """Every window of a padded batch as a column: (N, C, Hp, Wp) -> (C*KH*KW, N*OH*OW).

    cols[(c, u, v), (n, i, j)] = xp[n, c, s*i + d*u, s*j + d*v], rows in ``weight.reshape(F,
    -1)``'s order. Filled with KH*KW copies, one per kernel tap (u, v): ``tap_view`` of a
    channel-first view of xp, which holds that tap's pixel for every (c, n, i, j).
    """
    N, C = xp.shape[:2]
    (KH, KW), (dh, dw) = window.kernel, window.dilation
    xt = xp.transpose(1, 0, 2, 3)                             # (C, N, Hp, Wp), a view
    cols = np.empty((C, KH, KW, N) + tuple(out_hw), dtype=xp.dtype)
    for u in range(KH):
        for v in range(KW):
            cols[:, u, v] = tap_view(xt, dh * u, dw * v, window.stride, out_hw)
    return cols.reshape(C * KH * KW, -1)


def col2im(dcols: Array, xp_shape: tuple[int, ...], window: Window,
           out_hw: tuple[int, int]) -> Array:
    """The adjoint of ``im2col``: (C*KH*KW, N*OH*OW) -> (N, C, Hp, Wp), every entry added
    back onto the pixel it came from; where windows overlap, the contributions add up."""
    N, C, Hp, Wp = xp_shape
    (KH, KW), (dh, dw) = window.kernel, window.dilation
    dcols = dcols.reshape((C, KH, KW, N) + tuple(out_hw))
    dxt = np.zeros((C, N, Hp, Wp), dtype=dcols.dtype)        # channel-first, like im2col's
    for u in range(KH):
        for v in range(KW):
            tap_view(dxt, dh * u, dw * v, window.stride, out_hw)[...] += dcols[:, u, v]
    return dxt.transpose(1, 0, 2, 3)


def padded_shape(x_shape: tuple[int, ...], pad4: tuple[int, int, int, int]
                 ) -> tuple[int, int, int, int]:
    """(N, C, H + top + bottom, W + left + right)."""
    N, C, H, W = x_shape
    top, bottom, left, right = pad4
    return N, C, H + top + bottom, W + left + right
