"""Numerical gradient checking by central differences, in float64.

    report = check_layer(Conv2d(3, 4, 3, dtype=np.float64, rng=0), x)
    print(report)        # one row per gradient: relative error, passed?
    assert report        # truthy when every gradient passed

The relative error is norm-wise, ||a - n|| / (||a|| + ||n||): about 1e-10 for a correct
backward in float64, about 1e-2 or worse for a wrong one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .validate import check_array, check_int

if TYPE_CHECKING:
    from .layers import Layer

Float64 = npt.NDArray[np.float64]                # gradient checks run in float64 only
Function = Callable[[Float64], npt.ArrayLike]    # f(x): an array (or a scalar) of x

__all__ = ["numerical_gradient", "rel_error", "GradcheckReport", "check_gradient",
           "check_function", "check_layer"]


def rel_error(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||) (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def _require_float64(x, name):
    check_array(x, name)
    if x.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for a gradient check (float32 round-off swamps "
                        f"central differences), got {x.dtype}; use {name}.astype(np.float64)")


def _upstream(shape: tuple[int, ...], seed: int | np.random.Generator) -> Float64:
    """A random upstream gradient. Its stream differs from ``default_rng(seed)``'s, so a
    dout drawn here is never a copy of an x the caller drew with the same seed."""
    if not isinstance(seed, np.random.Generator):
        seed = np.random.default_rng([check_int(seed, "seed"), 0xD0])
    return seed.standard_normal(shape)


def numerical_gradient(f: Function, x: Float64, dout: npt.ArrayLike | None = None,
                       eps: float = 1e-6) -> Float64:
    """Gradient of sum(f(x) * dout) with respect to x, by central differences.

    f : function of x returning an array or a scalar (then dout defaults to 1).
    x : float64 array; perturbed in place one entry at a time and restored.
    Returns an array shaped like x.
    """
    _require_float64(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + eps
            plus = np.sum(np.asarray(f(x)) * (1.0 if dout is None else dout))
            x[i] = old - eps
            minus = np.sum(np.asarray(f(x)) * (1.0 if dout is None else dout))
        finally:
            x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@dataclass
class GradcheckReport:
    """Rows of (name, relative error, max abs error); truthy when every row passes.

    A row passes when its relative error is at most ``tol``, or when every entry is within
    ``atol`` (a gradient that is exactly 0 has no meaningful relative error).
    """

    tol: float
    atol: float = 1e-8
    rows: list[tuple[str, float, float]] = field(default_factory=list)

    def _ok(self, err: float, abs_err: float) -> bool:
        return err <= self.tol or abs_err <= self.atol

    def add(self, name: str, analytic: npt.ArrayLike, numeric: Float64) -> None:
        """Add the row comparing gradient ``name``'s ``analytic`` and ``numeric`` values."""
        analytic = np.asarray(analytic, dtype=np.float64)
        if analytic.shape != numeric.shape:
            raise ValueError(f"analytic gradient {name} has shape {analytic.shape}, "
                             f"expected {numeric.shape}")
        self.rows.append((name, rel_error(analytic, numeric),
                          float(np.max(np.abs(analytic - numeric)))))

    @property
    def passed(self) -> bool:
        return all(self._ok(err, abs_err) for _, err, abs_err in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"{'gradient':<14}{'rel. error':>12}{'max abs err':>13}  (tol {self.tol:g})"]
        for name, err, abs_err in self.rows:
            mark = "ok" if self._ok(err, abs_err) else "FAIL"
            lines.append(f"{name:<14}{err:>12.2e}{abs_err:>13.2e}  {mark}")
        return "\n".join(lines)

    __repr__ = __str__


def check_gradient(f: Function, x: Float64, analytic: npt.ArrayLike,
                   dout: npt.ArrayLike | None = None, *, eps: float = 1e-6, tol: float = 1e-7,
                   name: str = "dx") -> GradcheckReport:
    """Compare an analytic gradient of sum(f(x) * dout) with the numerical one."""
    report = GradcheckReport(tol)
    report.add(name, analytic, numerical_gradient(f, x, dout, eps))
    return report


def check_function(forward: Callable[..., tuple[Any, Any]], backward: Callable[[Any, Any], Any],
                   inputs: dict[str, Any], *, seed: int | np.random.Generator = 0,
                   eps: float = 1e-6, tol: float = 1e-7) -> GradcheckReport:
    """Check a pair ``out, cache = forward(**inputs)``, ``grads = backward(dout, cache)``.

    ``grads`` must be the gradients of the array inputs, in the order of ``inputs``
    (None inputs are skipped). A random upstream ``dout`` is drawn from ``seed``.
    """
    out, cache = forward(**inputs)
    dout = _upstream(np.shape(out), seed) if np.ndim(out) else None
    grads = backward(dout if dout is not None else 1.0, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    names = [k for k, v in inputs.items() if isinstance(v, np.ndarray)]
    report = GradcheckReport(tol)
    for name, g in zip(names, grads, strict=False):
        if g is None:
            continue
        x = inputs[name]

        def f(v, name=name):
            return forward(**{**inputs, name: v})[0]

        report.add("d" + name, g, numerical_gradient(f, x, dout, eps))
    return report


def check_layer(layer: Layer, x: Float64, *, seed: int | np.random.Generator = 0,
                eps: float = 1e-6, tol: float = 1e-7) -> GradcheckReport:
    """Check a layer's dx and every parameter gradient against central differences.

    The loss is sum(layer(x) * dout) for a random dout. The layer and x must be float64
    (``layer.astype(np.float64)``); a stochastic layer must be checked in eval mode.
    """
    _require_float64(x, "x")
    for k, p in layer.params.items():
        _require_float64(p, f"params[{k!r}]")
    out = layer.forward(x)
    dout = _upstream(out.shape, seed)
    dx = layer.backward(dout)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    report = GradcheckReport(tol)
    report.add("dx", dx, numerical_gradient(layer.forward, x, dout, eps))
    for k, p in layer.params.items():
        report.add("d" + k, grads[k], numerical_gradient(lambda _p: layer.forward(x), p, dout, eps))
    return report
