"""Benchmark conv2d and max_pool2d: readable loops vs the fast path vs PyTorch CPU.

    python benchmarks/bench_ops.py [--threads 2] [--repeat 7] [--readable-batch 2]

Prints, for each shape and dtype, the median time of forward and forward+backward, and
the ratios readable/fast and fast/torch. "fast" is what the layers use while training:
``course_lib.fast_conv`` with a ``Workspace`` reused from call to call for conv2d,
``course_lib.fast_pool``'s max pooling (2x2 windows tile the input). ``--threads N`` gives
NumPy's BLAS, ``course_lib.parallel`` (which splits conv2d's chunks of images and pooling's
batch between two threads) and PyTorch N threads each. For conv2d the table also times the teachable
``functional.conv2d`` (one batch-wide im2col, fresh memory), the version lesson 09 reads. The
readable loops are timed on a slice of the batch (``--readable-batch`` images) and scaled
linearly to the full batch: a loop's cost is exactly proportional to N, and the full batch
would take minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads for NumPy's BLAS, course_lib.parallel and PyTorch")
    p.add_argument("--repeat", type=int, default=7, help="timed runs per measurement (median)")
    p.add_argument("--readable-batch", type=int, default=2,
                   help="images the readable loops run on (time scaled to the full batch)")
    return p.parse_args()


ARGS = parse_args()
# BLAS reads its thread count when NumPy is first imported.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from course_lib import fast_conv, fast_pool, parallel, readable  # noqa: E402
from course_lib import functional as teachable  # noqa: E402
from course_lib.workspace import Workspace  # noqa: E402

parallel.set_num_threads(ARGS.threads)

try:
    import torch
    import torch.nn.functional as tF

    torch.set_num_threads(ARGS.threads)
except ImportError:  # PyTorch is optional
    torch = None

# (name, batch, C_in, C_out, kernel, padding, H=W)
CONV_SHAPES = [
    ("1->8 3x3", 64, 1, 8, 3, 0, 28),
    ("8->16 3x3 p1", 64, 8, 16, 3, 1, 28),
    ("1->32 5x5 p2", 128, 1, 32, 5, 2, 28),
]


WARM_UP_SECONDS = 0.3


def median_time(fn, repeat):
    """Median of ``repeat`` timed calls, after calling fn for at least ``WARM_UP_SECONDS``
    (allocations, BLAS and OpenMP threads, and a second core that was idle: on this VM it
    runs slow for the first 100-200 ms of two-thread work)."""
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < WARM_UP_SECONDS:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def conv_timers(lib, x, w, b, padding, **workspace):
    def fwd():
        return lib.conv2d_forward(x, w, b, padding=padding, **workspace)

    def fwd_bwd():
        out, cache = lib.conv2d_forward(x, w, b, padding=padding, **workspace)
        return lib.conv2d_backward(np.ones_like(out), cache)

    return fwd, fwd_bwd


def pool_timers(lib, x):
    def fwd():
        return lib.max_pool2d_forward(x, 2)

    def fwd_bwd():
        out, cache = lib.max_pool2d_forward(x, 2)
        return lib.max_pool2d_backward(np.ones_like(out), cache)

    return fwd, fwd_bwd


class LayersPool:
    """max pooling as ``layers.MaxPool2d`` computes it (``fast_pool``'s op, split)."""

    @staticmethod
    def max_pool2d_forward(x, k):
        return fast_pool.split_forward(fast_pool.max_pool2d_forward, x, k)

    @staticmethod
    def max_pool2d_backward(dout, cache):
        return fast_pool.split_backward(fast_pool.max_pool2d_backward, dout, cache)


def torch_timers(op, *arrays):
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in arrays]

    def fwd():
        with torch.no_grad():
            return op(*tensors)

    def fwd_bwd():
        for t in tensors:
            t.grad = None
        out = op(*tensors)
        out.backward(torch.ones_like(out))

    return fwd, fwd_bwd


