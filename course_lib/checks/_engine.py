"""The engine behind every check: run the student's function safely, compare, name the mistake.

A check is described by a ``Spec``: the graded function's name, a reference implementation,
the ``Case``s to try (fixed and seeded-random argument sets) and the ``Mistake``s to look for.
Checking has two halves that can run in different processes:

- ``collect_case`` calls the student's function on one case (each call under a time limit and
  on copies of the inputs) and returns plain-data ``Outcome``s; the grader does this inside the
  sandbox, in the student's kernel;
- ``judge_case`` / ``judge`` compare the outcomes with the reference; the grader does this in
  its own process, which never runs student code.

``run_spec`` (the notebook's feedback) does both here and stops at the first case that goes
wrong. Judging one case:

1. an exception: reported with the line of the student's code where it happened
   (``NotImplementedError`` -> "not implemented yet");
2. the output (or each part of a tuple output, e.g. ``dx, dw, db``) is compared with the
   reference: type, then shape and values, then dtype. When it is wrong, each candidate
   ``Mistake`` for that output is computed from the same inputs (e.g. the reference with the
   kernel flipped) and compared with the student's output; the first that matches names the
   mistake (a candidate that is constant, e.g. all zeros, is never used as a diagnosis).
   Otherwise a generic message says what differs (shape, largest difference, NaN);
3. inputs modified in place are reported.

The time limit, the search for the student's line and ``Outcome`` are in ``_running.py``;
how an output differs from the right one (tolerances, messages) in ``_compare.py``.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from types import SimpleNamespace
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from ..validate import check_real
from . import _running
from ._compare import constant, distance, mismatch, returned, same, short
from ._running import Outcome, call


# ----------------------------------------------------------------------------- the result
@dataclass
class CheckResult:
    """Outcome of one check. Truthy when passed; shows a ✓ / ✗ report in a notebook.

    name : the graded function's name.   passed : bool.
    messages : human sentences, the likely mistake first.
    """

    name: str
    passed: bool
    messages: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "messages": list(self.messages)}

    def __str__(self) -> str:
        head = f"✓ {self.name}: correct" if self.passed else f"✗ {self.name}: not yet"
        return "\n".join([head] + [f"  - {m}" for m in self.messages])

    def _repr_html_(self) -> str:
        colour, head = (("#0072B2", f"✓ <code>{self.name}</code>: correct") if self.passed
                        else ("#D55E00", f"✗ <code>{self.name}</code>: not yet"))
        items = "".join(f'<li style="opacity: 0.75">{_code_html(m)}</li>' if m.startswith("Case:")
                        else f"<li>{_code_html(m)}</li>" for m in self.messages)
        return (f'<div style="border-left: 5px solid {colour}; padding: 2px 10px; '
                f'margin: 4px 0"><b style="color: {colour}">{head}</b>'
                f'<ul style="margin: 2px 0">{items}</ul></div>')

    def __repr__(self) -> str:
        return str(self)


def _code_html(text: str) -> str:
    """Escape ``text`` and render `backticked` spans as <code>."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


# ----------------------------------------------------------------------------- describing a check
class Case:
    """One set of arguments: ``Case(label, x=..., w=..., stride=2, keyword=("stride",))``.

    Arguments are passed positionally in the order given, except the names in ``keyword``,
    which are passed by keyword. ``label`` says in words what the case tests.
    """

    def __init__(self, label: str, keyword: tuple[str, ...] = (), **args: Any):
        self.label, self.keyword, self.args = label, tuple(keyword), args

    def copy_args(self) -> dict[str, Any]:
        return {k: _copy(v) for k, v in self.args.items()}

    @property
    def float32(self) -> bool:
        return any(isinstance(v, np.ndarray) and v.dtype == np.float32
                   for v in self.args.values())

    def describe(self) -> str:
        return ", ".join(_describe_arg(k, v) for k, v in self.args.items())


def _copy(value):
    if isinstance(value, np.random.Generator):
        return copy.deepcopy(value)
    return value.copy() if isinstance(value, np.ndarray) else value


