"""The first code cell of a lesson for hosted notebooks (Colab): install course_lib if missing.

``CELL`` is the cell's source. In the course's own environment (``make course``, Binder, conda,
a plain venv with ``pip install -e .``) ``course_lib`` is importable and the cell does nothing.
Elsewhere (Colab) it clones the repository next to the notebook, installs ``course_lib``
editable with its dependencies, and puts the clone on ``sys.path`` so the running kernel can
import it at once (the data and the weights come with the clone). tests/test_packaging.py runs
it both ways.

    python tools/colab_bootstrap.py            # report the notebooks without it (exit 1 if any)
    python tools/colab_bootstrap.py --write    # insert it (or update it) where needed

It goes before the first code cell of every lesson (``notebooks/``) and every solution
(``solutions/``; regenerate ``exercises/`` afterwards with ``python -m course_lib.assign``).
Inserting it renumbers the execution counts as a top-to-bottom run would (the cell prints
nothing), so the notebooks need not be re-run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-bootstrap"

CELL = '''\
# Colab and other hosted notebooks: fetch the course and install course_lib when it is
# missing. In the course's own environment this cell does nothing.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("course_lib") is None:
    COURSE = os.path.abspath("cnns-from-scratch")
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--depth", "1",
                        "https://github.com/OWNER/cnns-from-scratch", COURSE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", COURSE],
                   check=True)
    sys.path.insert(0, COURSE)  # the running kernel sees the new install at once
'''

#: Slide type "skip" (not in the decks), collapsed in JupyterLab, left out of the website.
CELL_METADATA = {"slideshow": {"slide_type": "skip"}, "jupyter": {"source_hidden": True},
                 "tags": [TAG]}


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def has_bootstrap(nb: dict) -> bool:
    """True when the first code cell is the current bootstrap cell."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and TAG in code[0]["metadata"].get("tags", []) and _source(code[0]) == CELL


def with_bootstrap(nb: dict) -> dict:
    """``nb`` with the current bootstrap cell before its first code cell (an outdated one is
    replaced); execution counts renumbered if they were a top-to-bottom run."""
    old = [c for c in nb["cells"] if TAG in c["metadata"].get("tags", [])]
    nb["cells"] = [c for c in nb["cells"] if TAG not in c["metadata"].get("tags", [])]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    shift = 0 if (old and old[0].get("execution_count") == 1) else 1  # replacing a run one
    ran = bool(code) and counts == list(range(2 - shift, len(code) + 2 - shift))
    first = next((i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"),
                 len(nb["cells"]))
    cell = {"cell_type": "code", "execution_count": 1 if ran else None, "id": TAG,
            "metadata": json.loads(json.dumps(CELL_METADATA)), "outputs": [],
            "source": CELL.splitlines(keepends=True)}
    nb["cells"].insert(first, cell)
    if ran and shift:
        for c in code:
            c["execution_count"] += 1
            for out in c.get("outputs", []):
                if out.get("execution_count") is not None:
                    out["execution_count"] += 1
    return nb


def targets() -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from course_lib.lessons import LESSONS

    return [lesson.notebook for lesson in LESSONS] + [
        lesson.solution for lesson in LESSONS if lesson.checks]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="insert the cell where missing")
    parser.add_argument("--print", action="store_true", help="print the cell's source")
    args = parser.parse_args(argv)
    if args.print:
        print(CELL, end="")
        return 0
    missing = 0
    for path in targets():
        nb = json.loads(path.read_text(encoding="utf-8"))
        if has_bootstrap(nb):
            continue
        missing += 1
        name = f"{path.parent.name}/{path.name}"
        if args.write:
            text = json.dumps(with_bootstrap(nb), indent=1, sort_keys=True, ensure_ascii=False)
            path.write_text(text + "\n", encoding="utf-8")
            print(f"{name}: bootstrap cell inserted")
        else:
            print(f"{name}: no bootstrap cell")
    if args.write and missing:
        print("now regenerate the exercises: python -m course_lib.assign")
    return 1 if (missing and not args.write) else 0


if __name__ == "__main__":
    sys.exit(main())
