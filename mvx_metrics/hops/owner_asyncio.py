"""Reaching an asyncio (or uvloop) owning loop.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from . import HopBase, OwnerGoneError
from .host_end import HostEndWatchers
from .polling import Poller, Pollers

__all__ = ["AsyncioOwnerHop"]


class _Ticker:
    """One ``call_later`` timer polling every poller of a loop that shares an interval."""

    __slots__ = ("_handle", "_interval", "_loop", "_pollers")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        # Weak: the registry below maps loops to tickers, and a strong reference back
        # would keep every closed loop alive.
        self._loop = weakref.ref(loop)
        self._interval = interval
        self._pollers = Pollers()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, poller: Poller) -> None:
        self._pollers.add(poller)
        if self._handle is None:
            self._arm()

    def _arm(self) -> None:
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            self._handle = loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        self._handle = None
        # A poller that rests again during the run re-adds itself, which arms the timer:
        # arming it a second time here would double the ticks at every such tick.
        if self._pollers.run() and self._handle is None:
            self._arm()


#: ``{loop: {interval: ticker}}``, shared by every recorder of a loop. Weak keys: an
#: entry goes with its loop.
_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, _Ticker]] = (
    weakref.WeakKeyDictionary()
)


class _Inbox:
    """Callbacks posted to one loop from other threads, delivered by one loop callback.

    ``call_soon_threadsafe`` writes to the loop's self-pipe and wakes its thread every
    time; a thread creating thousands of recorders, or waking many of them, would pay
    that (and a GIL hand-over) for each. Posts here share one delivery: whoever finds the
    *armed* token pops it and schedules it; the delivery re-arms the token before it runs
    what it finds, so a post that raced with it is either run by it or schedules the next.
    """

    __slots__ = ("_armed", "_items", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._items: deque[Callable[[], object]] = deque()
        self._armed: list[None] = [None]

    def post(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
        self._items.append(callback)
        try:
            self._armed.pop()
        except IndexError:
            return  # a delivery is on its way and will run it
        try:
            loop.call_soon_threadsafe(self._deliver, context=contextvars.Context())
        except RuntimeError as exc:  # the loop closed: nothing posted can run any more
            self._armed.append(None)
            raise OwnerGoneError(str(exc)) from exc

    def _deliver(self) -> None:
        self._armed.append(None)  # first: a post from now on schedules the next delivery
        items = self._items
        for _ in range(len(items)):
            callback = items.popleft()
            try:
                callback()
            except Exception as exc:  # as asyncio reports a failing callback
                loop = self._loop()
                if loop is not None:
                    loop.call_exception_handler(
                        {"message": f"callback {callback!r} raised", "exception": exc}
                    )


#: ``{loop: inbox}``; weak keys: an entry goes with its loop.
_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()


class _Sentinel:
    """The task that waits for the loop's end on behalf of its resting recorders."""

    __slots__ = ("_loop", "_task", "watchers")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self.watchers = HostEndWatchers()
        # Held here: asyncio keeps only weak references to tasks.
        self._task = loop.create_task(self._watch(), name="mvx-metrics-sentinel")

    async def _watch(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            loop = self._loop()
            if loop is not None and _sentinels.get(loop) is self:
                del _sentinels[loop]  # a later recorder on a loop still running gets a new one
            self.watchers.fire()
            raise


#: ``{loop: sentinel}``; weak keys: an entry goes with its loop.
_sentinels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sentinel] = (
    weakref.WeakKeyDictionary()
)


class AsyncioOwnerHop(HopBase):
    """Owner hop for an asyncio loop; uvloop loops are asyncio loops too."""

    library = "asyncio"

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        *,
        exceptions_reach_host: bool = True,
        host_stops_recorders: bool = False,
    ) -> None:
        super().__init__(thread)
        self.loop = loop
        #: False for the runtime's loop: its host is the runtime, which metric code must
        #: not take down (see ``OwnerHop.exceptions_reach_host``).
        self.exceptions_reach_host = exceptions_reach_host
        #: True for the runtime's loop (see ``OwnerHop.host_stops_recorders``).
        self.host_stops_recorders = host_stops_recorders
        # Strong references: asyncio keeps only weak ones to tasks, and a collected
        # task (a hook, a drain) would silently stop a recorder.
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def current(cls) -> AsyncioOwnerHop:
        return cls(asyncio.get_running_loop(), threading.current_thread())

    def call_soon(self, callback: Callable[[], object]) -> None:
        loop = self.loop
        if loop.is_closed():
            raise OwnerGoneError("the owning asyncio loop is closed")
        # A fresh context, not the caller's: asyncio would otherwise run the callback (and
        # any task it creates) with the caller's context variables, and a caller from a
        # trio run would carry sniffio's "trio" marker into this asyncio loop.
        if threading.get_ident() != self.thread_id:
            inbox = _inboxes.get(loop)
            if inbox is None:
                inbox = _inboxes.setdefault(loop, _Inbox(loop))
            inbox.post(loop, callback)
            return
        try:
            # The owning thread needs no self-pipe write: the loop will see the callback
            # on its next iteration anyway.
            loop.call_soon(callback, context=contextvars.Context())
        except RuntimeError as exc:  # closed between the check and the call
            raise OwnerGoneError(str(exc)) from exc

    def spawn(self, task_fn: Callable[[], Awaitable[None]], name: str) -> None:
        coro = task_fn()
        assert isinstance(coro, Coroutine)
        task: asyncio.Task[Any] = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def is_alive(self) -> bool:
        return not self.loop.is_closed()

    def poll_every(self, interval: float, poller: Poller) -> None:
        by_interval = _tickers.setdefault(self.loop, {})
        ticker = by_interval.get(interval)
        if ticker is None:
            ticker = by_interval[interval] = _Ticker(self.loop, interval)
        ticker.add(poller)

    def _watchers(self, *, create: bool) -> HostEndWatchers | None:
        sentinel = _sentinels.get(self.loop)
        if sentinel is None and create:
            sentinel = _sentinels[self.loop] = _Sentinel(self.loop)
        return None if sentinel is None else sentinel.watchers
