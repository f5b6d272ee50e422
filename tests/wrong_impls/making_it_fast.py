"""Making it fast: im2col, conv2d_im2col."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._gallery import right, wrong


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _windows(x, kernel_size, stride=1, padding=0, dtype=None):
    """(N, C, OH, OW, KH, KW) windows of the padded x, a copy in ``dtype``."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.astype(dtype or x.dtype)


def _cols(x, kernel_size, stride=1, padding=0, dtype=None, order=(0, 1, 4, 5, 2, 3)):
    """im2col with the axes of the windows in ``order`` before the reshape."""
    w = _windows(x, kernel_size, stride, padding, dtype)
    n, c, oh, ow, kh, kw = w.shape
    return w.transpose(order).reshape(n, c * kh * kw, oh * ow)


# ----------------------------------------------------------------------------- im2col
@wrong("im2col", "kernel row, kernel column, channel")
def im2col_taps_then_channels(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, stride, padding, order=(0, 4, 5, 1, 2, 3))


@wrong("im2col", "column by column")
def im2col_window_transposed(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, stride, padding, order=(0, 1, 5, 4, 2, 3))


@wrong("im2col", "transposed")
def im2col_one_row_per_window(x, kernel_size, stride=1, padding=0):
    w = _windows(x, kernel_size, stride, padding)
    n, c, oh, ow, kh, kw = w.shape
    return w.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh * ow, c * kh * kw)


@wrong("im2col", "wrong order")
def im2col_columns_down_first(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, stride, padding, order=(0, 1, 4, 5, 3, 2))


@wrong("im2col", "batch is merged")
def im2col_cs231n_layout(x, kernel_size, stride=1, padding=0):
    w = _windows(x, kernel_size, stride, padding)
    n, c, oh, ow, kh, kw = w.shape
    return w.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * oh * ow)


@wrong("im2col", "padding is ignored")
def im2col_no_padding(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, stride, 0)


@wrong("im2col", "stride is ignored")
def im2col_no_stride(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, 1, padding)


