"""Tests for course_lib.grade: batch grading of submitted notebooks.

Most tests grade the toy lesson of tests/fixtures/toy_lesson.py (checked by the stand-in
tests/fixtures/toy_checks.py, loaded inside the kernels as the real course_lib.checks would be),
whose submissions are broken in every way the grader must survive. One module-scoped run grades
them all (about 13 kernel starts, two at a time); the other tests read its result.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib import assign, grade

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import toy_lesson  # noqa: E402

REPO = Path(grade.__file__).resolve().parents[2]
TOY_CHECKS = str(FIXTURES / "toy_checks.py")
FAST = grade.Options(timeout=30, cell_timeout=4, check_timeout=10, call_timeout=2,
                     checks_module=TOY_CHECKS)

# submission -> (student, {function: status}, points); the toy lesson has 3 points.
EXPECTED = {
    "alice_90_toy.ipynb": ("alice", {"double": "pass", "clip01": "pass"}, 3),
    "bob/90_toy.ipynb": ("bob", {"double": "pass", "clip01": "fail"}, 1),
    "carol_90_toy.ipynb": ("carol", {"double": "pass", "clip01": "pass"}, 3),
    "dave_90_toy.ipynb": ("dave", {"double": "pass", "clip01": "pass"}, 3),
    "erin_90_toy.ipynb": ("erin", {"double": "missing", "clip01": "pass"}, 2),
    "frank_90_toy.ipynb": ("frank", {"double": "error", "clip01": "error"}, 0),
    "grace_90_toy.ipynb": ("grace", {"double": "error", "clip01": "error"}, 0),
    "heidi_90_toy.ipynb": ("heidi", {"double": "error", "clip01": "error"}, 0),
    "ivan_90_toy.ipynb": ("ivan", {"double": "fail", "clip01": "fail"}, 0),
    "judy_90_toy.ipynb": ("judy", {"double": "pass", "clip01": "error"}, 1),
    "mallory_90_toy.ipynb": ("mallory", {"double": "fail", "clip01": "pass"}, 2),
    "oscar_notes.ipynb": ("oscar_notes", {}, 0),
}
# the toy's written answer why_clip (0 points): left as generated in every submission; an
# unreadable file gets an error row, a notebook of no known lesson gets none
UNREADABLE = {"frank_90_toy.ipynb", "grace_90_toy.ipynb", "heidi_90_toy.ipynb"}
ANSWERS = {name: ({} if not statuses else {"why_clip": "error" if name in UNREADABLE else
                                           "manual"})
           for name, (_, statuses, _) in EXPECTED.items()}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy lesson's folders, graded once: (folder, {submission: SubmissionGrade}, hashes)."""
    folder = toy_lesson.write(tmp_path_factory.mktemp("toy"))
    before = _hashes(folder / "submissions")
    options = dataclasses.replace(FAST, data_dir=folder / "data")
    run = grade.grade_folder(folder / "submissions", solutions=folder / "solutions", jobs=4,
                             options=options)
    return folder, {g.submission: g for g in run.grades}, before


def _feedback(g: grade.SubmissionGrade, name: str) -> str:
    return " ".join(next(f for f in g.functions if f.name == name).messages)


# --------------------------------------------------------------------------- the toy run

def test_every_submission_gets_the_expected_statuses_and_points(toy):
    _, grades, _ = toy
    assert list(grades) == sorted(EXPECTED)
    for submission, (student, statuses, points) in EXPECTED.items():
        g = grades[submission]
        assert (g.student, g.lesson) == (student, "90_toy" if statuses else None), submission
        assert {f.name: f.status for f in g.functions} == statuses, (submission, g)
        assert (g.points, g.max_points) == (points, 3 if statuses else 0), submission
        for f in g.functions:
            assert f.max_points == {"double": 1, "clip01": 2}[f.name]
            assert f.points == (f.max_points if f.status == "pass" else 0)
        assert {a.name: a.status for a in g.answers} == ANSWERS[submission], submission
        assert all(a.points == a.max_points == 0 for a in g.answers)
    unanswered = grades["alice_90_toy.ipynb"].answers[0].messages
    assert unanswered == ["needs manual grading: no answer written (the cell is unchanged)"]


