"""Checks for the lesson "Batch norm and dropout":
batch norm (training mode) forward and backward, inverted dropout.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import functional as F
from ._compare import same
from ._engine import Case, Mistake, Spec, make_check, randn
from .backprop_by_layer import NUMERICAL_GRADIENT

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward")

AXES = (0, 2, 3)  # batch norm statistics: per channel, over N, H and W


def _bn_reference(x, gamma, beta, eps=1e-5):
    return F.batch_norm2d_forward(x, gamma, beta, training=True, eps=eps)[0]


def _with(a, **changes):
    """Case arguments ``a`` with some replaced."""
    return SimpleNamespace(**{**vars(a), **changes})


def _bn(a, axes=AXES, ddof=0, eps=None, eps_inside=True, power=0.5, last_axis=""):
    """Batch norm of case ``a`` with one thing changed: builds the mistakes.

    last_axis: "" (right), "affine" (gamma and beta broadcast along W) or "all" (the
    per-channel mean and variance too).
    """
    eps = getattr(a, "eps", 1e-5) if eps is None else eps
    if last_axis == "all":
        mu, var = a.x.mean(axis=AXES), a.x.var(axis=AXES, ddof=ddof)
        return a.gamma * (a.x - mu) / np.sqrt(var + eps) + a.beta
    mu = a.x.mean(axis=axes, keepdims=True)
    var = a.x.var(axis=axes, keepdims=True, ddof=ddof)
    scale = (var + eps) ** power if eps_inside else np.sqrt(var) + eps
    xhat = (a.x - mu) / scale
    if last_axis == "affine":
        return a.gamma * xhat + a.beta
    return a.gamma[:, None, None] * xhat + a.beta[:, None, None]


def _bn_inputs(rng, n, c, h, w, dtype=np.float64, small_channel=False):
    x = randn(rng, n, c, h, w) * rng.uniform(0.5, 3.0, (1, c, 1, 1))
    x += rng.normal(0, 2, (1, c, 1, 1))
    if small_channel:  # variance ~1e-4: eps matters
        x[:, 0] = 0.01 * rng.standard_normal((n, h, w)) + 1.0
    return dict(x=x.astype(dtype), gamma=rng.uniform(0.5, 2.0, c).astype(dtype),
                beta=randn(rng, c, dtype=dtype))


def _bn_cases(rng):
    return [
        Case("width W = C = 3 (a (C,) array broadcast on the wrong axis shows)",
             **_bn_inputs(rng, 2, 3, 4, 3)),
        Case("a (4, 3, 2, 5) batch with per-channel offsets and scales",
             **_bn_inputs(rng, 4, 3, 2, 5)),
        Case("batch 1: the statistics come from H and W", **_bn_inputs(rng, 1, 2, 3, 4)),
        Case("a channel with variance 1e-4 (eps matters)",
             **_bn_inputs(rng, 3, 2, 3, 3, small_channel=True)),
        Case("eps=0.1 given", **_bn_inputs(rng, 2, 2, 3, 3, small_channel=True), eps=0.1),
        Case("float32", **_bn_inputs(rng, 3, 2, 3, 4, np.float32)),
    ]


BN_STATS = ("Batch norm's statistics are per channel over the batch and the positions: "
            "`x.mean(axis=(0, 2, 3), keepdims=True)`")

BATCHNORM_FORWARD = Spec(
    name="batchnorm_forward",
    reference=_bn_reference,
    cases=_bn_cases,
    mistakes=[
        Mistake("You used the unbiased variance (ddof=1); batch norm normalises with the "
                "biased one, dividing by M = N*H*W (`np.var`'s default).",
                lambda a, ref: _bn(a, ddof=1)),
        Mistake(BN_STATS + "; yours are over the batch axis only.",
                lambda a, ref: _bn(a, axes=(0,))),
        Mistake(BN_STATS + "; you normalised each image separately (that is instance norm).",
                lambda a, ref: _bn(a, axes=(2, 3))),
        Mistake(BN_STATS + "; yours are over C, H and W (that is layer norm).",
                lambda a, ref: _bn(a, axes=(1, 2, 3))),
        Mistake(BN_STATS + "; yours are over the whole array.",
                lambda a, ref: _bn(a, axes=None)),
        Mistake("A (C,) array is broadcast along the last axis (width): reshape the per-channel "
                "mean, variance, gamma and beta to (1, C, 1, 1), e.g. `gamma[:, None, None]` "
                "or `keepdims=True`.", lambda a, ref: _bn(a, last_axis="all")),
        Mistake("gamma and beta are broadcast along the last axis (width): reshape them to "
                "(1, C, 1, 1), e.g. `gamma[:, None, None]`.",
                lambda a, ref: _bn(a, last_axis="affine")),
        Mistake("eps goes inside the square root: divide by `np.sqrt(var + eps)`.",
                lambda a, ref: _bn(a, eps_inside=False)),
        Mistake("Divide by the standard deviation `np.sqrt(var + eps)`, not the variance.",
                lambda a, ref: _bn(a, power=1.0)),
        Mistake("You ignored the `eps` argument: use the eps that was passed in.",
                test=lambda a, actual, ref: hasattr(a, "eps") and same(actual, _bn(a, eps=1e-5),
                                                                        False)),
        Mistake("eps is missing: divide by `np.sqrt(var + eps)` so a constant channel does not "
                "divide by zero.", lambda a, ref: _bn(a, eps=0.0)),
        Mistake("gamma and beta are swapped: out = gamma * x_hat + beta (gamma scales, beta "
                "shifts).",
                lambda a, ref: _bn(_with(a, gamma=a.beta, beta=a.gamma))),
        Mistake("gamma and beta are missing: out = gamma * x_hat + beta.",
                lambda a, ref: _bn(_with(a, gamma=np.ones_like(a.gamma),
                                         beta=np.zeros_like(a.beta)))),
    ],
    shape_hint=lambda a: f"The output has the shape of x, {a.x.shape}.",
    implementations=("functional.batch_norm2d_forward",
                     "functional.regularize.batch_norm2d_forward", "layers.BatchNorm2d.forward"),
)


# ----------------------------------------------------------------------------- batchnorm_backward
def _bn_backward_reference(dout, x, gamma, eps=1e-5):
    beta = np.zeros_like(gamma)
    cache = F.batch_norm2d_forward(x, gamma, beta, training=True, eps=eps)[1]
    return F.batch_norm2d_backward(dout, cache)


def _bn_dx(a, ddof=0, mean_term=True, var_term=True, use_gamma=True):
    """dx of batch norm with some terms dropped: builds the mistakes."""
    eps = getattr(a, "eps", 1e-5)
    m = a.x.size // a.x.shape[1]
    inv_std = 1 / np.sqrt(a.x.var(axis=AXES, keepdims=True, ddof=ddof) + eps)
    xhat = (a.x - a.x.mean(axis=AXES, keepdims=True)) * inv_std
    dxhat = a.dout * (a.gamma[:, None, None] if use_gamma else 1)
    dx = m * dxhat
    if mean_term:
        dx = dx - dxhat.sum(axis=AXES, keepdims=True)
    if var_term:
        dx = dx - xhat * (dxhat * xhat).sum(axis=AXES, keepdims=True)
    return dx * inv_std / m


def _bn_backward_cases(rng):
    def case(label, n, c, h, w, dtype=np.float64, **extra):
        inputs = _bn_inputs(rng, n, c, h, w, dtype, small_channel=bool(extra))
        return Case(label, dout=randn(rng, n, c, h, w, dtype=dtype), x=inputs["x"],
                    gamma=inputs["gamma"], **extra)
    return [case("width W = C = 3", 2, 3, 4, 3),
            case("a (4, 3, 2, 5) batch", 4, 3, 2, 5),
            case("batch 1", 1, 2, 3, 4),
            case("eps=0.1 given, a channel with small variance", 3, 2, 3, 3, eps=0.1),
            case("float32", 3, 2, 3, 4, np.float32)]


BATCHNORM_BACKWARD = Spec(
    name="batchnorm_backward",
    reference=_bn_backward_reference,
    parts=("dx", "dgamma", "dbeta"),
    cases=_bn_backward_cases,
    mistakes=[
        Mistake("`dx` treats the mean and variance as constants (the eval-mode gradient "
                "dout * gamma / std). In training they depend on x: dx = inv_std / M * "
                "(M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), sums over (0, 2, 3).",
                lambda a, ref: _bn_dx(a, mean_term=False, var_term=False), part="dx"),
        Mistake("`dx` is missing the variance term `- xhat * sum(dxhat * xhat)`: the variance "
                "depends on x too.", lambda a, ref: _bn_dx(a, var_term=False), part="dx"),
        Mistake("`dx` is missing the mean term `- sum(dxhat)`: the mean depends on x too.",
                lambda a, ref: _bn_dx(a, mean_term=False), part="dx"),
        Mistake("`dx` uses the unbiased variance (ddof=1); batch norm uses the biased one.",
                lambda a, ref: _bn_dx(a, ddof=1), part="dx"),
        Mistake("`dx` forgot gamma: the gradient reaching x_hat is dxhat = dout * gamma.",
                lambda a, ref: _bn_dx(a, use_gamma=False), part="dx"),
        Mistake("`dgamma` and `dbeta` are swapped: dgamma = sum(dout * x_hat), dbeta = "
                "sum(dout), both over axes (0, 2, 3).",
                lambda a, ref: a.dout.sum(axis=AXES), part="dgamma"),
        Mistake("`dgamma` and `dbeta` are swapped: dgamma = sum(dout * x_hat), dbeta = "
                "sum(dout), both over axes (0, 2, 3).",
                lambda a, ref: _bn_backward_reference(a.dout, a.x, a.gamma,
                                                      getattr(a, "eps", 1e-5))[1],
                part="dbeta"),
        Mistake("`dgamma` uses x: use the normalised x_hat = (x - mean) / sqrt(var + eps).",
                lambda a, ref: (a.dout * a.x).sum(axis=AXES), part="dgamma"),
        *[Mistake(f"`{part}` must be summed over N, H and W: `.sum(axis=(0, 2, 3))`, shape (C,).",
                  test=lambda a, actual, ref: np.shape(actual) != ref.shape, part=part)
          for part in ("dgamma", "dbeta")],
    ],
    implementations=("functional.batch_norm2d_backward",
                     "functional.regularize.batch_norm2d_backward", "layers.BatchNorm2d.backward",
                     NUMERICAL_GRADIENT),
)


# ----------------------------------------------------------------------------- dropout
def _dropout_cases(rng):
    return [
        Case("a (100, 200) batch, p=0.3", x=randn(rng, 100, 200), p=0.3,
             rng=np.random.default_rng(1)),
        Case("a (40, 50) batch, p=0.8", x=randn(rng, 40, 50), p=0.8,
             rng=np.random.default_rng(2)),
        Case("4-D float32, p=0.5", x=randn(rng, 2, 3, 4, 5, dtype=np.float32), p=0.5,
             rng=np.random.default_rng(3)),
        Case("p=0 (nothing dropped)", x=randn(rng, 3, 4), p=0.0, rng=np.random.default_rng(4)),
    ]


def _verify_dropout(a, actual, rerun) -> list[str]:
    """Properties of (out, mask), then that the mask comes from ``rng`` and only from it.

    There is no unique right mask, so there is no reference output to compare with.
    """
    problems = _dropout_problems(a, actual)
    if problems:
        return problems
    mask, again, other = np.asarray(actual[1]), rerun(0), rerun(1)
    if _dropout_problems(a, again) or not np.array_equal(np.asarray(again[1]), mask):
        return ["Two calls with identically seeded `rng`s gave different results: draw the "
                "randomness only from `rng` (e.g. `rng.random(x.shape)`), not from "
                "`np.random`."]
    problems = _dropout_problems(a, other)
    if problems:
        return [f"With another `rng`: {problems[0]}"]
    if 0 < a.p < 1 and np.array_equal(np.asarray(other[1]), mask):
        return ["Different `rng`s gave the same mask: draw the mask from the `rng` argument."]
    return []


def _dropout_problems(a, actual) -> list[str]:
    """What is wrong with one (out, mask) for input ``a.x`` and drop probability ``a.p``."""
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        return ["`dropout_forward` should return a tuple (out, mask)."]
    out, mask = actual
    if isinstance(mask, np.ndarray) and mask.ndim < a.x.ndim and mask.size > 1:
        return [f"`mask` has shape {mask.shape}: draw one value per entry of x, "
                f"`rng.random(x.shape)`, so each example gets its own mask."]
    for name, value in (("out", out), ("mask", mask)):
        if not isinstance(value, np.ndarray) or value.shape != a.x.shape:
            got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
            return [f"`{name}` should be an array with x's shape {a.x.shape}; got {got}."]
    keep = 1.0 - a.p
    if not np.isin(mask, (0, 1)).all():
        if keep > 0 and np.isin(np.round(mask * keep, 6), (0, 1)).all():
            return ["Your mask includes the scale 1 / (1 - p): keep the mask 0s and 1s (it is "
                    "returned for the backward pass) and scale `out` only."]
        return ["`mask` should hold only 0s (dropped) and 1s (kept)."]
    with np.errstate(all="ignore"):
        candidates = [
            (1.0 / keep, None),
            (1.0, "`out` is not rescaled: divide the kept values by (1 - p) so the expected "
                  "output equals x (inverted dropout)."),
            (1.0 / a.p if a.p else np.nan, "You scaled by 1 / p: p is the drop probability, "
                                           "so divide by (1 - p), the keep probability."),
            (keep, "You multiplied by (1 - p): divide by it instead (inverted dropout scales "
                   "up the kept values)."),
        ]
        matched = [message for scale, message in candidates
                   if same(out, a.x * mask * scale, a.x.dtype == np.float32)]
    if not matched:
        return ["`out` should be `x * mask / (1 - p)` for the mask you return."]
    if matched[0]:
        return [matched[0]]
    if out.dtype != a.x.dtype:
        return [f"`out` has dtype {out.dtype}; it should keep x's dtype {a.x.dtype} "
                f"(e.g. make the mask with `.astype(x.dtype)`)."]
    dropped, n = 1.0 - float(np.mean(mask)), mask.size
    tolerance = 6 * np.sqrt(a.p * keep / n) + 1e-9
    if abs(dropped - a.p) > tolerance:
        if abs(dropped - keep) <= tolerance:
            return [f"You dropped {dropped:.0%} of the values with p={a.p}: p is the "
                    f"probability to DROP, so keep each value with probability 1 - p "
                    f"(e.g. `mask = rng.random(x.shape) >= p`)."]
        return [f"You dropped {dropped:.1%} of the values, but p={a.p}: drop each value "
                f"independently with probability p (e.g. `mask = rng.random(x.shape) >= p`)."]
    return []


DROPOUT_FORWARD = Spec(name="dropout_forward", reference=None, cases=_dropout_cases,
                       verify=_verify_dropout,
                       reruns=({}, {"rng": np.random.default_rng(12345)}),
                       implementations=("functional.dropout_forward",
                                        "functional.regularize.dropout_forward",
                                        "layers.Dropout.forward"))


def _dropout_back_cases(rng):
    def case(label, shape, p, dtype=np.float64):
        mask = (rng.random(shape) >= p).astype(dtype)
        return Case(label, dout=randn(rng, *shape, dtype=dtype), mask=mask, p=p)
    return [case("a (4, 6) batch, p=0.2", (4, 6), 0.2),
            case("4-D float32, p=0.5", (2, 3, 2, 2), 0.5, np.float32),
            case("p=0.7", (5, 3), 0.7),
            case("p=0 (nothing dropped)", (3, 2), 0.0)]


DROPOUT_BACKWARD = Spec(
    name="dropout_backward",
    reference=lambda dout, mask, p: dout * mask / (1 - p),
    cases=_dropout_back_cases,
    mistakes=[
        Mistake("The gradient is not rescaled: the forward pass divided by (1 - p), so "
                "dx = dout * mask / (1 - p).", lambda a, ref: a.dout * a.mask),
        Mistake("You scaled by 1 / p: p is the drop probability, divide by (1 - p).",
                lambda a, ref: a.dout * a.mask / a.p),
        Mistake("You multiplied by (1 - p): divide by it, dx = dout * mask / (1 - p).",
                lambda a, ref: a.dout * a.mask * (1 - a.p)),
        Mistake("The mask is missing: dropped values get no gradient, "
                "dx = dout * mask / (1 - p).", lambda a, ref: a.dout / (1 - a.p)),
        Mistake("The mask is inverted: it is 1 for the values that were kept.",
                lambda a, ref: a.dout * (1 - a.mask) / (1 - a.p)),
    ],
    implementations=("functional.dropout_backward", "functional.regularize.dropout_backward",
                     "layers.Dropout.backward", NUMERICAL_GRADIENT),
)


check_batchnorm_forward = make_check(BATCHNORM_FORWARD)
check_batchnorm_backward = make_check(BATCHNORM_BACKWARD)
check_dropout_forward = make_check(DROPOUT_FORWARD)
check_dropout_backward = make_check(DROPOUT_BACKWARD)

__all__ = [f"check_{name}" for name in GRADED]
