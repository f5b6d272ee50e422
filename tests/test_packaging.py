"""What lets people adopt the course: licences, citation, changelog, the install files (pins,
lock, conda, Binder, Colab bootstrap), the website's configuration and the student release.

Fast (reads files; the release test copies about 15 MB into a temporary folder). Nothing here
reaches the network or builds the website (``make site`` / ``make site-check`` do).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.utils import canonicalize_name

import course_lib
from course_lib.lessons import LESSONS, with_exercises
from course_lib.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "website"))
sys.path.insert(0, str(REPO_ROOT / "tools"))

import build_site  # noqa: E402
import colab_bootstrap  # noqa: E402
import release_student  # noqa: E402

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
REPOSITORY = PYPROJECT["project"]["urls"]["Repository"]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a requirements file (no -r)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned as name==version"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _lock() -> dict[str, tuple[str, str | None, int]]:
    """``name -> (version, marker, number of hashes)`` of requirements-lock.txt."""
    entries: dict[str, tuple[str, str | None, int]] = {}
    current = None
    for line in (REPO_ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match and not line.startswith(" "):
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), match.group(3), 0)
        elif "--hash=sha256:" in line and current:
            version, marker, hashes = entries[current]
            entries[current] = (version, marker, hashes + 1)
    return entries


# --- licences, citation, changelog ------------------------------------------------------------

def test_licences_are_there_and_the_readme_states_them():
    code = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    content = (REPO_ROOT / "LICENSE-CONTENT").read_text(encoding="utf-8")
    assert code.startswith("MIT License") and "Permission is hereby granted" in code
    assert "Attribution-ShareAlike 4.0 International Public License" in content
    assert "Section 8 – Interpretation." in content, "LICENSE-CONTENT: the legal code is cut"
    assert "CC BY-SA 3.0" in content, "say why CC BY-SA 4.0 is compatible with MNIST's licence"
    assert PYPROJECT["project"]["license"] == "MIT"
    for name in ("LICENSE", "LICENSE-CONTENT", "CC BY-SA 4.0", "MIT", "CC BY-SA 3.0"):
        assert name in README, f"README: say {name!r} in the licence section"


def test_citation_cff_is_complete_and_versions_agree():
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "date-released", "license"):
        assert cff.get(key), f"CITATION.cff: no {key}"
    assert set(cff["license"]) == {"MIT", "CC-BY-SA-4.0"}
    assert cff["version"] == VERSION == course_lib.__version__
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d\d-\d\d)$",
                          (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert released, "CHANGELOG.md: no released version (## [X.Y.Z] - YYYY-MM-DD)"
    assert released[0] == (VERSION, str(cff["date-released"])), (
        "the newest CHANGELOG version and date must be pyproject's version and CITATION.cff's "
        "date-released")


# --- installs ---------------------------------------------------------------------------------

LEARNER_ONLY_NOT = {"pytest", "ruff", "playwright", "sphinx-revealjs", "pypdf", "pypdfium2",
                    "nbval", "hypothesis", "myst-nb", "sphinx-book-theme", "pre-commit"}


def test_learners_install_only_what_the_lessons_need():
    learners = _pins(REPO_ROOT / "requirements.txt")
    assert not LEARNER_ONLY_NOT & set(learners), "test/instructor tools in requirements.txt"
    for name in ("numpy", "scipy", "matplotlib", "ipywidgets", "jupyterlab", "threadpoolctl"):
        assert name in learners
    dev = (REPO_ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-r requirements.txt" in dev
    assert LEARNER_ONLY_NOT <= set(_pins(REPO_ROOT / "requirements-dev.txt"))


def test_the_lock_pins_every_requirement_with_hashes():
    lock = _lock()
    for path in ("requirements.txt", "requirements-dev.txt"):
        for name, version in _pins(REPO_ROOT / path).items():
            assert name in lock, f"{name} ({path}) is not in requirements-lock.txt: `make lock`"
            assert lock[name][0] == version, (
                f"{name}: {path} pins {version}, the lock {lock[name][0]}: run `make lock`")
    unhashed = [name for name, (_, _, hashes) in lock.items() if not hashes]
    assert not unhashed, f"requirements-lock.txt: no hashes for {unhashed}"
    assert "--require-hashes --no-deps -r requirements-lock.txt" in (
        REPO_ROOT / "Makefile").read_text()


def test_this_environment_is_the_lock():
    """What `make setup` installed is exactly the lock (for the packages this platform gets)."""
    wrong = []
    for name, (version, marker, _) in _lock().items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name} missing (lock: {version})")
            continue
        if installed.split("+")[0] != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert not wrong, "installed packages differ from requirements-lock.txt: " + "; ".join(wrong)


def test_conda_and_binder_install_the_same_requirements():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-r requirements.txt" in pip and "-e ." in pip
    assert "python=3.11" in deps and "pip" in deps
    binder = REPO_ROOT / "binder"
    assert "-r ../requirements.txt" in (binder / "requirements.txt").read_text()
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    post = binder / "postBuild"
    assert post.stat().st_mode & stat.S_IXUSR, "binder/postBuild must be executable"
    assert "pip install --no-cache-dir --no-deps -e ." in post.read_text()


def test_readme_badges_and_links_name_the_repository():
    repo = REPOSITORY.removeprefix("https://github.com/")
    assert f"https://mybinder.org/v2/gh/{repo}/" in README
    assert f"https://colab.research.google.com/github/{repo}/blob/" in README
    for url in re.findall(r"https://(?:mybinder\.org/v2/gh|colab\.research\.google\.com/github)"
                          r"/([^/]+/[^/]+)/", README):
        assert url == repo, f"README links {url}, pyproject names {repo}"
    assert REPOSITORY in colab_bootstrap.CELL


def test_bootstrap_cell_does_nothing_where_course_lib_is_installed(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the bootstrap cell ran {args}")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", refuse)
    path = list(sys.path)
    exec(compile(colab_bootstrap.CELL, "bootstrap", "exec"), {})
    assert sys.path == path and not any(tmp_path.iterdir())


def test_bootstrap_cell_clones_and_installs_where_course_lib_is_missing(monkeypatch, tmp_path):
    calls = []
    real_find_spec = importlib.util.find_spec

    def run(cmd, check):
        calls.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            Path(cmd[-1]).mkdir()
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "course_lib" else real_find_spec(name, *a))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(colab_bootstrap.CELL, "bootstrap", "exec"), {})
    course = str(tmp_path / "cnns-from-scratch")
    assert calls == [["git", "clone", "--depth", "1", REPOSITORY, course],
                     [sys.executable, "-m", "pip", "install", "--quiet", "-e", course]]
    assert sys.path[0] == course
    calls.clear()  # run again (the clone is there): no second clone
    exec(compile(colab_bootstrap.CELL, "bootstrap", "exec"), {})
    assert [cmd[:2] for cmd in calls] == [[sys.executable, "-m"]]


def test_pre_commit_hooks_are_local_and_pinned():
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    assert set(hooks) == {"ruff", "nb-hygiene", "exercises-in-sync"}
    ruff = _pins(REPO_ROOT / "requirements-dev.txt")["ruff"]
    assert hooks["ruff"]["additional_dependencies"] == [f"ruff=={ruff}"]
    assert "course_lib.assign --check" in hooks["exercises-in-sync"]["entry"]
    attributes = (REPO_ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert "*.ipynb diff=jupyternotebook merge=jupyternotebook" in attributes


def test_pre_commit_runs_clean_on_the_repository(tmp_path):
    """``pre-commit run --all-files`` passes on what git would commit, offline.

    Run on a copy (the tracked and new, non-ignored files of the working tree in a fresh git
    repository under ``tmp_path``), so that a hook that rewrites a file changes the copy, never
    the checkout. The hooks are the committed ones with the same entries and file patterns, but
    run with this environment's tools (``language: system``, the venv's ``bin`` first on PATH):
    their own ``language: python`` environments would be installed from PyPI, and this
    environment is the lock, which pins the same ruff (test_pre_commit_hooks_are_local_and_pinned).
    """
    bin_dir = Path(sys.executable).parent
    pre_commit = shutil.which("pre-commit", path=str(bin_dir)) or shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit is not installed: `make setup` (requirements-dev.txt pins it)")
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout
    repo = tmp_path / "repo"
    for name in filter(None, listed.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # (a tracked file deleted in the working tree is not copied)
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "home"),
           "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    for hook in (hook for entry in config["repos"] for hook in entry["hooks"]):
        hook["language"] = "system"
        hook.pop("additional_dependencies", None)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run = subprocess.run([pre_commit, "run", "--all-files", "--color", "never",
                          "--config", str(tmp_path / "config.yaml")],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"pre-commit run --all-files failed:\n{run.stdout}{run.stderr}"
    hooks = sum(len(entry["hooks"]) for entry in config["repos"])
    assert run.stdout.count("Passed") == hooks, f"a hook did not run:\n{run.stdout}"


# --- the website --------------------------------------------------------------------------------

def test_site_table_of_contents_is_the_registry():
    home = build_site.course_map()
    toctree = re.search(r"```\{toctree\}\n(.*?)```", home, re.S).group(1)
    entries = [line for line in toctree.splitlines() if line and not line.startswith(":")]
    assert entries == [f"notebooks/{lesson.stem}" for lesson in LESSONS]
    headings = re.findall(r"^### \[(\d\d) — ", home, re.M)
    assert headings == [f"{lesson.number:02d}" for lesson in LESSONS]
    for lesson in with_exercises():
        assert f"(exercises/{lesson.stem}.ipynb)" in home


def test_site_course_map_shows_objectives_and_prerequisites():
    for lesson in LESSONS[1:]:
        facts = build_site.lesson_facts(lesson)
        assert 3 <= len(facts["objectives"]) <= 6, (lesson.stem, facts["objectives"])
        assert not any("Open in" in item for item in facts["objectives"]), (
            f"{lesson.stem}: the \"open in\" links read as an objective")
        assert facts["prerequisites"], lesson.stem


def test_site_pages_drop_instructor_cells_and_keep_outputs():
    lesson = next(lesson for lesson in LESSONS if lesson.checks)
    original = json.loads(lesson.notebook.read_text(encoding="utf-8"))
    page = build_site.adapt(original, "header", (f"/exercises/{lesson.stem}",))
    tags = [set(c["metadata"].get("tags", [])) for c in page["cells"]]
    assert not any(t & {"speaker-notes", "hidden-check", "open-in"} for t in tags)
    assert page["cells"][1]["source"] == "header" and "toctree" in page["cells"][-1]["source"]
    assert not any("NBVAL_" in "".join(c["source"]) for c in page["cells"]
                   if c["cell_type"] == "code")
    outputs = sum(len(c.get("outputs", [])) for c in original["cells"])
    assert outputs and outputs == sum(len(c.get("outputs", [])) for c in page["cells"])
    assert json.loads(lesson.notebook.read_text(encoding="utf-8")) == original, "in place!"


def test_site_config_is_offline_and_never_executes():
    path = REPO_ROOT / "website" / "conf.py"
    conf: dict = {"__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), conf)
    assert conf["nb_execution_mode"] == "off"
    assert not conf["mathjax_path"].startswith(("http:", "https:", "//"))
    assert conf["nb_ipywidgets_js"] == {}
    assert conf["release"] == VERSION
    assert build_site.mathjax_dir().joinpath("MathJax.js").is_file()


# --- the student release --------------------------------------------------------------------------

def test_student_release_has_everything_but_the_solutions(tmp_path):
    files = {p.as_posix() for p in release_student.plan()}
    assert not any(f.startswith(("solutions/", "tests/", ".ci/", "website/")) for f in files)
    for lesson in LESSONS:
        assert f"notebooks/{lesson.stem}.ipynb" in files
        if lesson.checks:
            assert f"exercises/{lesson.stem}.ipynb" in files
            assert f"course_lib/checks/{lesson.slug}.py" in files
    assert {"LICENSE", "LICENSE-CONTENT", "CITATION.cff", "requirements.txt", "pyproject.toml",
            "data/mnist/SHA256SUMS", "course_lib/weights/lenet.npz"} <= files
    folder = release_student.build(tmp_path)
    with zipfile.ZipFile(f"{folder}.zip") as zf:
        names = zf.namelist()
    assert len(names) == len(files) + 1 and all(n.startswith(folder.name + "/") for n in names)
    assert not any("/solutions/" in n for n in names)
    assert (folder / "RELEASE.md").is_file() and not (folder / "solutions").exists()
    # the instructor's speaker notes stay out of the students' notebooks; the rest is kept
    for lesson in LESSONS:
        source = json.loads((REPO_ROOT / "notebooks" / f"{lesson.stem}.ipynb").read_text())
        given = json.loads((folder / "notebooks" / f"{lesson.stem}.ipynb").read_text())
        kept = [c for c in source["cells"] if "speaker-notes" not in c["metadata"].get("tags", [])]
        assert len(kept) < len(source["cells"]), f"{lesson.stem} has no speaker notes to drop"
        assert given["cells"] == kept, lesson.stem


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_tools_are_runnable_scripts():
    for script in ("tools/nb_hygiene.py", "tools/release_student.py", "website/build_site.py",
                   "website/check_site.py", "tools/licence_footer.py"):
        text = (REPO_ROOT / script).read_text(encoding="utf-8")
        assert 'if __name__ == "__main__":' in text, script
