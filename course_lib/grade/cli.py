"""``python -m course_lib.grade``: grade a folder, or ``merge`` shard files into one result.

    python -m course_lib.grade SUBMISSIONS --out grades.csv [--report report.md]
        [--feedback FOLDER] [--gradescope results.json] [--json shard.json]
        [--jobs N] [--shard i/n] [--seed S] [--no-sandbox] [--timeout 120] ...
    python -m course_lib.grade merge SHARD.json ... --out grades.csv [--report ...]

Earlier outputs are renamed to ``*.previous`` at the start; the new ones are written
atomically at the end. A watchdog process removes the grader's temporary folder (and any
sandbox cgroup) if the grader is killed. Exit status: 0 when every submission was graded
(whatever the scores), 1 when the grader itself could not check some, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import paths
from ..files import write_atomic
from . import reports, sandbox
from .batch import grade_folder
from .options import Options
from .submissions import parse_shard


def _outputs(args) -> list[str]:
    return [p for p in (args.out, args.report, args.feedback, args.gradescope,
                        getattr(args, "json", None)) if p]


def _write(args, grades, about, meta) -> None:
    if args.out:
        reports.write_csv(grades, args.out)
    if args.report:
        write_atomic(args.report, reports.format_report(grades, about=about))
    if args.feedback:
        reports.write_feedback(grades, args.feedback, about)
    if args.gradescope:
        if len(grades) != 1:
            raise ValueError(f"--gradescope writes one submission's results.json (as in "
                             f"Gradescope's autograder), but {len(grades)} were graded")
        import json
        write_atomic(args.gradescope,
                             json.dumps(reports.gradescope_results(grades[0]), indent=1))
    if getattr(args, "json", None):
        write_atomic(args.json, reports.run_document(grades, meta))
    if args.nbgrader_db:
        from .gradebook import write_gradebook
        write_gradebook(grades, args.nbgrader_db, args.nbgrader_assignment)


def _about(meta: dict) -> list[str]:
    shard = meta.get("shard")
    lines = [f"Run seed: {meta['seed']} (grade again with --seed {meta['seed']} to get the same "
             f"cases)."]
    if meta.get("sandboxed"):
        lines.append(f"Each notebook ran in a bubblewrap sandbox; limits that held: "
                     f"{', '.join(meta.get('limits', []))}.")
    else:
        lines.append("NOT SANDBOXED (--no-sandbox): the notebooks ran with the grader's "
                     "permissions; use this only for trusted work.")
    if shard:
        lines.append(f"Shard {shard[0]}/{shard[1]} of the class.")
    return lines


def _add_outputs(parser) -> None:
    parser.add_argument("--out", help="CSV file to write")
    parser.add_argument("--report", help="Markdown report for the instructor")
    parser.add_argument("--feedback", help="folder for one Markdown feedback file per student")
    parser.add_argument("--gradescope", help="Gradescope results.json (one submission)")
    parser.add_argument("--nbgrader-db", help="nbgrader gradebook URL (sqlite:///gradebook.db) "
                                              "to write the autograded scores into")
    parser.add_argument("--nbgrader-assignment", help="its assignment name (default: the "
                                                      "lesson, e.g. 05_softmax_cross_entropy)")


def _check_outputs(args) -> str | None:
    if not (args.out or getattr(args, "json", None) or args.nbgrader_db):
        return "give --out (and/or --json for a shard, --nbgrader-db for nbgrader)"
    for output in _outputs(args):
        if Path(output).suffix == ".ipynb":
            return f"refusing to write {output}: it looks like a notebook"
    return None


def merge(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade merge",
                                     description="Join shard files (--json) into one result.")
    parser.add_argument("shards", nargs="+", help="the shard files, one per --shard i/n")
    _add_outputs(parser)
    args = parser.parse_args(argv)
    args.json = None
    problem = _check_outputs(args)
    if problem:
        print(f"grade merge: error: {problem}", file=sys.stderr)
        return 2
    try:
        grades, meta = reports.merge_documents([Path(p).read_text(encoding="utf-8")
                                                for p in args.shards])
        reports.set_aside(_outputs(args))
        _write(args, grades, _about(meta), meta)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"grade merge: error: {exc}", file=sys.stderr)
        return 2
    print(f"grade merge: {len(grades)} submissions from {len(args.shards)} shards")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["merge"]:
        return merge(argv[1:])
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Run every submitted notebook in a sandbox and judge its graded "
                    "functions; write a CSV, reports and feedback.")
    parser.add_argument("submissions", help="folder of submitted .ipynb files (searched "
                                            "recursively, never modified)")
    _add_outputs(parser)
    parser.add_argument("--json", help="the run as JSON, for `merge` (sharded grading)")
    parser.add_argument("--solutions", default=str(paths.SOLUTIONS_DIR),
                        help="solution notebooks, for the points (default: the repository's)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once")
    parser.add_argument("--shard", type=parse_shard, help="grade only slice i of n (i/n)")
    parser.add_argument("--seed", type=int, help="the run's seed (default: fresh)")
    parser.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                        help="run notebooks without bubblewrap (trusted work only)")
    parser.add_argument("--timeout", type=float, default=defaults.timeout,
                        help=f"seconds for all of a notebook's cells "
                             f"(default {defaults.timeout:g})")
    parser.add_argument("--cell-timeout", type=float, help="seconds per cell (default: half "
                                                            "of --timeout)")
    parser.add_argument("--check-timeout", type=float, default=defaults.check_timeout,
                        help="seconds to collect one graded function's outputs")
    parser.add_argument("--call-timeout", type=float, default=defaults.call_timeout,
                        help="seconds per call of a graded function")
    parser.add_argument("--memory", type=int, default=defaults.memory_mb,
                        help=f"MB of memory per notebook (default {defaults.memory_mb})")
    parser.add_argument("--data", default=str(paths.DATA_DIR), help="folder seen as ../data")
    parser.add_argument("--weights", default=str(paths.WEIGHTS_DIR),
                        help="folder seen as ../weights")
    parser.add_argument("--checks-module", default=defaults.checks_module,
                        help="module (or .py file) with LESSONS and SPECS")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    problem = _check_outputs(args)
    if problem:
        print(f"grade: error: {problem}", file=sys.stderr)
        return 2
    checks = args.checks_module
    if checks.endswith(".py"):
        checks = str(Path(checks).resolve())
    options = Options(timeout=args.timeout, cell_timeout=args.cell_timeout,
                      check_timeout=args.check_timeout, call_timeout=args.call_timeout,
                      checks_module=checks, sandbox=args.sandbox, memory_mb=args.memory,
                      seed=args.seed, data_dir=Path(args.data), weights_dir=Path(args.weights))
    try:
        options.validate()
    except (ValueError, TypeError) as exc:
        print(f"grade: error: {exc}", file=sys.stderr)
        return 2
    reports.set_aside(_outputs(args))
    work = Path(tempfile.mkdtemp(prefix="course-grade-"))
    # cleans up if this process dies, even by SIGKILL (cwd: where course_lib is importable)
    watchdog = subprocess.Popen([sys.executable, "-m", "course_lib.grade.watchdog",
                                 str(os.getpid()), str(work), str(sandbox.CGROUP_ROOT)],
                                cwd=sandbox.PACKAGE.parent, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        run = grade_folder(Path(args.submissions).resolve(), solutions=args.solutions,
                           jobs=args.jobs, options=options, shard=args.shard, work=work)
        meta = {"seed": run.seed, "sandboxed": run.sandboxed, "limits": run.limits,
                "shard": list(run.shard) if run.shard else None}
        _write(args, run.grades, _about(meta), meta)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        print(f"grade: error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
        watchdog.wait()
    for g in run.grades:
        score = f"{g.points:g}/{g.max_points:g}" if g.graded else "not graded"
        if g.graded and g.answers:
            score += (f" + {len(g.answers)} written answer(s) ({g.manual_points:g} points) "
                      f"to grade by hand")
        print(f"grade: {g.submission}: {score}" + ("  (flagged: see the notes)" if g.flagged
                                                    else ""))
    print(f"grade: wrote {', '.join(_outputs(args))} (seed {run.seed})")
    failed = [g.submission for g in run.grades if g.grader_error]
    if failed:
        print(f"grade: the grader could not check {len(failed)} submission(s); see the notes",
              file=sys.stderr)
        return 1
    return 0
