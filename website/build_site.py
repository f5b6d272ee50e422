"""Build the course website (``make site``): every lesson and exercise as a page, offline.

    python website/build_site.py [--out build/site] [--src build/site-src]

The pages are made by Sphinx with MyST-NB (the engine of Jupyter Book 1) and the
sphinx-book-theme, from the notebooks *as committed*: nothing is executed, the stored outputs
(figures, printed numbers, the PNG each widget leaves) are what the page shows.

Everything the site lists comes from the lesson registry (``course_lib.lessons.LESSONS``): the
home page (the course map: lessons in order with time, prerequisites, objectives, widgets and
exercise) and the table of contents are generated here, never kept by hand. The notebooks are
copied into ``--src`` (a staging folder with the repository's layout, so the links between
lessons and exercises keep working) and adapted there, never in place:

- speaker notes, hidden checks, the Colab bootstrap cell and the "open in" links are removed
  (``tools/licence_footer.py``), ``# NBVAL_...``
  marker lines are dropped;
- a line under each lesson's title links its exercise, its deck and PDF (when ``make slides``
  built them: they are copied to ``slides/``), and Binder / Colab;
- each exercise sits under its lesson in the navigation (prev / next: lesson, its exercise,
  next lesson).

Offline: MathJax comes from the ``nbclassic`` wheel (as for the decks), the theme's fonts and
scripts from its wheel, the search index is Sphinx's own; ``website/check_site.py`` opens every page
in Chromium with all non-local requests blocked and counts them.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import shutil
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.lessons import LESSONS, Lesson  # noqa: E402

WEBSITE = ROOT / "website"
DEFAULT_SRC = ROOT / "build" / "site-src"
DEFAULT_OUT = ROOT / "build" / "site"
SLIDES = ROOT / "build" / "slides"
#: Files copied next to the pages so that links to them resolve (as downloads).
ROOT_FILES = ("LICENSE", "LICENSE-CONTENT", "CITATION.cff")

#: (the "open in" cell: a page carries its own Binder and Colab links, under its title)
REMOVED_TAGS = {"speaker-notes", "hidden-check", "colab-bootstrap", "open-in"}
NBVAL_LINE = re.compile(r"^\s*# NBVAL_\w+.*\n?", re.M)
#: A relative link to a notebook, in Markdown that a cell *printed* (lesson 00's course map):
#: MyST-NB leaves those links as they are, so they point at the page (.html) instead.
OUTPUT_NOTEBOOK_LINK = re.compile(r"\]\(((?:\.\./)?(?:notebooks/|exercises/)?\d\d_\w+)\.ipynb\)")


def project() -> dict:
    """``[project]`` of pyproject.toml: name, version, the repository URL."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def repository() -> tuple[str, str]:
    """``("OWNER/REPO", "BRANCH")`` from pyproject's ``[project.urls] Repository``."""
    url = project()["urls"]["Repository"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url)
    if not match:
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/REPO, "
                         f"got {url!r}")
    return match.group(1), "main"


def binder_url(path: str) -> str:
    repo, branch = repository()
    return f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{path}"


def colab_url(path: str) -> str:
    repo, branch = repository()
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def jupyterlab_slug(title: str) -> str:
    """The anchor JupyterLab gives a heading (``The-output-size-formula,-by-counting-windows``),
    which the notebooks link to: the site's headings get the same (``website/conf.py``)."""
    return title.strip().replace(" ", "-")


# --- reading a lesson ---------------------------------------------------------------------

def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def lesson_facts(lesson: Lesson) -> dict:
    """What the course map shows of a lesson, read from the first markdown cells of its
    notebook: ``prerequisites`` (Markdown, may be "") and ``objectives`` (list of Markdown)."""
    cells = [_source(c) for c in _load(lesson.notebook)["cells"][:4]
             if c["cell_type"] == "markdown" and not _tags(c) & REMOVED_TAGS]
    text = "\n\n".join(cells)
    prereq = re.search(r"\*\*Prerequisites:\*\*\s*(.+?)(?:\n\s*\n|\Z)", text, re.S)
    objectives: list[str] = []
    learn = re.search(r"^##\s+What you will learn\s*\n(.*?)(?=^#|\Z)", text, re.S | re.M)
    if learn:
        for item in re.split(r"^\s*(?:\d+\.|[-*])\s+", learn.group(1), flags=re.M)[1:]:
            objectives.append(" ".join(item.split()))
    return {"prerequisites": " ".join(prereq.group(1).split()) if prereq else "",
            "objectives": objectives}


