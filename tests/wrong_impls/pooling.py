"""Pooling: max_pool2d_forward, avg_pool2d_forward."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._gallery import right, wrong


def _pool(x, k, s, reduce, ceil=False, start=None):
    def size(length):
        return -(-(length - k) // s) + 1 if ceil else (length - k) // s + 1
    out = np.zeros(x.shape[:2] + (size(x.shape[2]), size(x.shape[3])), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            out[:, :, i, j] = reduce(window)
            if start is not None:
                out[:, :, i, j] = np.maximum(out[:, :, i, j], start)
    return out


def _max(window):
    return window.max(axis=(2, 3))


def _mean(window):
    return window.mean(axis=(2, 3))


@wrong("max_pool2d_forward", "starts at 0")
def max_from_zero(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, _max, start=0.0)


@wrong("max_pool2d_forward", "stride is ignored")
def max_stride_one(x, kernel_size, stride):
    return _pool(x, kernel_size, 1, _max)


@wrong("max_pool2d_forward", "average pooling")
def max_is_mean(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, _mean)


@wrong("max_pool2d_forward", "partial windows")
def max_ceil_mode(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, _max, ceil=True)


@wrong("max_pool2d_forward", "all channels")
def max_over_channels(x, kernel_size, stride):
    per_channel = _pool(x, kernel_size, stride, _max)
    return np.broadcast_to(per_channel.max(axis=1, keepdims=True), per_channel.shape).copy()


@right("max_pool2d_forward")
def max_windows(x, kernel_size, stride):
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return windows[:, :, ::stride, ::stride].max(axis=(4, 5))


@wrong("avg_pool2d_forward", "summed")
def avg_sum(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, lambda w: w.sum(axis=(2, 3)))


@wrong("avg_pool2d_forward", "divided by kernel_size")
def avg_divide_by_k(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, lambda w: w.sum(axis=(2, 3)) / kernel_size)


@wrong("avg_pool2d_forward", "kernel_size as the stride")
def avg_kernel_stride(x, kernel_size, stride):
    return _pool(x, kernel_size, kernel_size, _mean)


@wrong("avg_pool2d_forward", "max pooling")
def avg_is_max(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, _max)


@right("avg_pool2d_forward")
def avg_by_taps(x, kernel_size, stride):
    """Sum of k*k strided slices, like course_lib.functional."""
    k, s = kernel_size, stride
    oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            out += x[:, :, u:u + s * (oh - 1) + 1:s, v:v + s * (ow - 1) + 1:s]
    return out / x.dtype.type(k * k)


@wrong("avg_pool2d_forward", "whole batch and all channels")
def avg_whole_batch(x, kernel_size, stride):
    return _pool(x, kernel_size, stride, lambda w: np.full(w.shape[:2], w.mean()))


@wrong("max_pool2d_forward", "lower precision")
def max_in_float16(x, kernel_size, stride):
    return _pool(x.astype(np.float16), kernel_size, stride, _max).astype(x.dtype)


@wrong("avg_pool2d_forward", "lower precision")
def avg_in_float32(x, kernel_size, stride):
    return _pool(x.astype(np.float32), kernel_size, stride, _mean).astype(x.dtype)
