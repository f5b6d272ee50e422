"""A second thread for the memory-bound parts of a training step.

BLAS runs the matrix products on every core it is allowed, but the rest of a step (im2col
copies, col2im sums, pooling, ReLU) are NumPy loops on one core. NumPy releases the GIL
inside its loops over large arrays, so two Python threads, each working on a part of the
batch (or of the channels), keep two cores busy. Each part writes only its own slice of
the result, computed as one thread would: the numbers are bit-for-bit the same.

``split(fn, n)`` calls ``fn(start, stop)`` on a few consecutive parts of [0, n), shared by
this thread and a second one (or ``fn(0, n)`` alone when ``get_num_threads()`` is 1 or the
work is small). During a split, NumPy's BLAS runs each product on the thread that calls it
(one thread per core), and ``slot()`` tells a part which thread it runs on, for scratch
memory of its own.

Off by default (one thread; ``COURSE_LIB_THREADS=2`` or ``set_num_threads(2)`` turns it on,
``with threads(2):`` for a block of code). Measured on the course's 2-core VM (2026-12-06,
``benchmarks/README.md``), a LeNet training step was 10-20% *slower* with the second thread,
whether BLAS ran on one thread or two: the parts' many short NumPy calls hand the GIL back
and forth (about 100 hand-offs a step). A single large ReLU alone gained about 20%.

Training is where two cores pay: with two threads set, ``train.fit`` trains a model whose
examples do not interact data-parallel, half of each batch in a second *process*
(``course_lib.data_parallel``), which shares no GIL; LeNet's epoch then takes about 0.6 of
its one-core time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from .validate import check_int

__all__ = ["split", "splits", "slot", "get_num_threads", "set_num_threads", "threads",
           "MIN_SPLIT_ELEMENTS", "MAX_THREADS", "PARTS"]

MIN_SPLIT_ELEMENTS = 1 << 16  # smaller work runs on one thread: a hand-off costs ~20 us
MAX_THREADS = 2
PARTS = 4                     # parts per split, taken by whichever thread is free


def _default_threads() -> int:
    value = os.environ.get("COURSE_LIB_THREADS", "")
    return min(int(value), MAX_THREADS) if value.isdigit() and int(value) >= 1 else 1


_state = {"threads": _default_threads()}
_executor: ThreadPoolExecutor | None = None
_inside = threading.local()   # a part that splits again runs whole (no nested jobs)


def get_num_threads() -> int:
    """Threads ``split`` uses (1 or 2)."""
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads (>= 1; more than 2 means 2)."""
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


def slot() -> int:
    """Which thread runs this part of a ``split``: 0 (the caller's) or 1 (the second), below
    ``MAX_THREADS``. A thread runs its parts one after the other, so scratch memory indexed by
    ``slot()`` is never used by two parts at once."""
    return getattr(_inside, "slot", 0)


def splits(n: int, elements: int | None = None) -> bool:
    """Would ``split(fn, n, elements)`` use two threads? Yes unless one thread is set,
    n < 2, ``elements`` (the size of the work, default n) is below ``MIN_SPLIT_ELEMENTS``,
    or this is already a part of a split."""
    return (get_num_threads() >= 2 and n >= 2 and not getattr(_inside, "flag", False)
            and (n if elements is None else elements) >= MIN_SPLIT_ELEMENTS)


def split(fn: Callable[[int, int], object], n: int, elements: int | None = None) -> None:
    """Call ``fn(start, stop)`` on consecutive parts that cover [0, n) once, on this thread
    and a second one when ``splits(n, elements)`` (else ``fn(0, n)``).

    The parts (``PARTS`` of them) go to whichever thread is free: on a busy machine, where
    the second thread may not get a core for a while, this one does them all rather than
    wait. They must write disjoint memory. The first exception raised in a part propagates
    once every started part has finished.
    """
    global _executor
    if not splits(n, elements):
        fn(0, n)
        return
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course_lib")
    parts = min(PARTS, n)
    job = _Job(fn, [n * i // parts for i in range(parts + 1)])
    with _blas_on_one_thread():     # one thread per core: a part's products stay on its own
        _executor.submit(job.work, 1)
        job.work(0)
        job.finished.wait()
    if job.error is not None:
        raise job.error


@functools.cache
def _blas():
    """threadpoolctl's controller of the loaded BLAS (found once, at the first split)."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def _blas_on_one_thread():
    """A context in which NumPy's BLAS runs each product on the calling thread alone."""
    return _blas().limit(limits=1)


class _Job:
    """The parts of one ``split``, taken in order by the threads that call ``work``."""

    def __init__(self, fn: Callable[[int, int], object], bounds: list[int]) -> None:
        self.fn, self.bounds = fn, bounds
        self.lock = threading.Lock()
        self.next = 0
        self.left = len(bounds) - 1
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def work(self, slot: int) -> None:
        _inside.flag, _inside.slot = True, slot
        try:
            while True:
                with self.lock:
                    i = self.next
                    if i >= len(self.bounds) - 1:
                        return
                    self.next += 1
                try:
                    self.fn(self.bounds[i], self.bounds[i + 1])
                except BaseException as exc:  # noqa: BLE001 - re-raised by split
                    with self.lock:
                        self.error = self.error or exc
                finally:
                    with self.lock:
                        self.left -= 1
                        if self.left == 0:
                            self.finished.set()
        finally:
            _inside.flag, _inside.slot = False, 0
