"""Autograded checks for the exercise notebooks: they name the likely mistake.

Each graded function of the exercises has a check::

    from course_lib.checks import check_conv2d_forward
    check_conv2d_forward(conv2d_forward)      # ✓ / ✗ report in the notebook

A check runs your function on fixed and random cases (non-square inputs, a stride that does
not divide, batch 1, float32 and float64), compares it with the library's reference, and
when something is wrong says what is probably wrong ("the kernel is flipped", "the bias is
added along the last axis", "db is not summed over the batch"...) rather than only "wrong
values". An exception is reported with the line of your code where it happened; a call that
runs longer than ``time_limit`` seconds (default 5) is stopped.

CHECKS       graded function name -> its check function ``check(fn, time_limit=None)``
LESSONS      lesson stem (e.g. "01_convolution") -> its graded function names, in order
CheckResult  ``.name``, ``.passed``, ``.messages``, ``to_dict()``; truthy when passed

The engine (comparing, recognising mistakes) is in ``_engine.py``, the time limit and the
search for the student's line in ``_running.py``; each lesson's cases and candidate mistakes
are in its own module, ``l01_convolution.py`` ... ``l07_batchnorm_dropout.py``.

To teach a check a new mistake, add one ``Mistake(message, output)`` to its ``Spec``: ``output(a,
ref)`` computes what code with that mistake returns (``a.x``, ``a.w``... are the case's
arguments, ``ref`` the right answer), and a case where it differs from ``ref``; then add a wrong
implementation with the hint's keyword to ``tests/wrong_impls/``.
"""

from __future__ import annotations

from ._engine import CheckResult
from ._running import TimeLimitExceeded, call_with_time_limit
from .l01_convolution import check_conv2d_forward, check_correlate2d
from .l02_padding_and_stride import (
    check_conv2d_forward_general,
    check_conv_output_size,
    check_pad2d,
)
from .l03_pooling import check_avg_pool2d_forward, check_max_pool2d_forward
from .l04_softmax_cross_entropy import check_cross_entropy, check_softmax
from .l05_backprop_by_layer import (
    check_conv2d_backward,
    check_linear_backward,
    check_max_pool2d_backward,
    check_relu_backward,
    check_softmax_cross_entropy_backward,
)
from .l06_training_on_mnist import check_accuracy, check_sgd_momentum_step
from .l07_batchnorm_dropout import (
    check_batchnorm_backward,
    check_batchnorm_forward,
    check_dropout_backward,
    check_dropout_forward,
)

LESSONS: dict[str, list[str]] = {
    "01_convolution": ["correlate2d", "conv2d_forward"],
    "02_padding_and_stride": ["pad2d", "conv_output_size", "conv2d_forward_general"],
    "03_pooling": ["max_pool2d_forward", "avg_pool2d_forward"],
    "04_softmax_cross_entropy": ["softmax", "cross_entropy"],
    "05_backprop_by_layer": ["relu_backward", "linear_backward",
                             "softmax_cross_entropy_backward", "max_pool2d_backward",
                             "conv2d_backward"],
    "06_training_on_mnist": ["sgd_momentum_step", "accuracy"],
    "07_batchnorm_and_dropout": ["batchnorm_forward", "batchnorm_backward", "dropout_forward",
                                 "dropout_backward"],
}

CHECKS = {name: globals()[f"check_{name}"] for names in LESSONS.values() for name in names}

__all__ = [
    "CHECKS", "LESSONS", "CheckResult", "TimeLimitExceeded", "call_with_time_limit",
    "check_correlate2d", "check_conv2d_forward",
    "check_pad2d", "check_conv_output_size", "check_conv2d_forward_general",
    "check_max_pool2d_forward", "check_avg_pool2d_forward",
    "check_softmax", "check_cross_entropy",
    "check_relu_backward", "check_linear_backward", "check_softmax_cross_entropy_backward",
    "check_max_pool2d_backward", "check_conv2d_backward",
    "check_sgd_momentum_step", "check_accuracy",
    "check_batchnorm_forward", "check_batchnorm_backward", "check_dropout_forward",
    "check_dropout_backward",
]
