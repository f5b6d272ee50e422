"""The last factor of two: conv2d with the tricks that ``functional.conv2d`` leaves out.

``course_lib.functional.conv2d_forward`` / ``conv2d_backward`` are the version to read: one
im2col, one matmul. This module computes the same numbers (the tests force every branch
below and compare) and is what ``layers.Conv2d`` uses. What it adds, each where it pays off
(lesson 09, "the last 2x"; measured in ``benchmarks/README.md``):

1. **Per-image products.** For outputs of at least ``PER_IMAGE_MIN_PIXELS`` pixels, one
   (F, K) @ (K, OH*OW) product per image lands straight in (N, F, OH, OW) order; the
   batch-wide product needs a copy to get there. Small outputs stay batch-wide: products
   that small are too small for BLAS to run fast.
2. **im2col rows ordered (kh, kw, c)**: each kernel tap fills one contiguous block of
   ``cols``, (C, N, OH, OW).
3. **The batch last, for the batch-wide product**: the padded input, ``cols``, the product
   and the col2im are laid out (C, H, W, N), so that each tap copies and adds runs of
   OW*N contiguous numbers (640 on LeNet's 10-wide maps) instead of rows of OW; one
   transposing copy on the way in and one on the way out.
4. **The stride-1 col2im** (per-image products): with short output rows each tap's scatter
   becomes one add of a long contiguous run instead of OH short rows.
5. **A workspace** (``course_lib.workspace``): the large scratch arrays (the padded input,
   ``cols``, ``dcols``, the col2im sum) reuse the memory of the previous call instead of
   fresh pages, which would page-fault on every call. ``layers.Conv2d`` passes its own
   workspace while training; results (out, dx, dweight, dbias) are always fresh arrays.
6. **A few images at a time** (per-image products): im2col fills the columns of a chunk
   of images (``CHUNK_BYTES``, about 1 MB) in one strided copy, and the products read them
   while they are still in the core's cache; the backward's dcols and col2im go chunk by
   chunk too, building the columns again: that costs less than writing them out to memory
   and reading them back (14 MB for 8->16 3x3 on 28x28, batch 64), and no more for small
   ones (measured on LeNet's first layer). Two threads (``course_lib.parallel``) take the
   chunks in turn.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .functional.conv import (
    pad,  # noqa: F401 - lesson 03's check lists fast_conv.pad
    padded_shape,
    tap_view,
    unpad,
)
from .parallel import MAX_THREADS, slot, split
from .validate import (
    Array,
    IntPair,
    Padding,
    Window,
    check_dout,
    conv_args,
)
from .workspace import Workspace, check_workspace

__all__ = ["conv2d", "conv2d_forward", "conv2d_backward", "FastConvCache",
           "PER_IMAGE_MIN_PIXELS", "SHORT_ROW_MAX_WIDTH"]

PER_IMAGE_MIN_PIXELS = 256  # per-image products from this many output pixels (trick 1)
SHORT_ROW_MAX_WIDTH = 16    # the stride-1 col2im up to this output width (trick 4)
COL2IM_BLOCK_BYTES = 4 << 20  # the batch-last col2im: dcols a few channels at a time
CHUNK_BYTES = 1 << 20         # per-image products: the columns of a few images at a time


class FastConvCache(NamedTuple):
    """What ``conv2d_backward`` needs from this module's ``conv2d_forward``."""

    x_shape: tuple[int, int, int, int]
    weight: np.ndarray         # (F, C, KH, KW)
    w_rows: np.ndarray         # (F, KH*KW*C): weight with rows ordered (kh, kw, c)
    xp: np.ndarray             # the padded input (N, C, Hp, Wp)
    cols: np.ndarray | None    # batch last: (KH*KW*C, OH*OW*N); per image: None (backward
                               # builds them again from xp, a chunk at a time: trick 6)
    window: Window
    out_hw: tuple[int, int]
    has_bias: bool
    per_image: bool            # one product per image (trick 1)?
    workspace: Workspace | None  # where cols lives (None: fresh memory)


