"""Sphinx configuration of the course website. Build it with ``make site``
(``python website/build_site.py``), which stages the sources this file is used with."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_site import project, repository  # noqa: E402

_meta = project()
_repo, _branch = repository()

project = "CNNs from Scratch"  # noqa: F811 (Sphinx reads the module's globals)
author = "The CNNs from Scratch authors"
copyright = "the CNNs from Scratch authors; text and figures CC BY-SA 4.0, code MIT"
release = version = _meta["version"]
language = "en"

extensions = ["myst_nb", "sphinx.ext.mathjax"]
exclude_patterns = [".doctrees", "**/.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- MyST-NB: show the committed outputs, never execute ---------------------------------
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 4
# JupyterLab's anchors (#The-output-size-formula,-by-counting-windows), which the notebooks use
myst_heading_slug_func = "build_site.jupyterlab_slug"
# The explorers' outputs hold a widget view (no stored state: nothing to render offline) and
# the PNG the explorer leaves: show the PNG.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}  # no require.js / widget renderer from a CDN
nb_merge_streams = True

# --- MathJax 2.7 from the nbclassic wheel, copied to _static/mathjax/ by build_site.py -----
html_static_path = ["static"]
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
myst_update_mathjax = False
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
        "processClass": "math|output_area",
        "ignoreClass": "tex2jax_ignore|mathjax_ignore|document",
    },
    "TeX": {"equationNumbers": {"autoNumber": "none"}},
    # the nbclassic copy ships the STIX-Web fonts only (as for the decks)
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                 "imageFont": None, "linebreaks": {"automatic": True, "width": "container"}},
    # The hidden MathML copy for screen readers (AssistiveMML) styles \mathbb, \mathcal,
    # \mathfrak and \mathscr with MathJax's TeX web fonts, which the nbclassic copy does not
    # ship (a 404 on every page that uses them): it inherits the page's font instead.
    "NativeMML": {"styles": {
        selector: {"font-family": "inherit"} for selector in (
            '[mathvariant="double-struck"]', '[mathvariant="script"]', '[mathvariant="fraktur"]',
            '[mathvariant="bold-script"]', '[mathvariant="bold-fraktur"]',
            '[class="MJX-tex-caligraphic"]', '[class="MJX-tex-caligraphic-bold"]',
            '[class="MJX-tex-oldstyle"]', '[class="MJX-tex-oldstyle-bold"]')}},
    "showMathMenu": False,
    "messageStyle": "none",
}

# --- theme ------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = f"CNNs from Scratch {version}"
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "repository_url": f"https://github.com/{_repo}",
    "repository_branch": _branch,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": False,  # each page links its notebook as committed (downloads/)
    "use_fullscreen_button": False,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
    "navigation_with_keys": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "footer_content_items": ["copyright"],
}
