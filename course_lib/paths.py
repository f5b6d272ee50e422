"""Where the course's files are: the one place that resolves them.

``course_lib`` runs from a checkout of the course (``pip install -e .``, Binder, Colab, the
student release) or installed from a wheel into any environment. Each kind of file has one rule:

- **Weights** (``WEIGHTS_DIR``): the trained networks ship inside the package,
  ``course_lib/weights/``, so a checkout and an installed wheel read the same files.
- **Data** (``DATA_DIR``, ``user_data_dir()``): MNIST is not in the wheel. ``DATA_DIR`` is the
  ``data/`` folder beside the package (a checkout, the student release, the grader's sandbox),
  None elsewhere; ``user_data_dir()`` is ``$CNNS_DATA_DIR``, else ``$XDG_CACHE_HOME/
  cnns-from-scratch``, else ``~/.cache/cnns-from-scratch``. ``course_lib.data.load_mnist`` looks
  in ``DATA_DIR`` first, then in ``user_data_dir()``, and downloads what is missing there.
- **Lessons** (``NOTEBOOKS_DIR``, ``SOLUTIONS_DIR``, ``EXERCISES_DIR``): they exist only in a
  checkout. Elsewhere ``REPO_ROOT`` is None and asking for one of them raises
  ``NotInCheckoutError``, which says so (``Lesson.notebook`` when it is called; the instructor
  tools ``assign``, ``slides`` and ``grade``, whose defaults they are, when they need them).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PACKAGE_DIR", "WEIGHTS_DIR", "REPO_ROOT", "DATA_DIR", "DATA_ENV", "user_data_dir",
           "NotInCheckoutError", "checkout_dir", "NOTEBOOKS_DIR", "SOLUTIONS_DIR",
           "EXERCISES_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"

_BESIDE = PACKAGE_DIR.parent  # a checkout's root, or site-packages for an installed copy
# A checkout (a clone, the student release) has the course's pyproject.toml beside course_lib/.
REPO_ROOT: Path | None = _BESIDE if (_BESIDE / "pyproject.toml").is_file() else None
# The grader's sandbox is no checkout but has data/ beside course_lib/ too.
DATA_DIR: Path | None = _BESIDE / "data" if (_BESIDE / "data").is_dir() else None

DATA_ENV = "CNNS_DATA_DIR"  # names the data folder outside a checkout


def user_data_dir() -> Path:
    """The data folder outside a checkout, where downloads go (read at every call):
    ``$CNNS_DATA_DIR``, else ``$XDG_CACHE_HOME/cnns-from-scratch``, else
    ``~/.cache/cnns-from-scratch``. It holds one folder per dataset, like ``data/``."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "cnns-from-scratch"


class NotInCheckoutError(FileNotFoundError):
    """A folder that only a checkout of the course has (the lessons) was asked for."""


def checkout_dir(name: str) -> Path:
    """The checkout's folder ``name`` (``"notebooks"``, ``"solutions"``, ``"exercises"``).

    Raises NotInCheckoutError when ``course_lib`` is an installed copy, not a checkout's.
    """
    if REPO_ROOT is None:
        raise NotInCheckoutError(
            f"{name}/ exists only in a checkout of the course, and this course_lib is installed "
            f"at {PACKAGE_DIR}; clone the course and `pip install -e .` in it to use the "
            f"lessons (the library, its weights and load_mnist work without one)")
    return REPO_ROOT / name


_CHECKOUT_DIRS = {"NOTEBOOKS_DIR": "notebooks", "SOLUTIONS_DIR": "solutions",
                  "EXERCISES_DIR": "exercises"}
NOTEBOOKS_DIR: Path
SOLUTIONS_DIR: Path
EXERCISES_DIR: Path


def __getattr__(name: str) -> Path:
    """``NOTEBOOKS_DIR``, ``SOLUTIONS_DIR``, ``EXERCISES_DIR``: ``checkout_dir`` of each,
    computed when asked for (PEP 562), so an installed course_lib imports without them."""
    if name in _CHECKOUT_DIRS:
        return checkout_dir(_CHECKOUT_DIRS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
