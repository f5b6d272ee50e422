"""Checks for the lesson "Backprop, layer by layer": the backward pass of each layer.

relu_backward(dout, x); linear_backward(dout, x, w) -> (dx, dw, db) for out = x @ w.T + b
with w of shape (out_features, in_features), PyTorch's layout;
softmax_cross_entropy_backward(logits, y) (mean loss);
max_pool2d_backward(dout, x, kernel_size, stride) (ties: first maximum);
conv2d_backward(dout, x, w, stride=1, padding=0) -> (dx, dw, db).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import readable as R
from ._engine import Case, Mistake, Spec, make_check, randn
from .convolution import FLATTEN_WAYS, LOWER_PRECISION, flattened, lower_precision
from .softmax_cross_entropy import large_logits, unshifted_softmax

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = (
    "relu_backward",
    "linear_backward",
    "softmax_cross_entropy_backward",
    "max_pool2d_backward",
    "conv2d_backward",
)

# The numerical gradient of any forward pass is the backward pass asked for (accurate enough
# to pass these checks), so course_lib's is switched off while grading too, with the library's
# backward functions (see Spec.implementations).
NUMERICAL_GRADIENT = "gradcheck.numerical_gradient"


def _relu_cases(rng):
    x = randn(rng, 3, 4)
    x[0, :2] = 0.0
    return [
        Case("3 x 4, with two inputs exactly 0", dout=randn(rng, 3, 4), x=x),
        Case("a 4-D batch (2, 3, 2, 3)", dout=randn(rng, 2, 3, 2, 3), x=randn(rng, 2, 3, 2, 3)),
        Case("float32", dout=randn(rng, 5, 2, dtype=np.float32),
             x=randn(rng, 5, 2, dtype=np.float32)),
    ]


RELU_BACKWARD = Spec(
    name="relu_backward",
    reference=lambda dout, x: dout * (x > 0),
    cases=_relu_cases,
    mistakes=[
        Mistake("You applied ReLU to dout: the mask comes from the forward input, "
                "`dx = dout * (x > 0)`.", lambda a, ref: np.maximum(a.dout, 0)),
        Mistake("At x == 0 the gradient is 0 (the PyTorch convention): use `x > 0`, not "
                "`x >= 0`.", lambda a, ref: a.dout * (a.x >= 0)),
        Mistake("You returned the mask: multiply it by dout, `dx = dout * (x > 0)`.",
                lambda a, ref: (a.x > 0).astype(a.x.dtype)),
        Mistake("You multiplied dout by x (or by relu(x)); multiply by the mask `x > 0`.",
                test=lambda a, actual, ref: any(
                    np.allclose(actual, c) for c in (a.dout * a.x, a.dout * np.maximum(a.x, 0)))),
        Mistake("You returned dout unchanged: block the gradient where x <= 0.",
                lambda a, ref: a.dout),
        Mistake("You returned only the entries where x > 0 (`dout[x > 0]`): keep dx the shape "
                "of x, with zeros elsewhere, `dout * (x > 0)`.",
                lambda a, ref: a.dout[a.x > 0]),
    ],
    # the layer's backward and its in-place variant share ``_backward``
    implementations=("functional.relu_backward", "functional.dense.relu_backward",
                     "layers.ReLU.backward", "layers.ReLU.backward_", "layers.ReLU._backward",
                     NUMERICAL_GRADIENT),
)


# ----------------------------------------------------------------------------- linear_backward
# PyTorch's layout: out = x @ w.T + b, x (N, D_in), w (D_out, D_in), b (D_out,), dout (N, D_out).
def _linear_reference(dout, x, w):
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def _linear_cases(rng):
    def case(label, n, d_in, d_out, dtype=np.float64):
        return Case(label, dout=randn(rng, n, d_out, dtype=dtype),
                    x=randn(rng, n, d_in, dtype=dtype), w=randn(rng, d_out, d_in, dtype=dtype))
    return [case("in_features = out_features = 3 (a wrong transpose keeps the shape here)",
                 5, 3, 3),
            case("N=4 examples, 3 in_features, 5 out_features: w is (5, 3)", 4, 3, 5),
            case("batch 1", 1, 6, 2),
            case("float32", 3, 4, 2, np.float32)]


LINEAR_BACKWARD = Spec(
    name="linear_backward",
    reference=_linear_reference,
    parts=("dx", "dw", "db"),
    cases=_linear_cases,
    mistakes=[
        Mistake("`dx` has an extra transpose: w is (out_features, in_features), so "
                "`dout @ w` already has x's shape (N, in_features).",
                lambda a, ref: a.dout @ a.w.T, part="dx"),
        Mistake("`dx` is transposed: it must have the shape of x, (N, in_features).",
                lambda a, ref: ref.T, part="dx"),
        Mistake("`dw` is transposed: it must have w's shape (out_features, in_features), "
                "`dout.T @ x`. (`x.T @ dout` is the gradient for the other layout, "
                "out = x @ w with w of shape (in_features, out_features).)",
                lambda a, ref: ref.T, part="dw"),
        Mistake("`dw` is divided by N: the 1/N of the mean loss is already in dout.",
                lambda a, ref: ref / len(a.x), part="dw"),
        Mistake("`db` must be summed over the batch: `db = dout.sum(axis=0)`, shape "
                "(out_features,).", lambda a, ref: a.dout, part="db"),
        Mistake("`db` is the mean over the batch: sum it, `dout.sum(axis=0)` (the 1/N is "
                "already in dout).", lambda a, ref: ref / len(a.x), part="db"),
        Mistake("`db` is summed over the wrong axis: sum over the batch, `axis=0`.",
                lambda a, ref: a.dout.sum(axis=1), part="db"),
    ],
    implementations=("functional.linear_backward", "functional.dense.linear_backward",
                     "layers.Linear.backward", NUMERICAL_GRADIENT),
)


# ---------------------------------------------------------------- softmax_cross_entropy_backward
def _sce_reference(logits, y):
    return F.cross_entropy_backward(1.0, F.cross_entropy_forward(logits, y)[1])


def _onehot(y, k, dtype):
    return np.eye(k, dtype=dtype)[y]


def _column_subtract(a):
    p = F.softmax(a.logits)
    p[:, a.y] -= 1
    return p / len(a.y)


def _sce_cases(rng):
    return [
        # a class that is nobody's label, so `p[:, y] -= 1` leaves one column alone
        Case("4 examples, 3 classes, class 1 is nobody's label", logits=randn(rng, 4, 3),
             y=np.array([2, 0, 2, 0])),
        Case("5 examples, 10 classes", logits=randn(rng, 5, 10, scale=2.0),
             y=np.array([3, 3, 0, 9, 1])),
        Case("large logits around +1000 and -1000", logits=large_logits(rng, 4, 3),
             y=rng.integers(0, 3, 4)),
        Case("batch 1, float32", logits=randn(rng, 1, 6, dtype=np.float32), y=np.array([4])),
    ]


SOFTMAX_CROSS_ENTROPY_BACKWARD = Spec(
    name="softmax_cross_entropy_backward",
    reference=_sce_reference,
    cases=_sce_cases,
    mistakes=[
        Mistake("Divide by N: the loss is the mean over the batch, so dlogits = "
                "(softmax(logits) - onehot(y)) / N.", lambda a, ref: ref * len(a.y)),
        Mistake("The sign is flipped: dlogits = (softmax(logits) - onehot(y)) / N.",
                lambda a, ref: -ref),
        Mistake("Subtract 1 at the true class only: dlogits = (softmax - onehot(y)) / N.",
                lambda a, ref: F.softmax(a.logits) / len(a.y)),
        Mistake("`p[:, y] -= 1` changes whole columns: use `p[np.arange(N), y] -= 1`.",
                lambda a, ref: _column_subtract(a)),
        Mistake("You subtracted 1 from every entry: subtract it at the true class only, "
                "`p[np.arange(N), y] -= 1`.", lambda a, ref: (F.softmax(a.logits) - 1) / len(a.y)),
        Mistake("Your softmax overflows for large logits (NaN): subtract each row's maximum "
                "before `np.exp`.",
                lambda a, ref: (unshifted_softmax(a.logits)
                                - _onehot(a.y, a.logits.shape[1], a.logits.dtype)) / len(a.y)),
        Mistake("The softmax is over the batch axis: normalise each row (the classes, axis=1).",
                lambda a, ref: (F.softmax(a.logits, axis=0)
                                - _onehot(a.y, a.logits.shape[1], a.logits.dtype)) / len(a.y)),
    ],
    # the loss's backward, and the backward of (log-)softmax, which given the gradient of
    # the log-probabilities (-onehot(y) / N) returns this very gradient
    implementations=("functional.cross_entropy_backward",
                     "functional.softmax.cross_entropy_backward", "functional.log_softmax_backward",
                     "functional.softmax.log_softmax_backward", "functional.softmax_backward",
                     "functional.softmax.softmax_backward", "layers.CrossEntropyLoss.backward",
                     NUMERICAL_GRADIENT),
)


# ----------------------------------------------------------------------------- max_pool2d_backward
# Most mistakes' outputs are readable.max_pool2d_backward (the loops the lesson shows), changed
# the way each mistake changes it.
def _first_maximum(dout, x, k, s, *, last=False):
    """readable's max-pool backward (each window's gradient to its first maximum, row-major)
    on the rows and columns the windows reach; ``last``: on them turned by 180 degrees, where
    readable's first maximum is the last one."""
    h, w = ((n - 1) * s + k for n in dout.shape[2:])
    turn = (..., slice(None, None, -1), slice(None, None, -1)) if last else (...,)
    cache = R.max_pool2d_forward(x[:, :, :h, :w][turn], k, s)[1]
    dx = np.zeros_like(x)
    dx[:, :, :h, :w] = R.max_pool2d_backward(dout[turn], cache)[turn]
    return dx


