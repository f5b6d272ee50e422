"""Softmax, log-softmax and the cross-entropy loss, computed stably."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validate import (
    Array,
    IntArray,
    check_array,
    check_dout,
    check_labels,
)


class SoftmaxCache(NamedTuple):
    p: np.ndarray              # softmax(z), the shape of z
    axis: int


class LogSoftmaxCache(NamedTuple):
    out: np.ndarray            # log softmax(z), the shape of z
    axis: int


def softmax(z: Array, axis: int = -1) -> Array:
    """exp(z) / sum(exp(z)) along ``axis``, computed stably. See ``softmax_forward``."""
    return softmax_forward(z, axis)[0]


def softmax_forward(z: Array, axis: int = -1) -> tuple[Array, SoftmaxCache]:
    """Softmax along ``axis``, shifted by the max so exp never overflows.

    softmax(z) = softmax(z - max(z)): adding a constant does not change it.
    Returns p (same shape as z) and a cache for ``softmax_backward``.
    """
    check_array(z, "z")
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    return p, SoftmaxCache(p, axis)


def softmax_backward(dout: Array, cache: SoftmaxCache) -> Array:
    """dz = p * (dout - sum(dout * p)) along the softmax axis (the Jacobian-vector product)."""
    p, axis = cache
    check_dout(dout, p.shape, p.dtype)
    return p * (dout - (dout * p).sum(axis=axis, keepdims=True))


def log_softmax(z: Array, axis: int = -1) -> Array:
    """log(softmax(z)) along ``axis`` via log-sum-exp. See ``log_softmax_forward``."""
    return log_softmax_forward(z, axis)[0]


def log_softmax_forward(z: Array, axis: int = -1) -> tuple[Array, LogSoftmaxCache]:
    """log softmax(z) = (z - m) - log(sum(exp(z - m))), m = max(z): finite for any finite z.

    Returns out (same shape as z) and a cache for ``log_softmax_backward``.
    """
    check_array(z, "z")
    shifted = z - z.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out, LogSoftmaxCache(out, axis)


def log_softmax_backward(dout: Array, cache: LogSoftmaxCache) -> Array:
    """dz = dout - softmax(z) * sum(dout) along the axis."""
    out, axis = cache
    check_dout(dout, out.shape, out.dtype)
    return dout - np.exp(out) * dout.sum(axis=axis, keepdims=True)


class CrossEntropyCache(NamedTuple):
    logp: np.ndarray           # (N, K) log softmax(logits)
    target: np.ndarray         # (N,) class indices


def cross_entropy(logits: Array, target: IntArray) -> float:
    """Mean cross-entropy of integer labels under softmax(logits), like ``F.cross_entropy``."""
    return cross_entropy_forward(logits, target)[0]


def cross_entropy_forward(logits: Array, target: IntArray) -> tuple[float, CrossEntropyCache]:
    """loss = -mean_n log softmax(logits[n])[target[n]].

    logits : (N, K) float; target : (N,) integer class indices in [0, K).
    Returns the loss (a Python float) and a cache for ``cross_entropy_backward``.
    """
    check_array(logits, "logits", 2, axis_names="(N, num_classes)")
    check_labels(target, "target", logits.shape[0], logits.shape[1])
    logp = log_softmax_forward(logits, axis=1)[0]
    n = logits.shape[0]
    loss = -logp[np.arange(n), target].mean()
    return float(loss), CrossEntropyCache(logp, target)


def cross_entropy_backward(dout: float = 1.0, cache: CrossEntropyCache | None = None) -> Array:
    """dlogits = dout * (softmax(logits) - onehot(target)) / N: the famous p - y.

    dout : the upstream gradient of the scalar loss (1.0 when the loss is the output).
    Returns dlogits (N, K).
    """
    if cache is None:
        raise ValueError("cache must be the cache returned by cross_entropy_forward, got None")
    logp, target = cache
    if isinstance(dout, bool) or not isinstance(dout, (int, float, np.floating)):
        raise TypeError(f"dout must be a scalar (the loss's upstream gradient), got {dout!r}")
    n = logp.shape[0]
    dlogits = np.exp(logp)
    dlogits[np.arange(n), target] -= 1
    dlogits *= dout / n
    return dlogits
