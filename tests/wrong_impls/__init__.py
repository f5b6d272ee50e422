"""A gallery of deliberately wrong implementations of the graded functions (and a few right
ones written differently), for tests/test_checks.py.

Each lesson module registers its functions with ``@wrong(name, keyword)``: the check for
``name`` must reject the function, and ``keyword`` must appear (case-insensitively) in its
messages, so the hint names the mistake. ``@right(name)`` marks a correct implementation in
another style (loops, vectorised, einsum, ...) that the check must accept.
"""

import importlib

from course_lib.lessons import with_exercises

from ._gallery import RIGHT, WRONG

for _lesson in with_exercises():  # one gallery module per lesson with checks, named by its slug
    importlib.import_module(f"{__name__}.{_lesson.slug}")

__all__ = ["RIGHT", "WRONG"]
