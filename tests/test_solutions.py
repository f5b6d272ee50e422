"""The solution notebooks: nbgrader structure, every solution passes its check, every stub is
"not implemented yet", the test cells (with their hidden tests) pass, and one notebook runs
top to bottom in a real kernel. The exercises ask rather than tell: progressive hints in
collapsible cells, no solution line in the text a student sees without opening a hint, and
two or three written questions graded by hand (nbgrader manually graded answers).

Most tests exec the notebooks' cells in a namespace (quicker than a kernel); the cells are
registered in ``linecache`` so tracebacks show their lines, as in Jupyter.
"""

from __future__ import annotations

import linecache
import re
import time
from pathlib import Path

import nbformat
import pytest

from course_lib import assign
from course_lib.checks import CHECKS, LESSONS

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
STEMS = list(LESSONS)
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$",
                    re.DOTALL | re.MULTILINE)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?",
                    re.DOTALL | re.MULTILINE)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _notebook(stem):
    return nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)


def _grader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_answer(cell) -> bool:
    """A written question's answer cell (nbgrader: manually graded answer)."""
    return bool(_grader(cell).get("grade") and _grader(cell).get("solution"))


def _stub(source: str) -> str:
    """What the exercise generator makes of a solution cell."""
    return REGION.sub(lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}raise NotImplementedError()",
                      source)


def _run_cell(source: str, namespace: dict, label: str) -> None:
    filename = f"<{label}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def _exec_notebook(stem, stub=False, tests=False, hidden=True) -> dict:
    """Exec the setup and solution cells (and the test cells if ``tests``), not the optional
    ones; ``stub`` replaces each solution by ``raise NotImplementedError()``."""
    namespace = {"display": lambda *args: None}
    for i, cell in enumerate(_notebook(stem).cells):
        meta = _grader(cell)
        if cell.cell_type != "code" or "optional" in cell.metadata.get("tags", []):
            continue
        if meta.get("grade") and not tests:
            continue
        source = cell.source
        if stub and meta.get("solution"):
            source = _stub(source)
        if meta.get("grade") and not hidden:
            source = HIDDEN.sub("", source)
        _run_cell(source, namespace, f"solutions/{stem}.ipynb cell {i}")
    return namespace


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("stem", STEMS)
def test_notebook_follows_the_nbgrader_conventions(stem):
    nb = _notebook(stem)
    nbformat.validate(nb)
    assert nb.metadata["course"]["lesson"] == stem
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Exercise")
    assert f"](../notebooks/{stem}.ipynb)" in nb.cells[0].source
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown")
    ids = [_grader(c)["grade_id"] for c in nb.cells if _grader(c)]
    assert len(ids) == len(set(ids))
    solutions = [i for i, c in enumerate(nb.cells)
                 if _grader(c).get("solution") and not _is_answer(c)]
    assert [nb.cells[i].metadata.nbgrader.grade_id for i in solutions] == LESSONS[stem]
    for i in solutions:
        name = nb.cells[i].metadata.nbgrader.grade_id
        source = nb.cells[i].source
        assert nb.cells[i].metadata.nbgrader == {"grade": False, "solution": True,
                                                 "locked": False, "grade_id": name,
                                                 "schema_version": 3}
        assert f"def {name}(" in source and len(REGION.findall(source)) == 1
        assert source.index(f"def {name}(") < source.index("### BEGIN SOLUTION")
        assert f"`{name}(" in nb.cells[i - 1].source  # the explanation right above
        test = nb.cells[i + 1]
        assert test.metadata.nbgrader == {"grade": True, "solution": False, "locked": True,
                                          "grade_id": f"test_{name}",
                                          "points": test.metadata.nbgrader["points"],
                                          "schema_version": 3}
        assert test.metadata.nbgrader["points"] > 0
        assert f"check_{name}({name})" in test.source and "\nassert " in test.source
        assert test.source.count("### BEGIN HIDDEN TESTS") == test.source.count(
            "### END HIDDEN TESTS") <= 1


HINTS = re.compile(r"<details><summary>([^<]*)</summary>\n\n(.*?)\n</details>", re.DOTALL)
NBGRADER_V3_KEYS = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                    "checksum", "cell_type"}