def test_feedback_says_what_happened(toy):
    _, g, _ = toy
    assert g["alice_90_toy.ipynb"].notes == [], "../data must be readable, cwd writable"
    assert "returned [0.5, -1.0, 2.0], expected [0.5, 0.0, 1.0]" in _feedback(
        g["bob/90_toy.ipynb"], "clip01")
    assert "cell 5 raised ZeroDivisionError: division by zero" in g["bob/90_toy.ipynb"].notes
    assert ("cell 3 timed out after 4 s and was interrupted; what it defined before that was "
            "kept") in g["carol_90_toy.ipynb"].notes
    assert any("cell 5 crashed the kernel" in n for n in g["dave_90_toy.ipynb"].notes)
    assert any("cell 3 crashed the kernel" in n for n in g["erin_90_toy.ipynb"].notes)
    erin = _feedback(g["erin_90_toy.ipynb"], "double")
    assert "double is missing" in erin and "double_it" in erin
    assert "invalid JSON at line 1" in " ".join(g["frank_90_toy.ipynb"].notes)
    assert "the file is empty" in g["grace_90_toy.ipynb"].notes
    assert "JSON but not a notebook" in " ".join(g["heidi_90_toy.ipynb"].notes)
    assert "not implemented yet" in _feedback(g["ivan_90_toy.ipynb"], "double")
    assert "crashed the kernel while it was being checked" in _feedback(
        g["judy_90_toy.ipynb"], "clip01")
    assert "`double` was stopped after 2 s" in _feedback(g["mallory_90_toy.ipynb"], "double")
    assert "could not tell which lesson" in " ".join(g["oscar_notes.ipynb"].notes)
    for submission in ("frank_90_toy.ipynb", "grace_90_toy.ipynb", "oscar_notes.ipynb"):
        assert not g[submission].graded and not g[submission].grader_error


def test_submissions_are_not_modified(toy):
    folder, _, before = toy
    assert _hashes(folder / "submissions") == before


def test_csv_has_a_row_per_function_and_a_total(toy, tmp_path):
    _, grades, _ = toy
    out = tmp_path / "grades.csv"
    grade.write_csv(list(grades.values()), out)
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == grade.COLUMNS
        table = list(reader)
    assert len(table) == (sum(len(s) for _, s, _ in EXPECTED.values()) + len(EXPECTED)
                          + sum(len(a) for a in ANSWERS.values()))
    for submission, (student, statuses, points) in EXPECTED.items():
        mine = [r for r in table if r["submission"] == submission]
        answers = ANSWERS[submission]
        assert [r["function"] for r in mine] == [*statuses, *answers, grade.TOTAL]
        assert all(r["student"] == student for r in mine)
        assert [r["status"] for r in mine[:-1]] == [*statuses.values(), *answers.values()]
        total = mine[-1]
        assert float(total["points"]) == points
        assert float(total["points"]) == sum(float(r["points"]) for r in mine[:-1])
    alice_total = next(r for r in table if r["student"] == "alice" and r["function"] == "TOTAL")
    assert (alice_total["status"], alice_total["max_points"]) == ("2/2 passed", "3")


