"""The JavaScript a deck needs, gathered into a local ``assets/`` folder next to the decks.

``jupyter nbconvert --to slides`` points a deck at CDNs for reveal.js, require.js, jQuery,
MathJax and the widget renderer, so offline the deck does not even start. Here every one of
them comes from an installed PyPI wheel, never from the repository or the network:

========================  ===================================  =====================
asset                     taken from                           licence
========================  ===================================  =====================
reveal.js 5               PyPI wheel ``sphinx-revealjs``       MIT
require.js, jQuery        PyPI wheel ``nbclassic``             MIT
MathJax 2.7               PyPI wheel ``nbclassic``             Apache-2.0
========================  ===================================  =====================

A deck needs no widget renderer: ``deck_outputs`` turns every explorer into pre-rendered
frames switched by a plain range input and drops the widget state, and the deck template
leaves the renderer's script out.

The decks refer to the folder with relative URLs (:data:`URLS`), so ``build/slides/`` can be
zipped, copied to a USB stick and opened from disk, or served by ``python -m http.server``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

ASSETS_DIRNAME = "assets"

#: URLs relative to a deck in the output folder (nbconvert SlidesExporter traits).
URLS = {
    "reveal_url_prefix": f"{ASSETS_DIRNAME}/reveal.js",
    "require_js_url": f"{ASSETS_DIRNAME}/require.js",
    "jquery_url": f"{ASSETS_DIRNAME}/jquery.min.js",
    # nbclassic ships this one combined configuration (HTML-CSS output, STIX-Web fonts)
    "mathjax_url": f"{ASSETS_DIRNAME}/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe",
}
_STAMP = "SOURCES.json"
_LAYOUT = 3  # bump when the folder's layout changes, so existing folders are rebuilt


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"the deck assets need the PyPI package {pip_name!r}, which is not installed; "
            f"run `make setup` (or `.venv/bin/pip install -r requirements.txt`)"
        )
    return Path(spec.origin).parent


def _wheel_sources() -> dict[str, Path]:
    reveal = _package_dir("sphinx_revealjs", "sphinx-revealjs") / "_static" / "revealjs"
    components = _package_dir("nbclassic", "nbclassic") / "static" / "components"
    return {
        "reveal.js": reveal,
        "require.js": components / "requirejs" / "require.js",
        "jquery.min.js": components / "jquery" / "dist" / "jquery.min.js",
        "mathjax": components / "MathJax",
    }


def _sources_record() -> dict:
    from importlib.metadata import version

    return {
        "layout": _LAYOUT,
        "reveal.js, require.js, jquery.min.js, mathjax": {
            "sphinx-revealjs": version("sphinx-revealjs"), "nbclassic": version("nbclassic"),
            "licences": "reveal.js MIT; require.js MIT; jQuery MIT; MathJax Apache-2.0",
        },
    }


def build_assets(out_dir: str | Path) -> Path:
    """Fill ``out_dir/assets`` with everything a deck loads; return that folder.

    out_dir   : the decks' folder (e.g. ``build/slides``).
    Idempotent: a folder whose ``SOURCES.json`` matches the installed versions is kept as is.
    """
    assets = Path(out_dir) / ASSETS_DIRNAME
    record = _sources_record()
    stamp = assets / _STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == record:
        return assets
    if assets.exists():
        shutil.rmtree(assets)
    assets.mkdir(parents=True)
    for target, source in _wheel_sources().items():
        if source.is_dir():
            shutil.copytree(source, assets / target,
                            ignore=shutil.ignore_patterns("*.map", "*.esm.js", "__pycache__"))
        else:
            shutil.copy2(source, assets / target)
    stamp.write_text(json.dumps(record, indent=2) + "\n")
    return assets

