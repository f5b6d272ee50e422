"""From the end of a stroke to the drawing explorer's new prediction and picture, in a real
browser (not a test).

What a class sees when the instructor draws: the drawing explorer (lesson 07) in JupyterLab and
in the Voila app, each with its own kernel, driven by Debian's Chromium through playwright
with every request beyond 127.0.0.1 aborted. The mouse draws a '1' and a loop with a tail (a
'9') in turn, clearing the canvas between strokes. Both ends of each interval are taken in the
page (``performance.now()`` at the stroke's ``pointerup`` and in MutationObservers on the
readout and on the picture), so playwright's own round trips are not counted. Run:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_drawing_browser.py [--strokes 20]

Prints, for JupyterLab and for Voila, the median and 90th percentile over the strokes (after
one warm-up stroke each) of the time to the new prediction (readout) and to the new picture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import (  # noqa: E402
    LOOP_WITH_TAIL,
    ONE,
    clear_canvas,
    draw,
    drawing_explorer,
    drawing_pages,
)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=20, help="strokes per frontend")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, drawing_pages(Path(tmp)) as pages:
        print(f"{'frontend':<11} {'strokes':>7} {'prediction median':>18} {'p90':>6} "
              f"{'picture median':>15} {'p90':>6}   (ms from the stroke's end)")
        for where, (page, _) in pages.items():
            explorer = drawing_explorer(page, 120_000)
            times: dict[str, list[float]] = {"prediction_ms": [], "picture_ms": []}
            for k in range(args.strokes + 1):
                clear_canvas(page, explorer)
                result = draw(page, explorer, ONE if k % 2 else LOOP_WITH_TAIL)
                if k:   # the first stroke warms up the kernel's code paths
                    for key, values in times.items():
                        values.append(result[key])
            pred, pic = times["prediction_ms"], times["picture_ms"]
            print(f"{where:<11} {len(pred):>7} {statistics.median(pred):>18.0f} "
                  f"{p90(pred):>6.0f} {statistics.median(pic):>15.0f} {p90(pic):>6.0f}")


if __name__ == "__main__":
    main()
