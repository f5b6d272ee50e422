"""Checks for the debugging exercise of the lesson "Training on MNIST": a CNN written as blog
posts write it (one image at a time, plain NumPy), whose four planted bugs each live in one
function: ``blog_fc_in_features`` (sizes computed as if the convolutions were 'same'),
``blog_softmax`` (no shift: overflows), ``blog_maxpool_backward`` (the gradient spread over the
whole window) and ``blog_conv_backward_weights`` (summed over the channels too).

Their ``check_*`` functions are made in ``training_on_mnist.py``, the lesson's checks module.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import functional as F
from ._engine import Case, Mistake, Spec, randn
from .backprop_by_layer import CONV2D_BACKWARD, MAX_POOL2D_BACKWARD
from .padding_and_stride import CONV_OUTPUT_SIZE
from .softmax_cross_entropy import SOFTMAX, unshifted_softmax


# -------------------------------------------------------------------------- blog_fc_in_features
def _fc_in(height, width, kernel_size, channels, *, lost=None, pool=lambda n: n // 2,
           blocks=2, square=False):
    """channels * H * W after ``blocks`` (conv, no padding -> 2x2 max pool) blocks; the keywords
    build the mistakes: ``lost(k)`` rows a conv loses, ``pool`` the pooled size, ``square``
    the width taken equal to the height."""
    lost = (lambda k: k - 1) if lost is None else lost
    width = height if square else width
    for _ in range(blocks):
        height, width = pool(height - lost(kernel_size)), pool(width - lost(kernel_size))
    return channels * height * width


def _fc_cases(rng):
    def case(label, height, width, kernel_size, channels):
        return Case(label, height=height, width=width, kernel_size=kernel_size,
                    channels=channels)
    height, width = (int(v) for v in rng.integers(24, 41, 2))
    # the first case gives each mistake below its own wrong number
    return [case("a 29 x 26 image, 5 x 5 convolutions, 6 channels", 29, 26, 5, 6),
            case("MNIST: a 28 x 28 image, 3 x 3 convolutions, 16 channels", 28, 28, 3, 16),
            case("a 32 x 32 image with 5 x 5 convolutions (LeNet's), 6 channels", 32, 32, 5, 6),
            case("a non-square 20 x 36 image, 3 x 3 convolutions, 10 channels", 20, 36, 3, 10),
            case(f"a {height} x {width} image, 5 x 5 convolutions, 8 channels", height, width,
                 5, 8)]


BLOG_FC_IN_FEATURES = Spec(
    name="blog_fc_in_features",
    reference=_fc_in,
    kind="int",
    cases=_fc_cases,
    mistakes=[
        Mistake("You computed the sizes as if each convolution kept the image size ('same' "
                "padding, only the pools halving it): these convolutions have no padding, so "
                "each one loses kernel_size - 1 rows and columns before its pool.",
                lambda a, ref: _fc_in(a.height, a.width, a.kernel_size, a.channels,
                                      lost=lambda k: 0)),
        Mistake("Only the first convolution loses kernel_size - 1 rows and columns in your "
                "count: the second one does too, before the second pool.",
                lambda a, ref: a.channels * ((a.height - a.kernel_size + 1) // 4)
                * ((a.width - a.kernel_size + 1) // 4)),
        Mistake("A k x k convolution without padding has H - k + 1 positions along the height "
                "(and W - k + 1 along the width), not H - k.",
                lambda a, ref: _fc_in(a.height, a.width, a.kernel_size, a.channels,
                                      lost=lambda k: k)),
        Mistake("Your count holds for 3 x 3 kernels only: use `kernel_size` (a 5 x 5 "
                "convolution loses 4 rows and columns).",
                lambda a, ref: _fc_in(a.height, a.width, 3, a.channels)),
        Mistake("A 2 x 2 pool of an odd size rounds down: the last row (or column) fits in no "
                "window and is dropped (11 -> 5, not 6).",
                lambda a, ref: _fc_in(a.height, a.width, a.kernel_size, a.channels,
                                      pool=lambda n: -(-n // 2))),
        Mistake("You used the height for the width too: the image need not be square.",
                lambda a, ref: _fc_in(a.height, a.width, a.kernel_size, a.channels,
                                      square=True)),
        Mistake("Multiply by the number of channels: the flattened map holds one H x W grid "
                "per channel of the second convolution.",
                lambda a, ref: ref // a.channels),
        Mistake("There are two blocks of convolution and pooling, and you counted one.",
                lambda a, ref: _fc_in(a.height, a.width, a.kernel_size, a.channels, blocks=1)),
    ],
    # the output size of one convolution or pool, course_lib's (as in lesson 03)
    implementations=CONV_OUTPUT_SIZE.implementations,
)


# ----------------------------------------------------------------------------- blog_softmax
OVERFLOW = ("Your softmax overflows for large logits (`np.exp(1000)` is inf, and inf / inf is "
            "NaN). Softmax does not change when you subtract one number from every logit: "
            "subtract the largest logit before `np.exp`.")


def _softmax_cases(rng):
    return [
        Case("10 small logits (an untrained network)", logits=randn(rng, 10, scale=0.5)),
        Case("10 logits around +1000 (a very confident network)",
             logits=1000.0 + 3.0 * randn(rng, 10)),
        Case("logits from -1000 to 0: a spread past exp's limit",
             logits=np.concatenate([[0.0], -1000.0 + randn(rng, 5)])),
        Case("logits 800, 720 and 8 values near -100 (the mean is far below the maximum)",
             logits=np.concatenate([[800.0, 720.0], -100.0 + randn(rng, 8)])),
        Case("3 logits in float32 around 100 (float32's exp overflows past 88.7)",
             logits=(100.0 + randn(rng, 3)).astype(np.float32)),
    ]


def _looks_uniform(actual, ref) -> bool:
    """Probabilities that are all equal where the right ones are not (clipped logits)."""
    actual = np.asarray(actual, dtype=np.float64)
    return bool(actual.size > 1 and np.allclose(actual, 1.0 / actual.size, rtol=1e-3)
                and not np.allclose(ref, 1.0 / actual.size, rtol=1e-3))


BLOG_SOFTMAX = Spec(
    name="blog_softmax",
    reference=lambda logits: F.softmax(logits),
    cases=_softmax_cases,
    mistakes=[
        Mistake(OVERFLOW, lambda a, ref: unshifted_softmax(a.logits)),
        *[Mistake("You shifted the logits by something other than the largest (the mean or the "
                  "smallest): when they spread over more than about 709, exp still overflows. "
                  "Only the maximum keeps every exponent <= 0.",
                  lambda a, ref, shift=shift: unshifted_softmax(a.logits - shift(a.logits)))
          for shift in (np.mean, np.min)],
        Mistake("You shifted the exponent in the numerator only: the sum you divide by must "
                "add the same shifted exponentials.",
                lambda a, ref: np.exp(a.logits - a.logits.max()) / np.exp(a.logits).sum()),
        Mistake("You forgot to divide by the sum: the probabilities must add up to 1.",
                lambda a, ref: np.exp(a.logits - a.logits.max())),
        Mistake("This is log-softmax: return the probabilities, exp(z) / sum(exp(z)).",
                lambda a, ref: np.log(ref)),
        Mistake("Your probabilities are all equal where the logits differ: clipping the logits "
                "(e.g. `np.clip`) erases their differences. Subtract one number from all of "
                "them instead; the softmax does not change.",
                test=lambda a, actual, ref: _looks_uniform(actual, ref)),
    ],
    shape_hint=lambda a: f"one probability per logit: shape {a.logits.shape}.",
    implementations=SOFTMAX.implementations,
)


# ------------------------------------------------------------------------ blog_maxpool_backward
def _pool_reference(dout, x):
    return F.max_pool2d_backward(dout[None], F.max_pool2d_forward(x[None], 2, 2)[1])[0]


def _window_cells(x):
    """(C, OH, OW, 4): the four cells of each 2 x 2 window in row-major order."""
    c, oh, ow = x.shape[0], x.shape[1] // 2, x.shape[2] // 2
    return (x[:, :2 * oh, :2 * ow].reshape(c, oh, 2, ow, 2).transpose(0, 1, 3, 2, 4)
            .reshape(c, oh, ow, 4))


def _from_cells(cells, shape, dtype):
    """Inverse of ``_window_cells``: dx of ``shape``, 0 where no window reaches."""
    c, oh, ow, _ = cells.shape
    dx = np.zeros(shape, dtype=dtype)
    dx[:, :2 * oh, :2 * ow] = (cells.reshape(c, oh, ow, 2, 2).transpose(0, 1, 3, 2, 4)
                               .reshape(c, 2 * oh, 2 * ow))
    return dx


def _pool_routed(a, ties="first", transposed=False, scale=None):
    """The pool's backward with one thing changed (the mistakes): ``ties`` "first", "last" or
    "all"; ``transposed`` puts the gradient at (col, row) inside the window; ``scale`` replaces
    dout (e.g. ones)."""
    cells = _window_cells(a.x)
    hits = cells == cells.max(axis=-1, keepdims=True)
    if ties != "all":
        index = 3 - np.argmax(hits[..., ::-1], axis=-1) if ties == "last" else np.argmax(
            hits, axis=-1)
        if transposed:
            index = 2 * (index % 2) + index // 2
        hits = np.arange(4) == index[..., None]
    dout = a.dout if scale is None else scale
    return _from_cells(hits * dout[..., None], a.x.shape, a.dout.dtype)


def _pool_spread(a, share=1.0):
    """Every cell of a window gets ``share`` times the window's gradient."""
    cells = np.broadcast_to(share * a.dout[..., None], a.dout.shape + (4,))
    return _from_cells(cells, a.x.shape, a.dout.dtype)


