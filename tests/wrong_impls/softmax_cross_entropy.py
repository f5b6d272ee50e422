"""Softmax and cross-entropy: softmax, cross_entropy."""

import numpy as np
from scipy.special import logsumexp

from ._gallery import right, wrong


@wrong("softmax", "overflows")
def softmax_unshifted(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@wrong("softmax", "whole array")
def softmax_global_max(z):
    e = np.exp(z - z.max())
    return e / e.sum(axis=-1, keepdims=True)


@wrong("softmax", "wrong axis")
def softmax_axis0(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@wrong("softmax", "keepdims")
def softmax_no_keepdims(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1)


@wrong("softmax", "log-softmax")
def softmax_returns_log(z):
    return z - logsumexp(z, axis=-1, keepdims=True)


@right("softmax")
def softmax_via_logsumexp(z):
    return np.exp(z - logsumexp(z, axis=-1, keepdims=True)).astype(z.dtype)


@right("softmax")
def softmax_row_loop(z):
    flat = z.reshape(-1, z.shape[-1])
    out = np.empty_like(flat)
    for r, row in enumerate(flat):
        e = np.exp(row - np.max(row))
        out[r] = e / np.sum(e)
    return out.reshape(z.shape)


# ----------------------------------------------------------------------------- cross_entropy
def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@wrong("cross_entropy", "sum over the batch")
def ce_sum(logits, y):
    return -_log_softmax(logits)[np.arange(len(y)), y].sum()


@wrong("cross_entropy", "overflow")
def ce_unshifted(logits, y):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


@wrong("cross_entropy", "log of a (stable) softmax")
def cross_entropy_log_of_softmax(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return -np.mean(np.log(p[np.arange(len(y)), y]))


@wrong("cross_entropy", "N x N block")
def ce_column_index(logits, y):
    return -_log_softmax(logits)[:, y].mean()


@wrong("cross_entropy", "sign")
def ce_no_minus(logits, y):
    return _log_softmax(logits)[np.arange(len(y)), y].mean()


@wrong("cross_entropy", "raw logits")
def ce_log_of_logits(logits, y):
    return -np.mean(np.log(logits[np.arange(len(y)), y]))


@wrong("cross_entropy", "one number")
def ce_per_example(logits, y):
    return -_log_softmax(logits)[np.arange(len(y)), y]


@right("cross_entropy")
def ce_logsumexp(logits, y):
    picked = logits[np.arange(len(y)), y]
    return np.mean(logsumexp(logits, axis=1) - picked)   # a NumPy float, not a Python float


@right("cross_entropy")
def ce_loop(logits, y):
    total = 0.0
    for row, label in zip(logits, y, strict=True):
        m = row.max()
        total += m + np.log(np.sum(np.exp(row - m))) - row[label]
    return total / len(y)


@wrong("softmax", "other than each row's maximum")
def softmax_minus_mean(z):
    e = np.exp(z - z.mean(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@wrong("softmax", "other than each row's maximum")
def softmax_minus_min(z):
    e = np.exp(z - z.min(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@wrong("cross_entropy", "other than each row's maximum")
def ce_logsumexp_minus_mean(logits, y):
    shifted = logits - logits.mean(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()
