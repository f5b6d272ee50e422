"""Structural lint of the lesson notebooks in notebooks/ (fast: reads the JSON, runs nothing).

nbval (``pytest --nbval notebooks/``) re-executes the lessons and compares their outputs; this
module checks what nbval cannot: the shape of every lesson (the student's path, slide metadata,
links to the exercises), figure conventions, and that committed outputs are a clean top-to-bottom
run without stored widget state.
"""

from __future__ import annotations

import json
import re

import pytest

from course_lib.lessons import LESSONS as REGISTRY
from course_lib.lessons import get_lesson
from course_lib.paths import NOTEBOOKS_DIR as NOTEBOOKS

LESSONS = [lesson.stem for lesson in REGISTRY]
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
CMAPS = {"gray", "viridis", "cividis", "RdBu_r"}
MAX_IGNORED_CELLS = 2


def _load(stem):
    return json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _markdown(nb) -> str:
    return "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(scope="module", params=LESSONS)
def lesson(request):
    return request.param, _load(request.param)


def test_every_lesson_exists():
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == LESSONS, "notebooks/ and course_lib.lessons.LESSONS disagree"


def test_every_cell_has_slide_metadata(lesson):
    stem, nb = lesson
    for i, cell in enumerate(nb["cells"]):
        kind = cell["metadata"].get("slideshow", {}).get("slide_type")
        assert kind in SLIDE_TYPES, f"{stem} cell {i}: slide_type {kind!r}"


def test_deck_shape(lesson):
    """Title slide first, several slides, setup code skipped, no slide made of code only."""
    stem, nb = lesson
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    assert first["metadata"]["slideshow"]["slide_type"] == "slide"
    heading = _source(first).splitlines()[0]
    lesson = get_lesson(stem)
    if lesson.number:
        assert heading == lesson.heading, f"{stem}: first line {heading!r}, registry says " \
            f"{lesson.heading!r}"
    kinds = [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]]
    assert kinds.count("slide") >= 5, f"{stem}: only {kinds.count('slide')} slides"
    setup = _code(nb)[0]
    if "import" in _source(setup) and stem != "00_start_here":
        assert setup["metadata"]["slideshow"]["slide_type"] == "skip", f"{stem}: setup cell shown"
    for i, cell in enumerate(nb["cells"]):
        if cell["metadata"]["slideshow"]["slide_type"] == "slide":
            assert cell["cell_type"] == "markdown", f"{stem} cell {i}: a slide opens with code"


def test_code_cells_are_short(lesson):
    stem, nb = lesson
    for i, cell in enumerate(_code(nb)):
        lines = _source(cell).count("\n") + 1
        assert lines <= 32, f"{stem} code cell {i} has {lines} lines: split it"


def test_students_path(lesson):
    """Idea in one sentence, a question to predict before the reveal, a summary, the exercise."""
    stem, nb = lesson
    if stem == "00_start_here":
        return
    text = _markdown(nb)
    assert "**Idea in one sentence:**" in text
    assert "Predict" in text and "<details><summary>Reveal</summary>" in text
    assert "## Summary" in text
    assert any("import course_lib" in _source(c) or "from course_lib" in _source(c)
               for c in _code(nb)), f"{stem} does not import course_lib"
    if get_lesson(stem).checks:
        assert f"(../exercises/{stem}.ipynb)" in text, f"{stem}: no link to its exercises"


def test_a_learner_alone_is_scaffolded(lesson):
    """Objectives, prerequisites and the registry's time estimate open the lesson; at least three
    predict-then-reveal or self-check questions; a summary; further reading with links."""
    stem, nb = lesson
    entry = get_lesson(stem)
    if not entry.number:
        return
    student_cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"
                     and c["metadata"]["slideshow"]["slide_type"] != "notes"]
    opening = "\n".join(_source(c) for c in student_cells[:3])
    assert f"**Time:** about {entry.minutes} minutes" in opening, (
        f"{stem}: the opening must say '**Time:** about {entry.minutes} minutes' (the registry)")
    assert "**Prerequisites:**" in opening, f"{stem}: no prerequisites at the top"
    assert "## What you will learn" in opening, f"{stem}: no learning objectives at the top"
    text = _markdown(nb)
    reveals = text.count("<details><summary>Reveal</summary>")
    assert reveals >= 3, f"{stem}: {reveals} predict/self-check questions with a Reveal, want >= 3"
    reading = text.split("## Further reading", 1)
    assert len(reading) == 2, f"{stem}: no '## Further reading' section"
    links = re.findall(r"\]\((https?://[^)\s]+)\)", reading[1])
    assert len(links) >= 3, f"{stem}: further reading has {len(links)} links, want >= 3"


def test_speaker_notes_stay_out_of_a_students_way(lesson):
    """Notes cells show in the deck's speaker view only: collapsed in JupyterLab, tagged
    ``speaker-notes`` (left out of the Voila app and the website)."""
    stem, nb = lesson
    for i, cell in enumerate(nb["cells"]):
        notes = cell["metadata"]["slideshow"]["slide_type"] == "notes"
        tagged = "speaker-notes" in cell["metadata"].get("tags", [])
        assert notes == tagged, f"{stem} cell {i}: slide_type notes <=> tag speaker-notes"
        if notes:
            assert cell["cell_type"] == "markdown", f"{stem} cell {i}"
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), (
                f"{stem} cell {i}: speaker notes not collapsed for students")


HIDDEN_CHECK = "hidden-check"


