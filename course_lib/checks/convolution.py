"""Checks for the lesson "Convolution":
``correlate2d`` (one image, one kernel) and ``conv2d_forward``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import numpy.typing as npt

from .. import functional as F
from ._engine import Case, Mistake, Spec, arange, make_check, randn

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("correlate2d", "conv2d_forward")

FLIPPED = ("Your output equals the true convolution: the kernel is flipped. Deep-learning layers "
           "compute cross-correlation, with no flip: "
           "`out[i, j] = sum(image[i:i+KH, j:j+KW] * kernel)`.")
FLIPPED_ONE_AXIS = ("The kernel is flipped along one axis (rows or columns): use "
                    "`kernel[u, v]` against `image[i + u, j + v]`, no flip at all.")
ONE_TOO_SMALL = ("Your output is one row and one column too small: there are H - KH + 1 window "
                 "positions, so loop over `range(H - KH + 1)` (and the same for W).")
MEAN_NOT_SUM = ("You averaged the products (`np.mean`); a convolution sums them (`np.sum`).")
MATMUL = ("You multiplied the window and the kernel as matrices (`@` or `np.dot`); multiply them "
          "element by element (`*`) and sum.")
LOWER_PRECISION = ("Your values are off everywhere by a rounding error: part of your computation "
                   "ran in a lower precision than the input (float32 for a float64 input, or "
                   "float16). Keep x's dtype throughout: no `.astype(np.float32)`, and create "
                   "arrays with `dtype=x.dtype`.")

# course_lib's convolutions, switched off while grading (see Spec.implementations): each
# computes the whole of what these exercises ask for.
CONV_IMPLEMENTATIONS = ("functional.conv2d", "functional.conv.conv2d", "functional.conv2d_forward",
                        "functional.conv.conv2d_forward", "readable.conv2d",
                        "readable.conv2d_forward", "fast_conv.conv2d", "fast_conv.conv2d_forward",
                        "layers.Conv2d.forward")


def lower_precision(a: SimpleNamespace, actual: object, ref: object) -> bool:
    """The student's output is off in most entries, each by no more than the rounding error
    a lower precision (float16, or float32 for a float64 input) accumulates: a dtype problem,
    not a formula problem. (Tried after the named mistakes, on an output already wrong.)"""
    actual, ref = np.asarray(actual), np.asarray(ref)
    if actual.shape != ref.shape or actual.dtype.kind != "f":
        return False
    actual, ref = actual.astype(np.float64), ref.astype(np.float64)
    if not np.all(np.isfinite(actual)):
        return False
    diff, scale = np.abs(actual - ref), max(float(np.max(np.abs(ref), initial=0.0)), 1e-30)
    return bool(0 < diff.max() <= 1e-2 * scale and np.mean(diff > 1e-12 * scale) > 0.5)


def correlate2d_reference(image: npt.NDArray[np.floating],
                          kernel: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Valid 2-D cross-correlation of one (H, W) image with one (KH, KW) kernel."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def _correlate_cases(rng):
    return [
        Case("a 3 x 4 image and a 2 x 2 kernel (small enough to check by hand)",
             image=arange(3, 4), kernel=np.array([[1.0, 2.0], [3.0, 4.0]])),
        Case("a non-square 5 x 7 image and a 3 x 2 kernel",
             image=randn(rng, 5, 7), kernel=randn(rng, 3, 2)),
        Case("float32, 6 x 4 image, 3 x 3 kernel",
             image=randn(rng, 6, 4, dtype=np.float32), kernel=randn(rng, 3, 3, dtype=np.float32)),
        Case("kernel as large as the image (1 x 1 output)",
             image=randn(rng, 3, 2), kernel=randn(rng, 3, 2)),
        Case("a 1 x 1 kernel", image=randn(rng, 4, 5), kernel=randn(rng, 1, 1)),
    ]


def _valid_shape_hint(h, w, kh, kw):
    return (f"A valid cross-correlation of a {h} x {w} input with a {kh} x {kw} kernel is "
            f"(H - KH + 1) x (W - KW + 1) = {h - kh + 1} x {w - kw + 1}.")


CORRELATE2D = Spec(
    name="correlate2d",
    reference=correlate2d_reference,
    cases=_correlate_cases,
    mistakes=[
        Mistake(FLIPPED, lambda a, ref: correlate2d_reference(a.image, a.kernel[::-1, ::-1])),
        Mistake(FLIPPED_ONE_AXIS, lambda a, ref: correlate2d_reference(a.image, a.kernel[::-1])),
        Mistake(FLIPPED_ONE_AXIS,
                lambda a, ref: correlate2d_reference(a.image, a.kernel[:, ::-1])),
        Mistake(ONE_TOO_SMALL, lambda a, ref: ref[:-1, :-1]),
        Mistake(MEAN_NOT_SUM, lambda a, ref: ref / a.kernel.size),
        Mistake(MATMUL, lambda a, ref: np.array(
            [[np.sum(a.image[i:i + a.kernel.shape[0], j:j + a.kernel.shape[1]] @ a.kernel)
              for j in range(ref.shape[1])] for i in range(ref.shape[0])])),
        Mistake(LOWER_PRECISION, test=lambda a, actual, ref: lower_precision(a, actual, ref)),
    ],
    shape_hint=lambda a: _valid_shape_hint(*a.image.shape, *a.kernel.shape),
    implementations=CONV_IMPLEMENTATIONS,
)


# ----------------------------------------------------------------------------- conv2d_forward
_KEEP = object()


def conv_like(a: SimpleNamespace, x: npt.NDArray[np.floating] | None = None,
              w: npt.NDArray[np.floating] | None = None, b: object = _KEEP,
              stride: int | None = None, padding: int | None = None) -> npt.NDArray[np.floating]:
    """The reference conv2d on case ``a`` with some arguments replaced: builds the mistakes.

    Works for conv2d_forward (no stride/padding arguments) and conv2d_forward_general.
    """
    bias = a.b if b is _KEEP else b
    assert bias is None or isinstance(bias, np.ndarray)
    return F.conv2d(a.x if x is None else x, a.w if w is None else w, bias,
                    getattr(a, "stride", 1) if stride is None else stride,
                    getattr(a, "padding", 0) if padding is None else padding)


def _conv_cases(rng):
    f32 = np.float32
    return [
        Case("one 1-channel 3 x 4 image, one 2 x 2 filter",
             x=arange(1, 1, 3, 4), w=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), b=np.array([0.5])),
        Case("3 filters and an output 3 pixels wide (a bias added on the wrong axis shows)",
             x=randn(rng, 2, 2, 4, 5), w=randn(rng, 3, 2, 2, 3), b=randn(rng, 3)),
        Case("batch 2, 3 channels, non-square 5 x 6 images, 4 filters of 3 x 2",
             x=randn(rng, 2, 3, 5, 6), w=randn(rng, 4, 3, 3, 2), b=randn(rng, 4)),
        Case("batch 1, float32",
             x=randn(rng, 1, 2, 6, 5, dtype=f32), w=randn(rng, 3, 2, 2, 3, dtype=f32),
             b=randn(rng, 3, dtype=f32)),
        Case("1 x 1 filters", x=randn(rng, 2, 3, 3, 4), w=randn(rng, 2, 3, 1, 1),
             b=randn(rng, 2)),
    ]


FLATTEN_ORDER = ("Your flattened windows and your flattened filters list the C*KH*KW values in "
                 "different orders (e.g. windows as (KH, KW, C) but `w.reshape(F, -1)` as "
                 "(C, KH, KW)): flatten both from the same axis order.")
OUTPUT_FN = ("Your output has the right numbers in the wrong places: an (F, N*OH*OW) product "
             "was reshaped straight to (N, F, OH, OW), which mixes images and filters. "
             "Reshape it to (F, N, OH, OW), then `.transpose(1, 0, 2, 3)`.")
# an NHWC result returned as it is, or reshaped to NCHW's shape without a transpose: when
# OH = OW = F the two are the same array, so one message says both
OUTPUT_NHWC = ("Your output is laid out in NHWC order (N, OH, OW, F); the course uses NCHW, "
               "(N, F, OH, OW). Reshaping does not reorder: make it (N, OH, OW, F) (e.g. from an "
               "(N*OH*OW, F) product), then `.transpose(0, 3, 1, 2)`.")


def flattened(w: npt.NDArray[np.floating], how: str) -> npt.NDArray[np.floating]:
    """The filters a conv really uses when its windows and ``w`` are flattened in different
    orders (``how``): "windows KH, KW, C" (filters ``w.reshape(F, -1)``, i.e. C, KH, KW),
    "filters KH, KW, C" (windows C, KH, KW) or "taps transposed" (windows C, KW, KH)."""
    f, c, kh, kw = w.shape
    if how == "windows KH, KW, C":
        return w.reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
    if how == "filters KH, KW, C":
        return w.transpose(0, 2, 3, 1).reshape(f, c, kh, kw)
    return w.reshape(f, c, kw, kh).transpose(0, 1, 3, 2)


FLATTEN_WAYS = ("windows KH, KW, C", "filters KH, KW, C", "taps transposed")


def _reshaped(a, ref, layout, bias_after=False):
    """``ref`` (N, F, OH, OW) laid out as ``layout`` (axes of ref), then read back as NCHW;
    ``bias_after``: the bias is added (rightly) after that reshape, not before."""
    out = conv_like(a, b=None) if bias_after else ref
    out = np.ascontiguousarray(out.transpose(layout)).reshape(ref.shape)
    return out + a.b[:, None, None] if bias_after else out


CONV_MISTAKES = [
    Mistake(FLIPPED, lambda a, ref: conv_like(a, w=a.w[..., ::-1, ::-1])),
    Mistake("The bias is missing: add `b[f]` to every output pixel of filter f.",
            lambda a, ref: conv_like(a, b=None)),
    Mistake("The bias is added along the last axis (width): `out + b` broadcasts `b` over W. "
            "Add it per filter: `out + b[:, None, None]` (or `b.reshape(1, F, 1, 1)`).",
            lambda a, ref: conv_like(a, b=None) + a.b),
    Mistake("The bias is added inside the sum, once per multiplied value: add `b[f]` once per "
            "output pixel, after summing.",
            lambda a, ref: conv_like(a, b=None) + a.b[:, None, None] * a.w[0].size),
    Mistake("Only the first input channel is used: sum over all C channels "
            "(the window is `x[n, :, i:i+KH, j:j+KW]`, shape (C, KH, KW)).",
            lambda a, ref: conv_like(a, x=a.x[:, :1], w=a.w[:, :1])),
    Mistake(ONE_TOO_SMALL, lambda a, ref: ref[..., :-1, :-1]),
    Mistake(OUTPUT_NHWC, lambda a, ref: ref.transpose(0, 2, 3, 1)),
    Mistake(MEAN_NOT_SUM,
            lambda a, ref: conv_like(a, b=None) / a.w[0].size + a.b[:, None, None]),
    # im2col-style code: windows and filters flattened in different orders, output reshaped
    # from another layout without its transpose
    *[Mistake(FLATTEN_ORDER, lambda a, ref, how=how: conv_like(a, w=flattened(a.w, how)))
      for how in FLATTEN_WAYS],
    *[Mistake(message, lambda a, ref, layout=layout, after=after:
              _reshaped(a, ref, layout, bias_after=after))
      for message, layout in ((OUTPUT_FN, (1, 0, 2, 3)), (OUTPUT_NHWC, (0, 2, 3, 1)))
      for after in (False, True)],
    Mistake(LOWER_PRECISION, test=lambda a, actual, ref: lower_precision(a, actual, ref)),
]


def _conv_shape_hint(a):
    return (f"With x {a.x.shape} and w {a.w.shape} the output is (N, F, OH, OW) = "
            f"{conv_like(a, b=None).shape}: OH = H - KH + 1, OW = W - KW + 1.")


CONV2D_FORWARD = Spec(
    name="conv2d_forward",
    reference=lambda x, w, b: F.conv2d(x, w, b),
    cases=_conv_cases,
    mistakes=CONV_MISTAKES,
    shape_hint=_conv_shape_hint,
    implementations=CONV_IMPLEMENTATIONS,
)


check_correlate2d = make_check(CORRELATE2D)
check_conv2d_forward = make_check(CONV2D_FORWARD)

__all__ = [f"check_{name}" for name in GRADED]
