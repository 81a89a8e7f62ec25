"""mkdocs hook: the test marker of runnable examples is for the tests, not for readers.

``tests/test_docs_examples.py`` runs every code block whose first line is
``# docs-example: run``; the site shows the block without that line.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"^(?P<fence>[ \t]*```python[^\n]*\n)[ \t]*# docs-example: run[ \t]*\n", re.M)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return MARKER.sub(r"\g<fence>", markdown)
