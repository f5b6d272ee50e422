"""Grading a folder: each submission run in its sandbox, then judged here.

For one submission: write its graded functions' calls (``judge.FunctionJob``) and the job
file into a private folder, run ``inside.py`` in the sandbox (``sandbox.command``) under the
limits, kill whatever is left, then read ``out/`` as untrusted data: ``log.json`` for the notes
on its cells, one folder of outcomes per function for the verdicts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..validate import check_int, check_path
from . import sandbox
from .judge import FunctionJob, fresh_seed, function_seed, load_checks
from .options import Options
from .results import MANUAL, FunctionGrade, SubmissionGrade
from .submissions import (
    LoadedNotebook,
    find_submissions,
    grade_answers,
    in_shard,
    infer_lesson,
    infer_student,
    json_object,
    lesson_answers,
    lesson_points,
    load_submission,
)

LOG_LIMIT = 2**20


@dataclass
class Run:
    """What a grading run was: its seed, shard, sandbox and limits (for the report)."""

    seed: int
    sandboxed: bool
    limits: list[str] = field(default_factory=list)
    shard: tuple[int, int] | None = None
    grades: list[SubmissionGrade] = field(default_factory=list)


def _read_json(path: Path, limit: int = LOG_LIMIT) -> object:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not os.path.isfile(path) or os.fstat(handle.fileno()).st_size > limit:
            return None
        try:
            return json.loads(handle.read(limit).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


def _text(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Grader:
    """Grades submissions of any lesson with one set of options (thread-safe per call)."""

    def __init__(self, options: Options, solutions: Path, work: Path):
        self.options, self.work = options, work
        self.lessons, self.specs = load_checks(options.checks_module)
        self.points = lesson_points(solutions)
        self.answers = lesson_answers(solutions)
        self.seed = options.seed if options.seed is not None else fresh_seed()
        self.courses: dict[str, Path] = {}

    def course(self, lesson: str) -> Path:
        """The lesson's course_lib copy (made once; lessons are prepared before threads)."""
        if lesson not in self.courses:
            implementations = [d for name in self.lessons.get(lesson, [])
                               if name in self.specs for d in self.specs[name].implementations]
            folder = self.work / f"course-{lesson}"
            folder.mkdir()
            self.courses[lesson] = sandbox.course_copy(folder, implementations)
        return self.courses[lesson]

    def names(self, lesson: str) -> list[str]:
        names = list(self.lessons.get(lesson, []))
        return names + [n for n in self.points.get(lesson, {}) if n not in names]

    def grade(self, grade: SubmissionGrade, lesson: str, loaded: LoadedNotebook) -> None:
        """Run and judge one readable submission of a known ``lesson``; fills ``grade``."""
        opts = self.options
        folder = Path(tempfile.mkdtemp(prefix="submission-", dir=self.work))
        try:
            job_in, job_out = folder / "in", folder / "out"
            job_in.mkdir()
            job_out.mkdir()
            jobs = {}
            for name in self.names(lesson):
                if name in self.specs:
                    jobs[name] = FunctionJob(self.specs[name],
                                             function_seed(self.seed, grade.submission, name))
                    jobs[name].write(job_in / "calls" / name)
            inside_in = "/grading/in" if opts.sandbox else str(job_in)
            inside_out = "/grading/out" if opts.sandbox else str(job_out)
            runtime = folder / "runtime"
            runtime.mkdir()
            job = {"cells": loaded.cells, "names": list(jobs), "calls": f"{inside_in}/calls",
                   "out": inside_out, "runtime": "/tmp" if opts.sandbox else str(runtime),
                   "timeout": opts.timeout, "per_cell": opts.per_cell,
                   "check_timeout": opts.check_timeout, "call_timeout": opts.call_timeout,
                   "max_restarts": opts.max_restarts}
            (job_in / "job.json").write_text(json.dumps(job), encoding="utf-8")
            course = self.course(lesson)
            limit = (opts.timeout * (opts.max_restarts + 2)
                     + len(jobs) * opts.check_timeout + 60)
            limits = sandbox.Limits(opts.memory_mb, opts.processes, opts.file_mb, limit)
            if opts.sandbox:
                argv = sandbox.command(course, job_in, job_out, opts.data_dir, opts.weights_dir,
                                       opts.scratch_mb)
                env, cwd = None, None
            else:
                scratch = folder / "exercises"
                scratch.mkdir()
                for name, source in (("data", opts.data_dir), ("weights", opts.weights_dir)):
                    if source is not None and Path(source).is_dir():
                        (folder / name).symlink_to(Path(source).resolve())
                argv = [sys.executable, "-m", "course_lib.grade.inside",
                        str(job_in / "job.json")]
                env = {**os.environ, "PYTHONPATH": str(course),
                       "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
                cwd = scratch
            stopped = sandbox.run(argv, limits, limit, job_out, opts.output_mb * 2**20,
                                  env=env, cwd=cwd)
            self._judge(grade, lesson, jobs, job_out, stopped)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _judge(self, grade: SubmissionGrade, lesson: str, jobs: dict[str, FunctionJob],
               out: Path, stopped: str | None) -> None:
        points = self.points.get(lesson, {})
        log = json_object(_read_json(out / "log.json"))
        cells, collected = json_object(log.get("cells")), json_object(log.get("collected"))
        notes = [_text(v) for k, v in sorted(cells.items(),
                                             key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)]
        notes += [_text(n) for n in log.get("notes", []) if isinstance(n, str)][:10]
        if stopped:
            notes.append(f"the sandbox was stopped: {stopped}")
        if not log:
            notes.append("the notebook's run left no log (it was stopped or killed itself)")
        grade.notes += notes
        for name in self.names(lesson):
            max_points = points.get(name, 1.0)
            if name not in points:
                grade.notes.append(f"{name} has no test cell test_{name} in the solutions: "
                                   f"counted as 1 point")
            if name not in jobs:
                grade.functions.append(FunctionGrade(name, "error", 0.0, max_points, [
                    f"the checks module has no check for {name}"]))
                continue
            status_file = json_object(_read_json(out / name / "status.json")
                                      if (out / name).is_dir() and not (out / name).is_symlink()
                                      else None)
            state = status_file.get("status")
            if state in ("missing", "not callable"):
                similar = [s for s in status_file.get("similar", []) if isinstance(s, str)][:3]
                cut = [n for n in notes if "timed out" in n or "crash" in n or "interrupt" in n]
                hint = (f" It defines {', '.join(_text(s, 40) for s in similar)}: was {name} "
                        f"renamed?" if similar else
                        f" Note: {cut[0]}." if cut else
                        " Was its cell deleted, renamed or not run?")
                what = "does not define it" if state == "missing" else "defines it, but not " \
                                                                         "as a function"
                grade.functions.append(FunctionGrade(name, "missing", 0.0, max_points, [
                    f"{name} is missing: the notebook {what}.{hint}"]))
                continue
            status, messages = jobs[name].verdict(out / name, self.options.call_timeout)
            how = collected.get(name)
            if status != "pass" and how in ("timeout", "stuck"):
                status, messages = "error", [
                    f"collecting {name}'s outputs did not finish within "
                    f"{self.options.check_timeout:g} s (an infinite loop?)"] + messages
            elif status != "pass" and how == "dead":
                status, messages = "error", [
                    f"{name} crashed the kernel while it was being checked (os._exit, a "
                    f"segfault, ...)"] + messages
            grade.functions.append(FunctionGrade(name, status,
                                                 max_points if status == "pass" else 0.0,
                                                 max_points, messages))


def grade_folder(submissions: str | os.PathLike, *, solutions: str | os.PathLike,
                 jobs: int = 1, options: Options | None = None,
                 shard: tuple[int, int] | None = None, work: Path | None = None) -> Run:
    """Grade every ``*.ipynb`` under ``submissions`` (or one shard of them); see the package
    docstring. ``work`` is the grader's private temporary folder (created when None)."""
    options = Options() if options is None else options
    if not isinstance(options, Options):
        raise TypeError(f"options must be a grade.Options, got {type(options).__name__}")
    options.validate()
    check_int(jobs, "jobs", 1)
    root = check_path(submissions, "submissions")
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    paths = find_submissions(root)
    if not paths:
        raise FileNotFoundError(f"no .ipynb files under {root}")
    if options.sandbox:
        reason = sandbox.unavailable_reason()
        if reason:
            raise RuntimeError(f"no sandbox: {reason}. Grade untrusted work only in a sandbox; "
                               f"pass --no-sandbox to run trusted notebooks without one")
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="course-grade-")) if work is None else Path(work)
    try:
        grader = Grader(options, check_path(solutions, "solutions"), work)
        probe = sandbox.Limits(options.memory_mb, options.processes, options.file_mb, 1)
        probe.kill_all()
        run = Run(grader.seed, options.sandbox, probe.held, shard)
        todo: list[tuple[SubmissionGrade, str, LoadedNotebook]] = []
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if shard is not None and not in_shard(rel, shard):
                continue
            grade, loaded = _prepare(grader, path, rel)
            run.grades.append(grade)
            if loaded is not None and grade.lesson is not None:   # to run: a known lesson
                grader.course(grade.lesson)
                todo.append((grade, grade.lesson, loaded))

        if options.sandbox and todo:
            reason = sandbox.self_test(grader.course(todo[0][1]), work,
                                       options.data_dir, options.weights_dir,
                                       options.scratch_mb)
            if reason:
                raise RuntimeError(f"no sandbox: {reason}")

        def one(item: tuple[SubmissionGrade, str, LoadedNotebook]) -> None:
            grade, lesson, loaded = item
            try:
                grader.grade(grade, lesson, loaded)
            except Exception as exc:  # one submission must not stop the batch
                traceback.print_exc()
                grade.grader_error, grade.graded = True, False
                grade.notes.append(f"grader problem (not the student's): "
                                   f"{type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
        return run
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


def _prepare(grader: Grader, path: Path,
             rel: str) -> tuple[SubmissionGrade, LoadedNotebook | None]:
    """The SubmissionGrade of one file, and its LoadedNotebook when it is to be run."""
    points = grader.points
    loaded = load_submission(path.read_bytes())
    by_name = infer_lesson(rel, list(points))
    lesson = by_name or (loaded.lesson if loaded.lesson in points else None)
    grade = SubmissionGrade(rel, infer_student(rel, lesson), lesson)
    if loaded.lesson is not None and loaded.lesson != lesson:
        if loaded.lesson not in points:
            grade.notes.append(f"its metadata names lesson {loaded.lesson!r}, which has no "
                               f"solution notebook; "
                               + (f"graded as {lesson} (from the file name)" if lesson else
                                  "cannot grade it"))
        else:
            grade.notes.append(f"check this submission: its file name says lesson {lesson} but "
                               f"its metadata says {loaded.lesson}; graded as {lesson} (the "
                               f"name the instructor collected it under)")
            grade.flagged = True
    if lesson is None:
        grade.graded = False
        grade.notes.append("could not tell which lesson this is (no metadata course.lesson "
                           "and no lesson name such as "
                           f"{next(iter(points))} in the file or folder name)")
        return grade, None
    grade.answers = grade_answers(loaded, grader.answers.get(lesson, {}))
    grade.answer_texts = {a.name: loaded.answers[a.name] for a in grade.answers
                          if a.status == "manual" and a.messages == [MANUAL]}
    if loaded.problem:
        grade.graded = False
        grade.notes.append(loaded.problem)
        for name in grader.names(lesson):
            max_points = points[lesson].get(name, 1.0)
            grade.functions.append(FunctionGrade(name, "error", 0.0, max_points,
                                                 [f"not graded: {loaded.problem}"]))
        return grade, None
    return grade, loaded
