"""Autograded checks for the exercise notebooks: they name the likely mistake.

Each graded function of the exercises has a check::

    from course_lib.checks import check_conv2d_forward
    check_conv2d_forward(conv2d_forward)      # ✓ / ✗ report in the notebook

A check runs your function on fixed and random cases (non-square inputs, a stride that does
not divide, batch 1, float32 and float64), compares it with the library's reference, and
when something is wrong says what is probably wrong ("the kernel is flipped", "the bias is
added along the last axis", "db is not summed over the batch"...) rather than only "wrong
values". An exception is reported with the line of your code where it happened; a call that
runs longer than ``time_limit`` seconds (default 5) is stopped.

CHECKS       graded function name -> its check function ``check(fn, time_limit=None)``
SPECS        graded function name -> its ``Spec`` (cases, reference, mistakes), for the grader
LESSONS      lesson stem (e.g. "02_convolution") -> its graded function names, in order
CheckResult  ``.name``, ``.passed``, ``.messages``, ``to_dict()``; truthy when passed

Both tables are built from the lesson registry (``course_lib.lessons``): every lesson with an
exercise has a module here named by its slug (``convolution.py``, ``pooling.py``, ...) whose
``GRADED`` tuple lists its graded functions and which defines ``check_<name>`` for each. The
engine (judging, recognising mistakes) is in ``_engine.py``, how an output differs from the
right one in ``_compare.py``, the time limit and the search for the student's line in
``_running.py``.

To teach a check a new mistake, add one ``Mistake(message, output)`` to its ``Spec``: ``output(a,
ref)`` computes what code with that mistake returns (``a.x``, ``a.w``... are the case's
arguments, ``ref`` the right answer), and a case where it differs from ``ref``; then add a wrong
implementation with the hint's keyword to ``tests/wrong_impls/``.
"""

from __future__ import annotations

import importlib

from ..lessons import with_exercises
from ._engine import Check, CheckResult, Spec
from ._running import TimeLimitExceeded, call_with_time_limit

LESSONS: dict[str, list[str]] = {}
CHECKS: dict[str, Check] = {}
SPECS: dict[str, Spec] = {}   # graded function name -> its Spec (what course_lib.grade judges with)
for _lesson in with_exercises():
    _module = importlib.import_module(f"{__name__}.{_lesson.slug}")
    LESSONS[_lesson.stem] = list(_module.GRADED)
    for _name in _module.GRADED:
        CHECKS[_name] = globals()[f"check_{_name}"] = getattr(_module, f"check_{_name}")
        SPECS[_name] = CHECKS[_name].spec
del _lesson, _module, _name

__all__ = ["CHECKS", "LESSONS", "SPECS", "CheckResult", "TimeLimitExceeded", "call_with_time_limit",
           *(f"check_{name}" for name in CHECKS)]
