"""Generate the student notebooks (``exercises/``) from the solution notebooks (``solutions/``).

``solutions/<lesson>.ipynb`` is the single source of truth. For every solution notebook this
writes ``exercises/<lesson>.ipynb`` in which, as nbgrader's ``generate_assignment`` does,

- a region ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` at the indentation of the BEGIN line (``YOUR ANSWER HERE`` in
  a markdown cell); a solution cell without markers is replaced by that stub as a whole;
- a region ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` is removed;
- outputs and execution counts are cleared; notebook and cell metadata (``nbgrader``,
  ``course``) are kept, so an instructor can also run nbgrader on ``solutions/``.

Written questions are nbgrader *manually graded answers*: a markdown cell with metadata
``nbgrader = {"grade": true, "solution": true, "points": P, "grade_id": ..., ...}`` whose model
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the student sees
``YOUR ANSWER HERE`` in its place. :func:`graded_points` (the autograded functions, from the
``test_NAME`` cells) leaves them out; :func:`answer_points` lists them, for the grader to
report as needing manual grading.

Markers are recognised as nbgrader does: any line *containing* ``BEGIN SOLUTION``,
``END SOLUTION``, ``BEGIN HIDDEN TESTS`` or ``END HIDDEN TESTS``. Unbalanced or nested markers, a
solution region outside a solution cell and hidden tests outside a grade cell are errors
(:class:`MarkerError`, naming the notebook and cell) and nothing is written.

The output is deterministic (nbformat's sorted-key JSON), so ``--check`` can compare bytes.
``exercises/.generated.json`` records the SHA-256 of each notebook as last written; a notebook
that no longer matches its record was edited (by a student) and is kept unless ``force=True``.
Nothing is ever written inside the source folder.

Command line (paths default to the repository's ``solutions/`` and ``exercises/``)::

    python -m course_lib.assign [--source DIR] [--dest DIR] [--check | --force]

Exit status: 0 in sync; 1 when ``--check`` finds missing, stale, edited or extra notebooks,
or when an edited notebook was kept; 2 on an error (no solutions, bad markers, dest inside source).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from . import paths
from .files import write_atomic
from .validate import check_bool, check_path, check_real

STATE_FILE = ".generated.json"

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = "YOUR ANSWER HERE"
_MARKERS = {BEGIN_SOLUTION: ("begin", "solution"), END_SOLUTION: ("end", "solution"),
            BEGIN_HIDDEN: ("begin", "hidden tests"), END_HIDDEN: ("end", "hidden tests")}


class MarkerError(ValueError):
    """A solution or hidden-test region is unbalanced, nested or in the wrong kind of cell."""


# --------------------------------------------------------------------------- notebooks

def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read and validate a notebook as nbformat v4; errors name the file."""
    path = Path(path)
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises many types (JSON, schema, version)
        raise ValueError(f"{path} is not a valid notebook: {exc}") from exc
    return nb