def test_report_is_readable_markdown(toy):
    _, grades, _ = toy
    report = grade.format_report(list(grades.values()))
    assert report.startswith("# Grades\n")
    assert "| alice | 90_toy | 3 / 3 | `alice_90_toy.ipynb` |" in report
    assert "## bob — 90_toy: 1 / 3 points" in report
    assert "- ✓ `double` (1 / 1): All 3 cases passed: an int; a negative int; a float." in report
    assert "- ✗ `clip01` (0 / 2): clip01([0.5, -1.0, 2.0]) returned" in report
    assert "- ✗ `double` (0 / 1) — missing: double is missing" in report
    assert "## oscar_notes — unknown lesson: not graded" in report
    assert "- cell 5 raised ZeroDivisionError: division by zero" in report
    assert ("Written answers, to grade by hand (0 points):\n\n- ✎ `why_clip` (? / 0) — manual: "
            "needs manual grading: no answer written (the cell is unchanged)") in report


def test_the_notebook_time_limit_stops_a_slow_cell_and_grading_goes_on(tmp_path):
    toy_lesson.write(tmp_path)
    subs = tmp_path / "slow"
    subs.mkdir()
    slow = [("double", "import time\ntime.sleep(1.5)"), ("double", "time.sleep(30)")]
    (subs / "sam_90_toy.ipynb").write_text(toy_lesson.submission(toy_lesson.CORRECT, before=slow))
    options = grade.Options(timeout=5, cell_timeout=20, check_timeout=10,
                            checks_module=TOY_CHECKS, data_dir=None)
    (sam,) = grade.grade_folder(subs, solutions=tmp_path / "solutions", options=options).grades
    assert sam.notes == ["cell 4 was still running when the notebook's time limit (5 s) ran out "
                         "and was interrupted; what it defined before that was kept",
                         "the notebook's time limit (5 s) ran out before cell 5: from there on "
                         "each cell had at most 5 s"]
    assert (sam.points, sam.max_points) == (3, 3)


def _written_toy(folder: Path) -> Path:
    """The toy lesson with its written answer worth 2 points, and three submissions."""
    solution = toy_lesson.solution_notebook()
    answer = next(c for c in solution.cells if assign.is_written_answer(c))
    answer.metadata["nbgrader"].update(points=2, task=False)
    (folder / "solutions").mkdir(parents=True)
    (folder / "solutions" / "90_toy.ipynb").write_text(assign.render_notebook(solution))
    subs = folder / "subs"
    subs.mkdir()
    mine = "Why clip?\n\nSo that the values stay probabilities: | <b> & all."
    (subs / "amy_90_toy.ipynb").write_text(toy_lesson.submission({**toy_lesson.CORRECT,
                                                                  "why_clip": mine}))
    (subs / "ben_90_toy.ipynb").write_text(toy_lesson.submission(toy_lesson.CORRECT))
    deleted = json.loads(toy_lesson.submission(toy_lesson.CORRECT))
    deleted["cells"] = [c for c in deleted["cells"]
                        if c["metadata"].get("nbgrader", {}).get("grade_id") != "why_clip"]
    (subs / "cat_90_toy.ipynb").write_text(json.dumps(deleted))
    return subs


