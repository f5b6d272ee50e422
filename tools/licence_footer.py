"""The licence footer every lesson notebook ends with.

    python tools/licence_footer.py            # report the lessons without it (exit 1 if any)
    python tools/licence_footer.py --write    # append it to those lessons

The footer is the last cell: Markdown, slide type "skip" (not in the decks), tag
``licence-footer``. ``--write`` appends it to a lesson that lacks it, or replaces an outdated
one, and changes nothing else (nbformat's layout, so the diff is that one cell).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.lessons import LESSONS  # noqa: E402

TAG = "licence-footer"
FOOTER = """\
---

*CNNs from Scratch* · lesson text and figures © the CNNs from Scratch authors,
[CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/)
([LICENSE-CONTENT](../LICENSE-CONTENT)); code cells and `course_lib`: [MIT](../LICENSE).
MNIST digits: Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
[CC BY-SA 3.0](https://creativecommons.org/licenses/by-sa/3.0/).
To cite the course: [CITATION.cff](../CITATION.cff)."""


def footer_cell() -> dict:
    return {"cell_type": "markdown", "id": TAG,
            "metadata": {"slideshow": {"slide_type": "skip"}, "tags": [TAG]},
            "source": FOOTER.splitlines(keepends=True)}


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def has_footer(nb: dict) -> bool:
    """True when the last cell is the current footer."""
    if not nb["cells"]:
        return False
    last = nb["cells"][-1]
    return (last["cell_type"] == "markdown" and TAG in last["metadata"].get("tags", [])
            and _source(last) == FOOTER)


def with_footer(nb: dict) -> dict:
    """``nb`` ending with the current footer (an outdated footer cell is replaced)."""
    nb["cells"] = [c for c in nb["cells"] if TAG not in c["metadata"].get("tags", [])]
    nb["cells"].append(footer_cell())
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="add the footer where missing")
    args = parser.parse_args(argv)
    missing = 0
    for lesson in LESSONS:
        nb = json.loads(lesson.notebook.read_text(encoding="utf-8"))
        if has_footer(nb):
            continue
        missing += 1
        if args.write:
            text = json.dumps(with_footer(nb), indent=1, sort_keys=True, ensure_ascii=False)
            lesson.notebook.write_text(text + "\n", encoding="utf-8")
            print(f"{lesson.stem}: footer added")
        else:
            print(f"{lesson.stem}: no licence footer")
    return 1 if (missing and not args.write) else 0


if __name__ == "__main__":
    sys.exit(main())