def render_notebook(nb: nbformat.NotebookNode) -> str:
    """The exact text nbformat writes for ``nb`` (sorted keys, indent 1, final newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def nbgrader_meta(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's ``nbgrader`` metadata (an empty dict when it has none)."""
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def is_written_answer(cell: Mapping[str, Any]) -> bool:
    """True for an nbgrader manually graded answer cell (``grade`` and ``solution`` both set)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


def _points(meta: dict, kind: str) -> float:
    value = meta.get("points", 0) or 0
    try:
        return check_real(value, "points", minimum=0.0)
    except (TypeError, ValueError):   # the notebook is wrong, not a caller: name its cell
        raise ValueError(f"{kind} {meta.get('grade_id')!r} has points {value!r}; expected a "
                         f"number >= 0") from None


def graded_points(nb: Mapping[str, Any]) -> dict[str, float]:
    """Graded function name -> points, from the test cells (grade_id ``test_NAME``) in order.

    Only autograded test cells count (``grade`` without ``solution``): written answers are
    graded by hand (see :func:`answer_points`). ``nb`` is a notebook node or the plain dict
    ``json.load`` gives.
    """
    points = {}
    for cell in nb.get("cells", []):
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id", "")
        if (meta.get("grade") and not meta.get("solution") and isinstance(grade_id, str)
                and grade_id.startswith("test_")):
            points[grade_id[len("test_"):]] = _points(meta, "test cell")
    return points


def answer_points(nb: Mapping[str, Any]) -> dict[str, float]:
    """grade_id -> points of the manually graded answer cells (the written questions), in order.

    ``nb`` is a notebook node or the plain dict ``json.load`` gives.
    """
    points = {}
    for cell in nb.get("cells", []):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if is_written_answer(cell) and isinstance(grade_id, str) and grade_id:
            points[grade_id] = _points(nbgrader_meta(cell), "answer cell")
    return points


def _describe_cell(notebook: str, index: int, cell) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    label = f"grade_id {grade_id!r}, " if grade_id else ""
    return f"{notebook}, cell {index + 1} ({label}{cell.cell_type}, starting {first[:50]!r})"


def _marker(line: str, where: str, lineno: int):
    found = [m for m in _MARKERS if m in line]
    if len(found) > 1:
        raise MarkerError(f"{where}: line {lineno} holds several markers ({', '.join(found)}); "
                          f"put each marker on its own line")
    return _MARKERS[found[0]] if found else None


def strip_regions(source: str, cell_type: str = "code", *,
                  where: str = "cell") -> tuple[str, bool, bool]:
    """Replace solution regions by the stub and drop hidden-test regions in one cell's source.

    Returns ``(new_source, had_solution, had_hidden_tests)``. ``where`` names the cell in errors.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    if cell_type not in ("code", "markdown", "raw"):
        raise ValueError(f"cell_type must be 'code', 'markdown' or 'raw', got {cell_type!r}")
    out, region, opened_at, had = [], None, 0, {"solution": False, "hidden tests": False}
    for lineno, line in enumerate(source.splitlines(), start=1):
        marker = _marker(line, where, lineno)
        if marker is None:
            if region is None:
                out.append(line)
            continue
        kind, name = marker
        if kind == "begin":
            if region is not None:
                raise MarkerError(f"{where}: line {lineno} opens a {name} region inside the "
                                  f"{region} region opened on line {opened_at}; regions cannot "
                                  f"be nested")
            region, opened_at, had[name] = name, lineno, True
            if name == "solution":
                indent = line[:len(line) - len(line.lstrip())]
                stub = CODE_STUB if cell_type == "code" else (TEXT_STUB,)
                out.extend(indent + s for s in stub)
        elif region != name:
            opened = f"the {region} region opened on line {opened_at}" if region else "no region"
            raise MarkerError(f"{where}: line {lineno} closes a {name} region but {opened} is "
                              f"open")
        else:
            region = None
    if region is not None:
        raise MarkerError(f"{where}: the {region} region opened on line {opened_at} is never "
                          f"closed (missing '### END {region.upper()}')")
    text = "\n".join(out) + ("\n" if source.endswith("\n") and out else "")
    return text, had["solution"], had["hidden tests"]