def conv2d(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
           padding: Padding = 0, dilation: IntPair = 1) -> Array:
    """``functional.conv2d``, faster. See ``conv2d_forward``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def conv2d_forward(x: Array, weight: Array, bias: Array | None = None, stride: IntPair = 1,
                   padding: Padding = 0, dilation: IntPair = 1, *,
                   workspace: Workspace | None = None) -> tuple[Array, FastConvCache]:
    """``functional.conv2d_forward`` with tricks 1-3, 5 and 6; same arguments, same result.

    Shape: x (N, C, H, W), weight (F, C, KH, KW), bias (F,) or None -> out (N, F, OH, OW).
    workspace : a ``Workspace`` for the scratch arrays (the padded input and ``cols``, which
        the backward reads, stay in it until the next forward with the same workspace), or
        None for fresh memory.
    Returns (out, FastConvCache); out is a fresh array.
    """
    window, out_hw = conv_args(x, weight, bias, stride, padding, dilation)
    ws = check_workspace(workspace)
    N, C = x.shape[:2]
    F, _, KH, KW = weight.shape
    w_rows = weight.transpose(0, 2, 3, 1).reshape(F, -1)    # (F, KH*KW*C), cols' row order
    per_image = out_hw[0] * out_hw[1] >= PER_IMAGE_MIN_PIXELS
    if per_image:
        # a copy even without padding: the backward builds the columns from it again, and
        # must not see the caller change x meanwhile
        xp = _pad_into(ws.empty("xp", padded_shape(x.shape, window.pad4), x.dtype), x,
                       window.pad4, _BATCH)
        out = np.empty((N, F) + out_hw, dtype=x.dtype)
        out_rows = out.reshape(N, F, -1)

        def images(n0, n1, cols, scratch):           # (N, F, OH*OW), NCHW already
            np.matmul(w_rows, cols.transpose(1, 0, 2), out=out_rows[n0:n1])
            if bias is not None:
                out_rows[n0:n1] += bias[:, None]

        _by_images(images, xp, window, out_hw, ws)
        cols = None
    else:
        xt = ws.empty("xp", _batch_last(padded_shape(x.shape, window.pad4)), x.dtype)
        xp = _pad_into(_nchw(xt), x, window.pad4, _CHANNELS)
        cols = ws.empty("cols", (KH, KW, C) + out_hw + (N,), x.dtype)
        _taps(_nchw(cols, 2), xp, window, out_hw, "copy")
        cols = cols.reshape(KH * KW * C, -1)                 # (KH*KW*C, OH*OW*N)
        out_t = np.matmul(w_rows, cols, out=ws.empty("out_t", (F, cols.shape[1]), x.dtype))
        out = np.empty((N, F) + out_hw, dtype=x.dtype)
        out_nchw = _nchw(out_t.reshape((F,) + out_hw + (N,)))
        if bias is None:
            _copy(out, out_nchw, _CHANNELS)
        else:
            _split_channels(lambda a, b: np.add(out_nchw[:, a:b], bias[a:b, None, None],
                                                out=out[:, a:b]), out)
    cache = FastConvCache(x.shape, weight, w_rows, xp, cols, window, out_hw, bias is not None,
                          per_image, workspace)
    return out, cache


def conv2d_backward(dout: Array, cache: FastConvCache, input_grad: bool = True
                    ) -> tuple[Array | None, Array, Array | None]:
    """``functional.conv2d_backward`` with tricks 1 and 3-6; same result.

    Shape: dout (N, F, OH, OW) -> dx (N, C, H, W) or None (``input_grad=False``),
    dweight (F, C, KH, KW), dbias (F,) or None; all fresh arrays. The cache's workspace
    holds the scratch arrays; ``xp`` and ``cols`` are only read, so backward may run twice.
    """
    x_shape, weight, w_rows, _, cols, window, out_hw, has_bias, per_image, workspace = cache
    N, C = x_shape[:2]
    F, _, KH, KW = weight.shape
    check_dout(dout, (N, F) + out_hw, weight.dtype)
    ws = check_workspace(workspace)
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    if per_image:
        dw_rows, dxp = _backward_by_images(dout, cache, ws, input_grad)
    else:          # one product; (cols @ dout.T).T is faster than dout @ cols.T in OpenBLAS
        dout_t = ws.empty("dout_t", (F,) + out_hw + (N,), dout.dtype)
        _copy(_nchw(dout_t), dout, _CHANNELS)
        dw_rows = (cols @ dout_t.reshape(F, -1).T).T
        dxp = _col2im_batch_last(dout_t, cache, ws) if input_grad else None
    dweight = np.ascontiguousarray(dw_rows.reshape(F, KH, KW, C).transpose(0, 3, 1, 2))
    if dxp is None:
        return None, dweight, dbias
    dx = unpad(dxp, window.pad4)
    if workspace is None and dx.flags.c_contiguous:
        return dx, dweight, dbias       # fresh memory already
    fresh = np.empty(x_shape, dtype=dout.dtype)  # never hand out the workspace
    _copy(fresh, dx, _BATCH if per_image else _CHANNELS)
    return fresh, dweight, dbias


def _batch_last(shape):
    """(N, C, H, W) -> (C, H, W, N)."""
    return tuple(shape[1:]) + (shape[0],)


def _nchw(a, lead=0):
    """The (..., N, C, H, W) view of an array laid out (..., C, H, W, N) after ``lead`` axes."""
    axes = tuple(range(lead))
    return a.transpose(axes + (lead + 3, lead, lead + 1, lead + 2))


# The axis of an (N, C, H, W) array (or view) that two threads share parts of: the
# batch for NCHW memory, the channels for the batch-last layout (whose runs span the batch).
_BATCH, _CHANNELS = 0, 1


def _parts(fn, a, axis):
    """``parallel.split`` over ``axis`` of the (N, C, ...) array a: fn(index) for each part,
    index selecting that part's slice along the axis (one part, all of it, by default)."""
    split(lambda i, j: fn((slice(None),) * axis + (slice(i, j),)), a.shape[axis], a.size)