def _pool_cases(rng):
    # float64 only, as the blog's network: the fix is about where the gradient goes
    def case(label, shape, relu=False):
        x = randn(rng, *shape)
        if relu:  # after ReLU: zeros, so windows of equal maxima
            x = np.maximum(x, 0)
            x[0, :2, :2] = 0.0                          # a window of four zeros
            x[0, :2, 2:4] = [[2.0, 2.0], [1.0, 0.0]]    # two maxima in its top row
            x[0, 2:4, :2] = [[0.5, 1.0], [1.0, 0.5]]    # two maxima on its anti-diagonal
        dout = randn(rng, shape[0], shape[1] // 2, shape[2] // 2)
        return Case(label, dout=dout, x=x)
    return [case("3 channels of 4 x 6", (3, 4, 6)),
            case("odd sizes, 2 channels of 5 x 7: the last row and column are in no window",
                 (2, 5, 7)),
            case("after ReLU: windows of zeros and other ties", (3, 6, 6), relu=True),
            case("8 channels of 26 x 26, as after the blog's first convolution", (8, 26, 26)),
            case("16 channels of 11 x 11, as after its second convolution", (16, 11, 11))]


BLOG_MAXPOOL_BACKWARD = Spec(
    name="blog_maxpool_backward",
    reference=_pool_reference,
    cases=_pool_cases,
    mistakes=[
        Mistake("You sent each window's gradient to all 4 of its cells (an upsampling, or a "
                "transposed convolution with a block of ones): only the window's maximum "
                "reached the output, so only it gets dout; the other 3 get 0.",
                lambda a, ref: _pool_spread(a)),
        Mistake("You sent dout / 4 to every cell of the window: that is average pooling's "
                "backward. Only the window's maximum reached the output, so only it gets dout.",
                lambda a, ref: _pool_spread(a, 0.25)),
        Mistake("On ties (a window of zeros after ReLU, say) you sent the gradient to every "
                "maximum: send it to the first one only, in row-major order (`np.argmax` "
                "returns the first), as PyTorch does.",
                lambda a, ref: _pool_routed(a, ties="all")),
        Mistake("On ties you sent the gradient to the last maximum: send it to the first one "
                "(`np.argmax` returns the first), as PyTorch does.",
                lambda a, ref: _pool_routed(a, ties="last")),
        Mistake("The gradient lands at the transposed place inside its window: a flat index k "
                "in 0..3 is row k // 2, column k % 2 of the window.",
                lambda a, ref: _pool_routed(a, transposed=True)),
        Mistake("You marked the maxima but did not multiply by dout: the maximum's gradient is "
                "the window's dout.",
                lambda a, ref: _pool_routed(a, scale=np.ones_like(a.dout))),
        Mistake("dx must have the shape of x, the pool's input: when H or W is odd, the last "
                "row or column belongs to no window, and its gradient is 0.",
                test=lambda a, actual, ref: np.shape(actual) in (
                    (a.x.shape[0], 2 * a.dout.shape[1], 2 * a.dout.shape[2]), a.dout.shape)),
    ],
    shape_hint=lambda a: f"dx has the shape of x: {a.x.shape}.",
    implementations=MAX_POOL2D_BACKWARD.implementations,
)


# ------------------------------------------------------------------- blog_conv_backward_weights
def _conv_dw(dout, x):
    """dw[f, c, u, v] = sum over (i, j) of dout[f, i, j] * x[c, u + i, v + j]."""
    windows = sliding_window_view(x, dout.shape[1:], axis=(1, 2))   # (C, KH, KW, OH, OW)
    return np.einsum("fij,cuvij->fcuv", dout, windows)


def _conv_dw_rows_and_columns_swapped(a):
    """dout's rows paired with the windows' columns (a tensordot with its axes crossed)."""
    oh, ow = a.dout.shape[1:]
    if oh != ow:
        raise ValueError("only square outputs can be crossed")
    windows = sliding_window_view(a.x, (oh, ow), axis=(1, 2))
    return np.einsum("fij,cuvji->fcuv", a.dout, windows)


def _conv_cases(rng):
    def case(label, channels, size, filters, kernel):  # float64, as the blog's network
        height, width = size
        x = randn(rng, channels, height, width)
        dout = randn(rng, filters, height - kernel + 1, width - kernel + 1)
        return Case(label, dout=dout, x=x)
    return [case("one input channel (like the blog's first convolution), 3 x 3 kernels", 1,
                 (8, 8), 4, 3),
            case("3 input channels, 3 x 3 kernels", 3, (7, 7), 4, 3),
            case("a non-square 2-channel input, 3 x 3 kernels", 2, (6, 9), 3, 3),
            case("5 x 5 kernels, 3 input channels", 3, (9, 9), 2, 5),
            case("8 input channels (like its second convolution), 3 x 3 kernels", 8, (7, 7),
                 16, 3)]


BLOG_CONV_BACKWARD_WEIGHTS = Spec(
    name="blog_conv_backward_weights",
    reference=_conv_dw,
    cases=_conv_cases,
    mistakes=[
        *[Mistake("Every input channel of a filter got the same gradient: your sum ran over "
                  "the channel axis too. dw[f, c] only sees channel c of the input, so sum "
                  "dout[f] * window over the output positions, once per channel.",
                  lambda a, ref, combine=combine: np.broadcast_to(
                      combine(ref, axis=1, keepdims=True), ref.shape))
          for combine in (np.sum, np.mean)],
        Mistake("dw is flipped (a convolution): the forward is a cross-correlation, so tap "
                "(u, v) of the kernel saw the window starting at row u, column v.",
                lambda a, ref: ref[..., ::-1, ::-1]),
        Mistake("You averaged over the output positions: the gradient adds them up (every "
                "position used the same weight).",
                lambda a, ref: ref / (a.dout.shape[1] * a.dout.shape[2])),
        Mistake("You paired dout's rows with the window's columns: dout[f, i, j] multiplies "
                "x[c, u + i, v + j] (row with row, column with column).",
                lambda a, ref: _conv_dw_rows_and_columns_swapped(a)),
        Mistake("Each tap (u, v) sees the input shifted by (u, v): multiply dout[f] by the "
                "window that starts at row u, column v, not by the same window for every tap.",
                lambda a, ref: np.broadcast_to(ref[..., :1, :1], ref.shape)),
        Mistake("dw's axes are (filters, channels, KH, KW): you have the first two swapped.",
                test=lambda a, actual, ref: np.shape(actual) == (ref.shape[1], ref.shape[0])
                + ref.shape[2:] and np.allclose(actual, ref.transpose(1, 0, 2, 3), rtol=1e-4)),
    ],
    shape_hint=lambda a: ("dw has one (KH, KW) kernel per filter and input channel: "
                          f"({a.dout.shape[0]}, {a.x.shape[0]}, KH, KW) with "
                          "KH = H - OH + 1."),
    implementations=CONV2D_BACKWARD.implementations,
)
