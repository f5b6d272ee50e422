"""Convolution: correlate2d, conv2d_forward."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._gallery import right, wrong


def _correlate(image, kernel, rows=0, cols=0, reduce=np.sum):
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1 + rows, image.shape[1] - kw + 1 + cols
    out = np.zeros((oh, ow), dtype=image.dtype)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = reduce(image[i:i + kh, j:j + kw] * kernel)
    return out


@wrong("correlate2d", "flipped")
def correlate2d_flipped(image, kernel):
    return _correlate(image, kernel[::-1, ::-1])


@wrong("correlate2d", "flipped along one axis")
def correlate2d_flipped_rows(image, kernel):
    return _correlate(image, kernel[::-1])


@wrong("correlate2d", "one row and one column too small")
def correlate2d_range_too_short(image, kernel):
    return _correlate(image, kernel, rows=-1, cols=-1)


@wrong("correlate2d", "averaged")
def correlate2d_mean(image, kernel):
    return _correlate(image, kernel, reduce=np.mean)


@wrong("correlate2d", "as matrices")
def correlate2d_matmul(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] @ kernel)
    return out


@wrong("correlate2d", "return")
def correlate2d_no_return(image, kernel):
    _correlate(image, kernel)


@wrong("correlate2d", "dtype")
def correlate2d_float64(image, kernel):
    return _correlate(image.astype(np.float64), kernel.astype(np.float64))


@right("correlate2d")
def correlate2d_windows(image, kernel):
    windows = sliding_window_view(image, kernel.shape)     # (OH, OW, KH, KW)
    return np.einsum("ijuv,uv->ij", windows, kernel)


# ----------------------------------------------------------------------------- conv2d_forward
def _conv(x, w, flip=False, channels=None):
    w = w[..., ::-1, ::-1] if flip else w
    if channels is not None:
        x, w = x[:, :channels], w[:, :channels]
    kh, kw = w.shape[2:]
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2] - kh + 1, x.shape[3] - kw + 1),
                   dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", x[:, :, i:i + kh, j:j + kw], w)
    return out


@wrong("conv2d_forward", "flipped")
def conv_flipped(x, w, b):
    return _conv(x, w, flip=True) + b[:, None, None]


@wrong("conv2d_forward", "bias is missing")
def conv_no_bias(x, w, b):
    return _conv(x, w)


@wrong("conv2d_forward", "last axis")
def conv_bias_last_axis(x, w, b):
    return _conv(x, w) + b


@wrong("conv2d_forward", "inside the sum")
def conv_bias_inside_sum(x, w, b):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out = np.zeros((n, f, h - kh + 1, wd - kw + 1), dtype=x.dtype)
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            for k in range(f):
                out[:, k, i, j] = np.sum(x[:, :, i:i + kh, j:j + kw] * w[k] + b[k], axis=(1, 2, 3))
    return out


@wrong("conv2d_forward", "first input channel")
def conv_first_channel(x, w, b):
    return _conv(x, w, channels=1) + b[:, None, None]


@wrong("conv2d_forward", "NHWC")
def conv_nhwc_output(x, w, b):
    return (_conv(x, w) + b[:, None, None]).transpose(0, 2, 3, 1)


@wrong("conv2d_forward", "dtype")
def conv_float64_output(x, w, b):
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1,
                    x.shape[3] - w.shape[3] + 1))
    out[...] = _conv(x, w) + b[:, None, None]
    return out


@right("conv2d_forward")
def conv_six_loops(x, w, b):
    n_, c_, h, wd = x.shape
    f_, _, kh, kw = w.shape
    out = np.zeros((n_, f_, h - kh + 1, wd - kw + 1), dtype=x.dtype)
    for n in range(n_):
        for f in range(f_):
            for i in range(h - kh + 1):
                for j in range(wd - kw + 1):
                    total = b[f]
                    for c in range(c_):
                        for u in range(kh):
                            for v in range(kw):
                                total += w[f, c, u, v] * x[n, c, i + u, j + v]
                    out[n, f, i, j] = total
    return out


@right("conv2d_forward")
def conv_im2col(x, w, b):
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))   # (N, C, OH, OW, KH, KW)
    return np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) \
        + b[:, None, None]


@wrong("correlate2d", "lower precision")
def correlate2d_in_float32(image, kernel):
    """Computes in float32 (to be quick) and gives back the input's dtype."""
    return _correlate(image.astype(np.float32), kernel.astype(np.float32)).astype(image.dtype)


def _im2col(x, kh, kw, order="chw"):
    """(N, OH, OW, C*KH*KW) windows flattened in (C, KH, KW) ("chw") or (KH, KW, C) order."""
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))   # (N, C, OH, OW, KH, KW)
    axes = (0, 2, 3, 1, 4, 5) if order == "chw" else (0, 2, 3, 4, 5, 1)
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(axes).reshape(n, oh, ow, c * kh * kw)


@wrong("conv2d_forward", "different orders")
def conv_im2col_channels_last(x, w, b):
    cols = _im2col(x, *w.shape[2:], order="hwc")             # (KH, KW, C) windows ...
    out = cols @ w.reshape(w.shape[0], -1).T                  # ... against (C, KH, KW) filters
    return out.transpose(0, 3, 1, 2) + b[:, None, None]


@wrong("conv2d_forward", "mixes images and filters")
def conv_im2col_reshape_fn(x, w, b):
    cols = _im2col(x, *w.shape[2:])                           # (N, OH, OW, K)
    n, oh, ow, k = cols.shape
    out = w.reshape(w.shape[0], -1) @ cols.reshape(-1, k).T   # (F, N*OH*OW)
    return out.reshape(n, w.shape[0], oh, ow) + b[:, None, None]


@wrong("conv2d_forward", "reshaping does not reorder")
def conv_im2col_reshape_nhwc(x, w, b):
    cols = _im2col(x, *w.shape[2:])
    n, oh, ow, k = cols.shape
    out = cols.reshape(-1, k) @ w.reshape(w.shape[0], -1).T   # (N*OH*OW, F)
    return out.reshape(n, w.shape[0], oh, ow) + b[:, None, None]


@wrong("conv2d_forward", "lower precision")
def conv_accumulates_in_float16(x, w, b):
    out = _conv(x.astype(np.float16), w.astype(np.float16)).astype(x.dtype)
    return out + b[:, None, None]