# a solution line that computes (not a shape, an unpacking or a call named in a heading)
COMPUTES = ("*", "/", "@", "np.", ".sum(", ".mean(", ".max(", ".var(", "[")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("stem", STEMS)
def test_every_graded_function_has_progressive_hints_above_it(stem):
    """Two or three collapsed hints, numbered, in the markdown cell right above the function."""
    nb = _notebook(stem)
    for i, cell in enumerate(nb.cells):
        if not _grader(cell).get("solution") or _is_answer(cell):
            continue
        above = nb.cells[i - 1]
        found = HINTS.findall(above.source)
        assert above.cell_type == "markdown" and 2 <= len(found) <= 3, (stem, i)
        assert [title for title, _ in found] == [f"Hint {k}" for k in range(1, len(found) + 1)]
        assert all(body.strip() for _, body in found)
        assert above.source.count("<details>") == len(found), "a hint block is malformed"
        name = cell.metadata.nbgrader.grade_id
        assert above.source.index("<details>") > above.source.index(f"`{name}(")


@pytest.mark.parametrize("stem", STEMS)
def test_no_solution_line_is_visible_without_opening_a_hint(stem):
    """What a student sees of the exercise (hints closed, stubs in place) never contains an
    expression of the solution: the docstrings and the idea cell give the contract only."""
    nb = _notebook(stem)
    exercise = assign.make_exercise(nb, f"{stem}.ipynb")
    visible = _squash(" ".join(HINTS.sub("", c.source) for c in exercise.cells))
    for cell in nb.cells:
        if cell.cell_type != "code" or not _grader(cell).get("solution"):
            continue
        for region in REGION.finditer(cell.source):
            for line in region.group(0).splitlines()[1:-1]:
                code = line.split("#")[0].strip()
                code = re.sub(r"^(return\s+|[\w\[\], .:*]+\s*[-+*/]?=\s*)", "", code)
                if len(_squash(code)) >= 10 and any(op in code for op in COMPUTES):
                    assert _squash(code) not in visible, f"{stem}: {code!r} is visible"


@pytest.mark.parametrize("stem", STEMS)
def test_written_questions_are_manually_graded_answer_cells(stem):
    """Two or three questions, each a locked markdown question and an nbgrader manually graded
    answer holding a model answer; the exercise shows YOUR ANSWER HERE in its place."""
    nb = _notebook(stem)
    exercise = assign.make_exercise(nb, f"{stem}.ipynb")
    answers = [i for i, c in enumerate(nb.cells) if _is_answer(c)]
    assert 2 <= len(answers) <= 3, stem
    assert answers[0] > max(i for i, c in enumerate(nb.cells)
                            if _grader(c).get("grade") and not _is_answer(c)), "after the checks"
    for k, i in enumerate(answers, start=1):
        cell, meta = nb.cells[i], _grader(nb.cells[i])
        grade_id = meta["grade_id"]
        assert cell.cell_type == "markdown" and meta == {
            "grade": True, "solution": True, "locked": False, "points": 2, "grade_id": grade_id,
            "schema_version": 3, "task": False}
        assert re.fullmatch(r"q[1-3]_[a-z0-9_]+", grade_id) and grade_id.startswith(f"q{k}_")
        assert cell.metadata.get("editable", True), "the student must be able to answer"
        lines = cell.source.splitlines()
        assert lines[0] == "### BEGIN SOLUTION" and lines[-1] == "### END SOLUTION"
        assert len(" ".join(lines[1:-1]).split()) >= 60, f"{grade_id}: a real model answer"
        question = nb.cells[i - 1]
        assert question.cell_type == "markdown" and not _grader(question)
        assert question.source.startswith(f"### Question {k} — ") and "?" in question.source
        assert exercise.cells[i].source == assign.TEXT_STUB
        assert exercise.cells[i].metadata["nbgrader"] == meta
    assert list(assign.answer_points(nb)) == [nb.cells[i].metadata.nbgrader.grade_id
                                              for i in answers]
    assert list(assign.graded_points(nb)) == LESSONS[stem], "answers are not graded functions"


@pytest.mark.parametrize("stem", STEMS)
def test_nbgrader_metadata_follows_schema_v3(stem):
    """The rules of nbgrader's metadata validator (nbgraderformat v3), without nbgrader."""
    solution = _notebook(stem)
    for nb in (solution, assign.make_exercise(solution, f"{stem}.ipynb")):
        ids = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            assert {"schema_version", "grade", "locked", "solution"} <= set(meta)
            assert set(meta) <= NBGRADER_V3_KEYS and meta["schema_version"] == 3
            assert all(isinstance(meta.get(k, False), bool)
                       for k in ("grade", "locked", "solution", "task"))
            if meta["grade"] or meta["solution"] or meta["locked"]:
                assert re.fullmatch(r"[a-zA-Z0-9_\-]+", meta["grade_id"])
                ids.append(meta["grade_id"])
            if meta["grade"]:
                assert isinstance(meta["points"], (int, float)) and meta["points"] >= 0
            if cell.cell_type == "markdown" and not meta.get("task", False):
                assert meta["grade"] == meta["solution"], "markdown: grade and solution together"
        assert len(ids) == len(set(ids))