def _lock(cell, meta: dict) -> None:
    """As nbgrader's LockCells does by default: answer cells cannot be deleted; test cells
    and read-only cells can be neither deleted nor edited (JupyterLab honours both flags)."""
    if meta.get("solution"):
        cell.metadata["deletable"] = False
    elif meta.get("grade") or meta.get("locked"):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def make_exercise(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """Return the student version of the solution notebook ``nb`` (``nb`` is not changed).

    ``name`` (the file name) is used in error messages and, for nbformat >= 4.5, to give
    cells without an id a deterministic one.
    """
    if not isinstance(nb, nbformat.NotebookNode):
        raise TypeError(f"nb must be an nbformat.NotebookNode, got {type(nb).__name__}")
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy
    nb.metadata.pop("widgets", None)  # saved widget state belongs to the cleared outputs
    for index, cell in enumerate(nb.cells):
        where = _describe_cell(name, index, cell)
        meta = nbgrader_meta(cell)
        source, had_solution, had_hidden = strip_regions(cell.source, cell.cell_type,
                                                         where=where)
        if had_solution and not meta.get("solution"):
            raise MarkerError(f"{where}: a solution region in a cell that is not an nbgrader "
                              f"solution cell; add metadata nbgrader.solution = true (nbgrader "
                              f"refuses such notebooks too)")
        if had_hidden and not meta.get("grade"):
            raise MarkerError(f"{where}: hidden tests in a cell that is not an nbgrader grade "
                              f"cell; add metadata nbgrader.grade = true")
        if meta.get("solution") and not had_solution:
            source = "\n".join(CODE_STUB) if cell.cell_type == "code" else TEXT_STUB
        cell.source = source
        cell.metadata.pop("execution", None)
        _lock(cell, meta)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if (nb.nbformat, nb.nbformat_minor) >= (4, 5) and not cell.get("id"):
            cell.id = hashlib.sha256(f"{name}:{index}".encode()).hexdigest()[:12]
    return nb


# --------------------------------------------------------------------------- folders

@dataclass
class Report:
    """What :func:`generate` did or what :func:`check` found (file names, relative to dest)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)   # name -> why it was not overwritten
    removed: list[str] = field(default_factory=list)     # generated, unedited, solution gone
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)       # as generated once, solution changed
    edited: list[str] = field(default_factory=list)      # changed since generated (someone's work)
    extra: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """True when dest holds exactly what would be generated."""
        return not (self.kept or self.missing or self.stale or self.edited or self.extra)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _folders(source, dest) -> tuple[Path, Path]:
    """The solutions and exercises folders, resolved (None: the checkout's)."""
    source = check_path(paths.SOLUTIONS_DIR if source is None else source, "source").resolve()
    dest = check_path(paths.EXERCISES_DIR if dest is None else dest, "dest").resolve()
    if dest == source or source in dest.parents:
        raise ValueError(f"dest {dest} is inside source {source}: the generator never writes "
                         f"into the solutions folder")
    return source, dest


def expected_exercises(source: str | os.PathLike | None = None) -> dict[str, str]:
    """File name -> exercise notebook text, for every ``*.ipynb`` directly in ``source``.

    Raises FileNotFoundError when ``source`` holds no notebooks (so a check never passes
    vacuously) and MarkerError/ValueError for a bad solution notebook.
    """
    source = Path(paths.SOLUTIONS_DIR if source is None else source)
    found = sorted(source.glob("*.ipynb")) if source.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no solution notebooks found: {source}/*.ipynb matches nothing")
    expected = {}
    for path in found:
        nb = read_notebook(path)
        course = nb.metadata.setdefault("course", {})
        lesson = course.setdefault("lesson", path.stem)
        if lesson != path.stem:
            raise ValueError(f"{path.name}: metadata course.lesson is {lesson!r} but the file is "
                             f"{path.stem!r}; they must agree (the grader identifies lessons "
                             f"by it)")
        expected[path.name] = render_notebook(make_exercise(nb, path.name))
    return expected


def _read_state(dest: Path) -> dict[str, str]:
    try:
        state = json.loads((dest / STATE_FILE).read_text(encoding="utf-8"))
        notebooks = state.get("notebooks", {})
        return {k: v for k, v in notebooks.items() if isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def _existing(dest: Path) -> dict[str, bytes]:
    """The notebooks in dest, line endings normalised (a Windows checkout may add CRs)."""
    if not dest.is_dir():
        return {}
    return {p.name: p.read_bytes().replace(b"\r\n", b"\n")
            for p in sorted(dest.glob("*.ipynb")) if p.is_file()}


def check(source: str | os.PathLike | None = None, dest: str | os.PathLike | None = None) -> Report:
    """Compare ``dest`` with what would be generated from ``source``; write nothing.

    Fills ``missing``, ``stale`` (differs, and is what assign last wrote there or has no
    record: regenerate it), ``edited`` (differs from what assign last wrote: someone worked in
    it) and ``extra`` (a notebook in dest with no solution); ``report.in_sync`` tells whether
    they are all empty.
    """
    source, dest = _folders(source, dest)
    expected, existing = expected_exercises(source), _existing(dest)
    state = _read_state(dest)
    report = Report(extra=sorted(set(existing) - set(expected)))
    for name, text in expected.items():
        if name not in existing:
            report.missing.append(name)
        elif existing[name] != text.encode("utf-8"):
            recorded = state.get(name)
            edited = recorded is not None and _sha256(existing[name]) != recorded
            (report.edited if edited else report.stale).append(name)
        else:
            report.unchanged.append(name)
    return report


def generate(source: str | os.PathLike | None = None, dest: str | os.PathLike | None = None, *,
             force: bool = False) -> Report:
    """Write the exercise notebooks of ``source`` into ``dest``; return what was done.

    A notebook in ``dest`` that differs both from the new version and from what was last
    generated there (an edit) is kept and listed in ``report.kept``, unless ``force``. A
    notebook whose solution is gone is removed only if it is unedited, else listed as extra.
    Every solution is processed before anything is written, so an error writes nothing.
    """
    check_bool(force, "force")
    source, dest = _folders(source, dest)
    expected = expected_exercises(source)
    dest.mkdir(parents=True, exist_ok=True)
    state, existing, report = _read_state(dest), _existing(dest), Report()
    new_state = {}
    for name, text in expected.items():
        data, current = text.encode("utf-8"), existing.get(name)
        if current == data:
            report.unchanged.append(name)
        elif current is None or force or _sha256(current) == state.get(name):
            write_atomic(dest / name, data)
            report.written.append(name)
        else:
            report.kept[name] = ("it differs from what assign last generated (edited, e.g. by "
                                 "a student); rerun with --force to overwrite it")
            if name in state:
                new_state[name] = state[name]
            continue
        new_state[name] = _sha256(data)
    for name in sorted(set(existing) - set(expected)):
        if _sha256(existing[name]) == state.get(name):
            (dest / name).unlink()
            report.removed.append(name)
        else:
            report.extra.append(name)
    state_text = json.dumps({"generated_by": "course_lib.assign", "notebooks": new_state},
                            indent=1, sort_keys=True) + "\n"
    state_path = dest / STATE_FILE
    if not state_path.is_file() or state_path.read_text(encoding="utf-8") != state_text:
        write_atomic(dest / STATE_FILE, state_text.encode("utf-8"))
    return report


# --------------------------------------------------------------------------- command line

def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.assign",
                                     description="Generate exercises/ from solutions/.")
    parser.add_argument("--source", default=str(paths.SOLUTIONS_DIR),
                        help="folder of solution notebooks (default: the repository's solutions/)")
    parser.add_argument("--dest", default=str(paths.EXERCISES_DIR),
                        help="folder to write (default: the repository's exercises/)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if a notebook in dest is missing, stale, "
                           "edited or extra")
    mode.add_argument("--force", action="store_true",
                      help="overwrite exercise notebooks even if they were edited since generated")
    args = parser.parse_args(argv)
    dest = Path(args.dest)
    try:
        report = check(args.source, dest) if args.check else generate(args.source, dest,
                                                                      force=args.force)
    except (OSError, ValueError, TypeError) as exc:
        print(f"assign: error: {exc}", file=sys.stderr)
        return 2
    lines = []
    if args.check:
        lines += [f"missing: {_show(dest / n)} (run python -m course_lib.assign)"
                  for n in report.missing]
        lines += [f"stale: {_show(dest / n)} differs from what its solution generates"
                  for n in report.stale]
        lines += [f"edited: {_show(dest / n)} was changed since assign wrote it (someone's "
                  f"work?); --force regenerates it, discarding the changes" for n in report.edited]
    lines += [f"wrote {_show(dest / n)}" for n in report.written]
    lines += [f"removed {_show(dest / n)} (its solution is gone; it was unedited)"
              for n in report.removed]
    lines += [f"kept {_show(dest / n)}: {why}" for n, why in report.kept.items()]
    lines += [f"extra: {_show(dest / n)} has no solution notebook in {_show(Path(args.source))}"
              for n in report.extra]
    for line in lines:
        print(f"assign: {line}")
    print(f"assign: {len(report.unchanged)} up to date, {len(report.written)} written, "
          f"{len(report.kept)} kept, {len(report.missing)} missing, {len(report.stale)} stale, "
          f"{len(report.edited)} edited, {len(report.extra)} extra")
    return 0 if report.in_sync else 1


if __name__ == "__main__":
    sys.exit(main())