def _split_channels(fn, a):
    """``parallel.split`` of fn(start, stop) over the channels of a (N, C, ...)."""
    split(fn, a.shape[1], a.size)


def _copy(dst, src, axis):
    """dst[...] = src for two (N, C, H, W) arrays, split over ``axis``."""
    _parts(lambda sl: np.copyto(dst[sl], src[sl]), dst, axis)


def _pad_into(xp, x, pad4, axis):
    """Copy x (N, C, H, W) into the middle of xp (N, C, Hp, Wp) and zero the border; xp."""
    top, bottom, left, right = pad4
    Hp, Wp = xp.shape[2:]
    for rows, cols in ((slice(0, top), slice(None)), (slice(Hp - bottom, Hp), slice(None)),
                       (slice(top, Hp - bottom), slice(0, left)),
                       (slice(top, Hp - bottom), slice(Wp - right, Wp))):
        xp[:, :, rows, cols] = 0
    _copy(xp[:, :, top:Hp - bottom, left:Wp - right], x, axis)
    return xp


def _taps(cols, xp, window, out_hw, how):
    """``_tap_loop`` for the batch-last layout, two threads sharing parts of the channels
    (``course_lib.parallel``)."""
    _parts(lambda sl: _tap_loop(cols[(slice(None), slice(None)) + sl], xp[sl], window,
                                out_hw, how), xp, _CHANNELS)


def _tap_loop(cols, xp, window, out_hw, how):
    """For each kernel tap (u, v): cols[u, v] = the tap's view of xp (``how="copy"``: im2col),
    or the view += cols[u, v] (``how="add"``: col2im). cols (KH, KW, N, C, OH, OW), any
    memory order; xp (N, C, Hp, Wp)."""
    (KH, KW), (dh, dw), s = window.kernel, window.dilation, window.stride
    for u in range(KH):
        for v in range(KW):
            view = tap_view(xp, dh * u, dw * v, s, out_hw)
            if how == "copy":
                cols[u, v] = view
            else:
                view += cols[u, v]


