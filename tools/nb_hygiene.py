"""Strip the noise that running a notebook adds, keeping everything nbval and nbgrader need.

    python tools/nb_hygiene.py [--check] [PATH ...]

PATHs are notebooks or folders (default: notebooks/, solutions/ and exercises/). Removed:

- each cell's ``metadata.execution`` (the ``iopub.execute_input`` / ``shell.execute_reply``
  timestamps that nbconvert and JupyterLab record) and ``metadata.ExecuteTime`` (the
  jupyterlab-execute-time extension);
- the notebook's ``metadata.widgets`` (stored widget state: the lessons keep a PNG instead).

Kept: outputs and execution counts (nbval compares the outputs), tags, slide metadata,
``jupyter.source_hidden``, nbgrader metadata. A notebook is rewritten only when something was
removed, in nbformat's own layout (one-space indent, sorted keys), so an unchanged notebook stays
byte-identical. ``--check`` changes nothing and exits 1 when a notebook would change (the test
suite and the pre-commit hook use it that way). Exit status 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = ("notebooks", "solutions", "exercises")
CELL_NOISE = ("execution", "ExecuteTime")
NOTEBOOK_NOISE = ("widgets",)


def noise(nb: dict) -> list[str]:
    """Where ``nb`` carries noise: ``["cell 3: execution", "metadata.widgets", ...]``."""
    found = [f"metadata.{key}" for key in NOTEBOOK_NOISE if key in nb.get("metadata", {})]
    for i, cell in enumerate(nb.get("cells", [])):
        found += [f"cell {i}: {key}" for key in CELL_NOISE if key in cell.get("metadata", {})]
    return found


def clean(nb: dict) -> dict:
    """``nb`` without its noise (modified in place and returned)."""
    for key in NOTEBOOK_NOISE:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        for key in CELL_NOISE:
            cell.get("metadata", {}).pop(key, None)
    return nb


def dumps(nb: dict) -> str:
    """nbformat's layout (what ``nbformat.write`` and ``nbconvert --inplace`` produce)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def notebooks(paths) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb":
            found.append(path)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="notebooks or folders")
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or [ROOT / name for name in DEFAULT_FOLDERS]
    dirty = 0
    for path in notebooks(paths):
        nb = json.loads(path.read_text(encoding="utf-8"))
        found = noise(nb)
        if not found:
            continue
        dirty += 1
        name = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        summary = f"{len(found)} item(s): {', '.join(found[:3])}{' ...' if len(found) > 3 else ''}"
        if args.check:
            print(f"{name}: would strip {summary}")
        else:
            path.write_text(dumps(clean(nb)), encoding="utf-8")
            print(f"{name}: stripped {summary}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