def _every_maximum(dout, x, k, s):
    """Ties: each window's gradient to every maximum, not only the first."""
    dx = np.zeros_like(x)
    for i, j in np.ndindex(*dout.shape[2:]):
        window = np.full(x.shape, -np.inf)     # x inside window (i, j), -inf elsewhere
        window[:, :, i * s:i * s + k, j * s:j * s + k] = x[:, :, i * s:i * s + k, j * s:j * s + k]
        dx += dout[:, :, i:i + 1, j:j + 1] * (window == window.max(axis=(2, 3), keepdims=True))
    return dx


def _overwritten(dout, x, k, s):
    """`=` instead of `+=`: where windows share a maximum, only the last window's gradient."""
    dx = np.zeros_like(x)
    for i, j in np.ndindex(*dout.shape[2:]):
        alone = np.zeros_like(dout)
        alone[:, :, i, j] = 1
        dx = np.where(_first_maximum(alone, x, k, s) > 0, dout[:, :, i:i + 1, j:j + 1], dx)
    return dx


def _pool_back_cases(rng):
    def case(label, shape, k, s, ties=False, dtype=np.float64):
        x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
        if ties:  # whatever the seed, the first window holds two maxima
            x[0, 0, :2, :2] = [[1, 3], [3, 0]]
        oh, ow = (shape[2] - k) // s + 1, (shape[3] - k) // s + 1
        return Case(label, dout=randn(rng, shape[0], shape[1], oh, ow, dtype=dtype), x=x,
                    kernel_size=k, stride=s)
    return [case("2 x 2 windows, stride 2", (2, 3, 4, 4), 2, 2),
            case("overlapping 3 x 3 windows, stride 2 (an input can be the max of 2 windows)",
                 (1, 2, 5, 5), 3, 2),
            case("ties: several equal maxima in a window", (2, 2, 4, 6), 2, 2, ties=True),
            case("stride 2 that does not divide a 5 x 7 map", (1, 2, 5, 7), 2, 2),
            case("batch 1, float32, 2 x 2 windows, stride 1", (1, 2, 4, 5), 2, 1,
                 dtype=np.float32)]


