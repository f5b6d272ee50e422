"""Reading submissions: which lesson and student a file is, its code cells and written answers,
the points of each graded function (from the solution notebooks), and a class's shard."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .. import paths
from ..assign import (
    TEXT_STUB,
    answer_points,
    graded_points,
    is_written_answer,
    nbgrader_meta,
    strip_regions,
)
from .results import MANUAL, FunctionGrade


@dataclass
class LoadedNotebook:
    """What the grader takes from a submitted file."""

    lesson: str | None = None               # from the metadata
    cells: list[tuple[int, str]] = field(default_factory=list)   # (cell number, code)
    answers: dict[str, str] = field(default_factory=dict)        # written answer grade_id -> text
    problem: str | None = None              # why it cannot be run


def json_object(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object (a dict), else an empty one: reads untrusted JSON."""
    return value if isinstance(value, dict) else {}


def load_submission(data: bytes) -> LoadedNotebook:
    """Parse a submission's bytes: its metadata lesson, the code cells to run, the written answers.

    Never raises for a bad file: ``problem`` then says what is wrong with it.
    """
    if not data.strip():
        return LoadedNotebook(problem="the file is empty")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return LoadedNotebook(problem=f"the file is not a notebook (not UTF-8 text: {exc})")
    except json.JSONDecodeError as exc:
        return LoadedNotebook(problem=f"the file is not a notebook: invalid JSON at line "
                                      f"{exc.lineno}, column {exc.colno} ({exc.msg})")
    if isinstance(nb, dict) and "worksheets" in nb:  # nbformat 3
        try:
            nb = json.loads(nbformat.writes(nbformat.reads(data.decode("utf-8"), as_version=4)))
        except Exception as exc:  # any failure means: not convertible
            return LoadedNotebook(problem=f"the file is an old-format notebook that could not "
                                          f"be converted: {exc}")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        kind = type(nb.get("cells")).__name__ if isinstance(nb, dict) else type(nb).__name__
        return LoadedNotebook(problem=f"the file is JSON but not a notebook: expected an object "
                                      f"with a list of cells, got {kind}")
    lesson = json_object(json_object(nb.get("metadata")).get("course")).get("lesson")
    lesson = lesson if isinstance(lesson, str) else None
    loaded = LoadedNotebook(lesson=lesson)
    for number, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        meta = nbgrader_meta(cell)
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        source = source if isinstance(source, str) else ""
        grade_id = meta.get("grade_id")
        if is_written_answer(cell) and isinstance(grade_id, str) and grade_id:
            earlier = loaded.answers.get(grade_id)   # a duplicated cell: keep both texts
            both = source.strip() if earlier is None else f"{earlier}\n\n{source.strip()}"
            loaded.answers[grade_id] = both.strip()
        if cell.get("cell_type") != "code":
            continue
        if meta.get("grade") and not meta.get("solution"):
            continue  # a test cell: the grader runs the checks itself
        if source.strip():
            loaded.cells.append((number, source))
    return loaded


def infer_lesson(path: str | os.PathLike, lessons: Sequence[str]) -> str | None:
    """The lesson named by a submission's file or folder names, or None.

    ``alice_02_convolution.ipynb``, ``alice/02_convolution.ipynb`` and
    ``02_convolution/alice.ipynb`` give ``02_convolution``; a bare number (``alice_01.ipynb``)
    is accepted when exactly one lesson starts with it. The longest matching lesson wins.
    """
    path = Path(path)
    names = [path.stem] + [p for p in reversed(path.parent.parts) if p not in ("", ".")]
    for name in names:
        found = [lesson for lesson in lessons
                 if re.search(rf"(?:^|[^0-9A-Za-z]){re.escape(lesson)}(?:$|[^0-9A-Za-z])", name)]
        if found:
            return max(found, key=len)
    for number in re.findall(r"(?:^|[^0-9])([0-9]{2})(?=[^0-9]|$)", path.stem):
        found = [lesson for lesson in lessons if lesson.startswith(number + "_")]
        if len(found) == 1:
            return found[0]
    return None


