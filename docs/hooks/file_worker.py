"""MkDocs hook: pages load the site's own stand-in for a web worker on ``file://``
(``docs/assets/javascripts/file-worker.js``) instead of the shim Material's offline build
loads from the network, so that search works when the site is opened from disk with no
network at all."""

from __future__ import annotations

import posixpath
from typing import Any

#: The tag Material's offline plugin writes into every page.
NETWORK_SHIM = '<script src="https://unpkg.com/iframe-worker/shim"></script>'
LOCAL_SHIM = "assets/javascripts/file-worker.js"


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Swap the network shim for the local one, relative to the page."""
    if NETWORK_SHIM not in output:
        return output
    depth = posixpath.dirname(page.url.rstrip("/")) if page.url else ""
    up = "../" * (depth.count("/") + 1) if depth else ""
    return output.replace(NETWORK_SHIM, f'<script src="{up}{LOCAL_SHIM}"></script>')


def on_post_template(output: str, template_name: str, config: Any) -> str:
    """The 404 page, a template of its own, links its assets from the site's root."""
    return output.replace(NETWORK_SHIM, f'<script src="/{LOCAL_SHIM}"></script>')
