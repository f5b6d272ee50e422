"""The JavaScript a deck needs, gathered into a local ``assets/`` folder next to the decks.

``jupyter nbconvert --to slides`` points a deck at CDNs for reveal.js, require.js, jQuery,
MathJax and the widget renderer, so offline the deck does not even start. Here every one of
them comes from a package registry, never from the repository:

========================  ===================================  =====================
asset                     taken from                           licence
========================  ===================================  =====================
reveal.js 5               PyPI wheel ``sphinx-revealjs``       MIT
require.js, jQuery        PyPI wheel ``nbclassic``             MIT
MathJax 2.7               PyPI wheel ``nbclassic``             Apache-2.0
widget renderer           npm ``@jupyter-widgets/html-manager``  BSD-3-Clause
                          (``dist/embed-amd.js``; fetched with
                          ``npm pack`` into a cache, checked
                          against a pinned sha512)
========================  ===================================  =====================

The decks refer to the folder with relative URLs (:data:`URLS`), so ``build/slides/`` can be
zipped, copied to a USB stick and opened from disk, or served by ``python -m http.server``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

ASSETS_DIRNAME = "assets"

#: URLs relative to a deck in the output folder (nbconvert SlidesExporter traits).
URLS = {
    "reveal_url_prefix": f"{ASSETS_DIRNAME}/reveal.js",
    "require_js_url": f"{ASSETS_DIRNAME}/require.js",
    "jquery_url": f"{ASSETS_DIRNAME}/jquery.min.js",
    # nbclassic ships this one combined configuration (HTML-CSS output, STIX-Web fonts)
    "mathjax_url": f"{ASSETS_DIRNAME}/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe",
    "widget_renderer_url": f"{ASSETS_DIRNAME}/html-manager/embed-amd.js",
}
#: Stylesheet giving the widgets' icons (Play, Stop...) a font that loads from disk too.
ICONS_CSS_URL = f"{ASSETS_DIRNAME}/html-manager/icons.css"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm tarball: ``integrity`` is the registry's ``sha512-<base64>`` value."""

    name: str
    version: str
    integrity: str
    licence: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        # npm pack's file name: scope without '@', '/' replaced by '-'
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


#: The renderer matching ipywidgets 8.1 (widget state version 2.0).
HTML_MANAGER = NpmPackage(
    name="@jupyter-widgets/html-manager",
    version="1.0.15",
    integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    licence="BSD-3-Clause",
)

_FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".eot", ".svg")
# The renderer finds its Font Awesome files through a path it derives from AMD module ids,
# which points nowhere for a deck (and is "null/..." from file://), so the Play/Stop icons
# would be empty boxes. icons.css loads the solid face (fa-solid-900, 78268 bytes in 1.0.15)
# relative to itself under its own family name.
_SOLID_FONT = "1551f4f60c37af51121f.woff2"
_ICONS_CSS = """/* Font Awesome 5 Free Solid (SIL OFL 1.1) from @jupyter-widgets/html-manager, for
   the widgets' icons; loaded relative to this file so decks work from disk and over HTTP. */
@font-face {
  font-family: "Course Widget Icons";
  font-style: normal;
  font-weight: 900;
  font-display: block;
  src: url("SOLID_FONT") format("woff2");
}
.jupyter-widgets .fa, .jupyter-widgets .fas {
  font-family: "Course Widget Icons" !important;
  font-weight: 900 !important;
}
""".replace("SOLID_FONT", _SOLID_FONT)
_STAMP = "SOURCES.json"
_LAYOUT = 2  # bump when the folder's layout changes, so existing folders are rebuilt


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


def _sha512_integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def fetch_npm_tarball(package: NpmPackage, cache_dir: str | Path) -> Path:
    """Return the verified tarball of ``package`` in ``cache_dir``, running ``npm pack`` if needed.

    A tarball already in the cache is reused (so later builds work offline); one whose
    sha512 differs from the pin is deleted and fetched again.
    """
    if not isinstance(package, NpmPackage):
        raise TypeError(f"package must be an NpmPackage, got {type(package).__name__}")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / package.tarball_name
    if tarball.exists() and _sha512_integrity(tarball) == package.integrity:
        return tarball
    tarball.unlink(missing_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"fetching {package.spec} for the deck assets needs npm (Node.js): "
            f"`apt-get install npm`, or copy {package.tarball_name} into {cache_dir}"
        )
    cmd = [npm, "pack", package.spec, "--pack-destination", str(cache_dir),
           "--silent", "--no-fund", "--no-audit"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not tarball.exists():
        raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{result.stderr.strip()}")
    actual = _sha512_integrity(tarball)
    if actual != package.integrity:
        tarball.unlink()
        raise RuntimeError(
            f"{package.tarball_name}: sha512 {actual} does not match the pinned {package.integrity}"
        )
    return tarball


def _extract_html_manager(tarball: Path, dest: Path) -> None:
    """Copy ``dist/embed-amd.js`` and the icon fonts it loads next to it into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            wanted = name == "package/dist/embed-amd.js" or (
                name.startswith("package/dist/") and name.endswith(_FONT_SUFFIXES)
            ) or name in ("package/package.json", "package/dist/embed.js.LICENSE.txt")
            if member.isfile() and wanted:
                source = tar.extractfile(member)
                (dest / Path(name).name).write_bytes(source.read())
    if not (dest / _SOLID_FONT).is_file():
        raise RuntimeError(f"{tarball.name} has no dist/{_SOLID_FONT}: update _SOLID_FONT "
                           f"with the pin of HTML_MANAGER")
    (dest / "icons.css").write_text(_ICONS_CSS)


def _sources_record() -> dict:
    from importlib.metadata import version

    return {
        "layout": _LAYOUT,
        "reveal.js, require.js, jquery.min.js, mathjax": {
            "sphinx-revealjs": version("sphinx-revealjs"), "nbclassic": version("nbclassic"),
            "licences": "reveal.js MIT; require.js MIT; jQuery MIT; MathJax Apache-2.0",
        },
        "html-manager": {"npm": HTML_MANAGER.spec, "integrity": HTML_MANAGER.integrity,
                         "licence": HTML_MANAGER.licence},
    }


def build_assets(out_dir: str | Path, cache_dir: str | Path) -> Path:
    """Fill ``out_dir/assets`` with everything a deck loads; return that folder.

    out_dir   : the decks' folder (e.g. ``build/slides``).
    cache_dir : where the npm tarball is kept between builds (e.g. ``build/cache``).
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
    _extract_html_manager(fetch_npm_tarball(HTML_MANAGER, cache_dir), assets / "html-manager")
    stamp.write_text(json.dumps(record, indent=2) + "\n")
    return assets