def _describe_arg(name, value) -> str:
    if isinstance(value, np.ndarray):
        return f"{name}: {value.shape} {value.dtype}"
    if isinstance(value, np.random.Generator):
        return f"{name}: a seeded Generator"
    return f"{name}={value!r}"


@dataclass
class Mistake:
    """A likely mistake and how to recognise it.

    output(a, ref) : what a function with this mistake returns (computed from the case's
        arguments ``a.<name>`` and the right answer ``ref``); it matches when the student's
        output equals it.
    test(a, actual, ref) -> bool : alternatively, a predicate on the student's output.
    part : which output of a tuple this is about (e.g. "dw"); None for single outputs.
    """

    message: str
    output: Callable[..., Any] | None = None     # output(a, ref)
    test: Callable[..., Any] | None = None       # test(a, actual, ref)
    part: str | None = None

    def __post_init__(self) -> None:
        if (self.output is None) == (self.test is None):
            raise TypeError(f"a Mistake needs an output or a test (one of them): {self.message}")

    def matches(self, a: SimpleNamespace, actual: object, ref: object, float32: bool) -> bool:
        """True when the student's ``actual`` output is what this mistake gives."""
        try:
            with np.errstate(all="ignore"):
                if self.test is not None:
                    return bool(self.test(a, actual, ref))
                assert self.output is not None   # one of the two (__post_init__)
                candidate = self.output(a, ref)
                if constant(candidate):  # e.g. all zeros: would "diagnose" an empty stub
                    return False
                # it must fit the student's output, and better than the right answer does
                return (same(actual, candidate, float32)
                        and distance(actual, candidate) < distance(actual, ref))
        except Exception:  # a candidate that cannot be computed for this case does not match
            return False


@dataclass
class Spec:
    """Everything one check needs. See the module docstring.

    reference(**args) : the right answer (a value, or a tuple when ``parts`` is given).
    cases(rng) -> list[Case] : built from a generator seeded by the function's name.
    kind : "array", "float" (one number) or "int".
    parts : names of the outputs when the function returns a tuple, e.g. ("dx", "dw", "db").
    shape_hint(a) -> str : what shape to expect, in words, for a wrong shape.
    verify(a, actual, rerun) -> list[str] : replaces the reference comparison for functions
        with no unique right answer (dropout); ``rerun(i)`` is the student's output for the
        case with ``reruns[i]`` applied to its arguments.
    reruns : argument changes (dicts) of the extra calls ``verify`` needs, made on every case.
    implementations : the course_lib functions that compute what the student is asked to write,
        as "module.qualname" inside course_lib (e.g. "functional.softmax",
        "layers.Linear.backward"). While grading they raise, so a graded function that calls
        one scores 0 and is told why (``course_lib.grade``).
    """

    name: str
    reference: Callable[..., Any] | None
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: list[Mistake] = field(default_factory=list)
    kind: str = "array"
    parts: tuple[str, ...] = ()
    shape_hint: Callable[[Any], str] | None = None
    verify: Callable[[Any, Any, Callable[[int], Any]], list[str]] | None = None
    reruns: tuple[dict[str, Any], ...] = ()
    implementations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.reference is None) == (self.verify is None):
            raise TypeError(f"Spec {self.name!r} needs a reference or a verify (one of them)")


# ---------------------------------------------------------------------- calling the student's code
def collect_case(spec: Spec, fn: Callable[..., Any], case: Case,
                 seconds: float) -> list[Outcome]:
    """What the student's ``fn`` gives on one case: the call, then one per ``spec.reruns``.

    Each call gets fresh copies of the arguments. Outcomes are plain data (``_running.call``),
    so they can be judged in another process (the grader's) as well as here.
    """
    calls = [case.copy_args()] + [{**case.copy_args(), **{k: _copy(v) for k, v in c.items()}}
                                  for c in spec.reruns]
    return [call(fn, args, case.keyword, seconds) for args in calls]


