"""Every lesson's deck fits a 1280x720 and a 1024x768 projector with no slide overflowing
(``python -m course_lib.slides.fit`` splits them at authoring time), and its PDF has one page
per slide and its maths typeset for the print layout, nothing overprinted or off a page. (The
print race was intermittent: test_slides.py prints the fixture deck, maths and all, five times
over.)"""

from __future__ import annotations

import pypdfium2
import pytest
from browser_support import ROOT, browser_marks, shared_browser

from course_lib.lessons import LESSONS
from course_lib.slides import expected_slide_count, export_deck, export_pdf
from course_lib.slides.fit import check_deck
from course_lib.slides.pdfcheck import pdf_problems

pytestmark = browser_marks


def test_the_check_sees_overprinted_and_off_page_glyphs(tmp_path):
    page_html = tmp_path / "garbled.html"
    page_html.write_text(
        '<html><body style="margin:0"><p style="position:absolute;left:40px;top:40px;'
        'font:20px serif">overprinted text</p><p style="position:absolute;left:42px;'
        'top:41px;font:20px serif">xyzxyzxyzxyzxyz</p><p style="position:absolute;'
        'left:40px;top:200px;font:20px serif">clean line</p></body></html>')
    context = shared_browser().new_context()
    try:
        page = context.new_page()
        page.goto(page_html.as_uri())
        page.pdf(path=str(tmp_path / "garbled.pdf"), width="400px", height="300px")
    finally:
        context.close()
    problems = pdf_problems(tmp_path / "garbled.pdf")
    assert problems and all("overprint" in p for p in problems), problems


@pytest.mark.parametrize("lesson", [lesson.stem for lesson in LESSONS])
def test_deck_fits_and_pdf_is_clean(lesson, tmp_path):
    deck_notebook = ROOT / "notebooks" / f"{lesson}.ipynb"
    deck = export_deck(deck_notebook, tmp_path, execute=False)
    assert check_deck(deck, shared_browser()) == [], (
        f"run `python -m course_lib.slides.fit {lesson}` to split the slides")
    pdf = export_pdf(deck, tmp_path / f"{lesson}.pdf", browser=shared_browser())
    assert pdf_problems(pdf) == [], lesson
    with pypdfium2.PdfDocument(pdf) as doc:
        assert len(doc) == expected_slide_count(deck_notebook), lesson
