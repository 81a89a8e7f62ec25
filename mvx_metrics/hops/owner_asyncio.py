"""Reaching an asyncio (or uvloop) owning loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from . import OwnerGoneError
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
        if self._pollers.run():
            self._arm()


#: ``{loop: {interval: ticker}}``, shared by every recorder of a loop. Weak keys: an
#: entry goes with its loop.
_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, _Ticker]] = (
    weakref.WeakKeyDictionary()
)


class AsyncioOwnerHop:
    """Owner hop for an asyncio loop; uvloop loops are asyncio loops too."""

    library = "asyncio"

    def __init__(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        self.loop = loop
        self.thread_id = thread_id
        # Strong references: asyncio keeps only weak ones to tasks, and a collected
        # processing task would silently stop a recorder.
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def current(cls) -> AsyncioOwnerHop:
        return cls(asyncio.get_running_loop(), threading.get_ident())

    def call_soon(self, callback: Callable[[], object]) -> None:
        loop = self.loop
        if loop.is_closed():
            raise OwnerGoneError("the owning asyncio loop is closed")
        # A fresh context, not the caller's: asyncio would otherwise run the callback (and
        # any task it creates) with the caller's context variables, and a caller from a
        # trio run would carry sniffio's "trio" marker into this asyncio loop.
        context = contextvars.Context()
        try:
            # The owning thread needs no self-pipe write: the loop will see the callback
            # on its next iteration anyway.
            if threading.get_ident() == self.thread_id:
                loop.call_soon(callback, context=context)
            else:
                loop.call_soon_threadsafe(callback, context=context)
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
