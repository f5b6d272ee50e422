"""Fast, vectorized CNN ops in NCHW layout, each with its backward pass.

Every op comes as a CS231n-style pair plus a PyTorch-named shortcut::

    out, cache = conv2d_forward(x, weight, bias, stride=1, padding=0)
    dx, dweight, dbias = conv2d_backward(dout, cache)
    out = conv2d(x, weight, bias)            # like torch.nn.functional.conv2d

``course_lib.readable`` has the same conv and pooling ops written as plain loops, with
the same signatures; the tests check that both agree. This module is what the layers use.

How the fast path works
-----------------------
conv2d  im2col: K*K strided slices of the padded input fill ``cols`` (KH*KW*C, N, OH*OW),
        then ``weight (F, KH*KW*C) @ cols`` gives the output: one matmul per image for
        big images, one for the whole batch (then reordered to NCHW) for small ones.
        Backward reuses ``cols``: dW is a matmul with it, and dcols = W.T @ dout is
        scattered back into dx with K*K slice-adds.
pooling K*K strided slices combined with ``np.maximum`` (or added, for the average); the
        maximum goes rows first, then columns.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from .validate import (
    as_rng,
    check_array,
    check_dout,
    check_labels,
    check_probability,
    check_same_dtype,
    conv_args,
    conv_output_size,
    padding4,
    pool_args,
)

__all__ = [
    "pad2d", "conv_output_size",
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "relu", "relu_forward", "relu_backward",
    "linear", "linear_forward", "linear_backward",
    "softmax", "softmax_forward", "softmax_backward",
    "log_softmax", "log_softmax_forward", "log_softmax_backward",
    "cross_entropy", "cross_entropy_forward", "cross_entropy_backward",
    "batch_norm2d_forward", "batch_norm2d_backward", "dropout_forward", "dropout_backward",
    "global_avg_pool2d", "global_avg_pool2d_forward", "global_avg_pool2d_backward",
]


# ----------------------------------------------------------------------------- padding
def pad2d(x, padding, value: float = 0.0) -> np.ndarray:
    """Pad the H and W axes of ``x``: (N, C, H, W) -> (N, C, H+top+bottom, W+left+right).

    padding: int (every side), (ph, pw) (ph above and below, pw left and right) or
    (left, right, top, bottom) in ``torch.nn.functional.pad``'s order.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)", finite=False)
    return _pad(x, padding4(padding), value)


def _pad(x: np.ndarray, pad4, value: float = 0.0) -> np.ndarray:
    top, bottom, left, right = pad4
    if not any(pad4):
        return x
    N, C, H, W = x.shape
    out = np.full((N, C, H + top + bottom, W + left + right), value, dtype=x.dtype)
    out[:, :, top:top + H, left:left + W] = x
    return out


def _window(xp: np.ndarray, i: int, j: int, stride, out_hw) -> np.ndarray:
    """View of ``xp`` holding, for every output position, the input under kernel tap (i, j).

    ``i``, ``j`` are offsets into the padded input (already multiplied by the dilation).
    Returns (N, C, OH, OW).
    """
    (sh, sw), (OH, OW) = stride, out_hw
    return xp[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]


