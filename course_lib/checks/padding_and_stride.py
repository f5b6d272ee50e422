"""Checks for the lesson "Padding and stride":
``pad2d``, ``conv_output_size`` and ``conv2d_forward_general``.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import validate
from ._engine import Case, Mistake, Spec, make_check, randn
from .convolution import CONV_IMPLEMENTATIONS, CONV_MISTAKES, ONE_TOO_SMALL, conv_like

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("pad2d", "conv_output_size", "conv2d_forward_general")


def _ph_pw(padding):
    return (padding, padding) if isinstance(padding, int) else tuple(padding)


def _pad_each(a, sides):
    """The case's x padded by ``sides(p) = (before, after)`` for p = ph (rows) and pw (columns)."""
    ph, pw = _ph_pw(a.padding)
    return np.pad(a.x, ((0, 0), (0, 0), sides(ph), sides(pw)))


ONE_SIDE = ("You padded one side only: add the padding on both sides, ph rows above AND below, "
            "pw columns left AND right.")


def _pad_cases(rng):
    return [
        Case("padding=2 on a 2 x 3 x 4 x 5 batch", x=randn(rng, 2, 3, 4, 5), padding=2),
        Case("padding=(1, 2): 1 row above and below, 2 columns left and right",
             x=randn(rng, 1, 2, 3, 4), padding=(1, 2)),
        Case("padding=(2, 0): rows only", x=randn(rng, 2, 1, 3, 3), padding=(2, 0)),
        Case("batch 1, float32, padding=1", x=randn(rng, 1, 2, 3, 5, dtype=np.float32),
             padding=1),
        Case("padding=0 (nothing to add)", x=randn(rng, 2, 2, 3, 2), padding=0),
    ]