def infer_student(path: str | os.PathLike, lesson: str | None) -> str:
    """The student a submission belongs to: its first folder, else its name minus the lesson."""
    path = Path(path)
    if len(path.parts) > 1:
        return path.parts[0]
    stem = path.stem.replace(lesson, "") if lesson else path.stem
    return stem.strip("_-. ") or path.stem


def _solution_notebooks(solutions: str | os.PathLike | None) -> dict[str, dict]:
    folder = Path(paths.SOLUTIONS_DIR if solutions is None else solutions)
    found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no solution notebooks in {folder} (needed for the points of "
                                f"each graded function): pass --solutions")
    notebooks = {}
    for path in found:
        try:
            notebooks[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"solution notebook {path} cannot be read: {exc}") from exc
    return notebooks


def lesson_points(solutions: str | os.PathLike | None = None) -> dict[str, dict[str, float]]:
    """Lesson stem -> {graded function: points}, read from ``solutions/*.ipynb`` test cells.

    Only the autograded functions: written answers are in :func:`lesson_answers`.
    """
    return {stem: graded_points(nb) for stem, nb in _solution_notebooks(solutions).items()}


@dataclass(frozen=True)
class WrittenAnswer:
    """A written question of a lesson: its points and what its cell says before an answer."""

    points: float
    blank: str = TEXT_STUB      # the exercise's text of the answer cell


def _written_answers(nb: dict) -> dict[str, WrittenAnswer]:
    points, out = answer_points(nb), {}
    for cell in nb.get("cells", []):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if isinstance(grade_id, str) and grade_id in points and grade_id not in out:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            blank, had_solution, _ = strip_regions(source, cell.get("cell_type", "markdown"),
                                                   where=f"answer cell {grade_id}")
            out[grade_id] = WrittenAnswer(points[grade_id],
                                          blank.strip() if had_solution else TEXT_STUB)
    return out


def lesson_answers(solutions: str | os.PathLike | None = None
                   ) -> dict[str, dict[str, WrittenAnswer]]:
    """Lesson stem -> {written answer grade_id: WrittenAnswer}, from the solutions' answer cells
    (nbgrader manually graded answers), in notebook order."""
    return {stem: _written_answers(nb) for stem, nb in _solution_notebooks(solutions).items()}


def grade_answers(loaded: LoadedNotebook,
                  answers: dict[str, WrittenAnswer]) -> list[FunctionGrade]:
    """The rows of a submission's written answers: none is graded here.

    Status ``manual`` (0 points of its max, feedback "needs manual grading", which says so when
    the cell still holds no answer) when the submission has the answer cell, ``missing`` when
    it has not, ``error`` when the file could not be read at all.
    """
    out = []
    for grade_id, answer in answers.items():
        text = loaded.answers.get(grade_id)
        if loaded.problem:
            status, message = "error", f"not graded: {loaded.problem}"
        elif text is None:
            status, message = "missing", (f"the answer cell {grade_id} is not in the notebook "
                                          f"(deleted, or its nbgrader metadata removed?); "
                                          f"{MANUAL}")
        elif text in ("", TEXT_STUB, answer.blank):
            status, message = "manual", f"{MANUAL}: no answer written (the cell is unchanged)"
        else:
            status, message = "manual", MANUAL
        out.append(FunctionGrade(grade_id, status, 0.0, answer.points, [message]))
    return out


def find_submissions(root: Path) -> list[Path]:
    """Every ``*.ipynb`` under ``root`` (``.ipynb_checkpoints`` skipped), sorted; symlinks are
    skipped (a link could point at another student's file)."""
    return sorted(p for p in root.rglob("*.ipynb")
                  if p.is_file() and not p.is_symlink()
                  and ".ipynb_checkpoints" not in p.relative_to(root).parts)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> (i, n); raises ValueError naming the expected form."""
    match = re.fullmatch(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", str(text))
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"shard must be i/n with 1 <= i <= n (e.g. 2/4), got {text!r}")
    return int(match[1]), int(match[2])


def in_shard(relative_path: str, shard: tuple[int, int]) -> bool:
    """Whether a submission (its path relative to the submissions folder) belongs to shard
    (i, n): a hash of the path, so every machine agrees without talking to the others."""
    i, n = shard
    digest = hashlib.sha256(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n == i - 1
