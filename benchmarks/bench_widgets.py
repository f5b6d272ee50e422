"""Milliseconds of CPU per control change of each course_lib.widgets explorer (not a test).

A control change is what one move of a control costs in a notebook: recompute the state
(course_lib.functional, explain), move the artists, draw (blitted) and encode the PNG. Run:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_widgets.py [--rounds 3]
        [--repeats 30] [--only NAME ...]

Every explorer (``course_lib.widgets.explorer_classes()``) is built by its ``demo()`` (the
lesson's size), once per control that has values to go through (sliders and selections).

- First visits: a fresh explorer (and the text caches of ``widgets.rendering`` emptied, as in
  a new kernel) goes once through every value of the control but its starting one (drawn
  when it was built): each is a state shown for the first time, with no static pixels or
  occlusion kept from an earlier visit. This is done ``--rounds`` times; each value's time is
  its median over the rounds (a single slow sample on a busy machine is noise, a value that
  is slow in every round is not), and the table gives the median, 90th percentile and
  maximum over the values.
- Repeats: then ``--repeats`` more changes cycle through the values again (states seen
  before); median and 90th percentile.

Python's garbage is collected after each explorer is built (what earlier explorers left is
not this one's cost; collections its own changes cause are). Times are CPU times of this
process (``time.process_time``: what the wall time would be on an idle machine; on a loaded
one the wall time is noisy); the wall-time median of the repeats is printed too. Also
printed: the time to build the explorer (first draw, with the constrained layout) and the
size of its PNG. Target (issue 15): every change within 40 ms of CPU. Set
OPENBLAS_NUM_THREADS=1 on a busy machine.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from course_lib.widgets import Explorer, explorer_classes
from course_lib.widgets.rendering import clear_caches

TARGET_MS = 40.0


def cases(only: list[str] | None) -> Iterator[tuple[str, Callable[[], Explorer], str, list[Any]]]:
    """(name, constructor, control name, values in order starting after the demo's value)
    for every control of every explorer that has at least two values to go through."""
    for cls in explorer_classes():
        if only and not any(name.lower() in cls.__name__.lower() for name in only):
            continue
        probe = cls.demo()
        for control in probe.controls:
            try:
                values = [value for _, value in probe.control_values(control)]
            except TypeError:  # number boxes, buttons, a stepper's Play
                continue
            start = probe.controls[control].value
            if len(values) > 1 and start in values:
                k = values.index(start)
                yield f"{cls.__name__} ({control})", cls.demo, control, values[k + 1:] + values[:k]
        probe.close()


def change(ex: Explorer, control: str, value: Any) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one control change."""
    t, c = time.perf_counter(), time.process_time()
    ex.controls[control].value = value
    return time.process_time() - c, time.perf_counter() - t


def first_visits(make: Callable[[], Explorer], control: str, values: list[Any]
                 ) -> tuple[float, list[float], int]:
    """(build seconds, CPU seconds of each value's first visit, PNG bytes) of a fresh explorer."""
    clear_caches()
    t = time.perf_counter()
    ex = make()
    build = time.perf_counter() - t
    gc.collect()  # the garbage of the explorers built before is not this one's cost
    cpu = [change(ex, control, v)[0] for v in values]
    size = len(ex.png)
    ex.close()
    return build, cpu, size


def repeats(make: Callable[[], Explorer], control: str, values: list[Any], n: int
            ) -> tuple[list[float], list[float]]:
    """CPU and wall seconds of ``n`` changes that cycle through values seen before."""
    ex = make()
    gc.collect()
    start = ex.controls[control].value
    for v in values:  # every state visited once (the starting one was drawn at build)
        ex.controls[control].value = v
    cycle = [start, *values]
    cpu, wall = zip(*(change(ex, control, cycle[k % len(cycle)]) for k in range(n)),
                    strict=True)
    ex.close()
    return list(cpu), list(wall)


def pct(samples: list[float], q: float) -> float:
    """The q-quantile of samples in milliseconds: the median, else the nearest rank above
    (the p90 of 5 values is the largest)."""
    if q == 0.5:
        return statistics.median(samples) * 1e3
    return sorted(samples)[max(0, math.ceil(q * len(samples)) - 1)] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="fresh explorers per control for the first visits (default 3)")
    parser.add_argument("--repeats", type=int, default=30,
                        help="changes among states seen before (default 30)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="explorers whose class name contains one of these")
    args = parser.parse_args()
    if args.rounds < 1 or args.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"rounds: {args.rounds}, repeats: {args.repeats}")
    print(f"{'':40s} {'':>7s} {'first visits, CPU ms':^23s} {'repeats, ms':^26s}")
    print(f"{'explorer (control)':40s} {'build':>7s} {'median':>7s} {'p90':>7s} {'max':>7s} "
          f"{'CPU med':>8s} {'CPU p90':>8s} {'wall med':>8s} {'PNG KB':>7s}")
    worst: list[tuple[float, str]] = []
    for name, make, control, values in cases(args.only):
        rounds = [first_visits(make, control, values) for _ in range(args.rounds)]
        build = statistics.median(r[0] for r in rounds)
        first = [statistics.median(r[1][k] for r in rounds) for k in range(len(values))]
        cpu, wall = repeats(make, control, values, args.repeats)
        row = (pct(first, 0.5), pct(first, 0.9), pct(first, 1.0), pct(cpu, 0.5), pct(cpu, 0.9))
        worst.append((max(row[2], row[3]), name))
        print(f"{name:40s} {build * 1e3:5.0f}ms {row[0]:7.1f} {row[1]:7.1f} {row[2]:7.1f} "
              f"{row[3]:8.1f} {row[4]:8.1f} {pct(wall, 0.5):8.1f} {rounds[-1][2] / 1024:7.0f}")
    over = sorted((w for w in worst if w[0] > TARGET_MS), reverse=True)
    print(f"over {TARGET_MS:.0f} ms (first-visit max or repeat median): "
          + (", ".join(f"{n} {ms:.1f}" for ms, n in over) if over else "none"))


if __name__ == "__main__":
    main()
