"""How an output differs from the right answer: the tolerances, and one sentence for a wrong
type, shape, value (the largest difference, or a NaN) or dtype (``mismatch``); the loose
equality and distance that recognise a ``Mistake`` (``same``, ``distance``, ``constant``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._running import Opaque


def _pair_text(actual, expected) -> tuple[str, str]:
    """The two numbers with enough digits to tell them apart."""
    for digits in (6, 10, 17):
        a, b = f"{actual:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            break
    return a, b


def short(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _tolerance(float32: bool) -> tuple[float, float]:
    return (1e-4, 1e-5) if float32 else (1e-7, 1e-10)


def same(actual: object, candidate: object, float32: bool) -> bool:
    """Loose equality used to recognise a mistake (NaN matches NaN)."""
    actual, candidate = np.asarray(actual), np.asarray(candidate)
    if actual.shape != candidate.shape or actual.dtype.kind not in "fiub":
        return False
    if candidate.dtype.kind not in "fiub":
        return False
    actual, candidate = actual.astype(np.float64), candidate.astype(np.float64)
    scale = float(np.max(np.abs(candidate[np.isfinite(candidate)]), initial=1.0))
    rtol = 1e-3 if float32 else 1e-6
    return bool(np.allclose(actual, candidate, rtol=rtol, atol=rtol * scale, equal_nan=True))


def constant(candidate: object) -> bool:
    """True for an array of two or more entries that are all the same number."""
    candidate = np.asarray(candidate)
    return (candidate.size > 1 and candidate.dtype.kind in "fiub"
            and bool(np.all(candidate == candidate.flat[0])))


def distance(x: object, y: object) -> float:
    """Largest difference between x and y (NaN equals NaN; other shapes are infinitely far)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        return np.inf
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y))
    same_inf = np.isinf(x) & (x == y)
    diff = np.where(same_inf, 0.0, np.nan_to_num(diff, nan=np.inf))
    return float(np.max(diff, initial=0.0))


def _close(actual: np.ndarray, expected: np.ndarray, float32: bool) -> bool:
    rtol, atol = _tolerance(float32)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return bool(np.allclose(actual, expected, rtol=rtol, atol=atol * scale))


def returned(value: object) -> str:
    """What the student's function returned, in words."""
    if value is None:
        return "None (is a `return` statement missing?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, Opaque):
        return f"a value of type {value.type_name} ({value.text})"
    return f"a value of type {type(value).__name__} ({short(repr(value), 60)})"


def _as_number(value):
    """The student's value as a Python number, or None if it is not one number."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        return None
    return value


def mismatch(kind: str, actual: object, expected: Any, float32: bool,
             what: str) -> tuple[str, str] | None:
    """(code, message) describing how ``actual`` differs from ``expected``, or None.

    code: "type", "shape", "nonfinite", "values" (the mistakes are tried for these) or "dtype".
    """
    if kind in ("float", "int"):
        number = _as_number(actual)
        if number is None:
            return "type", f"{what} should be one number, but it is {returned(actual)}."
        try:
            finite = bool(np.isfinite(float(number)))
        except OverflowError:   # a Python int past float's range
            return "values", (f"{what} is an integer of {int(number).bit_length()} bits, "
                              f"expected {expected:.6g}.")
        if not finite:
            return "nonfinite", f"{what} is {number}, expected {expected:.6g}."
        rtol, atol = _tolerance(float32)
        if not np.isclose(float(number), float(expected), rtol=rtol, atol=atol):
            got, want = _pair_text(number, expected)
            return "values", f"{what} is {got}, expected {want}."
        if kind == "int" and not isinstance(number, (numbers.Integral, np.integer)):
            return "dtype", (f"{what} is {number!r}, a {type(number).__name__}: return an int "
                             f"(use integer division `//`, or `int(...)`).")
        return None
    if not isinstance(actual, np.ndarray):
        hint = " Convert it with `np.array(...)`." if isinstance(actual, (list, tuple)) else ""
        return "type", f"{what} should be a NumPy array, but it is {returned(actual)}.{hint}"
    if actual.shape != expected.shape:
        return "shape", f"{what} has shape {actual.shape}, expected {expected.shape}."
    if actual.dtype.kind not in "fiub":
        return "type", f"{what} has dtype {actual.dtype}, expected {expected.dtype}."
    bad = ~np.isfinite(actual) & np.isfinite(expected)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return "nonfinite", (f"{what} contains {actual[index]} (e.g. at index {index}) where "
                             f"the right value is {expected[index]:.6g}.")
    if not _close(actual.astype(np.float64), expected.astype(np.float64), float32):
        diff = np.abs(actual.astype(np.float64) - expected)
        index = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        got, want = _pair_text(actual[index], expected[index])
        return "values", f"{what} has wrong values: at index {index} it is {got}, expected {want}."
    if actual.dtype != expected.dtype:
        return "dtype", (f"{what} has the right values but dtype {actual.dtype}; it should keep "
                         f"the input's dtype {expected.dtype}. Create new arrays with "
                         f"`dtype=x.dtype` (e.g. `np.zeros(shape, dtype=x.dtype)`).")
    return None