def test_hidden_checks_are_hidden_and_silent(lesson):
    """A cell tagged ``hidden-check`` asserts that an output still supports the sentence beside it
    (nbval fails when it stops): source collapsed, not on a slide, and it prints nothing."""
    stem, nb = lesson
    for i, cell in enumerate(nb["cells"]):
        if HIDDEN_CHECK not in cell["metadata"].get("tags", []):
            continue
        assert cell["cell_type"] == "code" and "assert " in _source(cell), f"{stem} cell {i}"
        assert cell["metadata"]["slideshow"]["slide_type"] == "skip", f"{stem} cell {i}: shown"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden"), f"{stem} cell {i}"
        assert cell["outputs"] == [], f"{stem} cell {i}: a hidden check prints nothing"


def test_relative_links_resolve(lesson):
    """Links to lessons and exercises resolve inside the repository, which is the server's root
    whenever the course is opened as the README says (`make course` starts JupyterLab there)."""
    stem, nb = lesson
    root = NOTEBOOKS.parent.resolve()
    for target in re.findall(r"\]\(([^)#\s]+\.ipynb)\)", _markdown(nb)):
        path = (NOTEBOOKS / target).resolve()
        assert path.is_file(), f"{stem} links to missing {target}"
        assert path.is_relative_to(root), f"{stem} links outside the repository: {target}"


def test_figures_follow_the_conventions(lesson):
    """Known colour maps only; diverging maps get symmetric limits; plots get titles."""
    stem, nb = lesson
    for i, cell in enumerate(_code(nb)):
        src = _source(cell)
        for cmap in re.findall(r"cmap=\"([^\"]+)\"", src):
            assert cmap in CMAPS, f"{stem} code cell {i}: cmap {cmap!r}"
        if 'cmap="RdBu_r"' in src:  # symmetric limits, and a colorbar or the values written
            assert "vmin=-" in src, f"{stem} code cell {i}: RdBu_r without symmetric limits"
            assert "colorbar" in src or "ax.text(" in src, f"{stem} code cell {i}: no scale"
        if "plt.subplots(" in src:
            assert "title" in src, f"{stem} code cell {i}: a plot without a title"
            assert any(k in src for k in ("label", "set_xticks([])", 'axis("off")')), (
                f"{stem} code cell {i}: no labels")


def test_no_helper_shared_between_lessons():
    """A function a lesson defines is used by that lesson only (shared helpers go in course_lib)."""
    defined = {}
    sources = {stem: "\n".join(_source(c) for c in _code(_load(stem))) for stem in LESSONS}
    for stem, src in sources.items():
        for name in re.findall(r"^\s*def (\w+)\(", src, flags=re.M):
            assert name not in defined, f"{name} defined in {defined.get(name)} and {stem}"
            defined[name] = stem
    for stem, src in sources.items():
        for name, owner in defined.items():
            if owner != stem:
                assert not re.search(rf"\b{name}\(", src), f"{stem} uses {owner}'s {name}()"


def test_outputs_are_a_clean_run(lesson):
    """Committed outputs come from one top-to-bottom run, without errors or widget state."""
    stem, nb = lesson
    counts = [c["execution_count"] for c in _code(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"{stem}: run it top to bottom"
    for cell in _code(nb):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{stem}: {out.get('ename')}"
            if out["output_type"] == "stream":
                assert out["name"] == "stdout", f"{stem}: stderr output {out['text'][:80]!r}"
    assert "widgets" not in nb["metadata"], (
        f"{stem}: stored widget state hides the explorers' PNG fallback in nbconvert HTML; "
        "execute with --ExecutePreprocessor.store_widget_state=False")


def test_every_widget_leaves_a_picture(lesson):
    """Each displayed explorer keeps a static PNG next to its live view (GitHub, HTML, slides),
    and the lesson shows the explorers the registry lists for it."""
    stem, nb = lesson
    explorers, names = 0, []
    for cell in _code(nb):
        for out in cell["outputs"]:
            data = out.get("data", {})
            text = data.get("text/plain", "")
            name = re.match(r"(\w+)\(", "".join(text) if isinstance(text, list) else text)
            if name and name.group(1).endswith(("Explorer", "Stepper", "Editor")):
                explorers += 1
                names.append(name.group(1))
                assert "image/png" in data, f"{stem}: {name.group(1)} without its PNG fallback"
    shown = sum(len(re.findall(r"^\w+ = \w+(Explorer|Stepper|Editor)\(", _source(c), flags=re.M))
                for c in _code(nb))
    assert explorers == shown, f"{stem}: {shown} explorers created, {explorers} displayed"
    assert tuple(dict.fromkeys(names)) == get_lesson(stem).widgets, (
        f"{stem} displays {names}; course_lib.lessons lists {get_lesson(stem).widgets}")


def test_few_cells_ignored_by_nbval(lesson):
    stem, nb = lesson
    ignored = [c for c in _code(nb) if re.search(r"^\s*# NBVAL_IGNORE_OUTPUT\s*$", _source(c),
                                                  flags=re.M)]
    assert len(ignored) <= MAX_IGNORED_CELLS, f"{stem}: {len(ignored)} cells ignored by nbval"
    for cell in _code(nb):
        assert "NBVAL_SKIP" not in _source(cell), f"{stem}: a cell skipped by nbval"


def test_every_slide_has_speaker_notes(lesson):
    """Each top-level slide group (a cell with slide_type "slide" and every cell after it up to
    the next "slide") holds at least one notes cell for the instructor's speaker view."""
    stem, nb = lesson
    groups = []
    for i, cell in enumerate(nb["cells"]):
        kind = cell["metadata"]["slideshow"]["slide_type"]
        if kind == "slide":
            title = (_source(cell).splitlines() or [""])[0]
            groups.append([i, title, 0])
        elif kind == "notes" and groups:
            groups[-1][2] += 1
    bare = [f"cell {i} {title[:50]!r}" for i, title, notes in groups if not notes]
    assert not bare, f"{stem}: slides without speaker notes: {'; '.join(bare)}"
