"""Checks for the lesson "Training on MNIST":
``sgd_momentum_step`` (PyTorch convention) and ``accuracy``; then the debugging exercise, a CNN
written as blog posts write it, whose four ``blog_*`` functions each hold a planted bug (their
specs are in ``_blog_cnn.py``).
"""

from __future__ import annotations

import numpy as np

from ._blog_cnn import (
    BLOG_CONV_BACKWARD_WEIGHTS,
    BLOG_FC_IN_FEATURES,
    BLOG_MAXPOOL_BACKWARD,
    BLOG_SOFTMAX,
)
from ._engine import Case, Mistake, Spec, make_check, randn

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
    # imported by the CLI and the package
    implementations=("train.loop.evaluate", "train.cli.evaluate", "train.evaluate"),
)


check_sgd_momentum_step = make_check(SGD_MOMENTUM_STEP)
check_accuracy = make_check(ACCURACY)
check_blog_fc_in_features = make_check(BLOG_FC_IN_FEATURES)
check_blog_softmax = make_check(BLOG_SOFTMAX)
check_blog_maxpool_backward = make_check(BLOG_MAXPOOL_BACKWARD)
check_blog_conv_backward_weights = make_check(BLOG_CONV_BACKWARD_WEIGHTS)

__all__ = [f"check_{name}" for name in GRADED]
