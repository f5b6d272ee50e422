"""Padding and stride: pad2d, conv_output_size, conv2d_forward_general."""

import math

import numpy as np

from ._gallery import right, wrong


def _pairs(padding):
    return (padding, padding) if isinstance(padding, int) else tuple(padding)


def _pad(x, top, bottom, left, right, fill=np.zeros):
    n, c, h, w = x.shape
    out = fill((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


@wrong("pad2d", "one side")
def pad_after_only(x, padding):
    ph, pw = _pairs(padding)
    return _pad(x, 0, 2 * ph, 0, 2 * pw)


@wrong("pad2d", "N and C axes")
def pad_every_axis(x, padding):
    return np.pad(x, padding)


@wrong("pad2d", "swapped")
def pad_swapped(x, padding):
    ph, pw = _pairs(padding)
    return _pad(x, pw, pw, ph, ph)


@wrong("pad2d", "per side")
def pad_total_split(x, padding):
    ph, pw = _pairs(padding)
    return _pad(x, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)


@wrong("pad2d", "zeros")
def pad_ones_border(x, padding):
    ph, pw = _pairs(padding)
    return _pad(x, ph, ph, pw, pw, fill=np.ones)


@right("pad2d")
def pad_with_np_pad(x, padding):
    ph, pw = _pairs(padding)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# ----------------------------------------------------------------------------- conv_output_size
@wrong("conv_output_size", "+ 1")
def size_no_plus_one(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride


@wrong("conv_output_size", "integer division")
def size_true_division(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


@wrong("conv_output_size", "counted once")
def size_padding_once(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + padding - dilation * (kernel_size - 1) - 1) // stride + 1


@wrong("conv_output_size", "dilation is ignored")
def size_no_dilation(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - kernel_size) // stride + 1


@wrong("conv_output_size", "rounded up")
def size_ceil(n, kernel_size, stride=1, padding=0, dilation=1):
    return math.ceil((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


@wrong("conv_output_size", "return an int")
def size_float_result(n, kernel_size, stride=1, padding=0, dilation=1):
    return float((n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1)


@right("conv_output_size")
def size_floor(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    return int(math.floor((n + 2 * padding - span) / stride)) + 1


# ------------------------------------------------------------------------ conv2d_forward_general
def _conv(x, w, b, stride, padding, step=None, pad=None):
    """Loop convolution; ``step`` (window move) and ``pad`` (top, bottom, left, right) can
    be made wrong independently of the output size."""
    pad = (padding,) * 4 if pad is None else pad
    step = stride if step is None else step
    xp = _pad(x, *pad)
    kh, kw = w.shape[2:]
    oh = (xp.shape[2] - kh) // stride + 1
    ow = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * step:i * step + kh, j * step:j * step + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w)
    return out + b[:, None, None]


@wrong("conv2d_forward_general", "stride is ignored")
def general_no_stride(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, 1, padding)


@wrong("conv2d_forward_general", "window moves by 1")
def general_step_one(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, step=1)


@wrong("conv2d_forward_general", "padding is ignored")
def general_no_padding(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, 0)


@wrong("conv2d_forward_general", "one side")
def general_pad_one_side(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, pad=(padding, 0, padding, 0))


@wrong("conv2d_forward_general", "flipped")
def general_flipped(x, w, b, stride=1, padding=0):
    return _conv(x, w[..., ::-1, ::-1], b, stride, padding)


@wrong("conv2d_forward_general", "bias is missing")
def general_no_bias(x, w, b, stride=1, padding=0):
    return _conv(x, w, np.zeros_like(b), stride, padding)


@right("conv2d_forward_general")
def general_subsampled(x, w, b, stride=1, padding=0):
    """Stride-1 convolution of the padded input, then every stride-th row and column."""
    full = _conv(x, w, b, 1, padding)
    return np.ascontiguousarray(full[:, :, ::stride, ::stride])


@wrong("conv_output_size", "not d * k")
def size_span_dk(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * kernel_size) // stride + 1


@wrong("conv_output_size", "inside the division")
def size_plus_one_inside(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1 + 1) // stride


@wrong("conv2d_forward_general", "different orders")
def general_im2col_channels_last(x, w, b, stride=1, padding=0):
    xp = _pad(x, padding, padding, padding, padding)
    kh, kw = w.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]               # (N, C, OH, OW, KH, KW)
    n, c, oh, ow = windows.shape[:4]
    cols = windows.transpose(0, 2, 3, 4, 5, 1).reshape(n, oh, ow, -1)   # (KH, KW, C) order
    out = cols @ w.reshape(w.shape[0], -1).T
    return out.transpose(0, 3, 1, 2) + b[:, None, None]
