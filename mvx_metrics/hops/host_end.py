"""Watchers of a loop's end: one sentinel task per owning loop, not one task per recorder.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).

A recorder that rests has no task of its own on its loop (see ``recorder/driving.py``),
so nothing of it would notice its host ending the loop (``asyncio.run`` returning, a trio
run's main task finishing) without a ``stop()``. Each loop with recorders runs one
sentinel task that waits forever; the host cancels it with everything else at the end,
and it then calls each recorder's callback, which applies what the recorder holds and
marks it CANCELLED.

Recorders are held weakly: a recorder nobody references goes away as if it had no
sentinel.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Protocol

__all__ = ["HostEndWatcher", "HostEndWatchers"]

logger = logging.getLogger("mvx_metrics.hops")


class HostEndWatcher(Protocol):
    """Told when the host ends the loop; must support weak references."""

    def host_ended(self) -> None: ...


class HostEndWatchers:
    """The watchers to tell when one loop's host ends it."""

    __slots__ = ("_lock", "_watchers")

    def __init__(self) -> None:
        # One weak reference per watcher: the least a weak container can hold.
        self._watchers: weakref.WeakSet[HostEndWatcher] = weakref.WeakSet()
        # A recorder that fails to start forgets itself from the caller's thread, maybe
        # while the loop's end is being announced: a set must not change while iterated.
        self._lock = threading.Lock()

    def add(self, watcher: HostEndWatcher) -> None:
        with self._lock:
            self._watchers.add(watcher)

    def discard(self, watcher: HostEndWatcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def fire(self) -> None:
        """Tell every live watcher once; the set is empty afterwards."""
        with self._lock:
            watchers, self._watchers = list(self._watchers), weakref.WeakSet()
        for watcher in watchers:
            try:
                watcher.host_ended()
            except Exception:
                # A recorder's own code, which should not raise; the others must still run.
                logger.exception("host-end watcher %r raised", watcher)
