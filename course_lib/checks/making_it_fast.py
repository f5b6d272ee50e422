"""Checks for the lesson "Making it fast": ``im2col`` and ``conv2d_im2col``.

The layout is lesson 09's: ``im2col(x, ...)`` is (N, C*KH*KW, OH*OW), column ``i*OW + j`` the
window of output (i, j), row ``c*KH*KW + u*KW + v`` kernel tap (u, v) of channel c.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .. import functional as F
from ..validate import pair
from ._engine import Case, Mistake, Spec, arange, make_check, randn
from .convolution import CONV_IMPLEMENTATIONS, FLIPPED

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("im2col", "conv2d_im2col")

# course_lib's convolutions and its im2col: off while grading. im2col too is a convolution
# (with one-hot filters), and conv2d_forward's cache holds a cols.
IM2COL_IMPLEMENTATIONS = CONV_IMPLEMENTATIONS + ("functional.im2col", "functional.conv.im2col")


def im2col_reference(x: npt.NDArray[np.floating], kernel_size: int | tuple[int, int],
                     stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0) -> npt.NDArray[np.floating]:
    """(N, C, H, W) -> (N, C*KH*KW, OH*OW): rows (c, u, v), columns (i, j)."""
    kh, kw = pair(kernel_size, "kernel_size", 1)
    (sh, sw), (ph, pw) = pair(stride, "stride", 1), pair(padding, "padding")
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def _swapped(value):
    return tuple(pair(value, "value"))[::-1]


def _rows(ref, a, order):
    """``ref`` with its rows (c, u, v) put in another order: ``order`` permutes (c, u, v)."""
    n, _, p = ref.shape
    kh, kw = pair(a.kernel_size, "kernel_size", 1)
    blocks = ref.reshape(n, a.x.shape[1], kh, kw, p)
    return blocks.transpose(0, *(1 + k for k in order), 4).reshape(n, -1, p)


def _positions(ref, a, stride=None):
    """``ref``'s columns as an (N, K, OH, OW) grid."""
    kh, kw = pair(a.kernel_size, "kernel_size", 1)
    sh, sw = pair(a.stride if stride is None else stride, "stride", 1)
    ph, pw = pair(a.padding, "padding")
    oh = (a.x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (a.x.shape[3] + 2 * pw - kw) // sw + 1
    return ref.reshape(ref.shape[0], ref.shape[1], oh, ow)


def _moved_by_one(a, ref):
    """Windows taken every pixel instead of every ``stride``, the number of them right."""
    grid = _positions(im2col_reference(a.x, a.kernel_size, 1, a.padding), a, stride=1)
    oh, ow = _positions(ref, a).shape[2:]
    return grid[:, :, :oh, :ow].reshape(ref.shape)


def _lower_precision(a, actual, ref):
    """Off everywhere by a rounding error (float16, or float32 for a float64 input): values
    within 2% of the largest, differing in most entries (one wrong entry is not this)."""
    actual, ref = np.asarray(actual, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if actual.shape != ref.shape or not np.all(np.isfinite(actual)):
        return False
    diff = np.abs(actual - ref)
    scale = float(np.max(np.abs(ref), initial=0.0))
    return bool(0 < diff.max() <= 0.02 * scale and np.mean(diff > 0) > 0.5)


LOWER_PRECISION = ("Your values carry the rounding error of a lower precision (float16, or "
                   "float32 for a float64 input): keep x's dtype throughout, e.g. "
                   "`np.zeros(shape, dtype=x.dtype)`, so float32 stays float32 and float64 "
                   "stays float64.")
WRONG_WAY_ROUND = ("A pair is read the wrong way round: kernel_size=(KH, KW), stride=(sh, sw) and "
                   "padding=(ph, pw) give the rows (height) first, then the columns (width).")


def _im2col_cases(rng):
    f32 = np.float32

    def case(label, shape, k, s, p, dtype=np.float64):
        return Case(label, x=randn(rng, *shape, dtype=dtype), kernel_size=k, stride=s, padding=p)
    return [
        Case("one 1-channel 3 x 4 image, a 2 x 2 kernel (small enough to check by hand)",
             x=arange(1, 1, 3, 4), kernel_size=2, stride=1, padding=0),
        case("2 channels, a 2 x 3 kernel (the order of the rows shows)", (2, 2, 4, 5), (2, 3),
             1, 0),
        case("padding 1, stride 2 that does not divide, 3 channels", (2, 3, 6, 7), 3, 2, 1),
        case("pairs: kernel (3, 2), stride (2, 1), padding (1, 0); batch 1, float32",
             (1, 2, 5, 4), (3, 2), (2, 1), (1, 0), f32),
        case("stride 3 on an 8 x 7 image (the last rows are never read), padding 2",
             (2, 2, 8, 7), 3, 3, 2),
        case("a 1 x 1 kernel, float32", (2, 3, 3, 4), 1, 1, 0, f32),
    ]


def _im2col_shape_hint(a):
    return (f"With x {a.x.shape}, kernel_size={a.kernel_size!r}, stride={a.stride!r} and "
            f"padding={a.padding!r}, cols is (N, C*KH*KW, OH*OW) = "
            f"{im2col_reference(a.x, a.kernel_size, a.stride, a.padding).shape}, "
            f"OH = (H + 2*ph - KH) // sh + 1.")


IM2COL = Spec(
    name="im2col",
    reference=im2col_reference,
    cases=_im2col_cases,
    mistakes=[
        Mistake("Your rows are ordered (kernel row, kernel column, channel), as course_lib's "
                "conv2d stores them internally; this exercise asks for the channel first: row "
                "`c*KH*KW + u*KW + v`, as in lesson 09.",
                lambda a, ref: _rows(ref, a, (1, 2, 0))),
        Mistake("Inside each window the taps are read column by column: read them row by row, "
                "so that row `c*KH*KW + u*KW + v` holds tap (u, v) of channel c.",
                lambda a, ref: _rows(ref, a, (0, 2, 1))),
        Mistake("Your result is transposed: one COLUMN per window, (N, C*KH*KW, OH*OW), not one "
                "row per window.", lambda a, ref: ref.transpose(0, 2, 1)),
        Mistake("The windows (columns) are in the wrong order: column `i*OW + j` is the window "
                "of output (i, j), windows along a row next to each other.",
                lambda a, ref: _positions(ref, a).transpose(0, 1, 3, 2).reshape(ref.shape)),
        *[Mistake("The batch is merged into the columns, (C*KH*KW, N*OH*OW), as CS231n's "
                  "im2col does: keep the images apart, (N, C*KH*KW, OH*OW).", output)
          for output in (lambda a, ref: ref.transpose(1, 0, 2).reshape(ref.shape[1], -1),
                         lambda a, ref: ref.transpose(1, 2, 0).reshape(ref.shape[1], -1))],
        Mistake("The padding is ignored: pad x with `padding` zeros on each side of H and W "
                "first (only those two axes).",
                lambda a, ref: im2col_reference(a.x, a.kernel_size, a.stride, 0)),
        Mistake("The stride is ignored: output (i, j)'s window starts at row `i * sh` and "
                "column `j * sw` of the padded input.",
                lambda a, ref: im2col_reference(a.x, a.kernel_size, 1, a.padding)),
        Mistake("You have the right number of windows but they move by 1 pixel: output (i, j)'s "
                "window starts at row `i * sh` and column `j * sw` of the padded input.",
                _moved_by_one),
        *[Mistake(WRONG_WAY_ROUND, output) for output in (
            lambda a, ref: im2col_reference(a.x, a.kernel_size, _swapped(a.stride), a.padding),
            lambda a, ref: im2col_reference(a.x, a.kernel_size, a.stride, _swapped(a.padding)),
            lambda a, ref: im2col_reference(a.x, _swapped(a.kernel_size), a.stride, a.padding))],
        Mistake(LOWER_PRECISION, test=_lower_precision),
    ],
    shape_hint=_im2col_shape_hint,
    implementations=IM2COL_IMPLEMENTATIONS,
)


# ----------------------------------------------------------------------------- conv2d_im2col
_KEEP = object()


def _conv(a, x=None, weight=None, bias=_KEEP, stride=None, padding=None):
    """The reference on case ``a`` with some arguments replaced: builds the mistakes."""
    return F.conv2d(a.x if x is None else x, a.weight if weight is None else weight,
                    a.bias if bias is _KEEP else bias, a.stride if stride is None else stride,
                    a.padding if padding is None else padding)


def _scrambled_weights(w):
    """Weights that a weight matrix with another order of (c, u, v) than cols amounts to."""
    f, c, kh, kw = w.shape
    return (w.transpose(0, 2, 3, 1).reshape(w.shape),         # weight in (u, v, c), cols (c, u, v)
            w.reshape(f, kh, kw, c).transpose(0, 3, 1, 2),    # weight in (c, u, v), cols (u, v, c)
            w.transpose(0, 1, 3, 2).reshape(w.shape),         # kernel rows and columns swapped
            w.reshape(-1, f).T.reshape(w.shape))              # w.reshape(-1, F).T


def _nhwc_as_nchw(a, ref):
    """The (N, OH, OW, C_out) result reshaped (not transposed) to (N, C_out, OH, OW)."""
    return ref.transpose(0, 2, 3, 1).reshape(ref.shape)


def _conv_cases(rng):
    def case(label, x_shape, w_shape, stride, padding, dtype=np.float64, bias=True):
        return Case(label, x=randn(rng, *x_shape, dtype=dtype),
                    weight=randn(rng, *w_shape, dtype=dtype),
                    bias=randn(rng, w_shape[0], dtype=dtype) if bias else None,
                    stride=stride, padding=padding)
    return [
        Case("one 1-channel 3 x 4 image, one 2 x 2 filter",
             x=arange(1, 1, 3, 4), weight=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
             bias=np.array([0.5]), stride=1, padding=0),
        case("2 channels, 3 filters of 3 x 2, output 1 x 3 (channel order and bias axis show)",
             (2, 2, 3, 4), (3, 2, 3, 2), 1, 0),
        case("stride 2 that does not divide, padding 1, a non-square input", (2, 3, 7, 6),
             (4, 3, 3, 2), 2, 1),
        case("batch 1, float32, stride (2, 1), padding (1, 2)", (1, 3, 6, 5), (2, 3, 3, 3),
             (2, 1), (1, 2), np.float32),
        case("bias=None, padding 1", (2, 2, 5, 5), (3, 2, 3, 3), 1, 1, bias=False),
        case("float32 with long sums (16 channels x 3 x 3 = 144 products)", (1, 16, 5, 6),
             (4, 16, 3, 3), 1, 0, np.float32),
    ]


def _conv_shape_hint(a):
    return (f"With x {a.x.shape}, weight {a.weight.shape}, stride={a.stride!r} and "
            f"padding={a.padding!r}, the output is (N, C_out, OH, OW) = "
            f"{_conv(a, bias=None).shape}, OH = (H + 2*ph - KH) // sh + 1.")


CONV2D_IM2COL = Spec(
    name="conv2d_im2col",
    reference=lambda x, weight, bias=None, stride=1, padding=0: F.conv2d(x, weight, bias,
                                                                          stride, padding),
    cases=_conv_cases,
    mistakes=[
        Mistake(FLIPPED, lambda a, ref: _conv(a, weight=a.weight[..., ::-1, ::-1])),
        *[Mistake("The rows of cols and the columns of your weight matrix are not in the same "
                  "order: each pixel must meet the weight of its own (c, u, v). Reshape the "
                  "weight with no transpose, in the row order of your im2col.",
                  lambda a, ref, k=k: _conv(a, weight=_scrambled_weights(a.weight)[k]))
          for k in range(4)],
        Mistake("Your output is in NHWC order (N, OH, OW, C_out); the course uses NCHW: "
                "(N, C_out, OH, OW). Move the axes with a transpose.",
                lambda a, ref: ref.transpose(0, 2, 3, 1)),
        Mistake("Your output was laid out as (N, OH*OW, C_out) (NHWC) and then reshaped to "
                "(N, C_out, OH, OW): a reshape never moves values between axes, so the "
                "channels are scrambled. Transpose first, or multiply in the order that gives "
                "(N, C_out, OH*OW).", _nhwc_as_nchw),
        Mistake("OH and OW are swapped in your final reshape: the columns of cols run over "
                "the output row by row, so the result is (N, C_out, OH, OW).",
                lambda a, ref: ref.reshape(ref.shape[0], ref.shape[1], ref.shape[3],
                                           ref.shape[2])),
        Mistake("The padding is ignored: pass `padding` on to your im2col (pad H and W only).",
                lambda a, ref: _conv(a, padding=0)),
        Mistake("The stride is ignored: pass `stride` on to your im2col, and size the output "
                "with it.", lambda a, ref: _conv(a, stride=1)),
        *[Mistake(WRONG_WAY_ROUND, output) for output in (
            lambda a, ref: _conv(a, stride=_swapped(a.stride)),
            lambda a, ref: _conv(a, padding=_swapped(a.padding)))],
        Mistake("The bias is missing: add `bias[f]` to every output pixel of filter f (when "
                "bias is not None).", lambda a, ref: _conv(a, bias=None)),
        Mistake("The bias is added along the last axis: `out + bias` lines it up with the "
                "pixels, not with the C_out filters. Give it a shape that broadcasts along the "
                "filter axis, (C_out, 1) or (C_out, 1, 1).",
                lambda a, ref: _conv(a, bias=None) + a.bias),
        Mistake(LOWER_PRECISION, test=_lower_precision),
    ],
    shape_hint=_conv_shape_hint,
    implementations=IM2COL_IMPLEMENTATIONS,
)


check_im2col = make_check(IM2COL)
check_conv2d_im2col = make_check(CONV2D_IM2COL)

__all__ = [f"check_{name}" for name in GRADED]
