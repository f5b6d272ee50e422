"""Committed notebooks carry no run noise (execution timestamps, widget state), every lesson
links Colab and Binder and ends with its licence footer, and every lesson and solution opens
with the Colab bootstrap cell. Fix each with one command:

    python tools/nb_hygiene.py                 # strip the noise (outputs kept)
    python tools/licence_footer.py --write     # the "open in" links and the footer
    python tools/colab_bootstrap.py --write && python -m course_lib.assign
"""

from __future__ import annotations

import json
import sys
import tomllib

import pytest

from course_lib.lessons import LESSONS
from course_lib.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))

import colab_bootstrap  # noqa: E402
import licence_footer  # noqa: E402
import nb_hygiene  # noqa: E402

REPOSITORY = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"]["urls"]["Repository"].removeprefix("https://github.com/")
NOTEBOOKS = [lesson.notebook for lesson in LESSONS] + [
    path for lesson in LESSONS if lesson.checks for path in (lesson.solution, lesson.exercise)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_committed_notebooks_carry_no_timestamps(path):
    found = nb_hygiene.noise(json.loads(path.read_text(encoding="utf-8")))
    assert not found, (f"{path.parent.name}/{path.name}: {len(found)} items of run noise "
                       f"({', '.join(found[:3])}): run `python tools/nb_hygiene.py`")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.stem)
def test_every_lesson_ends_with_the_licence_footer(lesson):
    nb = json.loads(lesson.notebook.read_text(encoding="utf-8"))
    assert licence_footer.has_footer(nb), (
        f"{lesson.stem}: no (current) licence footer: `python tools/licence_footer.py --write`")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.stem)
def test_every_lesson_links_colab_and_binder(lesson):
    """An "open in" cell before the first code cell: both links name this lesson's file and the
    repository pyproject.toml names, it stays off the slides, and it shows no image (a badge
    image would be fetched from the network whenever the notebook is opened)."""
    nb = json.loads(lesson.notebook.read_text(encoding="utf-8"))
    assert licence_footer.has_badges(nb, lesson), (
        f"{lesson.stem}: no (current) Colab / Binder links: `python tools/licence_footer.py "
        "--write`")
    cell = next(c for c in nb["cells"]
                if licence_footer.BADGE_TAG in c["metadata"].get("tags", []))
    text = "".join(cell["source"])
    name = lesson.notebook.name
    assert (f'href="https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/'
            f'{name}"') in text
    assert (f'href="https://mybinder.org/v2/gh/{REPOSITORY}/main?urlpath=lab/tree/notebooks/'
            f'{name}"') in text
    assert cell["metadata"]["slideshow"]["slide_type"] == "skip"
    assert "![" not in text and "<img" not in text.lower()


def test_open_in_cell_goes_before_the_first_code_cell_once():
    lesson = LESSONS[2]
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# 02"},
             {"cell_type": "markdown", "metadata": {"tags": ["speaker-notes"]}, "source": "n"},
             {"cell_type": "code", "metadata": {}, "source": "x", "outputs": [],
              "execution_count": 1}]
    nb = licence_footer.with_badges({"cells": json.loads(json.dumps(cells))}, lesson)
    assert licence_footer.has_badges(nb, lesson)
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "markdown", "markdown", "code"]
    assert nb["cells"][2]["metadata"]["tags"] == [licence_footer.BADGE_TAG]
    assert not licence_footer.has_badges(nb, LESSONS[3]), "links name another lesson's file"
    moved = json.loads(json.dumps(nb))
    moved["cells"].insert(0, moved["cells"].pop(2))
    assert not licence_footer.has_badges(moved, lesson)
    again = licence_footer.with_badges(moved, lesson)
    assert again["cells"] == nb["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_notebook_opens_with_the_colab_bootstrap(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert colab_bootstrap.has_bootstrap(nb), (
        f"{path.parent.name}/{path.name}: its first code cell is not the (current) Colab "
        "bootstrap: `python tools/colab_bootstrap.py --write && python -m course_lib.assign`")


def test_bootstrap_insertion_keeps_a_clean_run():
    def code(n, out=True):
        return {"cell_type": "code", "execution_count": n, "metadata": {}, "source": "x",
                "outputs": [{"output_type": "execute_result", "execution_count": n,
                             "data": {"text/plain": "1"}, "metadata": {}}] if out else []}

    title = {"cell_type": "markdown", "metadata": {}, "source": "# 01 — Title"}
    nb = colab_bootstrap.with_bootstrap({"cells": [title, code(1), code(2, out=False)]})
    assert colab_bootstrap.has_bootstrap(nb)
    assert [c["execution_count"] for c in nb["cells"][1:]] == [1, 2, 3]
    assert nb["cells"][2]["outputs"][0]["execution_count"] == 2
    again = colab_bootstrap.with_bootstrap(json.loads(json.dumps(nb)))
    assert [c.get("execution_count") for c in again["cells"]] == [None, 1, 2, 3]
    unrun = colab_bootstrap.with_bootstrap({"cells": [title, code(None, out=False)]})
    assert [c.get("execution_count") for c in unrun["cells"]] == [None, None, None]


def test_hygiene_strips_noise_and_keeps_outputs():
    cell = {"cell_type": "code", "execution_count": 3, "source": "1",
            "metadata": {"execution": {"iopub.status.busy": "2026-01-01T00:00:00Z"},
                         "ExecuteTime": {}, "tags": ["hidden-check"]},
            "outputs": [{"output_type": "execute_result", "data": {"text/plain": "1"},
                         "execution_count": 3, "metadata": {}}]}
    nb = {"cells": [cell], "metadata": {"widgets": {}, "kernelspec": {}}, "nbformat": 4,
          "nbformat_minor": 5}
    assert nb_hygiene.noise(nb) == ["metadata.widgets", "cell 0: execution", "cell 0: ExecuteTime"]
    clean = nb_hygiene.clean(nb)
    assert nb_hygiene.noise(clean) == []
    assert clean["cells"][0]["outputs"] and clean["cells"][0]["execution_count"] == 3
    assert clean["cells"][0]["metadata"] == {"tags": ["hidden-check"]}
    assert clean["metadata"] == {"kernelspec": {}}


def test_footer_is_added_once_and_replaced_when_outdated():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# 01 — Title"}]}
    once = licence_footer.with_footer(json.loads(json.dumps(nb)))
    assert licence_footer.has_footer(once) and len(once["cells"]) == 2
    old = json.loads(json.dumps(once))
    old["cells"][-1]["source"] = "outdated"
    assert not licence_footer.has_footer(old)
    again = licence_footer.with_footer(old)
    assert licence_footer.has_footer(again) and len(again["cells"]) == 2
