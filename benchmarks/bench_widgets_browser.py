"""Input-to-picture latency of the lessons' explorers in a real browser (not a test).

What a student feels: the time from a key press on an explorer's slider (or a choice in its
drop-down) to the new picture in the page. The lessons are served by the Voila app
(``python -m course_lib.slides.app``), driven by Debian's Chromium through playwright, with
every request beyond 127.0.0.1 aborted. Both ends of the interval are taken in the page
(``performance.now()`` in a ``keydown``/``change`` listener and in a MutationObserver on the
picture's ``src``), so playwright's own round trips are not counted. Run:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_widgets_browser.py [--changes 8]
        [--lessons 01 02 ...] [--first-render-s 300]

Prints, per explorer, the median and 90th percentile of its changes, then the same over all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import offline_page, voila_server  # noqa: E402

from course_lib.slides import find_lessons  # noqa: E402

UPDATE_MS = 3_000

# Every explorer box: the innermost widget box that holds a picture and a control.
FIND_JS = """() => {
  const boxes = [...document.querySelectorAll('.widget-vbox')].filter(b =>
      b.querySelector('img.widget-image') &&
      b.querySelector('.noUi-handle, select') &&
      ![...b.querySelectorAll('.widget-vbox')].some(inner =>
          inner.querySelector('img.widget-image') && inner.querySelector('.noUi-handle, select')));
  boxes.forEach((b, i) => b.dataset.benchExplorer = i);
  return boxes.map(b => b.querySelector('.widget-html-content')?.innerText.slice(0, 40) ?? '');
}"""

# Arm one measurement: t0 at the next keydown/change, t1 when the picture's src changes.
ARM_JS = """(index) => {
  const box = document.querySelector(`[data-bench-explorer="${index}"]`);
  const img = box.querySelector('img.widget-image');
  window.__bench = {t0: null, t1: null};
  const start = () => { if (window.__bench.t0 === null) window.__bench.t0 = performance.now(); };
  document.addEventListener('keydown', start, {capture: true, once: true});
  document.addEventListener('change', start, {capture: true, once: true});
  const seen = new MutationObserver(() => {
    if (window.__bench.t0 !== null && window.__bench.t1 === null) {
      window.__bench.t1 = performance.now(); seen.disconnect(); }
  });
  seen.observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def _change(page, control, key: str) -> None:
    """One change of ``control``: an arrow key on a slider, the next choice of a drop-down."""
    if control.evaluate("c => c.tagName") == "SELECT":
        options = [o for o in control.locator("option").all_inner_texts() if o != "custom"]
        current = control.evaluate("s => s.options[s.selectedIndex]?.text")
        following = options[(options.index(current) + 1) % len(options)] \
            if current in options else options[0]
        control.select_option(label=following)
    else:
        control.focus()
        page.keyboard.press(key)


def explorer_latencies(page, index: int, changes: int) -> list[float]:
    """Milliseconds of ``changes`` control changes of explorer ``index`` on ``page``: its
    first control that changes the picture (sliders go back at their ends)."""
    controls = page.locator(f'[data-bench-explorer="{index}"]').locator(
        ".noUi-handle, select").all()
    samples, key, misses = [], "ArrowRight", 0
    while controls and len(samples) < changes + 1:
        page.evaluate(ARM_JS, index)
        _change(page, controls[0], key)
        try:
            page.wait_for_function("() => window.__bench.t1 !== null", timeout=UPDATE_MS)
        except Exception:  # at a slider's end: go the other way; twice: the next control
            key, misses = ("ArrowLeft" if key == "ArrowRight" else "ArrowRight"), misses + 1
            if misses == 2:
                controls, misses = controls[1:], 0
            continue
        misses = 0
        bench = page.evaluate("() => window.__bench")
        samples.append(bench["t1"] - bench["t0"])
    return samples[1:]  # the first change of an explorer warms its caches


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=8, help="changes per explorer")
    parser.add_argument("--lessons", nargs="*", default=["01", "02", "03", "04", "05", "06",
                                                         "07"])
    parser.add_argument("--first-render-s", type=float, default=300.0,
                        help="seconds a lesson may take to run until its first picture (lesson "
                             "07 trains networks first: minutes on a busy machine)")
    args = parser.parse_args()
    first_render_ms = args.first_render_s * 1000
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    lessons = [lesson for lesson in find_lessons() if lesson.stem[:2] in args.lessons]
    everything = []
    with tempfile.TemporaryDirectory() as tmp, \
            voila_server(ROOT, Path(tmp) / "voila.log") as base:
        for lesson in lessons:
            with offline_page(1280, 1000) as (page, blocked):
                page.goto(f"{base}voila/render/{lesson.relative_to(ROOT).as_posix()}",
                          wait_until="commit", timeout=first_render_ms)
                page.wait_for_selector("img.widget-image", timeout=first_render_ms)
                page.wait_for_load_state("load", timeout=first_render_ms)
                page.wait_for_function("() => !document.querySelector('.voila-spinner')",
                                       timeout=first_render_ms)
                for index, label in enumerate(page.evaluate(FIND_JS)):
                    samples = explorer_latencies(page, index, args.changes)
                    if not samples:
                        print(f"{lesson.stem:28s} {label!r:44s} no picture change measured")
                        continue
                    everything += samples
                    med, p90 = quantiles(samples)
                    print(f"{lesson.stem:28s} {label!r:44s} n={len(samples):2d} "
                          f"median {med:6.0f} ms  p90 {p90:6.0f} ms")
                if blocked:
                    print(f"  requests that tried to leave this machine: {blocked}")
    if everything:
        med, p90 = quantiles(everything)
        print(f"all explorers: {len(everything)} changes, median {med:.0f} ms, p90 {p90:.0f} ms")


if __name__ == "__main__":
    main()