def test_written_answers_are_left_for_manual_grading(tmp_path):
    """An answer cell gets a row 'manual', 0 of its points, outside the autograded total."""
    subs = _written_toy(tmp_path)
    options = dataclasses.replace(FAST, data_dir=None)
    grades = {g.student: g for g in grade.grade_folder(subs, solutions=tmp_path / "solutions",
                                                       jobs=2, options=options).grades}
    assert grade.lesson_points(tmp_path / "solutions") == {"90_toy": {"double": 1.0,
                                                                      "clip01": 2.0}}
    for student, status, message in [
            ("amy", "manual", "needs manual grading"),
            ("ben", "manual", "needs manual grading: no answer written (the cell is unchanged)"),
            ("cat", "missing", "the answer cell why_clip is not in the notebook (deleted, or its "
                               "nbgrader metadata removed?); needs manual grading")]:
        g = grades[student]
        assert [f.status for f in g.functions] == ["pass", "pass"], g
        assert (g.points, g.max_points, g.manual_points) == (3, 3, 2)
        assert [(a.name, a.status, a.points, a.max_points, a.messages) for a in g.answers] == [
            ("why_clip", status, 0, 2, [message])]
    table = grade.rows(list(grades.values()))
    amy = [r for r in table if r["student"] == "amy"]
    assert [(r["function"], r["status"], r["points"], r["max_points"], r["feedback"])
            for r in amy] == [("double", "pass", "1", "1",
                               "All 3 cases passed: an int; a negative int; a float."),
                              ("clip01", "pass", "2", "2", "All 2 cases passed: values on both "
                                                           "sides of [0, 1]; an empty list."),
                              ("why_clip", "manual", "0", "2", "needs manual grading"),
                              (grade.TOTAL, "2/2 passed", "3", "3", "")]
    report = grade.format_report(list(grades.values()))
    assert "| amy | 90_toy | 3 / 3 |" in report
    assert ("Written answers, to grade by hand (2 points):\n\n"
            "- ✎ `why_clip` (? / 2) — manual: needs manual grading\n\n"
            "  > Why clip?\n  >\n  > So that the values stay probabilities: \\| &lt;b> &amp; all."
            ) in report
    assert "- ✎ `why_clip` (? / 2) — missing: the answer cell why_clip" in report
    assert report.count("  > Why clip?") == 1, "only answered cells are quoted"


# --------------------------------------------------------------------------- command line

def test_command_line_writes_csv_and_report(toy, tmp_path):
    folder, _, _ = toy
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice_90_toy.ipynb", "grace_90_toy.ipynb"):
        shutil.copy(folder / "submissions" / name, subs / name)
    (subs / ".ipynb_checkpoints").mkdir()  # Jupyter's autosaves are not submissions
    shutil.copy(subs / "grace_90_toy.ipynb", subs / ".ipynb_checkpoints" / "x_90_toy.ipynb")
    out, report = tmp_path / "g.csv", tmp_path / "r.md"
    args = [str(subs), "--out", str(out), "--report", str(report), "--solutions",
            str(folder / "solutions"), "--checks-module", TOY_CHECKS, "--timeout", "30"]
    code = "import sys\nfrom course_lib import grade\nsys.exit(grade.main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alice_90_toy.ipynb: 3/3" in done.stdout
    assert "grace_90_toy.ipynb: not graded" in done.stdout
    table = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["student"], r["function"], r["status"]) for r in table] == [
        ("alice", "double", "pass"), ("alice", "clip01", "pass"), ("alice", "why_clip", "manual"),
        ("alice", "TOTAL", "2/2 passed"),
        ("grace", "double", "error"), ("grace", "clip01", "error"), ("grace", "why_clip", "error"),
        ("grace", "TOTAL", "error")]
    assert "## alice — 90_toy: 3 / 3 points" in report.read_text(encoding="utf-8")
    assert sorted(p.name for p in subs.iterdir()) == [".ipynb_checkpoints", "alice_90_toy.ipynb",
                                                      "grace_90_toy.ipynb"]


def test_a_checks_module_that_cannot_load_is_a_usage_error(toy, tmp_path, capsys):
    folder, _, _ = toy
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(folder / "submissions" / "alice_90_toy.ipynb", subs)
    status = grade.main([str(subs), "--out", str(tmp_path / "g.csv"), "--solutions",
                         str(folder / "solutions"), "--checks-module", "no_such_checks_module"])
    assert status == 2
    err = capsys.readouterr().err
    assert "could not load the checks from no_such_checks_module" in err
    assert "ModuleNotFoundError" in err
    assert not (tmp_path / "g.csv").exists()


