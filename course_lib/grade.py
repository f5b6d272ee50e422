"""Grade a folder of submitted exercise notebooks: run each one, check every graded function.

For every ``*.ipynb`` under the submissions folder (``.ipynb_checkpoints`` skipped):

1. Read the file (bytes, read-only) and find its lesson: notebook metadata ``course.lesson``, else
   the file or folder name (``alice_02_convolution.ipynb``, ``alice/02_convolution.ipynb``).
   Empty files, non-JSON and JSON that is not a notebook are reported, not run.
2. Run its code cells in a fresh kernel (nbclient, kernel ``python3``), continuing past errors.
   The test cells (nbgrader ``grade: true``, not solution) are skipped: step 3 replaces them.
   Time limits: ``cell_timeout`` per cell and ``timeout`` for one run of all cells. A cell that
   exceeds its limit or kills the kernel (``os._exit``, a segfault from a bad ``as_strided``) is
   left out and the notebook is run again in a new kernel, at most ``max_restarts`` times.
3. In that same kernel, import the checks module (``course_lib.checks``; the grading process
   itself never imports it), and for each graded function of ``LESSONS[lesson]`` run
   ``CHECKS[name](globals().get(name))`` with a time limit of ``check_timeout`` per function;
   the result comes back as JSON (``CheckResult.to_dict()``). A function the notebook does not
   define is reported as missing (with the names it does define that look similar).
4. Points: the ``points`` of the test cell ``test_NAME`` in ``solutions/<lesson>.ipynb`` if the
   function passes, else 0.
5. Written answers (nbgrader manually graded answer cells of the solution, matched by
   ``grade_id``) are not graded here: each gets a row with status ``manual``, 0 points of its
   ``points`` and the feedback "needs manual grading" (adding "no answer written" when the
   cell is as the exercise left it), or status ``missing`` when the submission has no such
   cell. They are not counted in the submission's points and max_points (the autograded
   part), and the Markdown report quotes each answer for the instructor.

Submissions are never modified: each file is read once into memory and never opened for writing;
the kernel runs in a fresh temporary folder laid out like the repository (cwd ``<tmp>/exercises``
with ``<tmp>/data`` linking to the repository's ``data/``, so ``../data`` works as it does in
``exercises/``), removed afterwards. The kernel gets ``COURSE_GRADING=1`` in its environment.
This is not a sandbox: submitted code runs with the grader's permissions (as with nbgrader).

Command line::

    python -m course_lib.grade SUBMISSIONS_DIR --out grades.csv [--report report.md]
        [--solutions solutions] [--timeout 120] [--cell-timeout 60] [--check-timeout 60]
        [--jobs 1] [--kernel python3] [--data data] [--checks-module course_lib.checks]

CSV columns (one row per submission x graded function, then one per written answer, then a
``TOTAL`` row per submission):

    submission  path of the notebook relative to SUBMISSIONS_DIR
    student     first folder of that path, else the file name without the lesson
    lesson      lesson stem, e.g. 02_convolution (empty when it could not be identified)
    function    graded function name, the grade_id of a written answer, or TOTAL
    status      pass | fail | missing | error; written answers: manual | missing | error
                (TOTAL: "k/n passed" over the graded functions, or error)
    points      points earned (0 for a written answer until graded by hand);  max_points:
                points available (TOTAL: of the graded functions only)
    feedback    the check's messages; "needs manual grading" (TOTAL: notes on the notebook:
                cell errors, crashes, ...)

Exit status: 0 when every submission was graded (whatever the scores), 1 when the grader
itself could not check some (e.g. the checks module failed to import), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assign import (
    TEXT_STUB,
    answer_points,
    graded_points,
    is_written_answer,
    nbgrader_meta,
    strip_regions,
)
from .paths import DATA_DIR, SOLUTIONS_DIR

COLUMNS = ("submission", "student", "lesson", "function", "status", "points", "max_points",
           "feedback")
TOTAL = "TOTAL"
MANUAL = "needs manual grading"
_PROBLEM_LIMIT = 6          # notebook notes listed per submission before "... and N more"

# Runs inside the submission's kernel. Loads the checks module fresh (so a notebook that
# patched it cannot change the grading), then returns one JSON string per graded function.
_KERNEL_HELPERS = r'''
def _course_grade_make(module, lesson, extra):
    import difflib, importlib, importlib.util, json, os, sys

    try:
        if module.endswith(".py"):
            name = os.path.splitext(os.path.basename(module))[0]
            spec = importlib.util.spec_from_file_location(name, module)
            checks = importlib.util.module_from_spec(spec)
            sys.modules[name] = checks
            spec.loader.exec_module(checks)
        else:
            for key in [k for k in sys.modules if k == module or k.startswith(module + ".")]:
                del sys.modules[key]
            checks = importlib.import_module(module)
        lessons, registry = checks.LESSONS, checks.CHECKS
    except BaseException as exc:
        return None, json.dumps({"error": f"could not load the checks from {module}: "
                                          f"{type(exc).__name__}: {exc}"})
    if lesson not in lessons:
        return None, json.dumps({"error": f"{module}.LESSONS has no lesson {lesson!r}"})
    names = list(lessons[lesson]) + [n for n in extra if n not in lessons[lesson]]
    user = globals()

    def grade(name):
        result = {"name": name, "status": "error", "messages": []}
        if name not in user:
            similar = difflib.get_close_matches(
                name, [k for k, v in user.items() if callable(v) and not k.startswith("_")],
                n=3, cutoff=0.6)
            hint = (f" It defines {', '.join(similar)}: was {name} renamed?" if similar else
                    " Was its cell deleted, renamed or not run?")
            result.update(status="missing", messages=[
                f"{name} is missing: the notebook does not define it.{hint}"])
        elif name not in registry:
            result["messages"] = [f"{module}.CHECKS has no check for {name}."]
        else:
            try:
                outcome = registry[name](user[name]).to_dict()
                passed = bool(outcome.get("passed"))
                result.update(status="pass" if passed else "fail",
                              messages=[str(m) for m in outcome.get("messages", [])])
            except (Exception, SystemExit) as exc:
                result["messages"] = [f"checking {name} failed: {type(exc).__name__}: {exc}"]
        return json.dumps(result)

    return grade, json.dumps({"functions": names})
'''


@dataclass
class FunctionGrade:
    """The grade of one graded function in one submission."""

    name: str
    status: str                 # pass | fail | missing | error
    points: float
    max_points: float
    messages: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass
class SubmissionGrade:
    """The grades of one submitted notebook."""

    submission: str             # path relative to the submissions folder
    student: str
    lesson: str | None
    functions: list[FunctionGrade] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # about the notebook as a whole
    # written answers, graded by hand: status manual | missing | error, 0 points of their max
    answers: list[FunctionGrade] = field(default_factory=list)
    answer_texts: dict[str, str] = field(default_factory=dict)   # grade_id -> the answer
    graded: bool = True         # False: invalid file, unknown lesson or a grader-side problem
    grader_error: bool = False  # True: the grader (not the student) failed, e.g. checks import

    @property
    def points(self) -> float:
        return sum(f.points for f in self.functions)

    @property
    def max_points(self) -> float:
        """The autograded points available (written answers are graded by hand)."""
        return sum(f.max_points for f in self.functions)

    @property
    def manual_points(self) -> float:
        """The points of the written answers, left to the instructor."""
        return sum(a.max_points for a in self.answers)


@dataclass(frozen=True)
class Options:
    """How to run the submissions (seconds; see the module docstring)."""

    timeout: float = 120.0
    cell_timeout: float | None = None   # None: half of timeout
    check_timeout: float = 60.0
    checks_module: str = "course_lib.checks"
    kernel: str = "python3"
    data_dir: Path | None = DATA_DIR
    max_restarts: int = 5

    @property
    def per_cell(self) -> float:
        return self.cell_timeout if self.cell_timeout is not None else self.timeout / 2


# --------------------------------------------------------------------------- reading

@dataclass
class LoadedNotebook:
    """What the grader takes from a submitted file."""

    lesson: str | None = None               # from the metadata
    cells: list[tuple[int, str]] = field(default_factory=list)   # (cell number, code)
    answers: dict[str, str] = field(default_factory=dict)        # written answer grade_id -> text
    problem: str | None = None              # why it cannot be run


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
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    course = metadata.get("course") if isinstance(metadata.get("course"), dict) else {}
    lesson = course.get("lesson") if isinstance(course.get("lesson"), str) else None
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


def _solution_notebooks(solutions: str | os.PathLike) -> dict[str, dict]:
    folder = Path(solutions)
    paths = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not paths:
        raise FileNotFoundError(f"no solution notebooks in {folder} (needed for the points of "
                                f"each graded function): pass --solutions")
    notebooks = {}
    for path in paths:
        try:
            notebooks[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"solution notebook {path} cannot be read: {exc}") from exc
    return notebooks


def lesson_points(solutions: str | os.PathLike = SOLUTIONS_DIR) -> dict[str, dict[str, float]]:
    """Lesson stem -> {graded function: points}, read from ``solutions/*.ipynb`` test cells.

    Only the autograded functions: written answers are in :func:`lesson_answers`.
    """
    return {stem: graded_points(nb) for stem, nb in _solution_notebooks(solutions).items()}


@dataclass(frozen=True)
class WrittenAnswer:
    """A written question of a lesson: its points and what its cell says before an answer."""

    points: float
    blank: str = TEXT_STUB      # the exercise's text of the answer cell


def _written_answers(nb) -> dict[str, WrittenAnswer]:
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


def lesson_answers(solutions: str | os.PathLike = SOLUTIONS_DIR
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


# --------------------------------------------------------------------------- running

class _Job:
    """The mutable state of grading one notebook across kernel restarts."""

    def __init__(self, loaded: LoadedNotebook, lesson: str, points: dict[str, float]):
        self.cells, self.lesson, self.points = loaded.cells, lesson, points
        self.skip: set[int] = set()                     # positions in self.cells left out
        self.cell_notes: dict[int, str] = {}            # cell number -> note
        self.notes: list[str] = []
        self.names: list[str] | None = None             # graded functions (from LESSONS)
        self.results: dict[str, FunctionGrade] = {}
        self.grader_error: str | None = None

    def grade(self, name: str, status: str, messages: list[str]) -> FunctionGrade:
        max_points = self.points.get(name, 1.0)
        return FunctionGrade(name, status, max_points if status == "pass" else 0.0, max_points,
                             messages)


def _result_text(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            return output.get("data", {}).get("text/plain")
    return None


def _error_text(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", ""))
            value = value if len(value) <= 200 else value[:200] + "..."
            return f"{output.get('ename', 'Error')}: {value}"
    return None


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["COURSE_GRADING"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


async def _attempt(job: _Job, opts: Options, workdir: Path) -> bool:
    """One run of the notebook in a new kernel, then the checks. False: restart needed."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat.v4 import new_code_cell, new_notebook

    class Client(NotebookClient):
        """Keeps only errors and results: a cell printing in a loop cannot fill the memory."""

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] in ("error", "execute_result"):
                return super().output(outs, msg, display_id, cell_index)
            return None

    nb = new_notebook(cells=[new_code_cell(source) for _, source in job.cells])
    # IPC sockets in the private temporary folder: no TCP ports to race for between
    # parallel kernels, and nothing reachable from the network (Windows has no IPC).
    km = AsyncKernelManager(kernel_name=opts.kernel, transport="tcp" if os.name == "nt" else "ipc",
                            ip="127.0.0.1" if os.name == "nt" else str(workdir.parent / "kernel"))
    client = Client(nb, km=km, kernel_name=opts.kernel, allow_errors=True,
                            interrupt_on_timeout=False, shutdown_kernel="immediate",
                            startup_timeout=60, iopub_timeout=30, record_timing=False,
                            resources={"metadata": {"path": str(workdir)}})

    async def run(cell, position: int, limit: float) -> str | None:
        """Execute one cell; None when it finished, else "timeout" or "crash"."""
        client.timeout = max(1, math.ceil(limit))
        try:
            await client.async_execute_cell(cell, position)
        except CellTimeoutError:
            return "timeout"
        except DeadKernelError:
            return "crash"
        return None

    async def run_new(source: str, limit: float):
        nb.cells.append(new_code_cell(source))
        return nb.cells[-1], await run(nb.cells[-1], len(nb.cells) - 1, limit)

    started = False
    try:
        async with client.async_setup_kernel(cleanup_kc=True, env=_kernel_env()):
            started = True
            return (await _run_cells(job, opts, nb, run)
                    and await _run_checks(job, opts, run_new))
    except Exception as exc:
        if started:
            raise
        job.grader_error = f"could not start a {opts.kernel} kernel: {type(exc).__name__}: {exc}"
        return True


async def _run_cells(job: _Job, opts: Options, nb, run) -> bool:
    """Run the submission's cells; False when one was lost (timed out, crashed the kernel)."""
    deadline = time.monotonic() + opts.timeout
    for position, (number, _) in enumerate(job.cells):
        if position in job.skip:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            job.cell_notes.setdefault(number, f"the notebook's time limit ({opts.timeout:g} s) "
                                              f"was reached: cells from cell {number} on were "
                                              f"not run")
            return True
        limit = min(opts.per_cell, remaining)
        lost = await run(nb.cells[position], position, limit)
        if lost:
            job.skip.add(position)
            if lost == "crash":
                why = "crashed the kernel (os._exit, a segfault, ...)"
            elif limit < opts.per_cell:
                why = f"was stopped when the notebook's time limit ({opts.timeout:g} s) ran out"
            else:
                why = f"was stopped after {limit:.0f} s (an infinite loop?)"
            job.cell_notes[number] = f"cell {number} {why} and was left out"
            return False
        error = _error_text(nb.cells[position])
        if error:
            job.cell_notes.setdefault(number, f"cell {number} raised {error}")
    return True


async def _run_checks(job: _Job, opts: Options, run_new) -> bool:
    """Check each graded function not checked yet; False when the kernel was lost."""
    setup, lost = await run_new(
        f"{_KERNEL_HELPERS}\n_course_grade, _course_grade_info = _course_grade_make("
        f"{opts.checks_module!r}, {job.lesson!r}, {list(job.points)!r})\n_course_grade_info",
        max(30.0, opts.check_timeout))
    if lost:
        job.notes.append(f"the kernel was lost while loading the checks ({lost})")
        return False
    info = _parse(setup)
    if "error" in info:
        job.grader_error = info["error"]
        return True
    job.names = list(info["functions"])
    for name in job.names:
        if name in job.results:
            continue
        cell, lost = await run_new(f"_course_grade({name!r})", opts.check_timeout)
        if lost == "timeout":
            job.results[name] = job.grade(name, "error", [
                f"checking {name} did not finish within {opts.check_timeout:g} s (an infinite "
                f"loop in {name}?)"])
        elif lost == "crash":
            job.results[name] = job.grade(name, "error", [
                f"{name} crashed the kernel while it was being checked (os._exit, a segfault, "
                f"e.g. from as_strided with wrong strides, ...)"])
        else:
            result = _parse(cell)
            if "status" in result:
                job.results[name] = job.grade(name, result["status"], result["messages"])
            else:
                job.results[name] = job.grade(name, "error", [result["error"]])
        if lost:
            return False
    return True


def _parse(cell) -> dict:
    """The JSON a grader cell returned, or {"error": ...} saying why there is none."""
    text = _result_text(cell)
    if text is None:
        error = _error_text(cell)
        return {"error": f"the grader's code failed in the kernel: {error}" if error else
                "the grader's code returned nothing (did the notebook change the display?)"}
    try:
        value = json.loads(ast.literal_eval(text))
        return value if isinstance(value, dict) else {"error": f"unexpected result {value!r}"}
    except (ValueError, SyntaxError, TypeError) as exc:
        return {"error": f"could not read the grader's result {text[:100]!r}: {exc}"}


def _run_job(job: _Job, opts: Options) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        cwd = workdir / "exercises"
        cwd.mkdir()
        if opts.data_dir is not None and Path(opts.data_dir).is_dir():
            try:
                (workdir / "data").symlink_to(Path(opts.data_dir).resolve(),
                                              target_is_directory=True)
            except OSError as exc:  # e.g. Windows without the right to make symlinks
                job.notes.append(f"../data is not available to the notebook: {exc}")
        for restart in range(opts.max_restarts + 1):
            if asyncio.run(_attempt(job, opts, cwd)):
                break
            if restart == opts.max_restarts:
                job.notes.append(f"the kernel was lost {restart + 1} times: stopped grading")
    except Exception as exc:  # one submission must not stop the batch
        job.grader_error = f"internal error of the grader: {type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _finish(job: _Job, grade: SubmissionGrade) -> None:
    names = job.names if job.names is not None else list(job.points)
    for name in names:
        if name in job.results:
            grade.functions.append(job.results[name])
        else:
            why = job.grader_error or "not checked: the kernel kept crashing or timing out"
            grade.functions.append(job.grade(name, "error", [why]))
        if name not in job.points:
            grade.notes.append(f"{name} has no test cell test_{name} in the solutions: counted "
                               f"as 1 point")
    grade.notes += [job.cell_notes[n] for n in sorted(job.cell_notes)] + job.notes
    if job.grader_error:
        grade.notes.append(f"grader problem (not the student's): {job.grader_error}")
        grade.grader_error, grade.graded = True, False


def grade_folder(submissions: str | os.PathLike, *, solutions: str | os.PathLike = SOLUTIONS_DIR,
                 jobs: int = 1, options: Options | None = None) -> list[SubmissionGrade]:
    """Grade every ``*.ipynb`` under ``submissions``; return one SubmissionGrade per file.

    ``jobs`` notebooks run at the same time (each in its own kernel). Results are sorted by
    submission path. Raises FileNotFoundError when there are no submissions or solutions,
    ValueError/TypeError for bad arguments or an unknown kernel.
    """
    options = Options() if options is None else options
    if not isinstance(options, Options):
        raise TypeError(f"options must be a grade.Options, got {type(options).__name__}")
    _check_options(options)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    root = Path(submissions)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    paths = sorted(p for p in root.rglob("*.ipynb")
                   if p.is_file() and ".ipynb_checkpoints" not in p.relative_to(root).parts)
    if not paths:
        raise FileNotFoundError(f"no .ipynb files under {root}")
    points = lesson_points(solutions)
    answers = lesson_answers(solutions)
    _check_kernel(options.kernel)

    grades, work = [], []
    for path in paths:
        rel = path.relative_to(root)
        loaded = load_submission(path.read_bytes())
        lesson = loaded.lesson if loaded.lesson in points else infer_lesson(rel, list(points))
        grade = SubmissionGrade(rel.as_posix(), infer_student(rel, lesson), lesson)
        grades.append(grade)
        if loaded.lesson is not None and loaded.lesson not in points:
            grade.notes.append(f"its metadata names lesson {loaded.lesson!r}, which has no "
                               f"solution notebook; "
                               + (f"graded as {lesson} (from the file name)" if lesson else
                                  "cannot grade it"))
        if lesson is None:
            grade.graded = False
            grade.notes.append("could not tell which lesson this is (no metadata course.lesson "
                               "and no lesson name such as "
                               f"{next(iter(points))} in the file or folder name)")
            continue
        job = _Job(loaded, lesson, points[lesson])
        grade.answers = grade_answers(loaded, answers.get(lesson, {}))
        grade.answer_texts = {a.name: loaded.answers[a.name] for a in grade.answers
                              if a.status == "manual" and a.messages == [MANUAL]}
        if loaded.problem:
            grade.graded = False
            grade.notes.append(loaded.problem)
            for name in job.points:
                grade.functions.append(job.grade(name, "error", [f"not graded: {loaded.problem}"]))
            continue
        work.append((job, grade))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (job, grade), _ in zip(work, pool.map(lambda jg: _run_job(jg[0], options), work),
                                   strict=True):
            _finish(job, grade)
    return grades


def _check_options(opts: Options) -> None:
    for name in ("timeout", "check_timeout") + (("cell_timeout",) if opts.cell_timeout else ()):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    if not isinstance(opts.checks_module, str) or not opts.checks_module:
        raise TypeError(f"checks_module must be a module name or a .py path, "
                        f"got {opts.checks_module!r}")
    if isinstance(opts.max_restarts, bool) or not isinstance(opts.max_restarts, int) \
            or opts.max_restarts < 0:
        raise ValueError(f"max_restarts must be an int >= 0, got {opts.max_restarts!r}")


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise ValueError(f"kernel {name!r} is not installed (see: jupyter kernelspec list)") \
            from None


# --------------------------------------------------------------------------- output

def _num(value: float) -> str:
    return f"{value:g}"


def rows(grades: Sequence[SubmissionGrade]) -> list[dict[str, str]]:
    """The CSV rows (dicts keyed by COLUMNS) for ``grades``."""
    out = []
    for g in grades:
        base = {"submission": g.submission, "student": g.student, "lesson": g.lesson or ""}
        for f in [*g.functions, *g.answers]:
            out.append({**base, "function": f.name, "status": f.status,
                        "points": _num(f.points), "max_points": _num(f.max_points),
                        "feedback": " ".join(f.messages)})
        passed = sum(f.passed for f in g.functions)
        status = f"{passed}/{len(g.functions)} passed" if g.graded else "error"
        out.append({**base, "function": TOTAL, "status": status, "points": _num(g.points),
                    "max_points": _num(g.max_points), "feedback": " ".join(g.notes)})
    return out


def write_csv(grades: Sequence[SubmissionGrade], path: str | os.PathLike) -> None:
    """Write the grades as CSV (columns: COLUMNS; see the module docstring)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows(grades))


def _md(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def format_report(grades: Sequence[SubmissionGrade], title: str = "Grades") -> str:
    """A Markdown report: a summary table, then per submission each function's ✓/✗ and
    feedback, and the written answers (quoted) for the instructor to grade by hand."""
    lines = [f"# {title}", "", "| Student | Lesson | Score | Notebook |", "|---|---|---:|---|"]
    for g in grades:
        score = f"{_num(g.points)} / {_num(g.max_points)}" if g.graded else "not graded"
        lines.append(f"| {_md(g.student)} | {g.lesson or '?'} | {score} | "
                     f"`{_md(g.submission)}` |")
    for g in grades:
        score = f"{_num(g.points)} / {_num(g.max_points)} points" if g.graded else "not graded"
        lines += ["", f"## {_md(g.student)} — {g.lesson or 'unknown lesson'}: {score}", "",
                  f"Notebook: `{_md(g.submission)}`"]
        lines += [""] if g.functions else []
        for f in g.functions:
            mark = "✓" if f.passed else "✗"
            label = "" if f.status in ("pass", "fail") else f" — {f.status}"
            first, *more = f.messages or [""]
            lines.append(f"- {mark} `{f.name}` ({_num(f.points)} / {_num(f.max_points)})"
                         f"{label}{': ' + _md(first) if first else ''}")
            lines += [f"  - {_md(m)}" for m in more]
        if g.answers:
            lines += ["", f"Written answers, to grade by hand ({_num(g.manual_points)} points):",
                      ""]
            for a in g.answers:
                lines.append(f"- ✎ `{a.name}` (? / {_num(a.max_points)}) — {a.status}: "
                             f"{_md(' '.join(a.messages))}")
                text = g.answer_texts.get(a.name, "")
                if text:
                    lines += ["", *(f"  > {_md(line)}".rstrip() for line in text.splitlines()),
                              ""]
        if g.notes:
            lines += ["", "Notes on the notebook:", ""]
            shown = g.notes[:_PROBLEM_LIMIT]
            lines += [f"- {_md(n)}" for n in shown]
            if len(g.notes) > len(shown):
                lines.append(f"- ... and {len(g.notes) - len(shown)} more")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Run and check every submitted notebook; write a CSV and a report.",
        epilog="A notebook whose cell crashes the kernel or exceeds --cell-timeout is run "
               "again without that cell (at most 5 times): the worst case per notebook is "
               "about 6 * timeout + functions * check-timeout seconds.")
    parser.add_argument("submissions", help="folder of submitted .ipynb files (searched "
                                            "recursively, never modified)")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--report", help="Markdown report to write")
    parser.add_argument("--solutions", default=str(SOLUTIONS_DIR),
                        help="solution notebooks, for the points (default: the repository's)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds for one run of a notebook's cells (default 120)")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell (default: half of --timeout)")
    parser.add_argument("--check-timeout", type=float, default=60.0,
                        help="seconds per graded function's check (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default python3)")
    parser.add_argument("--data", default=str(DATA_DIR),
                        help="folder the notebooks see as ../data (default: the repository's "
                             "data/)")
    parser.add_argument("--checks-module", default="course_lib.checks",
                        help="module (or .py file) with CHECKS and LESSONS, imported in the "
                             "kernel (default course_lib.checks)")
    args = parser.parse_args(argv)
    checks_module = args.checks_module
    if checks_module.endswith(".py"):
        checks_module = str(Path(checks_module).resolve())
    options = Options(timeout=args.timeout, cell_timeout=args.cell_timeout,
                      check_timeout=args.check_timeout, checks_module=checks_module,
                      kernel=args.kernel, data_dir=Path(args.data))
    root = Path(args.submissions).resolve()
    for output in (args.out, args.report):
        if output and Path(output).suffix == ".ipynb":
            print(f"grade: error: refusing to write {output}: it looks like a notebook",
                  file=sys.stderr)
            return 2
    try:
        grades = grade_folder(root, solutions=args.solutions, jobs=args.jobs, options=options)
    except (OSError, ValueError, TypeError) as exc:
        print(f"grade: error: {exc}", file=sys.stderr)
        return 2
    write_csv(grades, args.out)
    if args.report:
        Path(args.report).write_text(format_report(grades), encoding="utf-8")
    for g in grades:
        score = f"{_num(g.points)}/{_num(g.max_points)}" if g.graded else "not graded"
        if g.graded and g.answers:
            score += (f" + {len(g.answers)} written answer(s) ({_num(g.manual_points)} points) "
                      f"to grade by hand")
        print(f"grade: {g.submission}: {score}")
    print(f"grade: wrote {args.out}" + (f" and {args.report}" if args.report else ""))
    failed = [g.submission for g in grades if g.grader_error]
    if failed:
        print(f"grade: the grader could not check {len(failed)} submission(s); see the notes "
              f"in {args.out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