def _col2im_batch_last(dout_t, cache: FastConvCache, ws: Workspace):
    """dx of the padded input from dout_t (F, OH, OW, N): dcols = W.T @ dout_t, added back
    per tap in the (C, Hp, Wp, N) layout (trick 3). Returns the (N, C, Hp, Wp) view.

    A few channels at a time: each block of dcols (at most ``COL2IM_BLOCK_BYTES``) is added
    back while it is still in the cache, instead of one pass over all of dcols.
    """
    x_shape, weight, w_rows, _, _, window, out_hw, _, _, _ = cache
    N, C = x_shape[:2]
    (KH, KW), F = window.kernel, len(w_rows)
    dout_rows = dout_t.reshape(F, -1)
    dxt = ws.zeros("dxp", _batch_last(padded_shape(x_shape, window.pad4)), dout_t.dtype)
    taps = KH * KW * dout_rows[0].nbytes                   # bytes of dcols per channel
    block = max(1, min(C, COL2IM_BLOCK_BYTES // taps))
    w_taps = w_rows.reshape(F, KH, KW, C)
    dcols = ws.empty("dcols", (KH * KW * block, dout_rows.shape[1]), dout_t.dtype)
    for c0 in range(0, C, block):
        c1 = min(C, c0 + block)
        rows = dcols[:KH * KW * (c1 - c0)]
        np.matmul(w_taps[..., c0:c1].reshape(F, -1).T, dout_rows, out=rows)
        _taps(_nchw(rows.reshape((KH, KW, c1 - c0) + out_hw + (N,)), 2), _nchw(dxt[c0:c1]),
              window, out_hw, "add")
    return _nchw(dxt)


def _by_images(fn, xp, window, out_hw, ws: Workspace, scratch_per_image=0):
    """Call fn(n0, n1, cols, scratch) on consecutive chunks of images (trick 6), where cols
    (KH*KW*C, n1-n0, OH*OW) is the im2col of xp[n0:n1] (N, C, Hp, Wp), about
    ``CHUNK_BYTES``, and scratch a flat buffer of ``scratch_per_image`` numbers per image of
    the chunk, for fn's own use. Both are this thread's part of the workspace: two threads
    share the chunks (``course_lib.parallel``)."""
    N, C = xp.shape[:2]
    (KH, KW), P = window.kernel, out_hw[0] * out_hw[1]
    per = max(1, min(N, CHUNK_BYTES // (KH * KW * C * P * xp.itemsize)))  # images a chunk
    buffers = ws.empty("cols", (MAX_THREADS, per * KH * KW * C * P), xp.dtype)
    scratches = ws.empty("scratch", (MAX_THREADS, per * scratch_per_image), xp.dtype)
    windows = _windows(xp, window, out_hw)

    def part(a, b):
        buffer, scratch = buffers[slot()], scratches[slot()]
        for n0 in range(a, b, per):
            n1 = min(b, n0 + per)
            cols = buffer[:(n1 - n0) * KH * KW * C * P].reshape((KH, KW, C, n1 - n0) + out_hw)
            np.copyto(cols, windows[:, :, :, n0:n1])         # im2col in one copy
            fn(n0, n1, cols.reshape(KH * KW * C, n1 - n0, P), scratch)

    split(part, N, xp.size * KH * KW)


def _windows(xp, window: Window, out_hw):
    """The (KH, KW, C, N, OH, OW) view of xp (N, C, Hp, Wp) whose [u, v, c, n, i, j] is
    xp[n, c, sh*i + dh*u, sw*j + dw*v]: every window of the convolution, nothing copied."""
    (KH, KW), (dh, dw), (sh, sw) = window.kernel, window.dilation, window.stride
    n, c, h, w = xp.strides
    return as_strided(xp, (KH, KW, xp.shape[1], xp.shape[0]) + tuple(out_hw),
                      (dh * h, dw * w, c, n, sh * h, sw * w), writeable=False)


def _backward_by_images(dout, cache: FastConvCache, ws: Workspace, input_grad: bool):
    """dw_rows (F, KH*KW*C) and the padded dx (N, C, Hp, Wp) or None, for per-image
    products: im2col again, a few images at a time (trick 6), for dW = sum_n dout_n @ cols_n.T
    and dcols_n = W.T @ dout_n, added back at once by ``_col2im`` or ``_col2im_stride1``."""
    x_shape, weight, w_rows, xp, _, window, out_hw, _, _, _ = cache
    N, (F, K) = x_shape[0], w_rows.shape
    dout_rows = dout.reshape(N, F, -1)
    dw_images = ws.empty("dw_images", (N, F, K), dout.dtype)   # summed in image order below
    short = window.stride == (1, 1) and out_hw[1] <= SHORT_ROW_MAX_WIDTH
    Hp, Wp = xp.shape[2:]
    dcols_size = K * out_hw[0] * (Wp if short else out_hw[1])
    tail = (window.kernel[1] - 1) * window.dilation[1] if short else 0
    dxp = ws.zeros("dxp", (N, x_shape[1], Hp * Wp + tail), dout.dtype) if input_grad else None

    def images(n0, n1, cols, scratch):
        np.matmul(dout_rows[n0:n1], cols.transpose(1, 2, 0), out=dw_images[n0:n1])
        if input_grad:
            (_col2im_stride1 if short else _col2im)(dout[n0:n1], dxp[n0:n1], cache, scratch)

    _by_images(images, xp, window, out_hw, ws,
               (dcols_size + (F * out_hw[0] * Wp if short else 0)) if input_grad else 0)
    dw_rows = dw_images.sum(axis=0)
    return dw_rows, None if dxp is None else dxp[:, :, :Hp * Wp].reshape(xp.shape)


def _col2im(dout, dxp, cache: FastConvCache, scratch):
    """dxp (n, C, Hp*Wp) += the col2im of dcols_i = W.T @ dout_i, dout (n, F, OH, OW), with
    one slice-add per tap; dcols lives in ``scratch``."""
    _, _, w_rows, xp, _, window, out_hw, _, _, _ = cache
    (n, F), C = dout.shape[:2], xp.shape[1]
    KH, KW = window.kernel
    dcols = np.matmul(w_rows.T, dout.reshape(n, F, -1),
                      out=scratch[:dout[:, 0].size * KH * KW * C].reshape(n, KH * KW * C, -1))
    _tap_loop(dcols.reshape((n, KH, KW, C) + out_hw).transpose(1, 2, 0, 3, 4, 5),
              dxp.reshape((n, C) + xp.shape[2:]), window, out_hw, "add")


def _col2im_stride1(dout, dxp, cache: FastConvCache, scratch):
    """``_col2im`` for stride 1 and short output rows (trick 4); dxp (n, C, Hp*Wp + tail).

    Flatten the padded image to rows of Wp: tap (u, v) then moves every output cell by the
    same offset u*dh*Wp + v*dw. Spread dout over an output grid as wide as the input (zeros
    in the extra columns, which feed nothing), and each tap's scatter is one add of a long
    contiguous run instead of OH short rows.
    """
    _, _, w_rows, xp, _, window, (OH, OW), _, _, _ = cache
    (n, F), C, Wp = dout.shape[:2], xp.shape[1], xp.shape[3]
    (KH, KW), (dh, dw) = window.kernel, window.dilation
    K, size = w_rows.shape[1], n * OH * Wp
    dcols = scratch[:size * K].reshape(n, K, OH * Wp)
    wide = scratch[size * K:size * (K + F)].reshape(n, F, OH, Wp)
    wide[..., :OW] = dout
    wide[..., OW:] = 0
    dcols = np.matmul(w_rows.T, wide.reshape(n, F, -1), out=dcols)
    dcols = dcols.reshape(n, KH, KW, C, OH * Wp)
    for u in range(KH):
        for v in range(KW):
            start = u * dh * Wp + v * dw
            dxp[:, :, start:start + OH * Wp] += dcols[:, u, v]