# ----------------------------------------------------------------------------- conv2d
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D cross-correlation, like ``torch.nn.functional.conv2d``. See ``conv2d_forward``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Convolution (cross-correlation, no kernel flip) of a batch of images.

    out[n, f, i, j] = bias[f] + sum_{c, u, v} weight[f, c, u, v] * xp[n, c, s*i + d*u, s*j + d*v]
    where xp is x zero-padded.

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64
    weight : (F, C, KH, KW), same dtype
    bias : (F,) or None
    stride, dilation : int or (h, w) pair, >= 1
    padding : int, (h, w) pair, 'valid' or 'same' (stride 1 only; odd extra at bottom/right)

    Returns
    -------
    out : (N, F, OH, OW) with OH = floor((H + 2p - d(KH-1) - 1) / s) + 1
    cache : for ``conv2d_backward``
    """
    stride, dilation, pad4, out_hw = conv_args(x, weight, bias, stride, padding, dilation)
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    # im2col for the whole batch. xt is a channel-major (C, N, Hp, Wp) view; rows of cols
    # are ordered (kh, kw, c), so each tap writes one contiguous (C, N, OH, OW) block.
    xt = _pad(x, pad4).transpose(1, 0, 2, 3)
    cols = np.empty((KH, KW, C, N) + out_hw, dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            cols[u, v] = _window(xt, u * dilation[0], v * dilation[1], stride, out_hw)
    cols = cols.reshape(KH * KW * C, N, -1)                 # (KH*KW*C, N, OH*OW)
    w_rows = weight.transpose(0, 2, 3, 1).reshape(F, -1)    # (F, KH*KW*C), same row order
    per_image = _gemm_per_image(out_hw)
    if per_image:  # one matmul per image, written straight into NCHW order
        out = np.matmul(w_rows, cols.transpose(1, 0, 2))
    else:          # one matmul for the batch, (F, N*OH*OW), then back to NCHW
        out = _batch_to_nchw(w_rows @ cols.reshape(len(cols), -1), N)
    if bias is not None:
        out += bias[:, None]
    cache = (x.shape, weight, w_rows, bias is not None, cols, per_image, stride, dilation, pad4,
             out_hw)
    return out.reshape((N, F) + out_hw), cache


PER_IMAGE_MIN_PIXELS = 256  # see _gemm_per_image


def _gemm_per_image(out_hw) -> bool:
    """One matmul per image, or one for the whole batch? Per image, the (F, K) @ (K, OH*OW)
    products of small outputs are too small for BLAS to run fast; one batch-wide product
    is faster then, even with the copy back to NCHW order (measured crossover: about 256
    output pixels, e.g. per image for 28x28 outputs, batch-wide for LeNet's 10x10)."""
    return out_hw[0] * out_hw[1] >= PER_IMAGE_MIN_PIXELS


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


def conv2d_backward(dout, cache, input_grad: bool = True):
    """Backward pass of ``conv2d_forward``.

    dout : (N, F, OH, OW) upstream gradient.
    input_grad : False skips dx (returned as None), e.g. for a network's first layer.
    Returns (dx (N, C, H, W), dweight (F, C, KH, KW), dbias (F,) or None).
    """
    x_shape, weight, w_rows, has_bias, cols, per_image, stride, dilation, pad4, out_hw = cache
    N, C, H, W = x_shape
    F, _, KH, KW = weight.shape
    check_dout(dout, (N, F) + out_hw, weight.dtype)
    # dW = sum_n dout_n @ cols_n.T, with the same per-image or batch-wide choice as forward.
    if per_image:
        dw_rows = np.matmul(dout.reshape(N, F, -1), cols.transpose(1, 2, 0)).sum(axis=0)
    else:  # one product; (cols @ dout.T).T is the same, measured ~1.5x faster in OpenBLAS
        dout_t = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, -1)
        dw_rows = (cols.reshape(len(cols), -1) @ dout_t.T).T
    dweight = np.ascontiguousarray(dw_rows.reshape(F, KH, KW, C).transpose(0, 3, 1, 2))
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    if not input_grad:
        return None, dweight, dbias
    # Short output rows make the K*K window adds loop-bound; the stride-1 trick fixes that.
    short_rows = stride == (1, 1) and out_hw[1] <= 16
    dxp = (_col2im_stride1 if short_rows else _col2im)(dout, w_rows, cache)
    top, _, left, _ = pad4
    dx = dxp[:, :, top:top + H, left:left + W]
    if not per_image:  # dxp was channel-major in memory: back to NCHW
        dx = np.ascontiguousarray(dx)
    return dx, dweight, dbias


def _padded_shape(cache):
    """(N, C, Hp, Wp): the shape of the padded input, from a conv2d cache."""
    x_shape, *_, pad4, _ = cache
    top, bottom, left, right = pad4
    return x_shape[:2] + (x_shape[2] + top + bottom, x_shape[3] + left + right)


