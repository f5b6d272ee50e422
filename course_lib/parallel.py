"""A second thread for the memory-bound parts of a training step.

BLAS runs the matrix products on every core it is allowed, but the rest of a step (im2col
copies, col2im sums, pooling, ReLU) are NumPy loops on one core. NumPy releases the GIL
inside its loops over large arrays, so two Python threads, each working on one half of the
batch (or of the channels), keep two cores busy. Each half writes only its own part of
the result, in the same order as one thread would: the numbers are bit-for-bit the same.

``split(fn, n)`` calls ``fn(start, stop)`` on [0, n/2) and [n/2, n) at once (or on [0, n)
alone when ``get_num_threads()`` is 1 or the work is small). The thread count follows
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` (else the CPU count), at most 2; change it
with ``set_num_threads`` or, for a block of code, ``with threads(n):``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from .validate import check_int

__all__ = ["split", "splits", "get_num_threads", "set_num_threads", "threads",
           "MIN_SPLIT_ELEMENTS"]

MIN_SPLIT_ELEMENTS = 1 << 16  # smaller work runs on one thread: a hand-off costs ~20 us
MAX_THREADS = 2               # halves only


def _default_threads() -> int:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) >= 1:
            return min(int(value), MAX_THREADS)
    return min(os.cpu_count() or 1, MAX_THREADS)


_state = {"threads": _default_threads()}
_executor: ThreadPoolExecutor | None = None
_inside = threading.local()   # a half that splits again runs its parts itself (no deadlock)


def get_num_threads() -> int:
    """Threads ``split`` uses (1 or 2)."""
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads (>= 1; more than 2 means 2). Match BLAS's thread count."""
    _state["threads"] = min(check_int(n, "n", 1), MAX_THREADS)


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """``with threads(n): ...`` runs the block with ``n`` threads, then restores the count."""
    saved = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        _state["threads"] = saved


def splits(n: int, elements: int | None = None) -> bool:
    """Would ``split(fn, n, elements)`` use two threads? Yes unless one thread is set,
    n < 2, ``elements`` (the size of the work, default n) is below ``MIN_SPLIT_ELEMENTS``,
    or this is already one half of a split."""
    return (get_num_threads() >= 2 and n >= 2 and not getattr(_inside, "flag", False)
            and (n if elements is None else elements) >= MIN_SPLIT_ELEMENTS)


def split(fn: Callable[[int, int], object], n: int, elements: int | None = None) -> None:
    """Call ``fn(start, stop)`` so that the calls cover [0, n) once: ``fn(0, n // 2)`` here
    and ``fn(n // 2, n)`` on the second thread when ``splits(n, elements)``, else
    ``fn(0, n)``. The halves must write disjoint memory. An exception from either half
    propagates once both have finished."""
    global _executor
    if not splits(n, elements):
        fn(0, n)
        return
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course_lib")
    half = n // 2
    other = _executor.submit(_as_half, fn, half, n)
    try:
        _as_half(fn, 0, half)
    finally:
        other.result()


def _as_half(fn, start, stop):
    _inside.flag = True
    try:
        fn(start, stop)
    finally:
        _inside.flag = False