def test_usage_errors_exit_2_before_running_anything(toy, tmp_path, capsys):
    folder, _, _ = toy
    solutions = ["--solutions", str(folder / "solutions")]
    empty = tmp_path / "empty"
    empty.mkdir()
    out = ["--out", str(tmp_path / "g.csv")]
    assert grade.main([str(tmp_path / "absent"), *out, *solutions]) == 2
    assert grade.main([str(empty), *out, *solutions]) == 2
    assert grade.main([str(folder / "submissions"), *out, "--solutions", str(empty)]) == 2
    assert grade.main([str(folder / "submissions"), *out, *solutions, "--timeout", "-1"]) == 2
    assert grade.main([str(folder / "submissions"), "--out", "x.ipynb", *solutions]) == 2
    err = capsys.readouterr().err
    for message in ("does not exist", "no .ipynb files", "no solution notebooks",
                    "timeout (seconds) must be > 0", "looks like a notebook"):
        assert message in err
    assert not (tmp_path / "g.csv").exists()


# --------------------------------------------------------------------------- no kernel

def test_load_submission_reports_bad_files():
    assert grade.load_submission(b"  \n").problem == "the file is empty"
    assert "invalid JSON" in grade.load_submission(b"{nope").problem
    assert "not UTF-8" in grade.load_submission(b'{"cells": "\xff"}').problem
    assert "got list" in grade.load_submission(b"[1, 2]").problem
    assert "got NoneType" in grade.load_submission(b'{"nbformat": 4}').problem
    text = toy_lesson.submission(toy_lesson.CORRECT).encode()
    loaded = grade.load_submission(text)
    assert loaded.problem is None and loaded.lesson == "90_toy"
    sources = [source for _, source in loaded.cells]
    assert toy_lesson.CORRECT["double"] in sources
    assert not any("check_double" in s for s in sources), "test cells are not run"
    assert loaded.answers == {"why_clip": "Why clip?\n\nYOUR ANSWER HERE"}


def test_load_submission_reads_an_nbformat_3_notebook():
    from nbformat import v3

    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[v3.new_code_cell("x = 1")])])
    loaded = grade.load_submission(v3.writes_json(old).encode())
    assert loaded.problem is None and loaded.cells == [(1, "x = 1")]


def test_load_submission_tolerates_odd_but_usable_cells():
    nb = {"cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"]}, "junk",
                    {"cell_type": "markdown", "source": "text"},
                    {"cell_type": "markdown", "source": "t", "metadata": ["not", "a", "dict"]},
                    {"cell_type": "markdown", "source": None, "metadata": {"nbgrader": {
                        "grade": True, "solution": True, "grade_id": "q"}}},
                    {"cell_type": "code", "source": "   "}],
          "metadata": {"course": "not a dict"}}
    loaded = grade.load_submission(json.dumps(nb).encode())
    assert loaded.problem is None and loaded.lesson is None
    assert loaded.cells == [(1, "x = 1\ny = 2")]
    assert loaded.answers == {"q": ""}


@pytest.mark.parametrize("path, lesson", [
    ("alice_02_convolution.ipynb", "02_convolution"),
    ("alice/02_convolution.ipynb", "02_convolution"),
    ("02_convolution/alice.ipynb", "02_convolution"),
    ("submitted/alice/03_padding_and_stride/03_padding_and_stride.ipynb",
     "03_padding_and_stride"),
    ("alice-04.ipynb", "04_pooling"),
    ("alice_02_convolutions.ipynb", "02_convolution"),
    ("alice_convolution.ipynb", None),
    ("alice_101_convolution.ipynb", None),
    ("notes.ipynb", None),
])
def test_infer_lesson_from_names(path, lesson):
    lessons = ["02_convolution", "03_padding_and_stride", "04_pooling"]
    assert grade.infer_lesson(path, lessons) == lesson


def test_infer_student():
    assert grade.infer_student("alice_02_convolution.ipynb", "02_convolution") == "alice"
    assert grade.infer_student("alice/02_convolution.ipynb", "02_convolution") == "alice"
    assert grade.infer_student("02_convolution.ipynb", "02_convolution") == "02_convolution"
    assert grade.infer_student("notes.ipynb", None) == "notes"


