"""Grading throughput: N copies of one exercise's solution graded by ``course_lib.grade``.

    .venv/bin/python benchmarks/bench_grade.py --lesson 06_backprop_by_layer --count 100 --jobs 2

Each copy is a separate student (``student-NNN/<lesson>.ipynb``) run in its own sandbox.
Prints the wall time, submissions per minute and the scores seen (every copy should get full
points).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib import grade  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="06_backprop_by_layer")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    solution = ROOT / "solutions" / f"{args.lesson}.ipynb"
    folder = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    try:
        for i in range(args.count):
            target = folder / "subs" / f"student-{i:03d}" / solution.name
            target.parent.mkdir(parents=True)
            shutil.copy(solution, target)
        start = time.perf_counter()
        status = grade.main([str(folder / "subs"), "--out", str(folder / "grades.csv"),
                             "--jobs", str(args.jobs)])
        seconds = time.perf_counter() - start
        totals = Counter(f"{r['points']}/{r['max_points']}" for r in
                         csv.DictReader((folder / "grades.csv").open(encoding="utf-8"))
                         if r["function"] == grade.TOTAL)
        print(f"{args.count} submissions of {args.lesson}, --jobs {args.jobs}: {seconds:.1f} s "
              f"({args.count / seconds * 60:.1f} per minute, {seconds / args.count:.2f} s each); "
              f"exit status {status}; totals {dict(totals)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