def _from_root(markdown: str) -> str:
    """Rewrite a lesson's relative links (``02_x.ipynb``, ``../exercises/...``) for a page at
    the site's root."""
    markdown = re.sub(r"\]\(\.\./", "](", markdown)
    return re.sub(r"\]\((\d\d_\w+\.ipynb)", r"](notebooks/\1", markdown)


def _slides(lesson: Lesson) -> tuple[bool, bool]:
    return ((SLIDES / f"{lesson.stem}.slides.html").is_file(),
            (SLIDES / f"{lesson.stem}.pdf").is_file())


def course_map() -> str:
    """The home page (MyST Markdown): the course map and the table of contents."""
    meta = project()
    lines = [
        f"# CNNs from Scratch {meta['version']}",
        "",
        "A course that builds every piece of a convolutional network in NumPy — convolution, "
        "padding and stride, pooling, softmax and cross-entropy, backpropagation layer by layer, "
        "training on the full MNIST data set, batch norm and dropout, and making it fast. "
        "These pages show each lesson with the outputs it had when it was last run; to run the "
        "code, change it and use the widgets, open a lesson in Binder or Colab (links under each "
        "title) or on your own machine (`make course`, see the README).",
        "",
        "## Course map",
        "",
    ]
    for lesson in LESSONS:
        facts = lesson_facts(lesson)
        lines += [f"### [{lesson.number:02d} — {lesson.title}](notebooks/{lesson.stem}.ipynb)",
                  ""]
        details = [f"**Time:** about {lesson.minutes} minutes"]
        if lesson.widgets:
            details.append("**Widgets:** " + ", ".join(f"`{w}`" for w in lesson.widgets))
        if lesson.checks:
            details.append(f"**Exercise:** [exercise {lesson.number:02d}]"
                           f"(exercises/{lesson.stem}.ipynb)")
        deck, pdf = _slides(lesson)
        if deck:
            details.append(f'**Slides:** <a href="slides/{lesson.stem}.slides.html">deck</a>'
                           + (f' · <a href="slides/{lesson.stem}.pdf">PDF</a>' if pdf else ""))
        lines += [" · ".join(details), ""]
        if lesson.about:
            lines += [lesson.about[0].upper() + lesson.about[1:] + ".", ""]
        if facts["prerequisites"]:
            lines += [f"**Prerequisites:** {_from_root(facts['prerequisites'])}", ""]
        if facts["objectives"]:
            lines += ["**You will learn to:**", ""]
            lines += [f"{i}. {_from_root(item)}" for i, item in
                      enumerate(facts["objectives"], 1)]
            lines.append("")
    lines += [
        "## Licences",
        "",
        "Code (`course_lib`, code cells, tests): MIT ({download}`LICENSE <LICENSE>`). Lesson "
        "text and figures: CC BY-SA 4.0 ({download}`LICENSE-CONTENT <LICENSE-CONTENT>`). "
        "MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0. To cite "
        "the course: {download}`CITATION.cff <CITATION.cff>`.",
        "",
        "```{toctree}",
        ":hidden:",
        ":caption: Lessons",
        "",
        *[f"notebooks/{lesson.stem}" for lesson in LESSONS],
        "```",
        "",
    ]
    return "\n".join(lines)


# --- adapting a notebook for the site --------------------------------------------------------