def measure(name, dtype, make_fast, make_readable, scale, make_torch, make_teachable=None):
    """Time NumPy's paths now; return the row and a function that adds PyTorch's times.

    PyTorch runs after all NumPy timings: its OpenMP threads keep spinning for a while
    after each parallel region and would slow down the BLAS threads timed next.
    """
    r = ARGS.repeat
    row = {"op": name, "dtype": np.dtype(dtype).name}
    f_fwd, f_fb = make_fast()
    row["fast fwd"], row["fast fwd+bwd"] = median_time(f_fwd, r), median_time(f_fb, r)
    if make_teachable is not None:
        row["teachable fwd+bwd"] = median_time(make_teachable()[1], r)
    r_fwd, r_fb = make_readable()
    row["readable fwd+bwd"] = median_time(r_fb, 1) * scale
    row["readable fwd"] = median_time(r_fwd, 1) * scale

    def add_torch():
        t_fwd, t_fb = make_torch()
        row["torch fwd"], row["torch fwd+bwd"] = median_time(t_fwd, r), median_time(t_fb, r)

    return row, add_torch


def main():
    rng = np.random.default_rng(0)
    nr = ARGS.readable_batch
    rows = []
    for dtype in (np.float32, np.float64):
        for name, n, c_in, c_out, k, p, hw in CONV_SHAPES:
            x = rng.standard_normal((n, c_in, hw, hw)).astype(dtype)
            w = rng.standard_normal((c_out, c_in, k, k)).astype(dtype)
            b = rng.standard_normal(c_out).astype(dtype)
            rows.append(measure(
                f"conv2d {name} N={n}", dtype,
                lambda x=x, w=w, b=b, p=p: conv_timers(fast_conv, x, w, b, p,
                                                       workspace=Workspace()),
                lambda x=x, w=w, b=b, p=p: conv_timers(readable, x[:nr], w, b, p),
                n / nr,
                lambda x=x, w=w, b=b, p=p: torch_timers(
                    lambda x, w, b: tF.conv2d(x, w, b, padding=p), x, w, b),
                lambda x=x, w=w, b=b, p=p: conv_timers(teachable, x, w, b, p)))
            y = fast_conv.conv2d(x, w, b, padding=p)
            rows.append(measure(
                f"max_pool2d 2x2 on {y.shape[1]}x{y.shape[2]}x{y.shape[3]} N={n}", dtype,
                lambda y=y: pool_timers(LayersPool, y),
                lambda y=y: pool_timers(readable, y[:nr]),
                n / nr,
                lambda y=y: torch_timers(lambda t: tF.max_pool2d(t, 2), y)))
    if torch is not None:
        for _, add_torch in rows:
            add_torch()
    print_table([row for row, _ in rows])


def print_table(rows):
    ms = 1e3
    have_torch = torch is not None
    head = ["op", "dtype", "fast fwd ms", "fast f+b ms", "teachable/fast f+b", "readable f+b ms",
            "readable/fast"]
    if have_torch:
        head += ["torch fwd ms", "torch f+b ms", "fast/torch fwd", "fast/torch f+b"]
    print(f"threads={ARGS.threads} (course_lib: {parallel.get_num_threads()})  "
          f"numpy {np.__version__}"
          + (f"  torch {torch.__version__}" if have_torch else "  (torch not installed)")
          + f"  python {sys.version.split()[0]}\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        teachable_ratio = (f"{r['teachable fwd+bwd'] / r['fast fwd+bwd']:.2f}"
                           if "teachable fwd+bwd" in r else "-")
        cells = [r["op"], r["dtype"], f"{r['fast fwd'] * ms:.2f}", f"{r['fast fwd+bwd'] * ms:.2f}",
                 teachable_ratio, f"{r['readable fwd+bwd'] * ms:.0f}",
                 f"{r['readable fwd+bwd'] / r['fast fwd+bwd']:.0f}x"]
        if have_torch:
            cells += [f"{r['torch fwd'] * ms:.2f}", f"{r['torch fwd+bwd'] * ms:.2f}",
                      f"{r['fast fwd'] / r['torch fwd']:.2f}",
                      f"{r['fast fwd+bwd'] / r['torch fwd+bwd']:.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
