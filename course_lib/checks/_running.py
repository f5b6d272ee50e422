"""Running the student's code: a time limit per call, where in their code it failed, and what
one call gave as plain data (``call`` -> ``Outcome``).

This module holds no reference answer: the grader runs it inside the sandbox, in the student's
kernel, and judges the ``Outcome``s outside (``course_lib.grade``).

Time limit: ``signal.setitimer`` + ``SIGALRM`` when called on the main thread of a POSIX
process (a Jupyter kernel runs cells there), which really interrupts the student's code (and
keeps interrupting it every 50 ms, so one bare ``except:`` cannot swallow the limit; a loop that
swallows every one is stopped from outside by the grader, which kills the kernel). On
another thread (or Windows) the call runs in a daemon thread that is abandoned after the
limit: the check returns, but the runaway code keeps a CPU busy until the process ends.
"""

from __future__ import annotations

import os
import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validate import check_real

TIME_LIMIT = 5.0  # seconds per call of the student's function; checks take ``time_limit=``


class TimeLimitExceeded(BaseException):
    """Raised in the student's code by the alarm; `except Exception` does not catch it."""


def call_with_time_limit(fn: Callable[..., Any], args: Sequence[Any] = (),
                         kwargs: dict[str, Any] | None = None,
                         seconds: float = TIME_LIMIT) -> Any:
    """Return ``fn(*args, **kwargs)``; raise ``TimeLimitExceeded`` after ``seconds``."""
    seconds = check_real(seconds, "seconds", positive=True)
    kwargs = kwargs or {}
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _call_with_alarm(fn, args, kwargs, seconds)
    return _call_in_thread(fn, args, kwargs, seconds)


def _call_with_alarm(fn, args, kwargs, seconds):
    def on_alarm(signum, frame):
        raise TimeLimitExceeded

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    old_delay, old_interval = 0.0, 0.0
    try:
        # after the first alarm, one every 50 ms: a bare `except:` in the student's code that
        # swallows one TimeLimitExceeded gets the next, until the call gives up
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
        try:
            return fn(*args, **kwargs)
        finally:  # if the alarm fires before this cancels it, it has fired: nothing is pending
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:  # give back an alarm someone else had set (e.g. pytest-timeout)
            left = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def _call_in_thread(fn, args, kwargs, seconds):
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeLimitExceeded
    if "error" in box:
        raise box["error"]
    return box["value"]


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths["stdlib"], paths["purelib"], paths["platlib"],
            os.path.dirname(np.__file__), os.path.dirname(os.path.dirname(__file__))}
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_LIBRARY_DIRS = _library_dirs()


def student_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost traceback frame in the student's code (not NumPy, Python or course_lib)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames
            if not os.path.realpath(f.filename).startswith(_LIBRARY_DIRS)]
    return mine[-1] if mine else None


def where(frame: traceback.FrameSummary) -> str:
    """'in conv2d_forward, line 7 of its cell: `out += b`' for a traceback frame."""
    name = os.path.basename(frame.filename)
    in_cell = "ipykernel_" in frame.filename or name.startswith("<")
    place = f"line {frame.lineno} of its cell" if in_cell else f"{name}, line {frame.lineno}"
    text = f"in `{frame.name}` ({place})"
    return f"{text}: `{frame.line.strip()}`" if frame.line else text


# --------------------------------------------------------------------------- one call, as data
class ForbiddenCall(BaseException):  # noqa: N818 - raised by disabled functions, not an error
    """Raised, while grading, by a course_lib function that computes what the student is asked
    to write (``Spec.implementations``): calling it scores 0. A BaseException, so that
    ``except Exception`` in the student's code does not hide it."""

    def __init__(self, implementation: str):
        super().__init__(implementation)
        self.implementation = implementation


@dataclass(frozen=True)
class Opaque:
    """A value that is not plain data (a list of objects, a custom class, ...): only its
    type name and a short text are kept."""

    type_name: str
    text: str


