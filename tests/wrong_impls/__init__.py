"""A gallery of deliberately wrong implementations of the graded functions (and a few right
ones written differently), for tests/test_checks.py.

Each lesson module registers its functions with ``@wrong(name, keyword)``: the check for
``name`` must reject the function, and ``keyword`` must appear (case-insensitively) in its
messages, so the hint names the mistake. ``@right(name)`` marks a correct implementation in
another style (loops, vectorised, einsum, ...) that the check must accept.
"""

from . import l01, l02, l03, l04, l05, l06, l07  # noqa: F401  (registers the gallery)
from ._gallery import RIGHT, WRONG

__all__ = ["RIGHT", "WRONG"]
