"""Checks for the lesson "Softmax and cross-entropy":
``softmax`` (over the last axis) and ``cross_entropy`` (the mean).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .. import functional as F
from ._engine import Case, Mistake, Spec, make_check, randn

# The exercise's graded functions, in order (the lesson registry reads them).
GRADED = ("softmax", "cross_entropy")

OVERFLOW = ("Your softmax overflows for large logits (`np.exp(1000)` is inf, and inf / inf is "
            "NaN): subtract each row's maximum first, softmax(z) = softmax(z - max(z)).")


def unshifted_softmax(z: npt.NDArray[np.floating], axis: int = -1) -> npt.NDArray[np.floating]:
    """exp(z) / sum(exp(z)) without the shift by the maximum: overflows for large logits."""
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def large_logits(rng: np.random.Generator, *shape: int,
                 dtype: npt.DTypeLike = np.float64) -> npt.NDArray[np.floating]:
    """Logits around +-1000 whose differences within a row stay moderate."""
    offsets = np.where(np.arange(shape[0]) % 2, -1000.0, 1000.0)[:, None]
    return (offsets + 3 * rng.standard_normal(shape)).astype(dtype)


def wide_logits() -> npt.NDArray[np.floating]:
    """Rows whose spread is past float64's exp limit (exp(710) = inf), chosen so that every
    shift but the row maximum goes wrong somewhere, each in its own way: the global maximum
    (row 0 underflows to 0 / 0), no shift (row 1 overflows), the row mean (row 0: its
    maximum is 750 above the mean) and the row minimum (row 2: 720 above it)."""
    return np.array([[-1000.0, -1000.0, -1000.0, 0.0],
                     [800.0, 795.0, 790.0, 799.0],
                     [0.0, 720.0, 719.0, 716.0]])


WIDE_LABEL = "rows spread wider than exp's limit: logits from -1000 to 0, 790 to 800, 0 to 720"


def other_shift(axis: int) -> str:
    """The hint for a shift by the row mean or minimum instead of the maximum."""
    return (f"You shifted the logits by something other than each row's maximum (the mean or "
            f"the minimum): when a row spans more than about 709, exp overflows to inf. Only "
            f"`z - z.max(axis={axis}, keepdims=True)` keeps every exponent <= 0.")


def _softmax_cases(rng):
    return [
        Case("a square 4 x 4 batch (a missing keepdims shows)", z=randn(rng, 4, 4)),
        Case("a batch of 3 rows of 5 logits", z=randn(rng, 3, 5)),
        Case("one vector of 4 logits (1-D)", z=randn(rng, 4)),
        Case("3-D logits (2, 3, 4): softmax over the last axis", z=randn(rng, 2, 3, 4)),
        Case("large logits around +1000 and -1000", z=large_logits(rng, 4, 3)),
        Case(WIDE_LABEL, z=wide_logits()),
        Case("batch 1, float32", z=randn(rng, 1, 10, dtype=np.float32, scale=3.0)),
        Case("equal logits (uniform probabilities)", z=np.full((2, 3), 7.0)),
    ]


def _softmax_wrong_axis(a, ref):
    """The first other axis whose softmax differs from the right one (for a 1-D z: none)."""
    for axis in range(a.z.ndim - 1):
        yield F.softmax(a.z, axis)


SOFTMAX = Spec(
    name="softmax",
    reference=lambda z: F.softmax(z, -1),
    cases=_softmax_cases,
    mistakes=[
        Mistake("You subtracted the maximum of the whole array, so a row far below it becomes "
                "exp(-2000) = 0 everywhere and 0 / 0 = NaN: subtract each row's own maximum, "
                "`z.max(axis=-1, keepdims=True)`.",
                lambda a, ref: unshifted_softmax(a.z - a.z.max())),
        Mistake(OVERFLOW, lambda a, ref: unshifted_softmax(a.z)),
        *[Mistake(other_shift(-1), lambda a, ref, shift=shift:
                  unshifted_softmax(a.z - shift(a.z, axis=-1, keepdims=True)))
          for shift in (np.mean, np.min)],
        Mistake("You normalised over the wrong axis: softmax is over the last axis (each row "
                "sums to 1), `axis=-1` whatever the number of dimensions.",
                test=lambda a, actual, ref: any(
                    actual.shape == c.shape and np.allclose(actual, c, rtol=1e-4, atol=1e-6)
                    for c in _softmax_wrong_axis(a, ref))),
        Mistake("You divided by the sum over the whole array: divide each row by its own sum, "
                "`e.sum(axis=-1, keepdims=True)`.",
                lambda a, ref: np.exp(a.z) / np.exp(a.z).sum()),
        Mistake("The row sums are broadcast along the wrong axis: `e / e.sum(axis=-1)` divides "
                "column j by row j's sum. Keep the axis: `e.sum(axis=-1, keepdims=True)`.",
                lambda a, ref: (lambda e: e / e.sum(axis=-1))(
                    np.exp(a.z - a.z.max(axis=-1, keepdims=True)))),
        Mistake("This is log-softmax: return the probabilities `exp(z) / sum(exp(z))`.",
                lambda a, ref: np.log(ref)),
        Mistake("You forgot the exponential: softmax(z) = exp(z) / sum(exp(z)).",
                lambda a, ref: a.z / a.z.sum(axis=-1, keepdims=True)),
    ],
    shape_hint=lambda a: f"softmax keeps the shape of z: {a.z.shape}.",
    # exp(log_softmax(z)) is softmax(z): the log-softmax functions compute it too
    implementations=("functional.softmax", "functional.softmax.softmax",
                     "functional.softmax_forward", "functional.softmax.softmax_forward",
                     "functional.log_softmax", "functional.softmax.log_softmax",
                     "functional.log_softmax_forward", "functional.softmax.log_softmax_forward"),
)


# ----------------------------------------------------------------------------- cross_entropy
def _labels(rng, n, k):
    return rng.integers(0, k, n)


def _ce_cases(rng):
    return [
        Case("4 examples, 3 classes", logits=randn(rng, 4, 3), y=_labels(rng, 4, 3)),
        Case("5 examples, 10 classes, repeated labels", logits=randn(rng, 5, 10, scale=2.0),
             y=np.array([3, 3, 0, 9, 3])),
        Case("a square 4 x 4 batch", logits=randn(rng, 4, 4), y=np.array([1, 0, 3, 2])),
        Case("large logits around +1000 and -1000", logits=large_logits(rng, 4, 3),
             y=_labels(rng, 4, 3)),
        Case("batch 1, float32", logits=randn(rng, 1, 6, dtype=np.float32),
             y=np.array([2])),
        # row 0's true logit is 1, not 0, so the log of the raw logits stays finite: here
        # only a shift by something other than the row maximum gives inf
        Case("rows spread wider than exp's limit: logits from -1000 to 1, 790 to 800, 0 to 720",
             logits=wide_logits() + np.array([[0.0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]),
             y=np.array([3, 0, 1])),
        # exp(-744) = 1e-323 has one digit left: the log of a stable softmax is off, not inf,
        # which tells it from an overflow (inf)
        Case("a confidently wrong row: logits [0, 744] for class 0 costs 744, not inf",
             logits=np.array([[0.0, 744.0], [1.0, 2.0]]), y=np.array([0, 1])),
    ]


def _logp(z, axis=1):
    return F.log_softmax(z, axis)


def _pick(logp, y):
    return logp[np.arange(len(y)), y]


def _shifted_logp(z, shift):
    """Log-softmax through log-sum-exp shifted by ``shift`` (np.mean, np.min) of each row."""
    shifted = z - shift(z, axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


CROSS_ENTROPY = Spec(
    name="cross_entropy",
    reference=lambda logits, y: F.cross_entropy(logits, y),
    kind="float",
    cases=_ce_cases,
    mistakes=[
        Mistake("You returned the sum over the batch: the loss is the mean, divide by N.",
                lambda a, ref: ref * len(a.y)),
        Mistake("The sign is flipped: the loss is -log p(true class), a positive number.",
                lambda a, ref: -ref),
        Mistake("You took the log of a (stable) softmax: a tiny probability like exp(-744) has "
                "no digits left (exp(-1000) is 0, log(0) = -inf). Compute log-softmax directly, "
                "`z - m - log(sum(exp(z - m)))` with m the row maximum: it never forms the tiny "
                "probability.",
                lambda a, ref: -np.mean(np.log(_pick(F.softmax(a.logits, 1), a.y)))),
        Mistake("Your softmax overflows for large logits (NaN or inf): compute log-softmax "
                "stably, `z - m - log(sum(exp(z - m)))` with m the row maximum.",
                lambda a, ref: -np.mean(np.log(_pick(unshifted_softmax(a.logits), a.y)))),
        Mistake("`logp[:, y]` picks an N x N block; pick one entry per row: "
                "`logp[np.arange(N), y]`.",
                lambda a, ref: -_logp(a.logits)[:, a.y].mean()),
        Mistake("You took the log of the raw logits: apply softmax first (log-softmax).",
                lambda a, ref: -np.mean(np.log(_pick(a.logits, a.y)))),
        Mistake("The softmax is over the batch axis: normalise each row (axis=1, the classes).",
                lambda a, ref: -np.mean(_pick(_logp(a.logits, axis=0), a.y))),
        Mistake("You averaged over the classes too (divided by N * K): average over the batch "
                "only.", lambda a, ref: ref / a.logits.shape[1]),
        Mistake("Use the natural logarithm `np.log`, not log2 or log10.",
                test=lambda a, actual, ref: any(np.isclose(float(actual), ref / np.log(base))
                                                for base in (2.0, 10.0))),
        Mistake("You averaged the loss of every class: use only the true class's "
                "log-probability, `logp[np.arange(N), y]`.",
                lambda a, ref: -_logp(a.logits).mean()),
        *[Mistake(other_shift(1), lambda a, ref, shift=shift:
                  -np.mean(_pick(_shifted_logp(a.logits, shift), a.y)))
          for shift in (np.mean, np.min)],
    ],
    implementations=("functional.cross_entropy", "functional.softmax.cross_entropy",
                     "functional.cross_entropy_forward", "functional.softmax.cross_entropy_forward",
                     "functional.log_softmax", "functional.softmax.log_softmax",
                     "functional.log_softmax_forward", "functional.softmax.log_softmax_forward",
                     "layers.CrossEntropyLoss.forward"),
)


check_softmax = make_check(SOFTMAX)
check_cross_entropy = make_check(CROSS_ENTROPY)

__all__ = [f"check_{name}" for name in GRADED]
