"""ReLU and the fully connected layer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..validate import (
    Array,
    check_array,
    check_dout,
    check_same_dtype,
)


class ReluCache(NamedTuple):
    mask: np.ndarray           # x > 0, the shape of x
    dtype: np.dtype


def relu(x: Array) -> Array:
    """max(x, 0) elementwise, any shape."""
    return relu_forward(x)[0]


def relu_forward(x: Array) -> tuple[Array, ReluCache]:
    """out = max(x, 0); the cache holds the mask x > 0 (the gradient at 0 is 0, as in PyTorch)."""
    check_array(x, "x")
    return np.maximum(x, 0), ReluCache(x > 0, x.dtype)


def relu_backward(dout: Array, cache: ReluCache) -> Array:
    """dx = dout where x > 0, else 0."""
    mask, dtype = cache
    check_dout(dout, mask.shape, dtype)
    return dout * mask


class LinearCache(NamedTuple):
    x: np.ndarray              # (N, D_in)
    weight: np.ndarray         # (D_out, D_in)
    has_bias: bool


def linear(x: Array, weight: Array, bias: Array | None = None) -> Array:
    """out = x @ weight.T + bias, like ``torch.nn.functional.linear``."""
    return linear_forward(x, weight, bias)[0]


def linear_forward(x: Array, weight: Array, bias: Array | None = None
                   ) -> tuple[Array, LinearCache]:
    """Fully connected layer.

    x : (N, D_in); weight : (D_out, D_in) as in PyTorch; bias : (D_out,) or None.
    Returns out (N, D_out) and a cache for ``linear_backward``.
    """
    check_array(x, "x", 2, axis_names="(N, in_features)")
    check_array(weight, "weight", 2, axis_names="(out_features, in_features)")
    if bias is not None:
        check_array(bias, "bias", 1, axis_names="(out_features,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    check_same_dtype(x=x, weight=weight, bias=bias)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"weight expects {weight.shape[1]} input features (weight.shape[1]) "
                         f"but x has {x.shape[1]} (x.shape[1])")
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(dout: Array, cache: LinearCache) -> tuple[Array, Array, Array | None]:
    """dout : (N, D_out). Returns (dx (N, D_in), dweight (D_out, D_in), dbias (D_out,) or None)."""
    x, weight, has_bias = cache
    check_dout(dout, (x.shape[0], weight.shape[0]), x.dtype)
    return dout @ weight, dout.T @ x, dout.sum(axis=0) if has_bias else None
