"""Check a printed deck: no glyph overprints another and none lies outside its page.

Garbled maths in a PDF (MathJax typeset for one layout, printed in another) shows up as
formula glyphs drawn over the text around them; content cut off a slide as glyphs past the
page edge. Both are found from the PDF's own character boxes (``pypdfium2``, PDFium's text
layer: a few times faster than a pure-Python PDF parser on a 100-page deck).
"""

from __future__ import annotations

from pathlib import Path

#: Two letters or digits overprint when their boxes share more than this fraction of the
#: smaller box (touching neighbours, kerning and sub/superscripts share far less). Other glyphs
#: (stretched brackets, braces, radicals, rules) legitimately reach over the letters they span.
OVERLAP = 0.5


def _overlaps(chars: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of glyph boxes that overlap by more than ``OVERLAP`` (a sweep over x)."""
    found: list[tuple[dict, dict]] = []
    active: list[dict] = []
    for c in sorted(chars, key=lambda c: c["x0"]):
        active = [a for a in active if a["x1"] > c["x0"]]
        for a in active:
            dx = min(a["x1"], c["x1"]) - max(a["x0"], c["x0"])
            dy = min(a["bottom"], c["bottom"]) - max(a["top"], c["top"])
            smaller = min((a["x1"] - a["x0"]) * (a["bottom"] - a["top"]),
                          (c["x1"] - c["x0"]) * (c["bottom"] - c["top"]))
            if dx > 0 and dy > 0 and smaller > 0 and dx * dy > OVERLAP * smaller:
                found.append((a, c))
        active.append(c)
    return found


def _page_chars(page, height: float) -> list[dict]:
    """The visible characters of a PDFium page ``height`` points tall, boxes in points from its
    top-left corner."""
    text = page.get_textpage()
    chars = []
    for i in range(text.count_chars()):
        glyph = text.get_text_range(i, 1)
        if glyph.strip():
            left, bottom, right, top = text.get_charbox(i)
            chars.append({"text": glyph, "x0": left, "x1": right,
                          "top": height - top, "bottom": height - bottom})
    return chars


def pdf_problems(pdf: str | Path, limit: int = 10) -> list[str]:
    """Describe up to ``limit`` problems per page of ``pdf``: overprinted or off-page glyphs.

    An empty list means every page is clean.
    """
    import pypdfium2

    problems = []
    doc = pypdfium2.PdfDocument(str(pdf))
    try:
        for number, page in enumerate(doc, 1):
            width, height = page.get_size()
            chars = _page_chars(page, height)
            letters = [c for c in chars if c["text"].isalnum()]
            off = [c for c in chars if c["x0"] < -1 or c["top"] < -1
                   or c["x1"] > width + 1 or c["bottom"] > height + 1]
            problems += [f"page {number}: {c['text']!r} outside the page at "
                         f"({c['x0']:.0f}, {c['top']:.0f})" for c in off[:limit]]
            problems += [f"page {number}: {a['text']!r} and {b['text']!r} overprint at "
                         f"({a['x0']:.0f}, {a['top']:.0f})" for a, b in _overlaps(letters)[:limit]]
    finally:
        doc.close()
    return problems