def _failed_call(spec: Spec, case: Case, outcome: Outcome, seconds: float) -> list[str]:
    """Messages when a call did not return (raised, timed out, called a disabled function)."""
    if outcome.forbidden is not None:
        name = f"course_lib.{outcome.forbidden}"
        if outcome.forbidden in spec.implementations:
            return [f"`{spec.name}` calls `{name}`, the library's own implementation of what "
                    f"this exercise asks you to write, so it scores 0: compute it yourself."]
        return [f"`{spec.name}` calls `{name}`, course_lib's implementation of another "
                f"function of this exercise, which is switched off while grading: use your "
                f"own function instead."]
    if outcome.timeout:
        return [f"`{spec.name}` was stopped after {seconds:g} s on a small input, so it "
                f"probably never finishes: look for a loop whose condition never becomes "
                f"false or whose counter is not increased."]
    error = outcome.error
    if error is None:
        return []
    if error.get("type") == "NotImplementedError":
        frame = error.get("frame", "")
        if frame and frame not in (spec.name, "<lambda>", "<module>"):
            return [f"`{spec.name}` calls `{frame}`, which is not implemented yet: write "
                    f"`{frame}` first."]
        return [f"`{spec.name}` is not implemented yet: replace `raise NotImplementedError()` "
                f"with your code."]
    messages = [f"`{spec.name}` raised {error.get('type')}: {short(error.get('message', ''))}"]
    if error.get("where"):
        messages.append(f"It happened {error['where']}.")
    elif error.get("in_call"):  # the call itself failed: a parameter list differs
        names = ", ".join(k if k not in case.keyword else f"{k}=..." for k in case.args)
        messages.append(f"The check calls `{spec.name}({names})`: give your function these "
                        f"parameters.")
    if "broadcast" in error.get("message", ""):
        messages.append("Print the shapes of the arrays on that line: one of them is not the "
                        "shape you expect.")
    return messages


# ----------------------------------------------------------------------------- judging
def _judge(spec: Spec, a, actual, expected, float32: bool, part: str | None) -> list[str]:
    """Messages about one output (empty when it is right)."""
    what = f"`{part}`" if part else "Your output"
    problem = mismatch(spec.kind, actual, expected, float32, what)
    if problem is None:
        return []
    code, text = problem
    if code != "dtype":
        for mistake in spec.mistakes:
            if mistake.part == part and mistake.matches(a, actual, expected, float32):
                return [mistake.message]
    if code == "shape" and spec.shape_hint is not None and not part:
        text += " " + spec.shape_hint(a)
    return [text]


def _compare(spec: Spec, a, actual, expected, float32: bool) -> list[str]:
    if not spec.parts:
        return _judge(spec, a, actual, expected, float32, None)
    names = ", ".join(spec.parts)
    if not isinstance(actual, (tuple, list)):
        return [f"`{spec.name}` should return a tuple ({names}), but it returned "
                f"{returned(actual)}."]
    if len(actual) != len(spec.parts):
        return [f"`{spec.name}` should return {len(spec.parts)} values ({names}), but it "
                f"returned {len(actual)}."]
    messages, right = [], []
    for part, got, want in zip(spec.parts, actual, expected, strict=True):
        found = _judge(spec, a, got, want, float32, part)
        messages += [m for m in found if m not in messages]
        if not found:
            right.append(f"`{part}`")
    if messages and right:
        messages.append(f"({' and '.join(right)} {'is' if len(right) == 1 else 'are'} right.)")
    return messages


