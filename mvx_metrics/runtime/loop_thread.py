"""The runtime's own thread and the event loop running in it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from ..hops.owner_asyncio import AsyncioOwnerHop

__all__ = ["LoopFactory", "LoopThread", "default_loop_factory"]

logger = logging.getLogger("mvx_metrics.runtime")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def default_loop_factory() -> asyncio.AbstractEventLoop:
    """A uvloop loop where uvloop is installed, else the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """One daemon thread running one event loop until :meth:`stop`.

    Daemon, so that a program that forgets ``shutdown()`` still exits; the runtime's
    ``atexit`` hook is what processes the last events before that happens.
    """

    def __init__(self, name: str, loop_factory: LoopFactory) -> None:
        self._name = name
        self._loop_factory = loop_factory
        self._ready = threading.Event()
        self._hop: AsyncioOwnerHop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    @property
    def hop(self) -> AsyncioOwnerHop:
        assert self._hop is not None, "loop thread not started"
        return self._hop

    def start(self, timeout: float) -> AsyncioOwnerHop:
        """Start the thread; return the hop to its loop once the loop runs."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"loop thread {self._name!r} did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self.hop

    def _main(self) -> None:
        try:
            loop = self._loop_factory()
            if not isinstance(loop, asyncio.AbstractEventLoop):
                raise TypeError(f"loop_factory returned {type(loop).__name__}, not an event loop")
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        asyncio.set_event_loop(loop)
        self._hop = AsyncioOwnerHop(loop, threading.get_ident())
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                self._cancel_leftover_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    @staticmethod
    def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def stop(self, timeout: float) -> bool:
        """Stop the loop and join the thread; False if it did not end in time."""
        hop = self._hop
        if hop is not None and hop.is_alive():
            try:
                hop.call_soon(hop.loop.stop)
            except Exception:  # already closed: the thread is ending on its own
                pass
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_current(self) -> bool:
        """True when called from this loop thread."""
        return threading.current_thread() is self._thread
