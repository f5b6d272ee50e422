"""Milliseconds per redraw of each course_lib.widgets explorer (not a test).

A redraw is what one control change costs in a notebook: recompute the state with
course_lib.functional, move the artists, draw (blitted) and encode the PNG. Run:

    .venv/bin/python benchmarks/bench_widgets.py [--repeats 30]

Prints, per explorer: the time to build it (first draw, with the constrained layout),
the median and 90th percentile of a control change, its median CPU time (what the wall
time would be on an idle machine: on a loaded one the wall time is noisy), and the
median of a full (non-blitted) draw. Set OPENBLAS_NUM_THREADS=1 on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from course_lib import widgets as cw
from course_lib.data import load_mnist, normalize
from course_lib.models import lenet


def cases():
    """(name, constructor, control name, values to cycle) for each explorer."""
    rng = np.random.default_rng(0)
    mnist = load_mnist(download=False)
    digits = normalize(mnist.x_test[:16])
    digit = digits[0, 0]
    photo = cw.sample_photo(256)
    return [
        ("KernelEditor 28x28 digit", lambda: cw.KernelEditor(digit), "preset",
         list(cw.KERNELS)),
        ("KernelEditor 256x256 photo", lambda: cw.KernelEditor(photo), "preset",
         list(cw.KERNELS)),
        ("KernelEditor 256x256 photo, one cell", lambda: cw.KernelEditor(photo, "sobel x"),
         "k11", [0.0, 1.0, -1.0, 2.0]),
        ("SlidingWindowStepper 7x7", lambda: cw.SlidingWindowStepper(
            rng.integers(0, 9, (7, 7)).astype(float), cw.KERNELS["sobel x"], padding=1),
         "step", list(range(49))),
        ("SlidingWindowStepper 28x28 digit", lambda: cw.SlidingWindowStepper(
            digit, cw.KERNELS["sobel x"]), "step", list(range(0, 676, 7))),
        ("ConvArithmeticExplorer", lambda: cw.ConvArithmeticExplorer(), "stride", [1, 2, 3, 4]),
        ("PoolingExplorer 28x28 digit (shift)", lambda: cw.PoolingExplorer(digit), "shift",
         [-2, -1, 0, 1, 2]),
        ("PoolingExplorer 256x256 photo (shift)", lambda: cw.PoolingExplorer(photo), "shift",
         [-2, -1, 0, 1, 2]),
        ("TemperatureExplorer 10 classes", lambda: cw.TemperatureExplorer(
            rng.standard_normal(10) * 3), "temperature", [0.1, 0.3, 1.0, 3.0, 10.0]),
        ("BackwardStepper 8x8, 4 filters", lambda: cw.BackwardStepper(
            rng.standard_normal((1, 8, 8)), rng.standard_normal((4, 1, 3, 3)), padding=1),
         "j", list(range(8))),
        ("FeatureMapExplorer lenet (channel)", lambda: cw.FeatureMapExplorer(
            lenet(0), digits), "channel", list(range(16))),
        ("FeatureMapExplorer lenet (image)", lambda: cw.FeatureMapExplorer(
            lenet(0), digits), "image", list(range(16))),
        ("ShiftExplorer shipped MLP + LeNet (dx)", lambda: cw.ShiftExplorer(
            mnist.x_test[:8], mnist.y_test[:8]), "dx", list(range(-4, 5))),
        ("ShiftExplorer shipped MLP + LeNet (image)", lambda: cw.ShiftExplorer(
            mnist.x_test[:8], mnist.y_test[:8]), "image", list(range(8))),
    ]


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
          f"{'full draw med':>14s} {'png KB':>7s}")
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
        print(f"{name:40s} {build:6.0f}ms {u50:9.1f}ms {u90:5.1f}ms {c50:7.1f}ms "
              f"{f50:12.1f}ms {len(ex.png) / 1024:7.0f}")
        ex.close()


if __name__ == "__main__":
    main()
