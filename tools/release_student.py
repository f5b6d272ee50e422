"""The course for students, without ``solutions/`` (``make release-student``).

    python tools/release_student.py [--out build/release] [--no-zip]

Writes ``OUT/cnns-from-scratch-student-VERSION/`` and, next to it, the same folder as a ``.zip``
(entries sorted, timestamps fixed: the same sources give the same bytes). What goes in is listed
here (:data:`INCLUDE`), never guessed from the working tree, and :data:`EXCLUDE` is checked on top:

- in: the lessons (``notebooks/``), the exercises (``exercises/``), ``course_lib`` with its
  checks (the exercises call them) and the shipped weights, MNIST, the install files
  (requirements, ``pyproject.toml``, ``environment.yml``, ``binder/``, the Makefile), the
  licences, citation and changelog;
- out: ``solutions/`` (model answers and hidden tests), ``tests/`` (they read the solutions),
  ``website/``, ``tools/``, ``benchmarks/``, CI files, caches; and, inside the notebooks, the
  cells tagged ``speaker-notes`` (for the instructor's speaker view, not for students).

``make course`` works in the release folder exactly as in the repository; ``make test`` does
not (there are no tests). An instructor who grades for credit keeps the repository (with
``solutions/``) private and hands out this folder or zip; see the README.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Top-level files and folders of the release (folders are copied whole, less EXCLUDE).
INCLUDE = (
    "README.md", "LICENSE", "LICENSE-CONTENT", "CITATION.cff", "CHANGELOG.md",
    "requirements.txt", "requirements-dev.txt", "requirements-lock.txt", "pyproject.toml",
    "environment.yml", "Makefile", ".gitignore", "binder", "course_lib", "notebooks",
    "exercises", "data",
)
#: Never in a release, wherever they are (path parts or file names).
EXCLUDE_PARTS = {"solutions", "tests", "__pycache__", ".ipynb_checkpoints", ".pytest_cache",
                 ".hypothesis", ".ruff_cache", "course_lib.egg-info"}
EXCLUDE_NAMES = {".generated.json", ".DS_Store"}
ZIP_DATE = (2020, 1, 1, 0, 0, 0)

NOTE = """# Student release {version}

This folder is the course *CNNs from Scratch* without its model answers (`solutions/`), the
tests and the instructor's tools. Start with `make course` (or, without make, the commands in
the README under "Without make"), then open `notebooks/00_start_here.ipynb`. `make test` and the
grader need the full repository.
"""


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]


def excluded(relative: Path) -> bool:
    return bool(EXCLUDE_PARTS & set(relative.parts)) or relative.name in EXCLUDE_NAMES


def plan(root: Path = ROOT) -> list[Path]:
    """The files of the release, relative to ``root``, sorted."""
    files: list[Path] = []
    for name in INCLUDE:
        path = root / name
        if path.is_file():
            files.append(Path(name))
        elif path.is_dir():
            files += [p.relative_to(root) for p in path.rglob("*") if p.is_file()]
    return sorted(f for f in files if not excluded(f))


def copy_for_students(source: Path, target: Path) -> None:
    """Copy one file; a notebook loses its speaker-notes cells."""
    if source.suffix != ".ipynb":
        shutil.copy2(source, target)
        return
    notebook = json.loads(source.read_text(encoding="utf-8"))
    notebook["cells"] = [cell for cell in notebook["cells"]
                         if "speaker-notes" not in cell.get("metadata", {}).get("tags", [])]
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                      encoding="utf-8")


def build(out: Path, make_zip: bool = True, root: Path = ROOT) -> Path:
    """Write the release folder (and zip) under ``out``; return the folder."""
    name = f"cnns-from-scratch-student-{version()}"
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    files = plan(root)
    for relative in files:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_for_students(root / relative, target)
    (folder / "RELEASE.md").write_text(NOTE.format(version=version()), encoding="utf-8")
    if make_zip:
        archive = out / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for relative in sorted([*files, Path("RELEASE.md")]):
                info = zipfile.ZipInfo(f"{name}/{relative.as_posix()}", ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, (folder / relative).read_bytes())
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "release")
    parser.add_argument("--no-zip", action="store_true", help="write the folder only")
    args = parser.parse_args(argv)
    folder = build(args.out, make_zip=not args.no_zip)
    print(f"student release: {folder} ({len(plan())} files)"
          + ("" if args.no_zip else f" and {folder}.zip"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
