"""The lesson registry (course_lib.lessons) is the one list of lessons: every folder, check
module and gallery agrees with it, and lookups by stem, number or slug work."""

from __future__ import annotations

import importlib

import pytest

from course_lib import checks, widgets
from course_lib.lessons import LESSONS, Lesson, get_lesson, with_exercises
from course_lib.paths import EXERCISES_DIR, NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR


def _stems(folder):
    return sorted(p.stem for p in folder.glob("*.ipynb"))


def test_lessons_are_numbered_in_order_without_gaps():
    assert [lesson.number for lesson in LESSONS] == list(range(len(LESSONS)))
    assert len({lesson.slug for lesson in LESSONS}) == len(LESSONS)
    for lesson in LESSONS:
        assert lesson.slug.isidentifier() and lesson.slug == lesson.slug.lower(), lesson
        assert 5 <= lesson.minutes <= 180, f"{lesson.stem}: {lesson.minutes} minutes?"


def test_every_folder_matches_the_registry():
    assert _stems(NOTEBOOKS_DIR) == [lesson.stem for lesson in LESSONS]
    graded = [lesson.stem for lesson in with_exercises()]
    assert _stems(SOLUTIONS_DIR) == graded
    assert _stems(EXERCISES_DIR) == graded
    for lesson in LESSONS:
        assert lesson.notebook.is_file()
        if lesson.checks:
            assert lesson.solution.is_file() and lesson.exercise.is_file()
        else:
            assert lesson.solution is None and lesson.exercise is None


def test_check_modules_and_gallery_follow_the_slugs():
    modules = sorted(p.stem for p in (REPO_ROOT / "course_lib" / "checks").glob("[a-z]*.py"))
    assert modules == sorted(lesson.slug for lesson in with_exercises())
    gallery = sorted(p.stem for p in (REPO_ROOT / "tests" / "wrong_impls").glob("[a-z]*.py"))
    assert gallery == modules
    for lesson in with_exercises():
        module = importlib.import_module(f"course_lib.checks.{lesson.slug}")
        assert module.GRADED and checks.LESSONS[lesson.stem] == list(module.GRADED)
        for name in module.GRADED:
            assert checks.CHECKS[name] is getattr(module, f"check_{name}")


def test_listed_widgets_exist():
    for lesson in LESSONS:
        for name in lesson.widgets:
            assert name in widgets.__all__, f"{lesson.stem} lists unknown widget {name}"


@pytest.mark.parametrize("name", ["02_convolution", 2, "02", "2", "convolution"])
def test_get_lesson_by_stem_number_or_slug(name):
    lesson = get_lesson(name)
    assert isinstance(lesson, Lesson) and lesson.stem == "02_convolution"
    assert lesson.heading == "# 02 — Convolution"
    assert lesson.notebook == NOTEBOOKS_DIR / "02_convolution.ipynb"


@pytest.mark.parametrize("bad, error, message", [
    ("99", ValueError, r"name must name a lesson, got '99'; lessons: 00_start_here, "),
    ("convolutions", ValueError, "name must name a lesson"),
    (True, TypeError, "name must be a lesson stem, number or slug, got bool True"),
    (2.0, TypeError, "got float 2.0"),
])
def test_get_lesson_rejects_unknown_names(bad, error, message):
    with pytest.raises(error, match=message):
        get_lesson(bad)


def test_solution_and_exercise_headings_follow_the_registry():
    import json

    for lesson in with_exercises():
        for path in (lesson.solution, lesson.exercise):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            first = "".join(cells[0]["source"]).splitlines()[0]
            assert first == f"# Exercise {lesson.number:02d} — {lesson.title}", (path, first)


def test_course_map_lists_every_lesson_with_its_widgets_and_exercise():
    from course_lib.lessons import course_map

    table = course_map().splitlines()
    assert len(table) == 2 + len(LESSONS) - 1  # header, rule, every lesson but the start page
    for lesson, row in zip(LESSONS[1:], table[2:], strict=True):
        assert lesson.about, f"{lesson.stem}: say in `about` what the learner takes away"
        assert f"[{lesson.title}]({lesson.stem}.ipynb)" in row and f"{lesson.minutes} min" in row
        assert all(name in row for name in lesson.widgets)
        assert (f"(../exercises/{lesson.stem}.ipynb)" in row) == lesson.checks