MAX_POOL2D_BACKWARD = Spec(
    name="max_pool2d_backward",
    reference=lambda dout, x, kernel_size, stride: F.max_pool2d_backward(
        dout, F.max_pool2d_forward(x, kernel_size, stride)[1]),
    cases=_pool_back_cases,
    mistakes=[
        Mistake("On ties you sent the gradient to every maximum: send it to the first one only "
                "(`np.argmax` returns the first), as PyTorch does.",
                lambda a, ref: _every_maximum(a.dout, a.x, a.kernel_size, a.stride)),
        Mistake("On ties you sent the gradient to the last maximum: send it to the first one "
                "(`np.argmax` returns the first), as PyTorch does.",
                lambda a, ref: _first_maximum(a.dout, a.x, a.kernel_size, a.stride, last=True)),
        Mistake("Windows overlap, so one input can be the maximum of several windows: add the "
                "gradients (`+=`), don't overwrite them (`=`).",
                lambda a, ref: _overwritten(a.dout, a.x, a.kernel_size, a.stride)),
        Mistake("You spread the gradient over the whole window (that is average pooling's "
                "backward): send it only to the maximum.",
                lambda a, ref: F.avg_pool2d_backward(
                    a.dout, F.avg_pool2d_forward(a.x, a.kernel_size, a.stride)[1])
                * a.kernel_size ** 2),
        Mistake("You spread the gradient over the whole window (that is average pooling's "
                "backward): send it only to the maximum.",
                lambda a, ref: F.avg_pool2d_backward(
                    a.dout, F.avg_pool2d_forward(a.x, a.kernel_size, a.stride)[1])),
        Mistake("You marked the maxima but did not multiply by dout: dx at the maximum is "
                "dout[n, c, i, j].",
                lambda a, ref: _first_maximum(np.ones_like(a.dout), a.x, a.kernel_size, a.stride)),
        Mistake("The stride is ignored: window (i, j) starts at row `i * stride`, column "
                "`j * stride`.",
                lambda a, ref: _first_maximum(a.dout, a.x, a.kernel_size, 1)),
        Mistake("dx must have the shape of x, (N, C, H, W): one gradient per input value.",
                test=lambda a, actual, ref: actual.shape == a.dout.shape),
    ],
    # the layer keeps its backward (fast_pool's) as a class attribute too (``_backward``)
    implementations=("functional.max_pool2d_backward", "functional.pooling.max_pool2d_backward",
                     "readable.max_pool2d_backward", "layers.MaxPool2d.backward",
                     "layers.MaxPool2d._backward", "layers._Pool2d.backward",
                     "fast_pool.max_pool2d_backward", NUMERICAL_GRADIENT),
)


