"""What the grader writes: the CSV, the class report, a feedback file per student, Gradescope's
``results.json``, and shard files that ``merge`` joins. Every file is written atomically
(``course_lib.files.write_atomic``), so a grader stopped halfway leaves the old file or the
new one, never half of one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..files import write_atomic
from .results import COLUMNS, TOTAL, SubmissionGrade, grade_from_dict

_PROBLEM_LIMIT = 6          # notebook notes listed per submission before "... and N more"
PREVIOUS = ".previous"


def set_aside(paths: Sequence[str | os.PathLike | None]) -> list[str]:
    """Rename earlier outputs ``X`` to ``X.previous`` before a run (so a run that does not
    finish leaves no stale result in their place); returns the renamed paths."""
    moved = []
    for path in paths:
        if path and Path(path).exists():
            target = Path(str(path) + PREVIOUS)
            if target.is_dir() and not target.is_symlink():
                import shutil
                shutil.rmtree(target)
            os.replace(path, target)
            moved.append(str(path))
    return moved


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


def csv_text(grades: Sequence[SubmissionGrade]) -> str:
    """The grades as CSV (columns: COLUMNS; see the package docstring)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows(grades))
    return buffer.getvalue()


def write_csv(grades: Sequence[SubmissionGrade], path: str | os.PathLike) -> None:
    """Write the grades as CSV, atomically."""
    write_atomic(path, csv_text(grades))


def _md(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def format_report(grades: Sequence[SubmissionGrade], title: str = "Grades",
                  about: Sequence[str] = ()) -> str:
    """A Markdown report: a summary table, then per submission each function's ✓/✗ and
    feedback, and the written answers (quoted) for the instructor to grade by hand."""
    lines = [f"# {title}", "", *(f"{_md(line)}  " for line in about), *([""] if about else []),
             "| Student | Lesson | Score | Notebook |", "|---|---|---:|---|"]
    for g in grades:
        score = f"{_num(g.points)} / {_num(g.max_points)}" if g.graded else "not graded"
        score += " ⚑" if g.flagged else ""
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"


def feedback_text(grade: SubmissionGrade, about: Sequence[str] = ()) -> str:
    """One student's feedback (Markdown): their score, each function's verdict, the notes."""
    return format_report([grade], title=f"Feedback: {grade.lesson or 'exercise'}", about=about)


def write_feedback(grades: Sequence[SubmissionGrade], folder: str | os.PathLike,
                   about: Sequence[str] = ()) -> list[Path]:
    """A Markdown file per submission in ``folder`` (``<student>__<lesson>.md``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for g in grades:
        name = _slug(f"{g.student}__{g.lesson or 'unknown'}")
        while name in used:
            name += "_"
        used.add(name)
        write_atomic(folder / f"{name}.md", feedback_text(g, about))
        written.append(folder / f"{name}.md")
    return written


def gradescope_results(grade: SubmissionGrade) -> dict:
    """Gradescope's autograder ``results.json`` for one submission (one test per function;
    written answers as 0-point tests that say they are graded by hand)."""
    tests = [{"name": f.name, "score": f.points, "max_score": f.max_points,
              "status": "passed" if f.passed else "failed",
              "output": "\n".join(f.messages)} for f in grade.functions]
    tests += [{"name": f"{a.name} (written answer)", "score": 0, "max_score": 0,
               "output": "\n".join(a.messages)} for a in grade.answers]
    return {"score": grade.points, "output": "\n".join(grade.notes), "tests": tests,
            "visibility": "after_published", "stdout_visibility": "hidden"}


def run_document(grades: Sequence[SubmissionGrade], meta: dict) -> str:
    """A shard file: the run's facts and every grade, as JSON (``merge`` reads it back)."""
    return json.dumps({"format": "course-grade-shard/1", **meta,
                       "grades": [dataclasses.asdict(g) for g in grades]}, indent=1)


def merge_documents(texts: Sequence[str]) -> tuple[list[SubmissionGrade], dict]:
    """The grades (sorted by submission) and shared facts of several shard files; ValueError
    when they are not shards of one run (different seeds, repeated or missing shards)."""
    documents = [json.loads(t) for t in texts]
    if any(d.get("format") != "course-grade-shard/1" for d in documents):
        raise ValueError("not a shard file of python -m course_lib.grade (--json)")
    seeds = {d["seed"] for d in documents}
    if len(seeds) != 1:
        raise ValueError(f"shards of different runs (seeds {sorted(seeds)}): grade every shard "
                         f"with the same --seed")
    shards = sorted(tuple(d["shard"]) if d.get("shard") else (1, 1) for d in documents)
    total = shards[0][1]
    if shards != [(i, total) for i in range(1, total + 1)]:
        raise ValueError(f"expected shards 1/{total} ... {total}/{total} once each, got "
                         f"{', '.join(f'{i}/{n}' for i, n in shards)}")
    grades = sorted((grade_from_dict(g) for d in documents for g in d["grades"]),
                    key=lambda g: g.submission)
    meta = {k: v for k, v in documents[0].items() if k not in ("grades", "shard", "format")}
    return grades, meta