@dataclass
class Outcome:
    """What one call of the student's function gave, as plain data.

    value : the return value made plain (see ``plain``), when the call returned.
    error : when it raised: {"type", "message", "where", "frame", "in_call"}: the exception's
        class name and text, the student's line (``where``), the name of the student's
        function it was raised in (``frame``) and whether it came from the call itself (a
        parameter list that differs: no frame of the student's code).
    timeout : stopped by the time limit.     forbidden : the course_lib function it called.
    modified : names of array inputs the call changed in place.
    """

    value: object = None
    error: dict | None = None
    timeout: bool = False
    forbidden: str | None = None
    modified: tuple[str, ...] = ()

    @property
    def returned(self) -> bool:
        return self.error is None and not self.timeout and self.forbidden is None


_PLAIN_KINDS = "fiub"
_MAX_ITEMS = 16


def plain(value: object, depth: int = 0) -> object:
    """``value`` as plain data the judge can trust to be what it looks like.

    ndarrays (subclasses included) become base-class copies of their data, numpy scalars become
    Python numbers, bool/int/float subclasses their base values, tuples and lists (at most 16
    items, 3 levels) are converted item by item; anything else becomes an ``Opaque``. No method
    of a student's subclass decides the result.
    """
    if value is None or type(value) in (bool, int, float):
        return value
    if isinstance(value, np.ndarray):
        data = np.ndarray.view(value, np.ndarray)
        if data.dtype.kind not in _PLAIN_KINDS or data.dtype.hasobject:
            return Opaque(f"array of dtype {data.dtype}", f"shape {data.shape}")
        return np.array(data, copy=True, subok=False)
    if isinstance(value, np.generic) and value.dtype.kind in _PLAIN_KINDS:
        return np.generic.item(value)
    if isinstance(value, bool):
        return bool(int.__index__(value))
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if (type(value) is tuple or type(value) is list) and depth < 3 and len(value) <= _MAX_ITEMS:
        items = [plain(v, depth + 1) for v in value]
        return tuple(items) if type(value) is tuple else items
    return Opaque(type(value).__name__, _safe_repr(value))


def _safe_repr(value, limit: int = 60) -> str:
    try:
        text = " ".join(str(object.__repr__(value) if not isinstance(value, (list, tuple, str))
                            else repr(value)).split())
    except BaseException:  # noqa: BLE001 - a hostile __repr__ must not break the check
        text = "?"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _unchanged(before, after) -> bool:
    return (isinstance(after, np.ndarray) and after.shape == before.shape
            and bool(np.array_equal(np.ndarray.view(after, np.ndarray), before, equal_nan=True)))


def call(fn: Callable[..., Any], args: dict[str, Any], keyword: Sequence[str] = (),
         seconds: float = TIME_LIMIT) -> Outcome:
    """Call ``fn`` on ``args`` (in order; the names in ``keyword`` by keyword) under the time
    limit, on the arrays of ``args`` themselves, and describe what happened as an Outcome."""
    pristine = {k: v.copy() for k, v in args.items() if isinstance(v, np.ndarray)}
    positional = [v for k, v in args.items() if k not in keyword]
    keywords = {k: v for k, v in args.items() if k in keyword}
    try:
        value = call_with_time_limit(fn, positional, keywords, seconds)
        outcome = Outcome(value=plain(value))
    except TimeLimitExceeded:
        outcome = Outcome(timeout=True)
    except ForbiddenCall as exc:
        outcome = Outcome(forbidden=str(exc.implementation))
    except Exception as exc:  # noqa: BLE001 - every failure of the student's code is reported
        frame = student_frame(exc)
        outcome = Outcome(error={
            "type": type(exc).__name__, "message": _safe_message(exc),
            "where": where(frame) if frame is not None else "",
            "frame": frame.name if frame is not None else "",
            "in_call": frame is None and isinstance(exc, TypeError)})
    outcome.modified = tuple(k for k, v in pristine.items() if not _unchanged(v, args[k]))
    return outcome


def _safe_message(exc: BaseException) -> str:
    try:
        text = " ".join(str(exc).split())
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "?"
    return text if len(text) <= 300 else text[:297] + "..."
