"""Milliseconds per redraw of each course_lib.widgets explorer (not a test).

A redraw is what one control change costs in a notebook: recompute the state with
course_lib.functional, move the artists, draw (blitted) and encode the PNG. Run:

    .venv/bin/python benchmarks/bench_widgets.py [--repeats 30]

Every explorer (``course_lib.widgets.explorer_classes()``) is built by its ``demo()`` (the
lesson's size), once per control that has values to go through (sliders and selections),
and that control is cycled through its values. Prints, per explorer and control: the time
to build it (first draw, with the constrained layout), the median and 90th percentile of a
control change, its median CPU time (what the wall time would be on an idle machine: on a
loaded one the wall time is noisy), the median CPU time of the first pass through the values
(each value shown for the first time: no static pixels kept from an earlier visit, see
``widgets.rendering``), and the median of a full (non-blitted) draw. Set
OPENBLAS_NUM_THREADS=1 on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from course_lib.widgets import Explorer, explorer_classes


def cases() -> Iterator[tuple[str, Callable[[], Explorer], str, list[Any]]]:
    """(name, constructor, control name, values to cycle) for every control of every
    explorer that has at least two values to go through."""
    for cls in explorer_classes():
        probe = cls.demo()
        for control in probe.controls:
            try:
                values = [value for _, value in probe.control_values(control)]
            except TypeError:  # number boxes, buttons, a stepper's Play
                continue
            if len(values) > 1:
                yield f"{cls.__name__} ({control})", cls.demo, control, values
        probe.close()


def ms(samples):
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[int(0.9 * (len(s) - 1))] * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"{'explorer':40s} {'build':>8s} {'update med':>11s} {'p90':>7s} {'cpu med':>9s} "
          f"{'1st pass cpu':>13s} {'full draw med':>14s} {'png KB':>7s}")
    for name, make, control, values in cases():
        t = time.perf_counter()
        ex = make()
        build = (time.perf_counter() - t) * 1e3
        updates, cpu, fulls = [], [], []
        for k in range(args.repeats):
            value = values[(k + 1) % len(values)]
            t, c = time.perf_counter(), time.process_time()
            ex.controls[control].value = value
            updates.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        for _ in range(max(5, args.repeats // 5)):
            t = time.perf_counter()
            ex._render(full=True)
            fulls.append(time.perf_counter() - t)
        (u50, u90), (c50, _), (f50, _) = ms(updates), ms(cpu), ms(fulls)
        first, _ = ms(cpu[:len(values)])
        print(f"{name:40s} {build:6.0f}ms {u50:9.1f}ms {u90:5.1f}ms {c50:7.1f}ms "
              f"{first:11.1f}ms {f50:12.1f}ms {len(ex.png) / 1024:7.0f}")
        ex.close()


if __name__ == "__main__":
    main()
