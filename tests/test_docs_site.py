"""The documentation site as a reader meets it: built strictly, and searchable when
opened from disk with no network (issue 13, items 1 and 7).

The site is built with mkdocs into a temporary folder and opened from ``file://`` in
headless Chromium (Debian's package, installed by ``.ci/run``), with a search query in
the address (``?q=``); the page's search must find documents, which needs the site's own
stand-in for a web worker (``docs/assets/javascripts/file-worker.js``).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._support import load_docs_hook

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def _hook() -> Any:
    return load_docs_hook("file_worker")


class _Page:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.mark.parametrize(
    ("url", "src"),
    [
        ("index.html", "assets/javascripts/file-worker.js"),
        ("api.html", "assets/javascripts/file-worker.js"),
        ("guide/page.html", "../assets/javascripts/file-worker.js"),
        ("a/b/page.html", "../../assets/javascripts/file-worker.js"),
    ],
)
def test_pages_load_the_local_worker_stand_in_not_the_network_shim(url: str, src: str) -> None:
    hook = _hook()
    page = f"<head>{hook.NETWORK_SHIM}</head><body>x</body>"
    shown = hook.on_post_page(page, _Page(url), None)
    assert shown == f'<head><script src="{src}"></script></head><body>x</body>'
    assert hook.on_post_page("<p>no shim</p>", _Page(url), None) == "<p>no shim</p>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    return out


def test_the_site_builds_strictly_and_fetches_nothing(site: Path) -> None:
    pages = sorted(site.glob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # Nothing from the network: no CDN scripts, styles or fonts.
        assert not re.search(r'<(script|link)[^>]*(src|href)="https?://', html), page.name


def test_search_finds_documents_when_the_site_is_opened_from_disk(site: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's)")
    page = (site / "index.html").as_uri() + "?q=recorder"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    ).stdout
    found = re.search(r'class="md-search-result__meta">(\d+) matching document', dom)
    assert found is not None, dom[-2000:]
    assert int(found.group(1)) > 0
    assert dom.count('class="md-search-result__item"') > 0
