"""Checks for the lesson "Convolution":
``correlate2d`` (one image, one kernel) and ``conv2d_forward``.
"""

from __future__ import annotations

import numpy as np

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


def correlate2d_reference(image, kernel):
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
    ],
    shape_hint=lambda a: _valid_shape_hint(*a.image.shape, *a.kernel.shape),
)


# ----------------------------------------------------------------------------- conv2d_forward
_KEEP = object()


def conv_like(a, x=None, w=None, b=_KEEP, stride=None, padding=None):
    """The reference conv2d on case ``a`` with some arguments replaced: builds the mistakes.

    Works for conv2d_forward (no stride/padding arguments) and conv2d_forward_general.
    """
    return F.conv2d(a.x if x is None else x, a.w if w is None else w,
                    a.b if b is _KEEP else b,
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
    Mistake("Your output is in NHWC order (N, OH, OW, F); the course uses NCHW: (N, F, OH, OW).",
            lambda a, ref: ref.transpose(0, 2, 3, 1)),
    Mistake(MEAN_NOT_SUM,
            lambda a, ref: conv_like(a, b=None) / a.w[0].size + a.b[:, None, None]),
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
)


check_correlate2d = make_check(CORRELATE2D)
check_conv2d_forward = make_check(CONV2D_FORWARD)

__all__ = ["check_correlate2d", "check_conv2d_forward"]