# ----------------------------------------------------------------------------- conv2d_backward
def _conv_back_reference(dout, x, w, stride=1, padding=0):
    b = np.zeros(w.shape[0], dtype=w.dtype)
    return F.conv2d_backward(dout, F.conv2d_forward(x, w, b, stride, padding)[1])


def _conv_back_loop(a, flip=False, accumulate=True, crop=True):
    """dx as loops, with optional mistakes: kernel flipped, `=` instead of `+=`, no crop."""
    s, p = a.stride, a.padding
    w = a.w[..., ::-1, ::-1] if flip else a.w
    kh, kw = w.shape[2:]
    n, c, h, wd = a.x.shape
    dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
    for i in range(a.dout.shape[2]):
        for j in range(a.dout.shape[3]):
            update = np.einsum("nf,fchw->nchw", a.dout[:, :, i, j], w)
            target = dxp[:, :, i * s:i * s + kh, j * s:j * s + kw]
            if accumulate:
                target += update
            else:
                target[...] = update
    return dxp[:, :, p:p + h, p:p + wd] if crop else dxp


def _conv_back_cases(rng):
    def case(label, x_shape, w_shape, stride, padding, dtype=np.float64):
        n, _, h, w = x_shape
        oh = (h + 2 * padding - w_shape[2]) // stride + 1
        ow = (w + 2 * padding - w_shape[3]) // stride + 1
        return Case(label, dout=randn(rng, n, w_shape[0], oh, ow, dtype=dtype),
                    x=randn(rng, *x_shape, dtype=dtype), w=randn(rng, *w_shape, dtype=dtype),
                    stride=stride, padding=padding)
    return [case("stride 1, no padding, non-square", (2, 3, 5, 4), (4, 3, 3, 2), 1, 0),
            case("stride 2, padding 1", (2, 2, 5, 6), (3, 2, 3, 3), 2, 1),
            case("stride 3 that does not divide", (1, 2, 7, 8), (2, 2, 3, 3), 3, 0),
            case("batch 1, float32, padding 2", (1, 2, 4, 4), (2, 2, 3, 3), 1, 2, np.float32),
            case("1 x 1 filters", (2, 3, 3, 3), (2, 3, 1, 1), 1, 0)]