def test_lesson_points_and_bad_arguments(tmp_path):
    toy_lesson.write(tmp_path)
    assert grade.lesson_points(tmp_path / "solutions") == {"90_toy": {"double": 1.0,
                                                                      "clip01": 2.0}}
    assert grade.lesson_answers(tmp_path / "solutions") == {"90_toy": {
        "why_clip": grade.WrittenAnswer(0.0, "Why clip?\n\nYOUR ANSWER HERE")}}
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no solution notebooks"):
        grade.lesson_points(tmp_path / "empty")
    subs = tmp_path / "submissions"
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        grade.grade_folder(subs, solutions=tmp_path / "solutions", jobs=0)
    with pytest.raises(ValueError, match=r"timeout \(seconds\) must be > 0"):
        grade.grade_folder(subs, solutions=tmp_path / "solutions",
                           options=grade.Options(timeout=-1))
    with pytest.raises(TypeError, match="options must be a grade.Options"):
        grade.grade_folder(subs, solutions=tmp_path / "solutions", options={"timeout": 1})


# --------------------------------------------------------------------------- the real course

def test_real_solutions_pass_and_real_exercises_fail_with_the_real_checks(tmp_path):
    """The repository's own solution (all ✓) and generated exercise (all "not implemented")."""
    solutions = sorted((REPO / "solutions").glob("*.ipynb"))
    if not (REPO / "course_lib" / "checks").is_dir() or not solutions:
        pytest.skip("course_lib/checks or solutions/*.ipynb do not exist yet")
    lesson = next((p for p in solutions if p.stem == "02_convolution"), solutions[0])
    subs = tmp_path / "subs"
    (subs / "sol").mkdir(parents=True)
    (subs / "ex").mkdir()
    shutil.copy(lesson, subs / "sol" / lesson.name)
    exercise = assign.expected_exercises(REPO / "solutions")[lesson.name]
    (subs / "ex" / lesson.name).write_text(exercise, encoding="utf-8")
    run = grade.grade_folder(subs, solutions=REPO / "solutions", jobs=2,
                             options=grade.Options(timeout=120))
    grades = {g.student: g for g in run.grades}
    points = assign.graded_points(json.loads(lesson.read_text(encoding="utf-8")))
    solved, stubs = grades["sol"], grades["ex"]
    assert solved.lesson == stubs.lesson == lesson.stem
    assert [f.name for f in solved.functions] == list(points), solved
    assert all(f.status == "pass" for f in solved.functions), solved
    assert solved.points == solved.max_points == sum(points.values())
    assert all(f.status == "fail" for f in stubs.functions), stubs
    assert all("not implemented yet" in " ".join(f.messages) for f in stubs.functions), stubs
    assert stubs.points == 0
    written = assign.answer_points(json.loads(lesson.read_text(encoding="utf-8")))
    assert 2 <= len(written) <= 3 and not set(written) & set(points)
    for g, message in [(solved, "needs manual grading"),
                       (stubs, "needs manual grading: no answer written (the cell is unchanged)")]:
        assert [(a.name, a.status, a.points, a.max_points, a.messages) for a in g.answers] == [
            (name, "manual", 0, value, [message]) for name, value in written.items()], g
        assert g.manual_points == sum(written.values())


# --------------------------------------------------------------------------- outputs and runs

def _cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "course_lib.grade", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=REPO, **kwargs)


