"""Keeping the garbage collector out of a scrape.

A large scrape makes tens of thousands of short-lived containers (the snapshot's series
dicts, the families and samples built from them). They cross the collector's
thresholds, and the collections they set off run in the scraping thread while holding
the GIL: with a large heap, one full collection stalls every thread of the process, the
serving loop and the runtime's loop included, for tens of milliseconds. That, not the
rendering, was most of a big scrape's stall (see docs/export.md).

None of those containers is part of a cycle: they are all freed by reference counting
as the scrape ends, which also gives back the collector's allocation count. So
:func:`collections_deferred` turns automatic collection off for the scrape's read and
render, and back on after, as ``timeit`` does for the same reason. Collection stays off
while any scrape in the process is in one (a count under a lock), and it is never turned
on by us if it was off when the first scrape entered: an application that disabled the
collector keeps it disabled.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collections_deferred"]

_lock = threading.Lock()
_inside = 0
_we_disabled = False


@contextmanager
def collections_deferred() -> Iterator[None]:
    """No automatic garbage collection while the block runs (process-wide; nested and
    concurrent blocks keep it off until the last one ends)."""
    global _inside, _we_disabled
    with _lock:
        if _inside == 0:
            _we_disabled = gc.isenabled()
            if _we_disabled:
                gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _we_disabled:
                _we_disabled = False
                gc.enable()


def _after_fork_in_child() -> None:
    """A scrape of the parent's that was in its block at the fork never ends here: its
    lock may be held for good, and collection would stay off."""
    global _lock, _inside, _we_disabled
    _lock = threading.Lock()
    if _inside and _we_disabled:
        gc.enable()
    _inside = 0
    _we_disabled = False


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
