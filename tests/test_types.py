"""The type checker over course_lib: the public API is annotated and mypy finds no error.

``mypy`` reads its settings from pyproject.toml ([tool.mypy]); it runs here, inside the
README's test command, so a clean clone checks types with the rest. Its cache lives in
``.mypy_cache`` (git-ignored): a second run takes a second or two.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error_in_course_lib():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout, result.stdout