PAD2D = Spec(
    name="pad2d",
    reference=lambda x, padding: F.pad2d(x, padding),
    cases=_pad_cases,
    mistakes=[
        *[Mistake(ONE_SIDE, lambda a, ref, sides=sides: _pad_each(a, sides))
          for sides in (lambda p: (0, 2 * p), lambda p: (2 * p, 0), lambda p: (0, p),
                        lambda p: (p, 0))],
        Mistake("You padded the N and C axes too: `np.pad(x, p)` pads every axis. Pad only H "
                "and W: `np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))`.",
                lambda a, ref: np.pad(a.x, a.padding)),
        Mistake("ph and pw are swapped: padding=(ph, pw) adds ph rows (height) and pw columns "
                "(width).",
                lambda a, ref: F.pad2d(a.x, _ph_pw(a.padding)[::-1])),
        Mistake("The padding is per side: padding=p adds p rows above and p below "
                "(H + 2p in total), not 2p on each side.",
                lambda a, ref: _pad_each(a, lambda p: (2 * p, 2 * p))),
        Mistake("The padding is per side: padding=p adds p rows above and p below, not p in "
                "total split between the two sides.",
                lambda a, ref: _pad_each(a, lambda p: (p // 2, p - p // 2))),
        Mistake("The border must be zeros: start from `np.zeros(...)` (not `np.empty`, which "
                "holds leftover memory) and copy x into the middle.",
                test=lambda a, actual, ref: actual.shape == ref.shape
                and np.allclose(actual[(ref != 0)], ref[(ref != 0)])),
    ],
    shape_hint=lambda a: (f"With padding={a.padding!r} the result is (N, C, H + 2*ph, W + 2*pw) "
                          f"= {F.pad2d(a.x, a.padding).shape}."),
    # pad is pad2d without the checks; the other modules import it under the same name
    implementations=("functional.pad2d", "functional.conv.pad2d", "functional.pad",
                     "functional.conv.pad", "functional.pooling.pad", "readable.pad",
                     "fast_conv.pad"),
)


# ----------------------------------------------------------------------------- conv_output_size
_SIZE_ARGS = [  # n, kernel_size, stride, padding, dilation
    (28, 3, 1, 0, 1), (28, 5, 1, 2, 1), (7, 3, 2, 0, 1), (8, 3, 2, 1, 1), (10, 3, 3, 0, 1),
    # dilation 3 before 2: with dilation 2 (stride 1) reading the span as d * k gives the same
    # wrong number as a forgotten + 1, with dilation 3 it does not
    (5, 2, 2, 0, 1), (32, 3, 2, 1, 1), (12, 3, 1, 0, 3), (7, 3, 1, 0, 2), (15, 3, 2, 2, 3),
    (4, 4, 1, 0, 1),
]


def size_label(n: int, k: int, s: int, p: int, d: int) -> str:
    """Describe one conv_output_size case in words, from its arguments."""
    leftover = (n + 2 * p - d * (k - 1) - 1) % s
    words = [f"stride {s}" + ("" if s == 1 else " that does not divide" if leftover
                              else " that divides evenly"),
             f"padding {p}" if p else "no padding"]
    if d > 1:
        words.append(f"dilation {d}")
    if n + 2 * p == d * (k - 1) + 1:
        words.append("the kernel just fits")
    return ", ".join(words)


def _size_cases(rng):
    cases = [Case("defaults: n=28, kernel_size=3", n=28, kernel_size=3)]
    for n, k, s, p, d in _SIZE_ARGS:
        cases.append(Case(size_label(n, k, s, p, d),
                          n=n, kernel_size=k, stride=s, padding=p, dilation=d))
    return cases


def _size(a, n_extra=0, span=None, stride=None, rounding=np.floor):
    span = a.kernel_size if span is None else span
    s = getattr(a, "stride", 1) if stride is None else stride
    return int(rounding((a.n + 2 * getattr(a, "padding", 0) + n_extra - span) / s)) + 1


def _span(a):
    return getattr(a, "dilation", 1) * (a.kernel_size - 1) + 1


def _size_reference(n, kernel_size, stride=1, padding=0, dilation=1):
    return validate.conv_output_size(n, kernel_size, stride, padding, dilation)


CONV_OUTPUT_SIZE = Spec(
    name="conv_output_size",
    reference=_size_reference,
    kind="int",
    cases=_size_cases,
    mistakes=[
        # the + 1 inside the division, floor((n + 2p - d(k - 1)) / s), gives this or the
        # right answer: no case can tell the two apart, so one message names both
        Mistake("You forgot the + 1, or put it inside the division: the first window position "
                "counts too, o = floor((n + 2p - d(k - 1) - 1) / s) + 1.",
                lambda a, ref: ref - 1),
        Mistake("You rounded up: a window that does not fit is dropped, so round down "
                "(integer division `//`).",
                lambda a, ref: _size(a, span=_span(a), rounding=np.ceil)),
        Mistake("You divided with `/`, which gives a fraction when the stride does not divide: "
                "use integer division `//`.",
                lambda a, ref: (a.n + 2 * getattr(a, "padding", 0) - _span(a))
                / getattr(a, "stride", 1) + 1),
        Mistake("The padding is counted once: it is added on both sides, so use 2 * padding.",
                lambda a, ref: _size(a, n_extra=-getattr(a, "padding", 0), span=_span(a))),
        Mistake("The stride is ignored: divide (n + 2p - d(k - 1) - 1) by the stride.",
                lambda a, ref: _size(a, span=_span(a), stride=1)),
        Mistake("The dilation is ignored: a kernel of size k with dilation d spans "
                "d(k - 1) + 1 pixels.", lambda a, ref: _size(a)),
        Mistake("A dilated kernel spans d(k - 1) + 1 pixels, not d * k.",
                lambda a, ref: _size(a, span=getattr(a, "dilation", 1) * a.kernel_size)),
    ],
    # the same function under three names (validate's, re-exported by functional and imported
    # by the arithmetic widget), and the widget's function that computes it with the formula
    # (re-exported by the widgets package)
    implementations=("validate.conv_output_size", "functional.conv_output_size",
                     "widgets.arithmetic.conv_output_size", "widgets.arithmetic.conv_arithmetic",
                     "widgets.conv_arithmetic"),
)


# ------------------------------------------------------------------------ conv2d_forward_general
def _general_cases(rng):
    def case(label, x_shape, w_shape, stride, padding, dtype=np.float64):
        return Case(label, x=randn(rng, *x_shape, dtype=dtype), w=randn(rng, *w_shape, dtype=dtype),
                    b=randn(rng, w_shape[0], dtype=dtype), stride=stride, padding=padding)
    return [
        case("stride 1, padding 0 (lesson 02's conv2d_forward)", (2, 3, 5, 6), (4, 3, 3, 2),
             1, 0),
        # padding one side only loses 2 rows here, not 1 (which looks like a too-short loop)
        case("padding 2, stride 1 on a non-square input", (2, 2, 4, 5), (3, 2, 3, 2), 1, 2),
        case("padding 1, stride 1 ('same' size for a 3 x 3 kernel)", (2, 2, 4, 5), (3, 2, 3, 3),
             1, 1),
        case("stride 2, padding 1 on a non-square input", (2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
        case("stride 3 that does not divide (the last columns are never covered)",
             (1, 2, 8, 7), (3, 2, 3, 3), 3, 0),
        case("batch 1, float32, stride 2, padding 2", (1, 2, 5, 5), (2, 2, 3, 3), 2, 2,
             np.float32),
    ]


def _one_sided(a, before: bool):
    p = a.padding
    xp = F.pad2d(a.x, (p, 0, p, 0) if before else (0, p, 0, p))
    return conv_like(a, x=xp, padding=0)


def _moved_by_one(a, ref):
    """Window moved by 1 instead of by the stride, output size right."""
    return conv_like(a, stride=1)[..., :ref.shape[2], :ref.shape[3]]


CONV2D_FORWARD_GENERAL = Spec(
    name="conv2d_forward_general",
    reference=lambda x, w, b, stride=1, padding=0: F.conv2d(x, w, b, stride, padding),
    cases=_general_cases,
    mistakes=[
        Mistake("The stride is ignored: move the window by `stride` pixels, so output (i, j) "
                "reads `xp[:, :, i*stride : i*stride + KH, j*stride : j*stride + KW]`.",
                lambda a, ref: conv_like(a, stride=1)),
        Mistake("The output has the right size but the window moves by 1 pixel: output (i, j) "
                "starts at row `i * stride` and column `j * stride`.", _moved_by_one),
        Mistake("The padding is ignored: pad x with zeros first (your `pad2d`).",
                lambda a, ref: conv_like(a, padding=0)),
        Mistake("You padded one side only: pad2d adds `padding` rows above AND below, columns "
                "left AND right.", lambda a, ref: _one_sided(a, before=True)),
        Mistake("You padded one side only: pad2d adds `padding` rows above AND below, columns "
                "left AND right.", lambda a, ref: _one_sided(a, before=False)),
        Mistake("The padding is doubled: `padding` is per side.",
                lambda a, ref: conv_like(a, padding=2 * a.padding)),
        Mistake("The output is one row and one column too small: "
                "OH = (H + 2p - KH) // stride + 1 (use your conv_output_size).",
                lambda a, ref: ref[..., :-1, :-1]),
        *[m for m in CONV_MISTAKES if m.message != ONE_TOO_SMALL],  # said above with the formula
    ],
    shape_hint=lambda a: (f"With x {a.x.shape}, w {a.w.shape}, stride={a.stride} and "
                          f"padding={a.padding} the output is (N, F, OH, OW) = "
                          f"{F.conv2d(a.x, a.w, None, a.stride, a.padding).shape}, "
                          f"OH = (H + 2*padding - KH) // stride + 1."),
    implementations=CONV_IMPLEMENTATIONS,
)


check_pad2d = make_check(PAD2D)
check_conv_output_size = make_check(CONV_OUTPUT_SIZE)
check_conv2d_forward_general = make_check(CONV2D_FORWARD_GENERAL)

__all__ = [f"check_{name}" for name in GRADED]
