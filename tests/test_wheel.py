"""An installed course_lib works outside its checkout.

The wheel built from this checkout is installed into a fresh virtual environment in a temporary
folder; from there, with MNIST where ``CNNS_DATA_DIR`` points, it must import from that
environment, load its shipped weights, score them on MNIST, run the training command line, and
say clearly that the lessons need a checkout.

Offline, about 10 s: the wheel is built without build isolation (this environment's
setuptools), installed with ``--no-deps`` by this environment's pip, and the new environment
sees this one's packages (NumPy, tqdm, ...) through a ``.pth`` file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from course_lib import data
from course_lib.paths import DATA_DIR, REPO_ROOT

pytestmark = [
    pytest.mark.skipif(REPO_ROOT is None or DATA_DIR is None, reason="builds from a checkout"),
    pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                       reason="building the wheel offline needs setuptools installed"),
]

#: What the wheel is built from (pyproject.toml names the readme and the licence files).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "LICENSE-CONTENT", "course_lib")


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=120, check=False, **kwargs)
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv holding the wheel, environment to run it in, a work folder)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    source.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", root / "dist", source])
    (wheel,) = (root / "dist").glob("course_lib-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", root / "venv"])
    python = root / "venv" / "bin" / "python"
    run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel])
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site.stdout.strip(), "test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")

    mnist = root / "data" / "mnist"  # the checkout's files, seen through CNNS_DATA_DIR
    mnist.mkdir(parents=True)
    for name in data.FILES.values():
        (mnist / name).symlink_to(DATA_DIR / "mnist" / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_"))}
    env.update(CNNS_DATA_DIR=str(root / "data"), HOME=str(root / "home"),
               PYTHONNOUSERSITE="1", MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    work = root / "work"  # outside the repository, and empty: nothing to import from here
    work.mkdir()
    return python, env, work


def test_installed_course_lib_loads_weights_and_data_outside_the_checkout(installed):
    python, env, work = installed
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        import course_lib
        from course_lib import paths
        from course_lib.data import load_mnist, normalize
        from course_lib.lessons import LESSONS
        from course_lib.train import evaluate, load_model

        assert Path(course_lib.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
        assert paths.REPO_ROOT is None and paths.DATA_DIR is None, (paths.REPO_ROOT,
                                                                     paths.DATA_DIR)
        shipped = sorted(p.name for p in paths.WEIGHTS_DIR.glob("*.npz"))
        assert shipped == ["lenet.npz", "mlp.npz", "resnet.npz", "seed.npz"], shipped

        mnist = load_mnist(download=False)  # from $CNNS_DATA_DIR/mnist
        model = load_model(paths.WEIGHTS_DIR / "lenet.npz")
        loss, acc = evaluate(model, normalize(mnist.x_test[:500]), mnist.y_test[:500])
        assert acc > 0.97, acc
        from course_lib.widgets import DigitCanvas   # its view, a .js file, is package data
        assert "pointerdown" in str(DigitCanvas()._esm)

        os.environ["CNNS_DATA_DIR"] = {str(work / "empty")!r}
        try:
            load_mnist(download=False)
        except FileNotFoundError as error:
            print("missing:", error)
        # the tools that work on a checkout import anywhere and say so only when used
        import course_lib.assign, course_lib.grade, course_lib.slides  # noqa: F401
        for ask in (lambda: paths.NOTEBOOKS_DIR, lambda: LESSONS[2].exercise):
            try:
                ask()
            except paths.NotInCheckoutError as error:
                print("lessons:", error)
        """)
    out = run([python, "-c", script], cwd=work, env=env).stdout
    empty = work / "empty" / "mnist"
    assert f"is not in {empty}, and download=False: copy it into {empty}" in out
    assert "CNNS_DATA_DIR" in out
    assert out.count("exists only in a checkout of the course") == 2, out
    assert "lessons: notebooks/" in out and "lessons: exercises/" in out


def test_installed_training_command_line_runs(installed):
    python, env, work = installed
    help_text = run([python, "-m", "course_lib.train", "--help"], cwd=work, env=env).stdout
    assert help_text.startswith("usage: python -m course_lib.train") and "--save" in help_text
    out = run([python, "-m", "course_lib.train", "--model", "seed", "--epochs", "1", "--limit",
               "300", "--val-size", "100", "--no-progress", "--save", "seed.npz"],
              cwd=work, env=env).stdout
    assert "200 training / 100 validation images" in out and "final validation accuracy" in out
    assert (work / "seed.npz").is_file()
