"""``python -m course_lib.slides [LESSON ...] [--pdf/--no-pdf] [--out build/slides] [--serve]``.

Exports each lesson (default: every notebook in notebooks/) to ``OUT/<lesson>.slides.html``
and ``OUT/<lesson>.pdf``, with ``OUT/assets/`` and an ``OUT/index.html`` listing them. The
folder works with no network: zip it, open ``index.html`` from disk, or serve it.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nbclient.exceptions import CellExecutionError

from .. import paths
from . import build_assets, expected_slide_count, export_deck, find_lessons
from .browser import export_pdf, launch_chromium
from .pdfcheck import pdf_problems

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in kernel tracebacks


def write_index(out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` linking every deck (and its PDF when present)."""
    out_dir = Path(out_dir)
    rows = []
    for deck in sorted(out_dir.glob("*.slides.html")):
        name = deck.name.removesuffix(".slides.html")
        pdf = out_dir / f"{name}.pdf"
        link = f' (<a href="{html.escape(pdf.name)}">PDF</a>)' if pdf.exists() else ""
        rows.append(f'<li><a href="{html.escape(deck.name)}">{html.escape(name)}</a>{link}</li>')
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>CNNs from Scratch: slides</title></head>\n<body>\n"
            "<h1>CNNs from Scratch: slides</h1>\n"
            "<p>Arrow keys move between slides, <kbd>S</kbd> opens the speaker notes, "
            "<kbd>F</kbd> goes full screen.</p>\n<ul>\n" + "\n".join(rows) + "\n</ul>\n"
            "</body></html>\n")
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def serve(out_dir: str | Path, port: int = 8000) -> None:
    """Serve ``out_dir`` on http://127.0.0.1:PORT/ until Ctrl-C (only this machine can reach it)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out_dir))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {out_dir} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.slides",
        description="Export lesson notebooks to offline reveal.js decks and PDFs.")
    parser.add_argument("lessons", nargs="*", metavar="LESSON",
                        help="lesson name (02_convolution, 02) or .ipynb path; default: all "
                             f"notebooks in {paths.NOTEBOOKS_DIR}")
    parser.add_argument("--out", default="build/slides", type=Path,
                        help="output folder (default: build/slides)")
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True,
                        help="also print a PDF per lesson with headless Chromium (default: on)")
    parser.add_argument("--execute", action=argparse.BooleanOptionalAction, default=True,
                        help="run each notebook before export (default: on); --no-execute "
                             "uses the outputs saved in the file")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds allowed per cell when executing (default: 600)")
    parser.add_argument("--assets-only", action="store_true",
                        help="only gather OUT/assets (from installed wheels)")
    parser.add_argument("--serve", action="store_true",
                        help="afterwards serve the output folder on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.assets_only:
        try:
            print(build_assets(args.out))
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    try:
        lessons = find_lessons(args.lessons)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    decks, failed = [], []
    for notebook in lessons:
        start = time.perf_counter()
        try:
            deck = export_deck(notebook, args.out, execute=args.execute, timeout=args.timeout)
        except CellExecutionError as err:
            failed.append(notebook.stem)
            text = _ANSI.sub("", str(err)).strip()
            summary = text.splitlines()[-1] if text else repr(err)
            print(f"error: {notebook} failed while executing: {summary}", file=sys.stderr)
            continue
        decks.append(deck)
        print(f"{deck}  ({expected_slide_count(notebook)} slides, "
              f"{time.perf_counter() - start:.1f} s)")
    if args.pdf:
        try:
            with launch_chromium() as browser:
                for deck in decks:
                    pdf = export_pdf(deck, browser=browser)
                    problems = pdf_problems(pdf)
                    print(pdf if not problems else f"{pdf}  WARNING: " + "; ".join(problems[:3]))
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    print(write_index(args.out))
    if failed:
        print(f"error: no deck for {', '.join(failed)} (see above)", file=sys.stderr)
        return 1
    if args.serve:
        serve(args.out, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
