"""Readable loop versions of conv and pooling: the code the lessons explain.

Same signatures and results as ``course_lib.functional`` (the tests check it), written
one output cell at a time so every line matches the math. They are about a hundred
times slower (see ``benchmarks/``); the layers use the fast versions.
"""

from __future__ import annotations

import numpy as np

from .functional import _pad
from .validate import check_dout, conv_args, pool_args

__all__ = [
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
]


def _patch(xp, n, i, j, kernel, stride, dilation=(1, 1)):
    """The (C, KH, KW) window of padded image ``n`` that produces output cell (i, j)."""
    top, left = i * stride[0], j * stride[1]
    bottom = top + dilation[0] * (kernel[0] - 1) + 1
    right = left + dilation[1] * (kernel[1] - 1) + 1
    return xp[n, :, top:bottom:dilation[0], left:right:dilation[1]]


def _unpad(dxp, x_shape, pad4):
    top, _, left, _ = pad4
    return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Loop version of ``course_lib.functional.conv2d``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """out[n, f, i, j] = bias[f] + sum(window(n, i, j) * weight[f]), one cell at a time.

    x: (N, C, H, W); weight: (F, C, KH, KW); bias: (F,) or None. Returns (out, cache).
    """
    stride, dilation, pad4, (OH, OW) = conv_args(x, weight, bias, stride, padding, dilation)
    N, F = x.shape[0], weight.shape[0]
    xp = _pad(x, pad4)
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = _patch(xp, n, i, j, weight.shape[2:], stride, dilation)
                    out[n, f, i, j] = np.sum(window * weight[f])
            if bias is not None:
                out[n, f] += bias[f]
    return out, (x, xp, weight, bias is not None, stride, dilation, pad4, (OH, OW))


def conv2d_backward(dout, cache, input_grad: bool = True):
    """Each output cell sent its gradient back along the products that made it:

    dweight[f] += dout[n, f, i, j] * window(n, i, j)
    dx[window(n, i, j)] += dout[n, f, i, j] * weight[f]
    dbias[f] += dout[n, f, i, j]

    input_grad=False skips dx (returned as None).
    Returns (dx (N, C, H, W), dweight (F, C, KH, KW), dbias (F,) or None).
    """
    x, xp, weight, has_bias, stride, dilation, pad4, (OH, OW) = cache
    N, F = x.shape[0], weight.shape[0]
    check_dout(dout, (N, F, OH, OW), x.dtype)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = _patch(xp, n, i, j, weight.shape[2:], stride, dilation)
                    dweight[f] += dout[n, f, i, j] * window
                    _patch(dxp, n, i, j, weight.shape[2:], stride, dilation)[...] += (
                        dout[n, f, i, j] * weight[f])
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return (_unpad(dxp, x.shape, pad4) if input_grad else None), dweight, dbias


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Loop version of ``course_lib.functional.max_pool2d``."""
    return max_pool2d_forward(x, kernel_size, stride, padding)[0]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """out[n, c, i, j] = max of the (KH, KW) window of channel c; padding is -inf.

    x: (N, C, H, W). Returns (out (N, C, OH, OW), cache).
    """
    kernel, stride, pad4, (OH, OW) = pool_args(x, kernel_size, stride, padding)
    xp = _pad(x, pad4, -np.inf)
    N, C = x.shape[:2]
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                window = _patch(xp, n, i, j, kernel, stride)  # (C, KH, KW)
                out[n, :, i, j] = window.max(axis=(1, 2))
    return out, (x.shape, xp, kernel, stride, pad4, (OH, OW))


def max_pool2d_backward(dout, cache):
    """The gradient of a window goes to its maximum only; on ties to the first maximum in
    row-major order (``np.argmax`` returns the first), as PyTorch does. Returns dx."""
    x_shape, xp, kernel, stride, pad4, (OH, OW) = cache
    N, C = x_shape[:2]
    check_dout(dout, (N, C, OH, OW), xp.dtype)
    dxp = np.zeros_like(xp)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    window = _patch(xp, n, i, j, kernel, stride)[c]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    _patch(dxp, n, i, j, kernel, stride)[c, u, v] += dout[n, c, i, j]
    return _unpad(dxp, x_shape, pad4)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Loop version of ``course_lib.functional.avg_pool2d``."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """out[n, c, i, j] = mean of the (KH, KW) window (zero padding counts, as in PyTorch).

    x: (N, C, H, W). Returns (out (N, C, OH, OW), cache).
    """
    kernel, stride, pad4, (OH, OW) = pool_args(x, kernel_size, stride, padding)
    xp = _pad(x, pad4)
    N, C = x.shape[:2]
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                out[n, :, i, j] = _patch(xp, n, i, j, kernel, stride).mean(axis=(1, 2))
    return out, (x.shape, xp.shape, x.dtype, kernel, stride, pad4, (OH, OW))


def avg_pool2d_backward(dout, cache):
    """Every cell of a window gets dout / (KH * KW). Returns dx (N, C, H, W)."""
    x_shape, xp_shape, dtype, kernel, stride, pad4, (OH, OW) = cache
    N, C = x_shape[:2]
    check_dout(dout, (N, C, OH, OW), dtype)
    dxp = np.zeros(xp_shape, dtype=dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                share = dout[n, :, i, j] / (kernel[0] * kernel[1])  # (C,)
                _patch(dxp, n, i, j, kernel, stride)[...] += share[:, None, None]
    return _unpad(dxp, x_shape, pad4)