def _zeros_like_dcols(shape, per_image, dtype):
    """Zeros of shape (N, C, ...) laid out in memory like ``_wt_times``' result: NCHW per
    image, channel-major (C, N, ...) for the batch-wide product. The scatter-adds run about
    25% faster when both sides have the same memory order."""
    if per_image:
        return np.zeros(shape, dtype)
    return np.zeros((shape[1], shape[0]) + shape[2:], dtype).swapaxes(0, 1)


def _col2im(dout, w_rows, cache):
    """dx of the padded input: dcols = W.T @ dout, scattered back with one slice-add per tap."""
    x_shape, weight, _, _, _, per_image, stride, dilation, _, out_hw = cache
    N, C = x_shape[:2]
    F, _, KH, KW = weight.shape
    dcols = _wt_times(w_rows, dout, per_image).reshape((N, KH, KW, C) + out_hw)
    dxp = _zeros_like_dcols(_padded_shape(cache), per_image, dout.dtype)
    for u in range(KH):
        for v in range(KW):
            _window(dxp, u * dilation[0], v * dilation[1], stride, out_hw)[...] += dcols[:, u, v]
    return dxp


def _col2im_stride1(dout, w_rows, cache):
    """``_col2im`` for stride 1, faster when output rows are short (measured: 3.8 -> 3.2 ms
    for LeNet's second conv, 10-wide rows; 3.2 -> 3.7 ms, slower, for 28-wide rows).

    Flatten the padded image to rows of Wp: tap (u, v) then moves every output cell by the
    same offset u*dh*Wp + v*dw. Spread dout over an output grid as wide as the input (zeros
    in the extra columns, which feed nothing), and each tap's scatter is one add of a long
    contiguous run instead of OH short rows.
    """
    x_shape, weight, _, _, _, per_image, _, dilation, _, (OH, OW) = cache
    N, C = x_shape[:2]
    F, _, KH, KW = weight.shape
    xp_shape = _padded_shape(cache)
    Hp, Wp = xp_shape[2:]
    wide = np.zeros((N, F, OH, Wp), dtype=dout.dtype)
    wide[..., :OW] = dout
    dcols = _wt_times(w_rows, wide, per_image).reshape(N, KH, KW, C, OH * Wp)
    dxp = _zeros_like_dcols((N, C, Hp * Wp + (KW - 1) * dilation[1]), per_image, dout.dtype)
    for u in range(KH):
        for v in range(KW):
            start = u * dilation[0] * Wp + v * dilation[1]
            dxp[:, :, start:start + OH * Wp] += dcols[:, u, v]
    return dxp[:, :, :Hp * Wp].reshape(xp_shape)


