"""Running the student's code: a time limit per call, and where in their code it failed.

Time limit: ``signal.setitimer`` + ``SIGALRM`` when called on the main thread of a POSIX
process (a Jupyter kernel runs cells there), which really interrupts the student's code. On
another thread (or Windows) the call runs in a daemon thread that is abandoned after the
limit: the check returns, but the runaway code keeps a CPU busy until the process ends.
"""

from __future__ import annotations

import numbers
import os
import signal
import sysconfig
import threading
import time
import traceback

import numpy as np

TIME_LIMIT = 5.0  # seconds per call of the student's function; checks take ``time_limit=``


class TimeLimitExceeded(BaseException):
    """Raised in the student's code by the alarm; `except Exception` does not catch it."""


def call_with_time_limit(fn, args=(), kwargs=None, seconds: float = TIME_LIMIT):
    """Return ``fn(*args, **kwargs)``; raise ``TimeLimitExceeded`` after ``seconds``."""
    seconds = check_seconds(seconds)
    kwargs = kwargs or {}
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _call_with_alarm(fn, args, kwargs, seconds)
    return _call_in_thread(fn, args, kwargs, seconds)


def check_seconds(seconds, name: str = "time_limit") -> float:
    """Return ``seconds`` as a positive float (TypeError / ValueError otherwise)."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {type(seconds).__name__} "
                        f"{seconds!r}")
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {seconds}")
    return float(seconds)


def _call_with_alarm(fn, args, kwargs, seconds):
    def on_alarm(signum, frame):
        raise TimeLimitExceeded

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    old_delay, old_interval = 0.0, 0.0
    try:
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)  # one shot
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


def student_frame(exc: BaseException):
    """The innermost traceback frame in the student's code (not NumPy, Python or course_lib)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames
            if not os.path.realpath(f.filename).startswith(_LIBRARY_DIRS)]
    return mine[-1] if mine else None


def where(frame) -> str:
    """'in conv2d_forward, line 7 of its cell: `out += b`' for a traceback frame."""
    name = os.path.basename(frame.filename)
    in_cell = "ipykernel_" in frame.filename or name.startswith("<")
    place = f"line {frame.lineno} of its cell" if in_cell else f"{name}, line {frame.lineno}"
    text = f"in `{frame.name}` ({place})"
    return f"{text}: `{frame.line.strip()}`" if frame.line else text
