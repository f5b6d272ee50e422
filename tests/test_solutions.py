"""The solution notebooks: nbgrader structure, every solution passes its check, every stub is
"not implemented yet", the test cells (with their hidden tests) pass, and one notebook runs
top to bottom in a real kernel.

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
    solutions = [i for i, c in enumerate(nb.cells) if _grader(c).get("solution")]
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
    reports = [o.data["text/html"] for c in nb.cells if _grader(c).get("grade")
               for o in c.outputs if "text/html" in o.get("data", {})]
    assert len(reports) == 2 and all("✓" in r for r in reports)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "✗ max_pool2d_forward: not yet" in printed and "stopped after 0.5 s" in printed
    assert "raised IndexError" in printed
    assert ("in `avg_pool2d_forward` (line 10 of its cell): "
            "`return x[:, :, ::stride, ::stride] + x.shape[7]`") in printed
