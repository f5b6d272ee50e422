"""Scores into nbgrader's gradebook, for courses that run nbgrader's formgrader.

The assignment must be in the gradebook already (``nbgrader generate_assignment`` puts it
there). For each graded submission this adds the student and the submission when missing,
then sets the ``auto_score`` of each test cell ``test_<function>`` to the points this grader
gave; written answers are left to nbgrader's manual grading.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .results import SubmissionGrade


def write_gradebook(grades: Sequence[SubmissionGrade], db_url: str,
                    assignment: str | None = None) -> int:
    """Write the autograded points of ``grades`` into the gradebook at ``db_url`` (e.g.
    ``sqlite:///course/gradebook.db``); the assignment is ``assignment`` or each submission's
    lesson. Returns how many scores were written; ValueError when the gradebook lacks the
    assignment or a test cell (a different version of the lesson?)."""
    bin_dir = os.path.dirname(sys.executable)   # nbgrader runs `alembic` from PATH
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.api import Gradebook, MissingEntry  # type: ignore[import-untyped]  # no stubs

    written = 0
    with Gradebook(db_url) as book:
        for g in grades:
            if not g.graded or g.lesson is None:
                continue
            name = assignment or g.lesson
            try:
                book.find_assignment(name)
            except MissingEntry:
                raise ValueError(f"the gradebook {db_url} has no assignment {name!r}: run "
                                 f"`nbgrader generate_assignment {name}` first") from None
            try:
                book.find_student(g.student)
            except MissingEntry:
                book.add_student(g.student)
            try:
                book.find_submission(name, g.student)
            except MissingEntry:
                book.add_submission(name, g.student)
            for f in g.functions:
                try:
                    cell = book.find_grade(f"test_{f.name}", g.lesson, name, g.student)
                except MissingEntry:
                    raise ValueError(f"assignment {name!r} in {db_url} has no test cell "
                                     f"test_{f.name} in notebook {g.lesson}") from None
                cell.auto_score = f.points
                written += 1
            book.db.commit()
    return written