# ----------------------------------------------------------------------------- pooling
def max_pool2d(x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Max pooling, like ``torch.nn.functional.max_pool2d``. See ``max_pool2d_forward``."""
    return max_pool2d_forward(x, kernel_size, stride, padding)[0]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Maximum over each (KH, KW) window, per channel.

    x : (N, C, H, W); kernel_size, stride, padding : int or (h, w) pair.
    ``stride`` defaults to ``kernel_size``; padding (with -inf) is at most half the kernel.
    Returns out (N, C, OH, OW) and a cache for ``max_pool2d_backward``.
    """
    kernel, stride, pad4, out_hw = pool_args(x, kernel_size, stride, padding)
    xp = _pad(x, pad4, -np.inf)
    # Separable: the maximum over each window's rows first (whole contiguous image rows,
    # (N, C, OH, Wp)), then over its columns; measured 2x faster than K*K window slices.
    (KH, KW), (sh, sw) = kernel, stride
    rows_hw = (out_hw[0], xp.shape[3])
    rows = reduce(np.maximum, (_window(xp, u, 0, (sh, 1), rows_hw) for u in range(KH)))
    out = reduce(np.maximum, (_window(rows, 0, v, (1, sw), out_hw) for v in range(KW)))
    if KH * KW == 1:
        out = out.copy()  # a 1x1 window's maximum is the input itself: do not alias it
    return out, (x.shape, xp, out, kernel, stride, pad4)


def max_pool2d_backward(dout, cache):
    """Backward of max pooling: each window's gradient goes to its maximum.

    Ties: the whole gradient goes to the *first* maximum in row-major order within the
    window, as PyTorch does (the slices are visited in row-major order and a position,
    once routed, takes no more).
    dout : (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, xp, out, kernel, stride, pad4 = cache
    check_dout(dout, out.shape, out.dtype)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]  # windows do not overlap
    unrouted = np.ones(out.shape, dtype=bool)  # windows whose maximum has not been found yet
    hit = np.empty(out.shape, dtype=bool)
    out_hw = out.shape[2:]
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            np.equal(_window(xp, u, v, stride, out_hw), out, out=hit)
            hit &= unrouted  # only the first maximum of each window
            unrouted ^= hit
            if disjoint:  # each input cell is in one window: write, no need to add
                np.multiply(dout, hit, out=_window(dxp, u, v, stride, out_hw))
            else:
                _window(dxp, u, v, stride, out_hw)[...] += dout * hit
    top, _, left, _ = pad4
    return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Average pooling, like ``torch.nn.functional.avg_pool2d``. See ``avg_pool2d_forward``."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Mean over each (KH, KW) window, per channel.

    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``).
    x : (N, C, H, W). Returns out (N, C, OH, OW) and a cache for ``avg_pool2d_backward``.
    """
    kernel, stride, pad4, out_hw = pool_args(x, kernel_size, stride, padding)
    xp = _pad(x, pad4)
    out = _window(xp, 0, 0, stride, out_hw).copy()
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            if u or v:
                out += _window(xp, u, v, stride, out_hw)
    out /= kernel[0] * kernel[1]
    return out, (x.shape, xp.shape, out.shape, x.dtype, kernel, stride, pad4)


def avg_pool2d_backward(dout, cache):
    """Backward of average pooling: each window spreads dout / (KH*KW) over its cells.

    dout : (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, xp_shape, out_shape, dtype, kernel, stride, pad4 = cache
    check_dout(dout, out_shape, dtype)
    share = dout / (kernel[0] * kernel[1])
    dxp = np.zeros(xp_shape, dtype=dtype)
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            _window(dxp, u, v, stride, out_shape[2:])[...] += share
    top, _, left, _ = pad4
    return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]


# ----------------------------------------------------------------------------- relu, linear
def relu(x) -> np.ndarray:
    """max(x, 0) elementwise, any shape."""
    return relu_forward(x)[0]


def relu_forward(x):
    """out = max(x, 0); the cache holds the mask x > 0 (the gradient at 0 is 0, as in PyTorch)."""
    check_array(x, "x")
    return np.maximum(x, 0), (x > 0, x.dtype)


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0."""
    mask, dtype = cache
    check_dout(dout, mask.shape, dtype)
    return dout * mask


def linear(x, weight, bias=None) -> np.ndarray:
    """out = x @ weight.T + bias, like ``torch.nn.functional.linear``."""
    return linear_forward(x, weight, bias)[0]


def linear_forward(x, weight, bias=None):
    """Fully connected layer.

    x : (N, D_in); weight : (D_out, D_in) as in PyTorch; bias : (D_out,) or None.
    Returns out (N, D_out) and a cache for ``linear_backward``.
    """
    check_array(x, "x", 2, axis_names="(N, in_features)")
    check_array(weight, "weight", 2, axis_names="(out_features, in_features)")
    if bias is not None:
        check_array(bias, "bias", 1, axis_names="(out_features,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    check_same_dtype(x=x, weight=weight, bias=bias)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"weight expects {weight.shape[1]} input features (weight.shape[1]) "
                         f"but x has {x.shape[1]} (x.shape[1])")
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, (x, weight, bias is not None)


def linear_backward(dout, cache):
    """dout : (N, D_out). Returns (dx (N, D_in), dweight (D_out, D_in), dbias (D_out,) or None)."""
    x, weight, has_bias = cache
    check_dout(dout, (x.shape[0], weight.shape[0]), x.dtype)
    return dout @ weight, dout.T @ x, dout.sum(axis=0) if has_bias else None


# ----------------------------------------------------------------------------- softmax, loss
def softmax(z, axis: int = -1) -> np.ndarray:
    """exp(z) / sum(exp(z)) along ``axis``, computed stably. See ``softmax_forward``."""
    return softmax_forward(z, axis)[0]


def softmax_forward(z, axis: int = -1):
    """Softmax along ``axis``, shifted by the max so exp never overflows.

    softmax(z) = softmax(z - max(z)): adding a constant does not change it.
    Returns p (same shape as z) and a cache for ``softmax_backward``.
    """
    check_array(z, "z")
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    return p, (p, axis)


def softmax_backward(dout, cache):
    """dz = p * (dout - sum(dout * p)) along the softmax axis (the Jacobian-vector product)."""
    p, axis = cache
    check_dout(dout, p.shape, p.dtype)
    return p * (dout - (dout * p).sum(axis=axis, keepdims=True))


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log(softmax(z)) along ``axis`` via log-sum-exp. See ``log_softmax_forward``."""
    return log_softmax_forward(z, axis)[0]


def log_softmax_forward(z, axis: int = -1):
    """log softmax(z) = (z - m) - log(sum(exp(z - m))), m = max(z): finite for any finite z.

    Returns out (same shape as z) and a cache for ``log_softmax_backward``.
    """
    check_array(z, "z")
    shifted = z - z.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out, (out, axis)


def log_softmax_backward(dout, cache):
    """dz = dout - softmax(z) * sum(dout) along the axis."""
    out, axis = cache
    check_dout(dout, out.shape, out.dtype)
    return dout - np.exp(out) * dout.sum(axis=axis, keepdims=True)


def cross_entropy(logits, target) -> float:
    """Mean cross-entropy of integer labels under softmax(logits), like ``F.cross_entropy``."""
    return cross_entropy_forward(logits, target)[0]


def cross_entropy_forward(logits, target):
    """loss = -mean_n log softmax(logits[n])[target[n]].

    logits : (N, K) float; target : (N,) integer class indices in [0, K).
    Returns the loss (a Python float) and a cache for ``cross_entropy_backward``.
    """
    check_array(logits, "logits", 2, axis_names="(N, num_classes)")
    check_labels(target, "target", logits.shape[0], logits.shape[1])
    logp = log_softmax_forward(logits, axis=1)[0]
    n = logits.shape[0]
    loss = -logp[np.arange(n), target].mean()
    return float(loss), (logp, target)


def cross_entropy_backward(dout=1.0, cache=None):
    """dlogits = dout * (softmax(logits) - onehot(target)) / N: the famous p - y.

    dout : the upstream gradient of the scalar loss (1.0 when the loss is the output).
    Returns dlogits (N, K).
    """
    if cache is None:
        raise ValueError("cache must be the cache returned by cross_entropy_forward, got None")
    logp, target = cache
    if isinstance(dout, bool) or not isinstance(dout, (int, float, np.floating)):
        raise TypeError(f"dout must be a scalar (the loss's upstream gradient), got {dout!r}")
    n = logp.shape[0]
    dlogits = np.exp(logp)
    dlogits[np.arange(n), target] -= 1
    dlogits *= dout / n
    return dlogits


# ----------------------------------------------------------------------------- batch norm, dropout
def batch_norm2d_forward(x, weight, bias, running_mean=None, running_var=None,
                         training: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalisation per channel, like ``torch.nn.functional.batch_norm``.

    training: mu, var = mean and *biased* variance of x over (N, H, W) per channel; the
    running statistics (if given) are updated in place with the *unbiased* variance:
    running = (1 - momentum) * running + momentum * batch.
    eval: mu, var = running_mean, running_var.
    out = weight * (x - mu) / sqrt(var + eps) + bias.

    x : (N, C, H, W); weight, bias, running_mean, running_var : (C,).
    Returns out (N, C, H, W) and a cache for ``batch_norm2d_backward``.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)")
    C = x.shape[1]
    for name, a in (("weight", weight), ("bias", bias),
                    ("running_mean", running_mean), ("running_var", running_var)):
        if a is None and name in ("weight", "bias"):
            raise TypeError(f"{name} must be an array of shape ({C},), got None")
        if a is not None:
            check_array(a, name, 1)
            if a.shape != (C,):
                raise ValueError(f"{name} must have shape ({C},) to match x's channels, "
                                 f"got {a.shape}")
    check_same_dtype(x=x, weight=weight, bias=bias)
    if training:
        m = x.shape[0] * x.shape[2] * x.shape[3]
        if m < 2:
            raise ValueError(f"training mode needs more than 1 value per channel, "
                             f"got x of shape {x.shape}")
        mu = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mu
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * m / (m - 1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode needs running_mean and running_var, got None")
        mu, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu[:, None, None]) * inv_std[:, None, None]
    out = weight[:, None, None] * xhat + bias[:, None, None]
    return out, (xhat, inv_std, weight, training)


def batch_norm2d_backward(dout, cache):
    """Backward of ``batch_norm2d_forward``. Returns (dx, dweight, dbias).

    training (mu, var depend on x), with M = N*H*W values per channel:
        dx = inv_std / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        with dxhat = dout * weight
    eval (fixed statistics): dx = dout * weight * inv_std.
    """
    xhat, inv_std, weight, training = cache
    check_dout(dout, xhat.shape, xhat.dtype)
    dbias = dout.sum(axis=(0, 2, 3))
    dweight = (dout * xhat).sum(axis=(0, 2, 3))
    dxhat = dout * weight[:, None, None]
    if not training:
        return dxhat * inv_std[:, None, None], dweight, dbias
    m = xhat.shape[0] * xhat.shape[2] * xhat.shape[3]
    dx = (m * dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True))
    return dx * (inv_std[:, None, None] / m), dweight, dbias


def dropout_forward(x, p: float, rng, training: bool = True):
    """Inverted dropout: zero each entry with probability p, scale the rest by 1 / (1 - p).

    The expected output equals x, so eval mode (or p = 0) is the identity.
    x : any shape; rng : int seed or ``np.random.Generator``.
    Returns out (same shape) and the cache ``(mask, p)`` with mask of 0s and 1s (in eval
    mode a read-only all-ones mask and p = 0, so the backward is the identity too).
    """
    check_array(x, "x")
    p = check_probability(p)
    if not training or p == 0.0:
        return x, (np.broadcast_to(np.ones((), dtype=x.dtype), x.shape), 0.0)
    mask = (as_rng(rng).random(x.shape) >= p).astype(x.dtype)
    return x * mask * _keep_scale(p, x.dtype), (mask, p)


def _keep_scale(p, dtype):
    """1 / (1 - p), the factor that keeps dropout's expectation; 0 when everything drops."""
    return dtype.type(0.0 if p == 1.0 else 1.0 / (1.0 - p))


def dropout_backward(dout, cache):
    """dx = dout * mask / (1 - p): the kept entries pass the gradient through, scaled."""
    mask, p = cache
    check_dout(dout, mask.shape, mask.dtype)
    return dout * mask * _keep_scale(p, mask.dtype)


# ----------------------------------------------------------------------------- global average pool
def global_avg_pool2d(x) -> np.ndarray:
    """Mean of every channel over all positions, (N, C, H, W) -> (N, C): like
    ``torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)``. See the forward below."""
    return global_avg_pool2d_forward(x)[0]


def global_avg_pool2d_forward(x):
    """Global average pooling: one number per channel, the mean of its H*W values.

    out[n, c] = 1 / (H W) * sum_{i, j} x[n, c, i, j]

    It replaces a network's flatten + large dense layers: the classifier after it sees C
    numbers whatever the image size, and the layer itself has no parameters.
    x : (N, C, H, W). Returns out (N, C) and a cache for ``global_avg_pool2d_backward``.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)")
    return x.mean(axis=(2, 3)), (x.shape, x.dtype)


def global_avg_pool2d_backward(dout, cache):
    """Backward of global average pooling: every position gets an equal share.

    d out[n, c] / d x[n, c, i, j] = 1 / (H W), so dx[n, c, i, j] = dout[n, c] / (H W).
    dout : (N, C). Returns dx (N, C, H, W).
    """
    x_shape, dtype = cache
    check_dout(dout, x_shape[:2], dtype)
    share = dout / (x_shape[2] * x_shape[3])
    return np.ascontiguousarray(np.broadcast_to(share[:, :, None, None], x_shape))
