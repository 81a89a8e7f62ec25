"""The runtime's own thread, the event loop running in it, and blocking calls into it.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from ..errors import (
    MetricsError,
    MetricsRuntimeDeadlockError,
    MetricsRuntimeInvalidStateError,
    MetricsRuntimeTimeoutError,
    MetricsRuntimeUnexpectedError,
)
from ..hops.owner_asyncio import AsyncioOwnerHop
from ..hops.waiting import spawn_on_owner, wait_blocking

__all__ = ["LAG_PROBE_S", "LoopFactory", "LoopThread", "default_loop_factory", "unexpected_wrapped"]

#: Seconds between two probes of the runtime loop's lag.
LAG_PROBE_S = 1.0

logger = logging.getLogger("mvx_metrics.runtime")

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def default_loop_factory() -> asyncio.AbstractEventLoop:
    """A uvloop loop where uvloop is installed, else the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class unexpected_wrapped:
    """Errors of the package, bad arguments and OS errors (a port in use) come out as
    they are; anything else (a bug in a user's recorder class, say) as
    ``MetricsRuntimeUnexpectedError`` naming ``what``. A class rather than a generator:
    one object per use, not two (``create_recorder`` is a use)."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not isinstance(exc, Exception) or isinstance(exc, _PASSED_THROUGH):
            return  # no error, one passed as it is, or not an Exception (Ctrl-C)
        what = self._what
        raise MetricsRuntimeUnexpectedError(
            f"{what}() failed", details={"operation": what}, cause=exc
        ) from exc


_PASSED_THROUGH = (MetricsError, ValueError, TypeError, OSError)


class LoopThread:
    """One daemon thread running one event loop until :meth:`stop`.

    Daemon, so that a program that forgets ``shutdown()`` still exits; the runtime's
    ``atexit`` hook is what processes the last events before that happens.
    """

    def __init__(
        self,
        name: str,
        loop_factory: LoopFactory,
        on_death: Callable[[BaseException], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._loop_factory = loop_factory
        #: Called on the loop as it ends (by stop() or dying), before its leftover tasks
        #: are cancelled: the runtime ends its recorders there, as a host ending a loop
        #: would (see ``hops/host_end.py``), without a watcher per recorder.
        self._on_end = on_end
        #: Called in the thread when its loop ends other than by stop(), with the cause,
        #: before the loop's tasks are cancelled (recorders then end CANCELLED).
        self._on_death = on_death
        #: Why the loop ended without stop(), once it has; None while it runs.
        self.died: BaseException | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._hop: AsyncioOwnerHop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        #: Seconds late the loop ran its latest lag probe (see _probe_lag).
        self.loop_lag = 0.0
        #: The process that started the thread. A forked child has a copy of this object
        #: but not the thread, and must not wait for it.
        self.started_pid: int | None = None

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
        self.started_pid = os.getpid()
        return self.hop

    def in_forked_child(self) -> bool:
        """True in a process forked from the one that started the thread."""
        return self.started_pid is not None and self.started_pid != os.getpid()

    def refuse_in_forked_child(self, what: str, runtime_name: str) -> None:
        """Raise at once, rather than wait for a thread this process (a fork) never had."""
        if self.in_forked_child():
            pid = os.getpid()
            raise MetricsRuntimeInvalidStateError(
                f"{what}(): runtime {runtime_name!r} was started in process {self.started_pid}; "
                f"this process ({pid}) is a fork of it and has no runtime thread. Start a new "
                "MetricsRuntime in this process.",
                reason="forked",
                details={"operation": what, "started_in_pid": self.started_pid, "pid": pid},
            )

    def run(self, coro_fn: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
        """Run ``coro_fn()`` as a task on the loop; block this (other) thread for its result.

        Errors of the package, bad arguments and OS errors (a port in use) come out as they
        are; anything else is wrapped in ``MetricsRuntimeUnexpectedError``.
        """
        fut = spawn_on_owner(self.hop, coro_fn, name=f"mvx-runtime-{what}")
        with unexpected_wrapped(what):
            return wait_blocking(
                fut,
                timeout=timeout,
                owner=self.hop,
                deadlock_error=MetricsRuntimeDeadlockError,
                timeout_error=lambda w: MetricsRuntimeTimeoutError(
                    f"{w}() did not complete within {timeout}s", details={"operation": w}
                ),
                what=what,
            )

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
        # Metric code must not end the runtime's thread (see exceptions_reach_host); the
        # runtime ends its recorders itself when this loop ends (``on_end``).
        self._hop = AsyncioOwnerHop(
            loop,
            threading.current_thread(),
            exceptions_reach_host=False,
            host_stops_recorders=True,
        )
        loop.call_soon(self._ready.set)
        self._probe_lag(loop, loop.time())
        try:
            loop.run_forever()
            if not self._stopping:
                raise RuntimeError("the runtime's event loop stopped without shutdown()")
        except BaseException as exc:  # SystemExit, a crash: the thread must say why
            self._died(exc)
        finally:
            try:
                self._end_on_loop(loop)
                self._cancel_leftover_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def _probe_lag(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        """A timer every ``LAG_PROBE_S``: how late it runs is the loop's lag, the time a
        callback (an event's processing, a read) waits behind whatever holds the loop or
        the GIL. One timer a second, whatever the number of recorders."""
        now = loop.time()
        self.loop_lag = max(0.0, now - due)
        loop.call_at(now + LAG_PROBE_S, self._probe_lag, loop, now + LAG_PROBE_S)

    def _died(self, exc: BaseException) -> None:
        self.died = exc
        logger.error("runtime thread %r: its event loop died: %r", self._name, exc)
        if self._on_death is not None:
            try:
                self._on_death(exc)
            except Exception:
                logger.exception("runtime thread %r: reporting its death failed", self._name)

    def is_dead(self) -> bool:
        """True once the loop has ended other than by :meth:`stop`."""
        return self.died is not None

    def _end_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``on_end`` inside the loop (its callbacks may schedule more)."""
        on_end = self._on_end
        if on_end is None:
            return

        async def end() -> None:
            try:
                on_end()
            except Exception:
                logger.exception("runtime thread %r: ending its recorders failed", self._name)

        loop.run_until_complete(end())

    @staticmethod
    def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def stop(self, timeout: float) -> bool:
        """Stop the loop and join the thread; False if it did not end in time."""
        self._stopping = True
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