@wrong("im2col", "move by 1 pixel")
def im2col_right_count_moved_by_one(x, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    windows = _windows(x, kernel_size, 1, padding)[:, :, :oh, :ow]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


@wrong("im2col", "wrong way round")
def im2col_stride_pair_swapped(x, kernel_size, stride=1, padding=0):
    sw, sh = _pair(stride)                               # read as (width, height)
    return _cols(x, kernel_size, (sh, sw), padding)


@wrong("im2col", "precision")
def im2col_float16_cols(x, kernel_size, stride=1, padding=0):
    return _cols(x, kernel_size, stride, padding, dtype=np.float16).astype(x.dtype)


@wrong("im2col", "dtype")
def im2col_float64_zeros(x, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = np.zeros((n, c, kh, kw, oh, ow))             # float64, whatever x is
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


@right("im2col")
def im2col_tap_slices(x, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


@right("im2col")
def im2col_one_window_at_a_time(x, kernel_size, stride=1, padding=0):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, hp, wp = xp.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    cols = np.zeros((n, c * kh * kw, oh * ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            cols[:, :, i * ow + j] = window.reshape(n, -1)
    return cols


# ----------------------------------------------------------------------------- conv2d_im2col
def _out_size(x, weight, stride, padding):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    return ((x.shape[2] + 2 * ph - weight.shape[2]) // sh + 1,
            (x.shape[3] + 2 * pw - weight.shape[3]) // sw + 1)


def _product(x, weight, stride, padding, order=(0, 1, 4, 5, 2, 3), w_rows=None, dtype=None):
    """(N, C_out, OH*OW) = weight matrix @ cols, without the bias."""
    cols = _cols(x, weight.shape[2:], stride, padding, dtype=dtype, order=order)
    rows = weight.reshape(len(weight), -1) if w_rows is None else w_rows
    return rows.astype(cols.dtype) @ cols


def _finish(out, x, weight, bias, stride, padding):
    oh, ow = _out_size(x, weight, stride, padding)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(x.shape[0], len(weight), oh, ow)


@wrong("conv2d_im2col", "flipped")
def conv_im2col_flipped(x, weight, bias=None, stride=1, padding=0):
    flipped = weight[:, :, ::-1, ::-1]
    return _finish(_product(x, flipped, stride, padding), x, weight, bias, stride, padding)


@wrong("conv2d_im2col", "same order")
def conv_im2col_weight_transposed(x, weight, bias=None, stride=1, padding=0):
    rows = weight.transpose(0, 2, 3, 1).reshape(len(weight), -1)   # (u, v, c) against (c, u, v)
    out = _product(x, weight, stride, padding, w_rows=rows)
    return _finish(out, x, weight, bias, stride, padding)


@wrong("conv2d_im2col", "same order")
def conv_im2col_cols_taps_first(x, weight, bias=None, stride=1, padding=0):
    out = _product(x, weight, stride, padding, order=(0, 4, 5, 1, 2, 3))
    return _finish(out, x, weight, bias, stride, padding)


@wrong("conv2d_im2col", "same order")
def conv_im2col_weight_reshaped_the_other_way(x, weight, bias=None, stride=1, padding=0):
    rows = weight.reshape(-1, len(weight)).T
    out = _product(x, weight, stride, padding, w_rows=rows)
    return _finish(out, x, weight, bias, stride, padding)


@wrong("conv2d_im2col", "NHWC order")
def conv_im2col_nhwc(x, weight, bias=None, stride=1, padding=0):
    cols = _cols(x, weight.shape[2:], stride, padding)
    out = cols.transpose(0, 2, 1) @ weight.reshape(len(weight), -1).T   # (N, OH*OW, C_out)
    if bias is not None:
        out = out + bias
    return out.reshape((x.shape[0],) + _out_size(x, weight, stride, padding) + (len(weight),))


@wrong("conv2d_im2col", "reshaped")
def conv_im2col_nhwc_reshaped(x, weight, bias=None, stride=1, padding=0):
    cols = _cols(x, weight.shape[2:], stride, padding)
    out = cols.transpose(0, 2, 1) @ weight.reshape(len(weight), -1).T   # (N, OH*OW, C_out)
    if bias is not None:
        out = out + bias
    return out.reshape((x.shape[0], len(weight)) + _out_size(x, weight, stride, padding))


@wrong("conv2d_im2col", "swapped in your final reshape")
def conv_im2col_ow_oh(x, weight, bias=None, stride=1, padding=0):
    oh, ow = _out_size(x, weight, stride, padding)
    out = _finish(_product(x, weight, stride, padding), x, weight, bias, stride, padding)
    return out.reshape(x.shape[0], len(weight), ow, oh)


@wrong("conv2d_im2col", "padding is ignored")
def conv_im2col_no_padding(x, weight, bias=None, stride=1, padding=0):
    return _finish(_product(x, weight, stride, 0), x, weight, bias, stride, 0)


@wrong("conv2d_im2col", "stride is ignored")
def conv_im2col_no_stride(x, weight, bias=None, stride=1, padding=0):
    return _finish(_product(x, weight, 1, padding), x, weight, bias, 1, padding)


@wrong("conv2d_im2col", "wrong way round")
def conv_im2col_padding_pair_swapped(x, weight, bias=None, stride=1, padding=0):
    pw, ph = _pair(padding)                              # read as (width, height)
    return _finish(_product(x, weight, stride, (ph, pw)), x, weight, bias, stride, (ph, pw))


@wrong("conv2d_im2col", "bias is missing")
def conv_im2col_no_bias(x, weight, bias=None, stride=1, padding=0):
    return _finish(_product(x, weight, stride, padding), x, weight, None, stride, padding)


@wrong("conv2d_im2col", "last axis")
def conv_im2col_bias_on_pixels(x, weight, bias=None, stride=1, padding=0):
    out = _product(x, weight, stride, padding)                         # (N, C_out, OH*OW)
    if bias is not None:
        out = out + bias
    return out.reshape((x.shape[0], len(weight)) + _out_size(x, weight, stride, padding))


@wrong("conv2d_im2col", "precision")
def conv_im2col_float16(x, weight, bias=None, stride=1, padding=0):
    out = _product(x, weight, stride, padding, dtype=np.float16)      # accumulates in float16
    return _finish(out, x, weight, bias, stride, padding).astype(x.dtype)


@wrong("conv2d_im2col", "precision")
def conv_im2col_float32_cols(x, weight, bias=None, stride=1, padding=0):
    cols = _cols(x, weight.shape[2:], stride, padding, dtype=np.float32)   # even for float64
    out = weight.reshape(len(weight), -1).astype(np.float32) @ cols
    return _finish(out, x, weight, bias, stride, padding).astype(x.dtype)


@wrong("conv2d_im2col", "dtype")
def conv_im2col_float64(x, weight, bias=None, stride=1, padding=0):
    out = _product(x, weight, stride, padding, dtype=np.float64)
    return _finish(out, x, weight, bias, stride, padding)


@right("conv2d_im2col")
def conv_im2col_plain(x, weight, bias=None, stride=1, padding=0):
    return _finish(_product(x, weight, stride, padding), x, weight, bias, stride, padding)


@right("conv2d_im2col")
def conv_im2col_taps_first_on_both_sides(x, weight, bias=None, stride=1, padding=0):
    """course_lib's order, (u, v, c), for cols and weights alike, and one batch-wide product."""
    n = x.shape[0]
    f = len(weight)
    cols = _windows(x, weight.shape[2:], stride, padding)      # (N, C, OH, OW, KH, KW)
    _, c, oh, ow, kh, kw = cols.shape
    cols = cols.transpose(4, 5, 1, 0, 2, 3).reshape(kh * kw * c, n * oh * ow)
    out = weight.transpose(0, 2, 3, 1).reshape(f, -1) @ cols   # (F, N*OH*OW)
    out = out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
    return out + bias[:, None, None] if bias is not None else out.copy()


@right("conv2d_im2col")
def conv_im2col_einsum(x, weight, bias=None, stride=1, padding=0):
    cols = _cols(x, weight.shape[2:], stride, padding)
    out = np.einsum("fk,nkp->nfp", weight.reshape(len(weight), -1), cols)
    return _finish(out, x, weight, bias, stride, padding)
