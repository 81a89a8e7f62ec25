"""Reaching a trio owning run.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Awaitable, Callable

import trio

from . import HopBase, OwnerGoneError
from .host_end import HostEndWatchers
from .polling import Poller, Pollers

__all__ = ["TrioOwnerHop"]


class _Ticker:
    """A system task polling every poller of a run that shares an interval; it sleeps on
    an event, not a timer, while nobody needs polling."""

    __slots__ = ("_interval", "_pollers", "_running", "_wanted")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._pollers = Pollers()
        self._wanted: trio.Event | None = None
        self._running = False

    def add(self, poller: Poller) -> None:
        self._pollers.add(poller)
        if not self._running:
            self._running = True
            # A system task: it belongs to the run and is cancelled when the run ends.
            trio.lowlevel.spawn_system_task(self._run, name="mvx-metrics-ticker")
        elif self._wanted is not None:
            self._wanted.set()

    async def _run(self) -> None:
        while True:
            if not self._pollers:
                self._wanted = trio.Event()
                await self._wanted.wait()
                self._wanted = None
            await trio.sleep(self._interval)
            self._pollers.run()


#: ``{run's token: {interval: ticker}}``; weak keys: an entry goes with its run.
_tickers: weakref.WeakKeyDictionary[trio.lowlevel.TrioToken, dict[float, _Ticker]] = (
    weakref.WeakKeyDictionary()
)


class _Sentinel:
    """The system task that waits for the run's end on behalf of its resting recorders."""

    __slots__ = ("_token", "watchers")

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self.watchers = HostEndWatchers()
        # A system task is cancelled when the run's main task returns: that is the signal.
        trio.lowlevel.spawn_system_task(self._watch, name="mvx-metrics-sentinel")

    async def _watch(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            if _sentinels.get(self._token) is self:
                del _sentinels[self._token]
            self.watchers.fire()


#: ``{run's token: sentinel}``; weak keys: an entry goes with its run.
_sentinels: weakref.WeakKeyDictionary[trio.lowlevel.TrioToken, _Sentinel] = (
    weakref.WeakKeyDictionary()
)


class TrioOwnerHop(HopBase):
    """Owner hop for a trio run, through its ``TrioToken``."""

    library = "trio"
    exceptions_reach_host = False

    def __init__(self, token: trio.lowlevel.TrioToken, thread: threading.Thread) -> None:
        super().__init__(thread)
        self.token = token
        self._finished = False

    @classmethod
    def current(cls) -> TrioOwnerHop:
        return cls(trio.lowlevel.current_trio_token(), threading.current_thread())

    def call_soon(self, callback: Callable[[], object]) -> None:
        try:
            self.token.run_sync_soon(callback)
        except trio.RunFinishedError as exc:
            self._finished = True
            raise OwnerGoneError("the owning trio run has finished") from exc

    def spawn(self, task_fn: Callable[[], Awaitable[None]], name: str) -> None:
        # A system task: it belongs to the run, not to whichever task called start(), and
        # is cancelled (-> recorder CANCELLED) when the run's main task returns.
        trio.lowlevel.spawn_system_task(task_fn, name=name)

    def is_alive(self) -> bool:
        return not self._finished

    def poll_every(self, interval: float, poller: Poller) -> None:
        by_interval = _tickers.setdefault(self.token, {})
        ticker = by_interval.get(interval)
        if ticker is None:
            ticker = by_interval[interval] = _Ticker(interval)
        ticker.add(poller)

    def _watchers(self, *, create: bool) -> HostEndWatchers | None:
        sentinel = _sentinels.get(self.token)
        if sentinel is None and create:
            sentinel = _sentinels[self.token] = _Sentinel(self.token)
        return None if sentinel is None else sentinel.watchers
