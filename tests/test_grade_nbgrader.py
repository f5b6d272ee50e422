"""course_lib.grade and nbgrader's own autograde give the same points on the same submissions,
and ``--nbgrader-db`` writes them into nbgrader's gradebook (skipped without nbgrader, an
instructor extra of requirements-dev.txt)."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import assign, grade

# (imported where used: nbgrader takes a second to import, in every pytest worker that collects)
pytestmark = pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None,
                                reason="nbgrader is not installed (requirements-dev.txt)")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import toy_lesson  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOY_CHECKS = str(FIXTURES / "toy_checks.py")
LESSON = "05_softmax_cross_entropy"
NAIVE_SOFTMAX = "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)"


def _lesson_submission(answers: dict[str, str]) -> str:
    """Lesson 05's exercise with its answer cells replaced (grade_id -> source)."""
    exercise = json.loads(assign.expected_exercises(REPO / "solutions")[f"{LESSON}.ipynb"])
    for cell in exercise["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(exercise)


def _solution_source(grade_id: str) -> str:
    nb = json.loads((REPO / "solutions" / f"{LESSON}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == grade_id)
    source = "".join(cell["source"])
    return "\n".join(line for line in source.splitlines() if "### " not in line)


SUBMISSIONS = {  # (assignment, student) -> notebook text
    ("90_toy", "amy"): lambda: toy_lesson.submission(toy_lesson.CORRECT),
    ("90_toy", "bob"): lambda: toy_lesson.submission(
        {"double": toy_lesson.CORRECT["double"],
         "clip01": "def clip01(values):\n    return list(values)"}, before=[("clip01", "1 / 0")]),
    ("90_toy", "ivan"): lambda: toy_lesson.submission(),
    ("90_toy", "erin"): lambda: toy_lesson.submission(
        {"double": "def double_it(x):\n    return 2 * x", "clip01": toy_lesson.CORRECT["clip01"]}),
    (LESSON, "amy"): lambda: (REPO / "solutions" / f"{LESSON}.ipynb").read_text(),
    (LESSON, "ivan"): lambda: _lesson_submission({}),
    (LESSON, "nina"): lambda: _lesson_submission(
        {"softmax": NAIVE_SOFTMAX, "cross_entropy": _solution_source("cross_entropy")}),
}


def _nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), str(REPO)]),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args,
                           f"--CourseDirectory.root={course}"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _scores(db: Path, assignments: dict[str, list[str]]) -> dict:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db}") as book:
        for (assignment, student) in SUBMISSIONS:
            for name in assignments[assignment]:
                cell = book.find_grade(f"test_{name}", assignment, assignment, student)
                out[assignment, student, name] = (cell.score, cell.max_score)
    return out


def test_scores_agree_with_nbgrader_autograde_and_fill_its_gradebook(tmp_path, monkeypatch):
    # nbgrader's Gradebook runs `alembic` from PATH
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent),
                                                os.environ["PATH"]]))
    course = tmp_path / "course"
    (course / "source" / "90_toy").mkdir(parents=True)
    (course / "source" / "90_toy" / "90_toy.ipynb").write_text(
        assign.render_notebook(toy_lesson.solution_notebook()))
    (course / "source" / LESSON).mkdir()
    shutil.copy(REPO / "solutions" / f"{LESSON}.ipynb", course / "source" / LESSON)
    for assignment in ("90_toy", LESSON):
        _nbgrader(course, "generate_assignment", assignment, "--force")
    shutil.copy(course / "gradebook.db", tmp_path / "ours.db")   # before nbgrader grades

    ours = {"90_toy": tmp_path / "toy", LESSON: tmp_path / "lesson"}
    for (assignment, student), make in SUBMISSIONS.items():
        text = make()
        submitted = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        submitted.parent.mkdir(parents=True, exist_ok=True)
        submitted.write_text(text)
        mine = ours[assignment] / student / f"{assignment}.ipynb"
        mine.parent.mkdir(parents=True, exist_ok=True)
        mine.write_text(text)
    # nbgrader grades (in its own processes, into its gradebook) while course_lib grades the
    # same submissions into a copy: the two never share a database
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        theirs_done = pool.submit(lambda: [_nbgrader(course, "autograde", assignment, "--force")
                                           for assignment in ("90_toy", LESSON)])
        db = f"sqlite:///{tmp_path / 'ours.db'}"
        for assignment, checks in (("90_toy", TOY_CHECKS), (LESSON, "course_lib.checks")):
            status = grade.main([str(ours[assignment]), "--nbgrader-db", db, "--checks-module",
                                 checks, "--solutions", str(course / "source" / assignment),
                                 "--seed", "3", "--timeout", "60", "--jobs", "3"])
            assert status == 0
        theirs_done.result()
    functions = {"90_toy": ["double", "clip01"], LESSON: ["softmax", "cross_entropy"]}
    theirs = _scores(course / "gradebook.db", functions)
    mine = _scores(tmp_path / "ours.db", functions)
    assert mine == theirs
    assert theirs["90_toy", "bob", "double"] == (1, 1) and theirs["90_toy", "bob", "clip01"] \
        == (0, 2), "the submissions span passing and failing"
    assert theirs[LESSON, "nina", "softmax"] == (0, 1)
    assert theirs[LESSON, "nina", "cross_entropy"] == (2, 2)