def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _markdown_cell(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def lesson_links(lesson: Lesson) -> str:
    """The line under a lesson's title: exercise, deck, PDF, Binder, Colab."""
    links = []
    if lesson.checks:
        links.append(f"[Exercise {lesson.number:02d}](../exercises/{lesson.stem}.ipynb)")
    deck, pdf = _slides(lesson)
    if deck:
        links.append(f'<a href="../slides/{lesson.stem}.slides.html">Slides</a>')
    if pdf:
        links.append(f'<a href="../slides/{lesson.stem}.pdf">PDF</a>')
    path = f"notebooks/{lesson.stem}.ipynb"
    links.append(f"Run it: [Binder]({binder_url(path)}) · [Colab]({colab_url(path)}) · "
                 f'<a href="../downloads/{path}" download>download the notebook</a>')
    return " · ".join(links)


def adapt(nb: dict, header: str | None = None, children: tuple[str, ...] = ()) -> dict:
    """A copy of ``nb`` for the site: instructor-only cells removed, ``header`` (Markdown)
    inserted after the title cell, ``children`` (docnames) as a hidden toctree at the end."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb["cells"]:
        if _tags(cell) & REMOVED_TAGS:
            continue
        if cell["cell_type"] == "code":
            cell["source"] = NBVAL_LINE.sub("", _source(cell))
            for output in cell.get("outputs", []):
                markdown = output.get("data", {}).get("text/markdown")
                if markdown is not None:
                    text = "".join(markdown) if isinstance(markdown, list) else markdown
                    output["data"]["text/markdown"] = OUTPUT_NOTEBOOK_LINK.sub(r"](\1.html)", text)
            if cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                cell["metadata"].setdefault("tags", []).append("hide-input")
        cells.append(cell)
    if header:
        cells.insert(1, _markdown_cell(header, "site-header"))
    if children:
        cells.append(_markdown_cell("```{toctree}\n:hidden:\n\n" + "\n".join(children)
                                    + "\n```", "site-toctree"))
    nb["cells"] = cells
    nb["metadata"].pop("widgets", None)
    return nb


def _write(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def mathjax_dir() -> Path:
    """MathJax 2.7 from the nbclassic wheel (the decks use the same copy)."""
    spec = importlib.util.find_spec("nbclassic")
    if spec is None or spec.origin is None:
        raise SystemExit("the website needs nbclassic (MathJax): run `make setup`")
    return Path(spec.origin).parent / "static" / "components" / "MathJax"


def stage(src: Path) -> None:
    """Fill ``src`` with the pages' sources (see the module docstring)."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    (src / "index.md").write_text(course_map(), encoding="utf-8")
    for lesson in LESSONS:
        children = (f"/exercises/{lesson.stem}",) if lesson.checks else ()
        _write(src / "notebooks" / lesson.notebook.name,
               adapt(_load(lesson.notebook), lesson_links(lesson), children))
        if lesson.checks:
            path = f"exercises/{lesson.stem}.ipynb"
            header = (f"The exercise of [lesson {lesson.number:02d}]"
                      f"(../notebooks/{lesson.stem}.ipynb). Run it: "
                      f"[Binder]({binder_url(path)}) · [Colab]({colab_url(path)}) · or "
                      f'<a href="../downloads/{path}" download>download it</a> and open it '
                      f"in JupyterLab next to `course_lib` (see the README).")
            _write(src / "exercises" / lesson.exercise.name, adapt(_load(lesson.exercise), header))
    for name in ROOT_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)


def build(src: Path = DEFAULT_SRC, out: Path = DEFAULT_OUT, jobs: str = "auto") -> Path:
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    stage(src)
    if out.exists():
        shutil.rmtree(out)
    status = build_main(["-q", "-b", "html", "-c", str(WEBSITE), "-j", jobs,
                         "-d", str(src / ".doctrees"), str(src), str(out)])
    if status:
        raise SystemExit(f"sphinx-build failed (exit {status})")
    shutil.copytree(mathjax_dir(), out / "_static" / "mathjax")
    for lesson in LESSONS:  # the notebooks as committed, for the download links
        for path in (lesson.notebook, lesson.exercise):
            if path is not None:
                target = out / "downloads" / path.parent.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    if SLIDES.is_dir() and any(SLIDES.glob("*.slides.html")):
        shutil.copytree(SLIDES, out / "slides")
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ as is
    print(f"website: {out / 'index.html'} ({time.perf_counter() - start:.1f} s)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="staging folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("-j", "--jobs", default="auto", help="sphinx-build -j")
    args = parser.parse_args(argv)
    build(args.src.resolve(), args.out.resolve(), args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
