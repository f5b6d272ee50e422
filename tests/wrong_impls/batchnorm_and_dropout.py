"""Batch norm and dropout:
batchnorm_forward, batchnorm_backward, dropout_forward, dropout_backward.
"""

import numpy as np

from ._gallery import right, wrong

AXES = (0, 2, 3)


def _bn(x, gamma, beta, eps, axes=AXES, ddof=0, eps_outside=False):
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return gamma[:, None, None] * (x - mu) / std + beta[:, None, None]


@wrong("batchnorm_forward", "unbiased")
def bn_ddof1(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, eps, ddof=1)


@wrong("batchnorm_forward", "inside the square root")
def bn_eps_outside(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, eps, eps_outside=True)


@wrong("batchnorm_forward", "instance norm")
def bn_per_image(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, eps, axes=(2, 3))


@wrong("batchnorm_forward", "last axis")
def bn_gamma_last_axis(x, gamma, beta, eps=1e-5):
    x_hat = (x - x.mean(axis=AXES, keepdims=True)) / np.sqrt(x.var(axis=AXES, keepdims=True)
                                                              + eps)
    return gamma * x_hat + beta


@wrong("batchnorm_forward", "swapped")
def bn_swapped(x, gamma, beta, eps=1e-5):
    return _bn(x, beta, gamma, eps)


@wrong("batchnorm_forward", "ignored the `eps` argument")
def bn_ignores_eps(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, 1e-5)


@right("batchnorm_forward")
def bn_channel_loop(x, gamma, beta, eps=1e-5):
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        values = x[:, c]
        mean = values.sum() / values.size
        var = ((values - mean) ** 2).sum() / values.size
        out[:, c] = gamma[c] * (values - mean) / np.sqrt(var + eps) + beta[c]
    return out


# ----------------------------------------------------------------------------- batchnorm_backward
def _bn_back(dout, x, gamma, eps, ddof=0, terms=("mean", "var"), swap=False):
    m = x.size // x.shape[1]
    inv_std = 1 / np.sqrt(x.var(axis=AXES, keepdims=True, ddof=ddof) + eps)
    x_hat = (x - x.mean(axis=AXES, keepdims=True)) * inv_std
    g = dout * gamma[:, None, None]
    dx = m * g
    if "mean" in terms:
        dx = dx - g.sum(axis=AXES, keepdims=True)
    if "var" in terms:
        dx = dx - x_hat * (g * x_hat).sum(axis=AXES, keepdims=True)
    dgamma, dbeta = (dout * x_hat).sum(axis=AXES), dout.sum(axis=AXES)
    if swap:
        dgamma, dbeta = dbeta, dgamma
    return dx * inv_std / m, dgamma, dbeta


@wrong("batchnorm_backward", "constants")
def bn_back_eval_mode(dout, x, gamma, eps=1e-5):
    return _bn_back(dout, x, gamma, eps, terms=())


@wrong("batchnorm_backward", "variance term")
def bn_back_no_var_term(dout, x, gamma, eps=1e-5):
    return _bn_back(dout, x, gamma, eps, terms=("mean",))


@wrong("batchnorm_backward", "swapped")
def bn_back_swapped(dout, x, gamma, eps=1e-5):
    return _bn_back(dout, x, gamma, eps, swap=True)


@wrong("batchnorm_backward", "unbiased")
def bn_back_ddof1(dout, x, gamma, eps=1e-5):
    return _bn_back(dout, x, gamma, eps, ddof=1)


@right("batchnorm_backward")
def bn_back_staged(dout, x, gamma, eps=1e-5):
    """CS231n-style: back through each step of the forward graph."""
    m = x.size // x.shape[1]
    mu = x.mean(axis=AXES, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=AXES, keepdims=True)
    std = np.sqrt(var + eps)
    x_hat = xc / std
    dbeta, dgamma = dout.sum(axis=AXES), (dout * x_hat).sum(axis=AXES)
    dx_hat = dout * gamma[:, None, None]
    dstd = -(dx_hat * xc).sum(axis=AXES, keepdims=True) / std ** 2
    dvar = dstd / (2 * std)
    dxc = dx_hat / std + 2 * xc * dvar / m
    dx = dxc - dxc.sum(axis=AXES, keepdims=True) / m
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- dropout
@wrong("dropout_forward", "not rescaled")
def dropout_no_scale(x, p, rng):
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask


@wrong("dropout_forward", "probability to drop")
def dropout_keep_prob(x, p, rng):
    mask = (rng.random(x.shape) < p).astype(x.dtype)
    return x * mask / (1 - p), mask


@wrong("dropout_forward", "1 / p")
def dropout_scale_p(x, p, rng):
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask / p if p else x * mask, mask


@wrong("dropout_forward", "np.random")
def dropout_global_rng(x, p, rng):
    mask = (np.random.random(x.shape) >= p).astype(x.dtype)  # noqa: NPY002 (the mistake)
    return x * mask / (1 - p), mask


@wrong("dropout_forward", "includes the scale")
def dropout_scaled_mask(x, p, rng):
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


@right("dropout_forward")
def dropout_binomial(x, p, rng):
    mask = rng.binomial(1, 1 - p, size=x.shape).astype(x.dtype)
    return x * mask / x.dtype.type(1 - p), mask


@right("dropout_forward")
def dropout_bool_mask(x, p, rng):
    keep = rng.uniform(size=x.shape) < 1 - p
    return np.where(keep, x / x.dtype.type(1 - p), x.dtype.type(0)), keep


@wrong("dropout_backward", "not rescaled")
def dropout_back_no_scale(dout, mask, p):
    return dout * mask


@wrong("dropout_backward", "1 / p")
def dropout_back_scale_p(dout, mask, p):
    return dout * mask / p if p else dout * mask


@wrong("dropout_backward", "mask is missing")
def dropout_back_no_mask(dout, mask, p):
    return dout / (1 - p)


@wrong("dropout_backward", "inverted")
def dropout_back_inverted(dout, mask, p):
    return dout * (1 - mask) / (1 - p)


@right("dropout_backward")
def dropout_back_where(dout, mask, p):
    return np.where(mask != 0, dout / dout.dtype.type(1 - p), dout.dtype.type(0))


@wrong("dropout_forward", "each example gets its own mask")
def dropout_shared_mask(x, p, rng):
    mask = (rng.random(x.shape[1:]) >= p).astype(x.dtype)
    return x * mask / (1 - p), mask