CONV2D_BACKWARD = Spec(
    name="conv2d_backward",
    reference=_conv_back_reference,
    parts=("dx", "dw", "db"),
    cases=_conv_back_cases,
    mistakes=[
        Mistake("`dx`: send dout[n, f, i, j] * w[f] back to the window it came from, with w as "
                "it is (not flipped) when you add it window by window.",
                lambda a, ref: _conv_back_loop(a, flip=True), part="dx"),
        Mistake("`dx`: windows overlap, so add each window's contribution (`+=`), don't "
                "overwrite it (`=`).", lambda a, ref: _conv_back_loop(a, accumulate=False),
                part="dx"),
        Mistake("`dx` still includes the padding: crop the padded gradient back to x's shape, "
                "`dx_padded[:, :, p:p + H, p:p + W]`.",
                lambda a, ref: _conv_back_loop(a, crop=False), part="dx"),
        *[Mistake("`dx`: your flattened filters and the flattened windows you scatter back "
                  "list the C*KH*KW values in different orders (e.g. (C, KH, KW) against "
                  "(KH, KW, C)): flatten and unflatten both from the same axis order.",
                  lambda a, ref, how=how: _conv_back_reference(
                      a.dout, a.x, flattened(a.w, how), a.stride, a.padding)[0], part="dx")
          for how in FLATTEN_WAYS],
        Mistake("`dw` is flipped: dw[f] += dout[n, f, i, j] * window, with the window as it is.",
                lambda a, ref: ref[..., ::-1, ::-1], part="dw"),
        Mistake("`dw` is divided by N: the 1/N of the mean loss is already in dout.",
                lambda a, ref: ref / len(a.x), part="dw"),
        Mistake("`dw` has the right numbers in the wrong places: values computed in "
                "(F, KH, KW, C) order (e.g. from windows flattened as (KH, KW, C)) were reshaped "
                "straight to (F, C, KH, KW). Reshape to (F, KH, KW, C), then "
                "`.transpose(0, 3, 1, 2)`, or flatten the windows as (C, KH, KW).",
                lambda a, ref: np.ascontiguousarray(ref.transpose(0, 2, 3, 1)).reshape(ref.shape),
                part="dw"),
        Mistake("`db` must be summed over the batch and the positions: "
                "`dout.sum(axis=(0, 2, 3))`, shape (F,).",
                test=lambda a, actual, ref: any(
                    np.shape(actual) == np.shape(a.dout.sum(axis=ax))
                    for ax in ((0,), (2, 3), (0, 2), (0, 3))), part="db"),
        Mistake("`db` is a mean: sum dout over N, OH and OW instead.",
                lambda a, ref: a.dout.mean(axis=(0, 2, 3)), part="db"),
        # one message for the three outputs (the report shows a repeated message once)
        *[Mistake(LOWER_PRECISION, test=lambda a, actual, ref: lower_precision(a, actual, ref),
                  part=part) for part in ("dx", "dw", "db")],
    ],
    implementations=("functional.conv2d_backward", "functional.conv.conv2d_backward",
                     "readable.conv2d_backward", "fast_conv.conv2d_backward",
                     "layers.Conv2d.backward", "layers.Conv2d.backward_params",
                     NUMERICAL_GRADIENT),
)


check_relu_backward = make_check(RELU_BACKWARD)
check_linear_backward = make_check(LINEAR_BACKWARD)
check_softmax_cross_entropy_backward = make_check(SOFTMAX_CROSS_ENTROPY_BACKWARD)
check_max_pool2d_backward = make_check(MAX_POOL2D_BACKWARD)
check_conv2d_backward = make_check(CONV2D_BACKWARD)

__all__ = [f"check_{name}" for name in GRADED]
