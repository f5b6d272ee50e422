"""The cells every lesson notebook carries for readers: "open in" links and the licence footer.

    python tools/licence_footer.py            # report the lessons without them (exit 1 if any)
    python tools/licence_footer.py --write    # add them (or update them) where needed

- **Open in Colab / Binder**: a Markdown cell just before the lesson's first code cell (the
  Colab bootstrap cell, see ``tools/colab_bootstrap.py``), slide type "skip" (not in the
  decks), tag ``open-in``, left out of the website (whose pages carry their own Binder and Colab
  links). Text links drawn as badges, no badge images: a notebook opened offline fetches
  nothing. The URLs come from ``[project.urls] Repository`` in pyproject.toml (the one place
  that names the repository; the README's badges and the bootstrap cell use the same).
- **Licence footer**: the last cell, Markdown, slide type "skip", tag ``licence-footer``.

``--write`` adds a missing cell or replaces an outdated one and changes nothing else (nbformat's
layout, so the diff is those cells; execution counts are untouched: nbval need not re-run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "website"))

from build_site import binder_url, colab_url  # noqa: E402

from course_lib.lessons import LESSONS, Lesson  # noqa: E402

TAG = "licence-footer"
FOOTER = """\
---

*CNNs from Scratch* · lesson text and figures © the CNNs from Scratch authors,
[CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/)
([LICENSE-CONTENT](../LICENSE-CONTENT)); code cells and `course_lib`: [MIT](../LICENSE).
MNIST digits: Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
[CC BY-SA 3.0](https://creativecommons.org/licenses/by-sa/3.0/).
To cite the course: [CITATION.cff](../CITATION.cff)."""

BADGE_TAG = "open-in"
#: HTML links (<kbd> draws a box around each, like a badge, and fetches nothing): a Markdown
#: link ending in ".ipynb" would read as a link within the repository (tests/test_notebooks.py).
BADGES = """\
**Run this lesson in your browser, nothing to install:**
<a href="{colab}"><kbd>▶ Open in Colab</kbd></a>
<a href="{binder}"><kbd>▶ Open in Binder</kbd></a>
(on Colab, the next cell installs `course_lib`; to run the course on your own computer, see
the [README](../README.md))."""


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _tagged(cell, tag: str) -> bool:
    return tag in cell["metadata"].get("tags", [])


# --- the licence footer -------------------------------------------------------------------

def footer_cell() -> dict:
    return {"cell_type": "markdown", "id": TAG,
            "metadata": {"slideshow": {"slide_type": "skip"}, "tags": [TAG]},
            "source": FOOTER.splitlines(keepends=True)}


def has_footer(nb: dict) -> bool:
    """True when the last cell is the current footer."""
    if not nb["cells"]:
        return False
    last = nb["cells"][-1]
    return (last["cell_type"] == "markdown" and _tagged(last, TAG) and _source(last) == FOOTER)


def with_footer(nb: dict) -> dict:
    """``nb`` ending with the current footer (an outdated footer cell is replaced)."""
    nb["cells"] = [c for c in nb["cells"] if not _tagged(c, TAG)]
    nb["cells"].append(footer_cell())
    return nb


# --- Open in Colab / Binder ---------------------------------------------------------------

def badges(lesson: Lesson) -> str:
    """The "open in" cell's Markdown for ``lesson``."""
    path = f"notebooks/{lesson.notebook.name}"
    return BADGES.format(colab=colab_url(path), binder=binder_url(path))


def badge_cell(lesson: Lesson) -> dict:
    return {"cell_type": "markdown", "id": BADGE_TAG,
            "metadata": {"slideshow": {"slide_type": "skip"}, "tags": [BADGE_TAG]},
            "source": badges(lesson).splitlines(keepends=True)}


def _first_code(cells: list[dict]) -> int:
    return next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))


def has_badges(nb: dict, lesson: Lesson) -> bool:
    """True when the cell just before the first code cell is the current "open in" cell, and
    the only one."""
    cells = nb["cells"]
    first = _first_code(cells)
    return (first > 0 and sum(_tagged(c, BADGE_TAG) for c in cells) == 1
            and cells[first - 1]["cell_type"] == "markdown"
            and _tagged(cells[first - 1], BADGE_TAG)
            and _source(cells[first - 1]) == badges(lesson))


def with_badges(nb: dict, lesson: Lesson) -> dict:
    """``nb`` with the current "open in" cell just before its first code cell (an outdated or
    misplaced one is replaced)."""
    nb["cells"] = [c for c in nb["cells"] if not _tagged(c, BADGE_TAG)]
    nb["cells"].insert(_first_code(nb["cells"]), badge_cell(lesson))
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="add or update the cells where needed")
    args = parser.parse_args(argv)
    missing = 0
    for lesson in LESSONS:
        nb = json.loads(lesson.notebook.read_text(encoding="utf-8"))
        lacks = [name for name, ok in (("open-in links", has_badges(nb, lesson)),
                                       ("licence footer", has_footer(nb))) if not ok]
        if not lacks:
            continue
        missing += 1
        if args.write:
            nb = with_footer(with_badges(nb, lesson))
            text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
            lesson.notebook.write_text(text + "\n", encoding="utf-8")
            print(f"{lesson.stem}: {' and '.join(lacks)} written")
        else:
            print(f"{lesson.stem}: no (current) {' and no '.join(lacks)}")
    return 1 if (missing and not args.write) else 0


if __name__ == "__main__":
    sys.exit(main())