def _modified(names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    listed = " and ".join(f"`{k}`" for k in names)
    return [f"Your function changed its input {listed} in place. Leave inputs untouched: work on "
            f"a copy (`.copy()`) or build a new array, and avoid `{names[0]} -= ...`, "
            f"`{names[0]}[...] = ...` on inputs."]


# ----------------------------------------------------------------------------- the check itself
def check_seed(name: str) -> int:
    """The fixed seed of the cases a notebook's check uses (the grader draws fresh ones)."""
    return zlib.crc32(name.encode())


def judge_case(spec: Spec, case: Case, outcomes: list[Outcome], seconds: float) -> list[str]:
    """Messages about the student's outcomes on one case: empty when all is right."""
    where = [f"Case: {case.label} — {case.describe()}."]
    if len(outcomes) != 1 + len(spec.reruns):
        return [f"`{spec.name}` gave no result on this case (the run was cut short)."] + where
    for outcome in outcomes:
        failed = _failed_call(spec, case, outcome, seconds)
        if failed:
            return failed + where
    actual = outcomes[0].value
    a = SimpleNamespace(**case.copy_args())
    with np.errstate(all="ignore"):
        if spec.verify is not None:
            messages = spec.verify(a, actual, lambda i: outcomes[1 + i].value)
        else:
            assert spec.reference is not None   # one of the two (Spec.__post_init__)
            expected = spec.reference(**case.copy_args())
            messages = _compare(spec, a, actual, expected, case.float32)
    messages = messages + _modified(outcomes[0].modified)
    return messages + where if messages else []


def judge(spec: Spec, cases: list[Case], outcomes: list[list[Outcome]],
          seconds: float) -> CheckResult:
    """The CheckResult for the student's outcomes on ``cases`` (the first wrong case decides)."""
    for case, found in zip(cases, outcomes, strict=False):
        messages = judge_case(spec, case, found, seconds)
        if messages:
            return CheckResult(spec.name, False, messages)
    if len(outcomes) < len(cases):
        return CheckResult(spec.name, False, judge_case(spec, cases[len(outcomes)], [], seconds))
    labels = "; ".join(dict.fromkeys(c.label for c in cases))
    return CheckResult(spec.name, True, [f"All {len(cases)} cases passed: {labels}."])


def run_spec(spec: Spec, fn: object, time_limit: float | None = None) -> CheckResult:
    """Check the student's ``fn`` against ``spec`` here, in this process (the notebook's
    feedback); see the module docstring."""
    seconds = (_running.TIME_LIMIT if time_limit is None
               else check_real(time_limit, "time_limit", positive=True))
    if fn is None:
        return CheckResult(spec.name, False, [f"`{spec.name}` is not implemented yet: no "
                                              f"function was given."])
    if not callable(fn):
        return CheckResult(spec.name, False, [f"`{spec.name}` should be a function, but it is "
                                              f"{returned(fn)}."])
    cases = spec.cases(np.random.default_rng(check_seed(spec.name)))
    outcomes: list[list[Outcome]] = []
    for case in cases:  # stop at the first wrong case: no need to run the others
        outcomes.append(collect_case(spec, fn, case, seconds))
        if judge_case(spec, case, outcomes[-1], seconds):
            break
    return judge(spec, cases, outcomes, seconds)


class Check(Protocol):
    """A public ``check_<name>(fn, time_limit=None) -> CheckResult``; ``.spec`` is its Spec."""

    spec: Spec

    def __call__(self, fn: object, time_limit: float | None = None) -> CheckResult: ...


def make_check(spec: Spec) -> Check:
    """The public ``check_<name>(fn, time_limit=None) -> CheckResult`` function for ``spec``."""

    def check(fn: object, time_limit: float | None = None) -> CheckResult:
        return run_spec(spec, fn, time_limit)

    check.__name__ = check.__qualname__ = f"check_{spec.name}"
    check.__doc__ = (f"Check your ``{spec.name}`` on fixed and random cases; returns a "
                     f"CheckResult (truthy when right) whose messages name the likely mistake.\n\n"
                     f"time_limit : seconds per call (default 5).")
    public = cast(Check, check)
    public.spec = spec
    return public


# ------------------------------------------------------------------------ small helpers for specs
def randn(rng: np.random.Generator, *shape: int, dtype: npt.DTypeLike = np.float64,
          scale: float = 1.0) -> npt.NDArray[np.floating]:
    """Standard-normal array of ``shape`` and ``dtype``."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def arange(*shape: int, dtype: npt.DTypeLike = np.float64) -> npt.NDArray[np.floating]:
    """0, 1, 2, ... in ``shape``: easy to follow by hand in a message."""
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
