"""The course website in Chromium, offline: what ``make site-check`` checks, in the test suite.

The site is built once for this module (``website/build_site.py`` from the committed notebooks
into a temporary folder, about 8 s) and every page and search is opened once by
``website/check_site.py``'s :func:`check_site` in the test session's Chromium (about 20 s: a few
pages at a time, nothing waits for a fixed time). Each test then asserts one kind of problem of
that one report, so a failure names what is wrong and where:

- no request leaves the machine and no local request fails (every figure, script, stylesheet
  and font is in the site);
- every image loads; every link within the site has its target;
- MathJax typesets every formula;
- the search page finds a term from a lesson.

A last test feeds :func:`check_site` a small broken site, to show that each check can fail.
"""

from __future__ import annotations

import sys
import warnings

import pytest
from browser_support import browser_marks, shared_browser

from course_lib.lessons import LESSONS
from course_lib.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "website"))

import build_site  # noqa: E402
import check_site  # noqa: E402

pytestmark = browser_marks


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    with warnings.catch_warnings():  # (Sphinx extensions' deprecation warnings: not ours)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return build_site.build(folder / "src", folder / "out")


@pytest.fixture(scope="module")
def report(site):
    return check_site.check_site(site, shared_browser())


def test_every_page_and_search_was_opened(report):
    assert set(report.pages) == set(check_site.pages() + check_site.searches())


def test_no_request_leaves_the_machine_and_none_fails(report):
    problems = report.requests
    assert not problems, "\n".join(problems)


def test_every_image_loads(report):
    problems = report.images
    assert not problems, "\n".join(problems)
    for lesson in LESSONS:  # (every lesson shows figures: an empty count means none was seen)
        assert report.pages[f"notebooks/{lesson.stem}.html"]["images"], lesson.stem


def test_every_formula_is_typeset(report):
    problems = report.math
    assert not problems, "\n".join(problems)
    for lesson in LESSONS[1:]:
        assert report.pages[f"notebooks/{lesson.stem}.html"]["formulas"], lesson.stem


def test_links_within_the_site_resolve(report):
    problems = report.links
    assert not problems, "\n".join(problems)


def test_search_finds_terms_from_the_lessons(report):
    problems = report.search
    assert not problems, "\n".join(problems)
    assert all(report.pages[path]["results"] for path in check_site.searches())


def test_the_checks_catch_a_broken_site(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="https://cdn.example.org/x.css"></head><body>'
        '<p><span class="math notranslate nohighlight">\\(x^2\\)</span></p>'
        '<img src="missing.png"><a href="nowhere.html">a page that is not there</a>'
        '</body></html>', encoding="utf-8")
    (tmp_path / "search.html").write_text("<html><body><div id='search-results'>"
                                          "<p class='search-summary'>Search finished</p>"
                                          "</div></body></html>", encoding="utf-8")
    monkeypatch.setattr(check_site, "pages", lambda: ["index.html"])
    monkeypatch.setattr(check_site, "SEARCHES", {"im2col": "09_making_it_fast"})
    report = check_site.check_site(tmp_path, shared_browser())
    assert report.requests[0] == "index.html: external request https://cdn.example.org/x.css"
    assert any("failed request 404" in r and "missing.png" in r for r in report.requests)
    assert [r.split(":")[0] for r in report.images] == ["index.html"]
    assert report.math == ["index.html: MathJax did not start (1 formulas)"]
    assert report.links == ["index.html: link to missing nowhere.html"]
    assert report.search == ["search for 'im2col' found nothing"]
