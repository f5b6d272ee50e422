"""Batch normalisation and dropout (lesson 08)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validate import (
    Array,
    Seed,
    as_rng,
    check_array,
    check_dout,
    check_probability,
    check_same_dtype,
)


class BatchNormCache(NamedTuple):
    xhat: np.ndarray           # (N, C, H, W), the normalised input
    inv_std: np.ndarray        # (C,) 1 / sqrt(var + eps)
    weight: np.ndarray         # (C,) gamma
    training: bool             # were mu, var the batch's (they then depend on x)?


class DropoutCache(NamedTuple):
    mask: np.ndarray           # 0s and 1s, the shape of x
    p: float


def batch_norm2d_forward(x: Array, weight: Array, bias: Array, running_mean: Array | None = None,
                         running_var: Array | None = None, training: bool = True,
                         momentum: float = 0.1, eps: float = 1e-5) -> tuple[Array, BatchNormCache]:
    """Batch normalisation per channel, like ``torch.nn.functional.batch_norm``.

    training: mu, var = mean and *biased* variance of x over (N, H, W) per channel; the
    running statistics (if given) are updated in place with the *unbiased* variance:
    running = (1 - momentum) * running + momentum * batch.
    eval: mu, var = running_mean, running_var.
    out = weight * (x - mu) / sqrt(var + eps) + bias.

    x : (N, C, H, W); weight, bias, running_mean, running_var : (C,).
    Returns out (N, C, H, W) and a cache for ``batch_norm2d_backward``.
    """
    check_array(x, "x", 4, axis_names="(N, C, H, W)")
    C = x.shape[1]
    for name, a in (("weight", weight), ("bias", bias),
                    ("running_mean", running_mean), ("running_var", running_var)):
        if a is None and name in ("weight", "bias"):
            raise TypeError(f"{name} must be an array of shape ({C},), got None")
        if a is not None:
            check_array(a, name, 1)
            if a.shape != (C,):
                raise ValueError(f"{name} must have shape ({C},) to match x's channels, "
                                 f"got {a.shape}")
    check_same_dtype(x=x, weight=weight, bias=bias)
    if training:
        m = x.shape[0] * x.shape[2] * x.shape[3]
        if m < 2:
            raise ValueError(f"training mode needs more than 1 value per channel, "
                             f"got x of shape {x.shape}")
        mu = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mu
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * m / (m - 1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode needs running_mean and running_var, got None")
        mu, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu[:, None, None]) * inv_std[:, None, None]
    out = weight[:, None, None] * xhat + bias[:, None, None]
    return out, BatchNormCache(xhat, inv_std, weight, training)


def batch_norm2d_backward(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
    """Backward of ``batch_norm2d_forward``. Returns (dx, dweight, dbias).

    training (mu, var depend on x), with M = N*H*W values per channel:
        dx = inv_std / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        with dxhat = dout * weight
    eval (fixed statistics): dx = dout * weight * inv_std.
    """
    xhat, inv_std, weight, training = cache
    check_dout(dout, xhat.shape, xhat.dtype)
    dbias = dout.sum(axis=(0, 2, 3))
    dweight = (dout * xhat).sum(axis=(0, 2, 3))
    dxhat = dout * weight[:, None, None]
    if not training:
        return dxhat * inv_std[:, None, None], dweight, dbias
    m = xhat.shape[0] * xhat.shape[2] * xhat.shape[3]
    dx = (m * dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True))
    return dx * (inv_std[:, None, None] / m), dweight, dbias


def dropout_forward(x: Array, p: float, rng: Seed, training: bool = True
                    ) -> tuple[Array, DropoutCache]:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1 / (1 - p).

    The expected output equals x, so eval mode (or p = 0) is the identity.
    x : any shape; rng : int seed or ``np.random.Generator``.
    Returns out (same shape) and the cache ``(mask, p)`` with mask of 0s and 1s (in eval
    mode a read-only all-ones mask and p = 0, so the backward is the identity too).
    """
    check_array(x, "x")
    p = check_probability(p)
    if not training or p == 0.0:
        return x, DropoutCache(np.broadcast_to(np.ones((), dtype=x.dtype), x.shape), 0.0)
    mask = (as_rng(rng).random(x.shape) >= p).astype(x.dtype)
    return x * mask * _keep_scale(p, x.dtype), DropoutCache(mask, p)


def _keep_scale(p, dtype):
    """1 / (1 - p), the factor that keeps dropout's expectation; 0 when everything drops."""
    return dtype.type(0.0 if p == 1.0 else 1.0 / (1.0 - p))


def dropout_backward(dout: Array, cache: DropoutCache) -> Array:
    """dx = dout * mask / (1 - p): the kept entries pass the gradient through, scaled."""
    mask, p = cache
    check_dout(dout, mask.shape, mask.dtype)
    return dout * mask * _keep_scale(p, mask.dtype)