LESSON_LINK = re.compile(r"\]\(\.\./notebooks/([0-9]{2}_[a-z_]+)\.ipynb#([^)\s]+)\)")


@pytest.mark.parametrize("stem", STEMS)
def test_links_to_lesson_sections_reach_a_heading(stem):
    """Links like ../notebooks/03_padding_and_stride.ipynb#The-floor point at a real heading
    (Jupyter's anchor: the heading's text with spaces as hyphens); every notebook link resolves
    from exercises/, where the students open it."""
    for cell in _notebook(stem).cells:
        if cell.cell_type != "markdown":
            continue
        for target in re.findall(r"\]\(([^)#\s]+\.ipynb)(?:#[^)\s]*)?\)", cell.source):
            assert (ROOT / "exercises" / target).resolve().is_file(), f"{stem}: {target}"
        for lesson, anchor in LESSON_LINK.findall(cell.source):
            target = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
            headings = {line.lstrip("#").strip().replace(" ", "-")
                        for c in target.cells if c.cell_type == "markdown"
                        for line in c.source.splitlines() if line.startswith("#")}
            assert anchor in headings, f"{stem} links to a missing section {lesson}#{anchor}"


@pytest.mark.parametrize("stem", STEMS)
def test_saved_notebook_shows_a_passing_report_for_every_function(stem):
    nb = _notebook(stem)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert all(o.output_type != "error" for o in cell.outputs), cell.source
        if _grader(cell).get("grade"):
            shown = " ".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
            assert "✓" in shown and "✗" not in shown, cell.source


# ----------------------------------------------------------------------------- solutions and stubs
@pytest.mark.parametrize("stem", STEMS)
def test_every_solution_passes_its_check_quickly(stem):
    namespace = _exec_notebook(stem)
    for name in LESSONS[stem]:
        start = time.perf_counter()
        result = CHECKS[name](namespace[name])
        assert result.passed, result.messages
        assert time.perf_counter() - start < 1.0, name


@pytest.mark.parametrize("stem", STEMS)
def test_test_cells_and_hidden_tests_pass_for_the_solutions(stem):
    _exec_notebook(stem, tests=True)


@pytest.mark.parametrize("stem", STEMS)
def test_every_stub_is_not_implemented_yet(stem):
    namespace = _exec_notebook(stem, stub=True)
    for name in LESSONS[stem]:
        result = CHECKS[name](namespace[name])
        assert not result.passed and "not implemented yet" in result.messages[0], name


def test_test_cell_of_a_stub_fails_its_assert():
    with pytest.raises(AssertionError, match="correlate2d is not right yet"):
        _exec_notebook("02_convolution", stub=True, tests=True, hidden=False)


# ----------------------------------------------------------------------------- in a real kernel
KERNEL_PROBE = """
def max_pool2d_forward(x, kernel_size, stride):
    while True:
        pass

print(check_max_pool2d_forward(max_pool2d_forward, time_limit=0.5))

def avg_pool2d_forward(x, kernel_size, stride):
    return x[:, :, ::stride, ::stride] + x.shape[7]

print(check_avg_pool2d_forward(avg_pool2d_forward))
"""


def test_one_solution_notebook_runs_in_a_kernel():
    """The whole notebook in a real kernel, then a cell whose code loops forever (stopped by
    SIGALRM in the kernel's main thread) and one that raises (reported with its cell line)."""
    from nbclient import NotebookClient

    nb = _notebook("04_pooling")
    nb.cells.append(nbformat.v4.new_code_cell(
        "from course_lib.checks import check_avg_pool2d_forward, check_max_pool2d_forward\n"
        + KERNEL_PROBE))
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    reports = [o.data["text/html"] for c in nb.cells
               if _grader(c).get("grade") and c.cell_type == "code"
               for o in c.outputs if "text/html" in o.get("data", {})]
    assert len(reports) == 2 and all("✓" in r for r in reports)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "✗ max_pool2d_forward: not yet" in printed and "stopped after 0.5 s" in printed
    assert "raised IndexError" in printed
    assert ("in `avg_pool2d_forward` (line 10 of its cell): "
            "`return x[:, :, ::stride, ::stride] + x.shape[7]`") in printed
