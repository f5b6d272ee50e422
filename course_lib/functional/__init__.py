"""CNN ops in NCHW layout, vectorized with NumPy, each with its backward pass.

Every op comes as a CS231n-style pair plus a PyTorch-named shortcut::

    out, cache = conv2d_forward(x, weight, bias, stride=1, padding=0)
    dx, dweight, dbias = conv2d_backward(dout, cache)
    out = conv2d(x, weight, bias)            # like torch.nn.functional.conv2d

Each cache is a NamedTuple (``ConvCache``, ``MaxPoolCache``, ...) whose fields say what the
backward pass reads. ``course_lib.readable`` has conv and pooling as plain loops, the same
signatures and results; ``course_lib.fast_conv`` has conv2d with the tricks that buy the last
factor of two (the layers use it). The tests check that all three agree.

How it works (lesson 09)
------------------------
conv2d  im2col: KH*KW strided views of the padded input (one per kernel tap) fill ``cols``
        (C*KH*KW, N*OH*OW), every window a column; then ``weight (F, C*KH*KW) @ cols`` is the
        whole batch's output in one matmul. Backward: dW = dout @ cols.T, dcols = W.T @ dout,
        and col2im adds dcols back onto the pixels with one strided slice-add per tap.
pooling KH*KW strided views combined with ``np.maximum`` (or added, for the average); the
        maximum goes rows first, then columns.
"""

from __future__ import annotations

from ..validate import conv_output_size
from .conv import (
    ConvCache,
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_forward,
    im2col,
    pad,
    pad2d,
    padded_shape,
    tap_view,
    unpad,
)
from .dense import (
    LinearCache,
    ReluCache,
    linear,
    linear_backward,
    linear_forward,
    relu,
    relu_backward,
    relu_forward,
)
from .pooling import (
    AvgPoolCache,
    MaxPoolCache,
    ShapeCache,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    global_avg_pool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .regularize import (
    BatchNormCache,
    DropoutCache,
    batch_norm2d_backward,
    batch_norm2d_forward,
    dropout_backward,
    dropout_forward,
)
from .softmax import (
    CrossEntropyCache,
    LogSoftmaxCache,
    SoftmaxCache,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax,
    log_softmax_backward,
    log_softmax_forward,
    softmax,
    softmax_backward,
    softmax_forward,
)

__all__ = [
    "pad2d", "pad", "unpad", "padded_shape", "tap_view", "conv_output_size",
    "conv2d", "conv2d_forward", "conv2d_backward", "im2col", "col2im",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "relu", "relu_forward", "relu_backward",
    "linear", "linear_forward", "linear_backward",
    "softmax", "softmax_forward", "softmax_backward",
    "log_softmax", "log_softmax_forward", "log_softmax_backward",
    "cross_entropy", "cross_entropy_forward", "cross_entropy_backward",
    "batch_norm2d_forward", "batch_norm2d_backward", "dropout_forward", "dropout_backward",
    "ConvCache", "MaxPoolCache", "AvgPoolCache", "ShapeCache", "ReluCache", "LinearCache",
    "SoftmaxCache", "LogSoftmaxCache", "CrossEntropyCache", "BatchNormCache", "DropoutCache",
]
