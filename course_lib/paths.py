"""Where the course's folders are: one place that every module asks.

``REPO_ROOT`` is the checkout that holds this package (``course_lib/`` sits at its top).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
SOLUTIONS_DIR = REPO_ROOT / "solutions"
EXERCISES_DIR = REPO_ROOT / "exercises"
DATA_DIR = REPO_ROOT / "data"
WEIGHTS_DIR = REPO_ROOT / "weights"

__all__ = ["REPO_ROOT", "NOTEBOOKS_DIR", "SOLUTIONS_DIR", "EXERCISES_DIR", "DATA_DIR",
           "WEIGHTS_DIR"]
