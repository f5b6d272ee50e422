"""Checks for the lesson "Training on MNIST":
``sgd_momentum_step`` (PyTorch convention) and ``accuracy``; then the debugging exercise, a CNN
written as blog posts write it (one image at a time, plain NumPy), whose four planted bugs each
live in one function: ``blog_fc_in_features`` (sizes computed as if the convolutions were
'same'), ``blog_softmax`` (no shift: overflows), ``blog_maxpool_backward`` (the gradient spread
over the whole window) and ``blog_conv_backward_weights`` (summed over the channels too).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import functional as F
from ._engine import Case, Mistake, Spec, make_check, randn
from .backprop_by_layer import CONV2D_BACKWARD, MAX_POOL2D_BACKWARD
from .padding_and_stride import CONV_OUTPUT_SIZE
from .softmax_cross_entropy import SOFTMAX, unshifted_softmax

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("sgd_momentum_step", "accuracy", "blog_fc_in_features", "blog_softmax",
          "blog_maxpool_backward", "blog_conv_backward_weights")


# ----------------------------------------------------------------------------- sgd_momentum_step
def _sgd_reference(param, grad, velocity, lr, momentum):
    v = momentum * velocity + grad
    return param - lr * v, v


def _sgd_cases(rng):
    def case(label, shape, lr, momentum, dtype=np.float64):
        return Case(label, param=randn(rng, *shape, dtype=dtype), grad=randn(rng, *shape,
                                                                            dtype=dtype),
                    velocity=randn(rng, *shape, dtype=dtype), lr=lr, momentum=momentum)
    # the first case has lr != 1 - momentum, so that lr * grad and (1 - momentum) * grad in
    # the velocity (two different mistakes) give different numbers
    return [case("a (3, 4) weight, lr=0.05, momentum=0.9", (3, 4), 0.05, 0.9),
            case("a bias (5,), lr=0.2, momentum=0.5", (5,), 0.2, 0.5),
            case("momentum=0 (plain SGD)", (2, 3), 0.2, 0.0),
            case("a conv weight (2, 1, 3, 3) in float32, lr=0.01, momentum=0.9",
                 (2, 1, 3, 3), 0.01, 0.9, np.float32)]


OTHER_CONVENTION = ("You used the other momentum convention (lr inside the velocity, "
                    "v = momentum * v - lr * grad; param + v). The course uses PyTorch's: "
                    "v = momentum * v + grad, then param = param - lr * v.")
LR_IN_VELOCITY = ("You multiplied the gradient by the learning rate inside the velocity "
                  "(v = momentum * v + lr * grad). In PyTorch's convention the velocity sums "
                  "the raw gradients, v = momentum * v + grad; lr only scales the step, "
                  "param - lr * v.")
DAMPENING = ("`(1 - momentum) * grad` is dampening (a moving average); PyTorch's default has "
             "none: v = momentum * v + grad.")

SGD_MOMENTUM_STEP = Spec(
    name="sgd_momentum_step",
    reference=_sgd_reference,
    parts=("new_param", "new_velocity"),
    cases=_sgd_cases,
    mistakes=[
        Mistake(OTHER_CONVENTION, lambda a, ref: a.momentum * a.velocity - a.lr * a.grad,
                part="new_velocity"),
        Mistake(OTHER_CONVENTION, lambda a, ref: a.param + a.momentum * a.velocity - a.lr * a.grad,
                part="new_param"),
        Mistake(LR_IN_VELOCITY, lambda a, ref: a.momentum * a.velocity + a.lr * a.grad,
                part="new_velocity"),
        # with that velocity, the parameter moves by v (that convention's step) or by lr * v
        *[Mistake(LR_IN_VELOCITY, lambda a, ref, scale=scale: a.param - scale(a) * (
              a.momentum * a.velocity + a.lr * a.grad), part="new_param")
          for scale in (lambda a: 1.0, lambda a: a.lr)],
        Mistake(DAMPENING, lambda a, ref: a.momentum * a.velocity + (1 - a.momentum) * a.grad,
                part="new_velocity"),
        Mistake(DAMPENING, lambda a, ref: a.param - a.lr * (a.momentum * a.velocity
                                                            + (1 - a.momentum) * a.grad),
                part="new_param"),
        Mistake("Update the velocity first, then move the parameter with the new velocity: "
                "param - lr * new_velocity.",
                lambda a, ref: a.param - a.lr * a.velocity, part="new_param"),
        Mistake("This is Nesterov momentum (param - lr * (grad + momentum * v)); the course "
                "uses plain momentum: param - lr * v.",
                lambda a, ref: a.param - a.lr * (a.grad + a.momentum * (a.momentum * a.velocity
                                                                         + a.grad)),
                part="new_param"),
        *[Mistake("You returned (new_velocity, new_param): return the new parameter first, "
                  "`return new_param, new_velocity`.", output, part=part)
          for part, output in (
              ("new_param", lambda a, ref: a.momentum * a.velocity + a.grad),
              ("new_velocity", lambda a, ref: a.param - a.lr * (a.momentum * a.velocity
                                                                + a.grad)))],
        Mistake("The momentum is ignored: v = momentum * v + grad.",
                lambda a, ref: a.grad, part="new_velocity"),
        Mistake("The momentum is ignored: v = momentum * v + grad, then param - lr * v.",
                lambda a, ref: a.param - a.lr * a.grad, part="new_param"),
        Mistake("You moved up the gradient: subtract, param = param - lr * v.",
                lambda a, ref: 2 * a.param - ref, part="new_param"),
        Mistake("You returned the step (lr * v), not the new parameter param - lr * v.",
                test=lambda a, actual, ref: any(np.allclose(actual, c, rtol=1e-4) for c in
                                                (a.param - ref, ref - a.param)),
                part="new_param"),
    ],
    # SGD's update of one parameter (``Optimizer.step`` calls it for every parameter)
    implementations=("optim.SGD._update",),
)


# ----------------------------------------------------------------------------- accuracy
def _accuracy_reference(logits, y):
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _told_apart(rng):
    """8 examples, 8 classes (square, so that an argmax over axis 0 can be compared with y),
    5 predicted right, built so that every mistake gives its own number: integer division 0,
    the count 5, the error rate 3/8, the flat argmax 4/8 (the batch's largest logit is in row
    0, column 1), argmin 1/8, the argmax over axis 0 2/8, comparing the logits with y 2/64."""
    rows = np.arange(8)
    pred = np.array([1, 0, 2, 3, 1, 2, 0, 3])
    y = np.array([1, 0, 2, 3, 1, 1, 1, 0])
    low = np.array([0, 1, 3, 2, 3, 1, 2, 1])                 # each row's smallest logit
    logits = rng.uniform(0.1, 0.9, (8, 8)) + rng.integers(-1, 2, (8, 8))  # never an integer
    logits[rows, pred] = 3.0 + rows / 10                      # each row's largest logit
    logits[rows, low] = -3.0 - rng.uniform(0, 1, 8)
    logits[0, 1] = 10.0
    logits[[1, 2, 3, 4], [4, 5, 6, 7]] = 2.5                  # the largest of columns 4 to 7
    logits[1, 2], logits[2, 0] = y[1], y[2]                   # two logits equal to their label
    return Case("8 examples, 8 classes, 5 right", logits=logits, y=y)


def _accuracy_cases(rng):
    logits = randn(rng, 8, 10, dtype=np.float32)
    y_half = np.argmax(logits, axis=1)
    y_half[::2] = (y_half[::2] + 1) % 10
    return [
        _told_apart(rng),
        Case("6 examples, 3 classes", logits=randn(rng, 6, 3), y=rng.integers(0, 3, 6)),
        Case("8 examples, 10 classes, float32, half right", logits=logits, y=y_half),
        Case("a square 4 x 4 batch", logits=randn(rng, 4, 4), y=np.array([0, 1, 2, 3])),
        Case("batch 1, predicted right", logits=np.array([[0.1, 2.0, -1.0]]), y=np.array([1])),
    ]


def _predictions_right(a) -> int:
    return int(np.sum(np.argmax(a.logits, axis=1) == a.y))


ACCURACY = Spec(
    name="accuracy",
    reference=_accuracy_reference,
    kind="float",
    cases=_accuracy_cases,
    mistakes=[
        Mistake("You returned the number of correct predictions: divide by N for a fraction "
                "in [0, 1] (e.g. `np.mean(pred == y)`).", lambda a, ref: ref * len(a.y)),
        Mistake("You divided with `//`, integer division, which rounds the fraction down to 0 "
                "(or 1): divide with `/`, or take `np.mean` of the comparison.",
                lambda a, ref: float(_predictions_right(a) // len(a.y))),
        Mistake("You returned a percentage: return a fraction in [0, 1].",
                lambda a, ref: 100 * ref),
        Mistake("You returned the error rate: accuracy is the fraction predicted right.",
                lambda a, ref: 1 - ref),
        Mistake("The prediction is the class with the largest logit: `np.argmax(logits, "
                "axis=1)`.",
                lambda a, ref: np.mean(np.argmin(a.logits, axis=1) == a.y)),
        Mistake("`np.argmax(logits)` without an axis gives one index into the flattened "
                "array: use `np.argmax(logits, axis=1)`, one prediction per example.",
                lambda a, ref: np.mean(np.argmax(a.logits) == a.y)),
        Mistake("Take the argmax over the classes (axis=1), one prediction per example.",
                lambda a, ref: np.mean(np.argmax(a.logits, axis=0) == a.y)),
        Mistake("Compare the predicted class (`np.argmax(logits, axis=1)`) with y, "
                "not the logits themselves.",
                lambda a, ref: np.mean(a.logits == a.y[:, None])),
    ],
    # the accuracy of a model's logits (it computes them first)
    implementations=("train.evaluate",),
)


# ===================================================================== the blog's CNN, debugged
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


check_sgd_momentum_step = make_check(SGD_MOMENTUM_STEP)
check_accuracy = make_check(ACCURACY)
check_blog_fc_in_features = make_check(BLOG_FC_IN_FEATURES)
check_blog_softmax = make_check(BLOG_SOFTMAX)
check_blog_maxpool_backward = make_check(BLOG_MAXPOOL_BACKWARD)
check_blog_conv_backward_weights = make_check(BLOG_CONV_BACKWARD_WEIGHTS)

__all__ = [f"check_{name}" for name in GRADED]
