"""Tickers: one timer per owning loop that looks at many recorders' buffers.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).

A producer that appends to a busy recorder wakes nothing. The owning loop comes to look
instead, every ``interval`` seconds, while a recorder has had recent work (see
``recorder/processing.py``, POLLING). One ticker serves every recorder of a loop that
shares its interval, so a tick costs one timer callback whatever the number of
recorders, and a loop with no recorder polling has no timer at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["Poller", "Pollers"]

logger = logging.getLogger("mvx_metrics.hops")

#: Called once per tick on the owning loop; returns False to stop being called.
Poller = Callable[[], bool]


class Pollers:
    """The pollers of one ticker, in the order they asked to be polled."""

    __slots__ = ("_pollers",)

    def __init__(self) -> None:
        # A dict as an ordered set: a poller asking twice (a bound method made anew each
        # time compares equal) is polled once.
        self._pollers: dict[Poller, None] = {}

    def __bool__(self) -> bool:
        return bool(self._pollers)

    def add(self, poller: Poller) -> None:
        self._pollers[poller] = None

    def run(self) -> bool:
        """Call every poller once; keep those that return True. True while any is left."""
        pollers = self._pollers
        for poller in tuple(pollers):
            try:
                keep = poller()
            except Exception:
                # A poller is the recorder's own code and should not raise; if it does,
                # the others must still be polled.
                logger.exception("poller %r raised; it is no longer polled", poller)
                keep = False
            if not keep:
                pollers.pop(poller, None)
        return bool(pollers)