def test_shards_merged_equal_one_run(toy, tmp_path):
    """--shard i/n slices the class by a hash of each path; merge joins the slices into the
    same CSV and report as one run with the same seed."""
    folder, _, _ = toy
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice_90_toy.ipynb", "judy_90_toy.ipynb", "grace_90_toy.ipynb",
                 "oscar_notes.ipynb"):
        shutil.copy(folder / "submissions" / name, subs / name)
    common = [subs, "--solutions", folder / "solutions", "--checks-module", TOY_CHECKS,
              "--seed", "7", "--timeout", "20", "--data", folder / "data"]
    # the whole class and its two shards are graded at the same time, as a class split over
    # machines would be (and the test takes one run's time, not three)
    runs = [[*common, "--out", tmp_path / "all.csv", "--report", tmp_path / "all.md"]]
    runs += [[*common, "--shard", f"{i}/2", "--json", tmp_path / f"s{i}.json"] for i in (1, 2)]
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        for run in pool.map(_cli, runs):
            assert run.returncode == 0, run.stderr
    shards = [json.loads((tmp_path / f"s{i}.json").read_text()) for i in (1, 2)]
    assert sorted(len(s["grades"]) for s in shards) == [1, 3], "both shards hold work"
    merged = _cli(["merge", tmp_path / "s2.json", tmp_path / "s1.json",
                   "--out", tmp_path / "merged.csv", "--report", tmp_path / "merged.md"])
    assert merged.returncode == 0, merged.stderr
    assert (tmp_path / "merged.csv").read_text() == (tmp_path / "all.csv").read_text()
    assert (tmp_path / "merged.md").read_text() == (tmp_path / "all.md").read_text()
    assert "Run seed: 7" in (tmp_path / "all.md").read_text()
    twice = _cli(["merge", tmp_path / "s1.json", tmp_path / "s1.json", "--out",
                  tmp_path / "bad.csv"])
    assert twice.returncode == 2 and "once each" in twice.stderr


def test_feedback_per_student_and_gradescope_results(toy, tmp_path):
    _, grades, _ = toy
    bob = grades["bob/90_toy.ipynb"]
    written = grade.reports.write_feedback(list(grades.values()), tmp_path / "feedback")
    assert len(written) == len(grades) and len({p.name for p in written}) == len(grades)
    text = (tmp_path / "feedback" / "bob__90_toy.md").read_text(encoding="utf-8")
    assert "bob — 90_toy: 1 / 3 points" in text and "alice" not in text
    results = grade.gradescope_results(bob)
    assert results["score"] == 1
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"][:2]] \
        == [("double", 1, 1, "passed"), ("clip01", 0, 2, "failed")]
    assert "returned [0.5, -1.0, 2.0]" in results["tests"][1]["output"]
    json.dumps(results)  # serialisable as Gradescope reads it


def test_a_killed_grader_leaves_no_stale_results_and_no_temporary_folder(toy, tmp_path):
    """SIGKILL mid-run: last week's grades.csv is no longer where the new one would be, no
    partial file is there, and the watchdog removes the temporary folder and the sandbox."""
    psutil = pytest.importorskip("psutil")
    folder, _, _ = toy
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "slow_90_toy.ipynb").write_text(toy_lesson.submission(
        toy_lesson.CORRECT, before=[("double", "import time\ntime.sleep(60)")]))
    out = tmp_path / "grades.csv"
    out.write_text("last week's grades\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    grader = subprocess.Popen(
        [sys.executable, "-m", "course_lib.grade", str(subs), "--out", str(out), "--solutions",
         str(folder / "solutions"), "--checks-module", TOY_CHECKS, "--timeout", "120",
         "--cell-timeout", "100"], cwd=REPO, env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any(   # this grader's sandbox has started
            str(scratch) in " ".join(p.info["cmdline"] or [])
            for p in psutil.process_iter(["cmdline", "name"]) if p.info["name"] == "bwrap"):
        time.sleep(0.2)
    time.sleep(3)   # the kernel is inside the slow cell
    assert list(scratch.iterdir()), "the grader works in its temporary folder"
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and list(scratch.iterdir()):
        time.sleep(0.2)
    assert list(scratch.iterdir()) == []
    assert not out.exists()
    assert (tmp_path / "grades.csv.previous").read_text() == "last week's grades\n"
    time.sleep(1)
    assert not [p for p in psutil.process_iter(["cmdline"])
                if any(str(scratch) in part for part in (p.info["cmdline"] or []))]
