"""The one place where threads and event loops are crossed.

Internal: not part of the public API (no name here is public: this is how recorders and
the runtime cross threads).

A recorder is *owned* by the event loop it was created on. ``bind_owner()`` detects that
loop once, at construction (the only sniffio call on the owning side), and returns an
:class:`OwnerHop`: a small backend-specific object that can run a callable on the owning
loop from any thread and spawn the recorder's tasks there (for its hooks).

Owner hops also keep the loop's *tickers* (:mod:`.polling`): the timers through which a
loop looks at its recorders' buffers, so that producers need not wake it per batch; and
its *sentinel* (:mod:`.host_end`): the one task per loop that tells resting recorders,
which have no task of their own, that the host is ending the loop.

A caller that knows the loop already (the runtime, creating recorders from other
threads) binds to it explicitly with :func:`binding_to`, without a round trip.

The caller side lives in :mod:`.waiting`: whoever waits for work done on the owning loop
(a plain thread, another asyncio loop, a trio run) waits through it.

No other module of the package may use ``call_soon_threadsafe``,
``TrioToken.run_sync_soon`` or ``concurrent.futures``.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Protocol

import sniffio

from ..errors import MetricsRecorderLoopUnavailableError
from .host_end import HostEndWatcher, HostEndWatchers

__all__ = ["HopBase", "OwnerGoneError", "OwnerHop", "Reach", "bind_owner", "binding_to"]


class OwnerGoneError(RuntimeError):
    """The owning loop is closed or finished: nothing can be scheduled on it any more."""


class Reach(enum.Enum):
    """Whether the caller can have work done on an owning loop, and why not: the one
    answer every caller acts on (see :meth:`OwnerHop.reach`)."""

    #: The caller runs on the owning loop's thread: it must not wait for that loop.
    OWNER = "owner"
    #: Another thread of the owner's process, while the loop runs: submit, then wait.
    REACHABLE = "reachable"
    #: The loop is closed or its run has finished: nothing will run there any more.
    GONE = "gone"
    #: This process is a fork of the owner's: the loop's thread does not exist here.
    FORKED = "forked"


class OwnerHop(Protocol):
    """How to reach one owning event loop."""

    #: The process the owning loop runs in.
    pid: int

    #: "asyncio" (uvloop included) or "trio".
    library: str
    #: ``threading.get_ident()`` of the thread the owning loop runs in.
    thread_id: int
    #: Whether an exception may leave a callback or task of ours and reach the host:
    #: asyncio reports it (and lets ``KeyboardInterrupt``/``SystemExit`` end the loop);
    #: trio turns any into ``TrioInternalError`` and so must never see one (and never
    #: delivers a real Ctrl-C there: its callbacks and system tasks are KI-protected).
    exceptions_reach_host: bool
    #: True when the host ends its recorders itself as the loop ends (the runtime): no
    #: sentinel need watch for it, nor a weak reference per recorder.
    host_stops_recorders: bool

    def is_owner(self) -> bool:
        """True when called from the owning loop's thread. Thread identity, not its id:
        the OS reuses the ids of threads that ended, and a new thread must not pass for
        a dead owner."""

    def reach(self) -> Reach:
        """Whether (and how) the calling thread can reach the owning loop right now."""

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the owning loop soon; safe from any thread.

        Raises :class:`OwnerGoneError` when the loop can no longer run callbacks.
        """

    def spawn(self, task_fn: Callable[[], Awaitable[None]], name: str) -> None:
        """Start ``task_fn()`` as a task owned by the loop; call on the owning thread only."""

    def is_alive(self) -> bool:
        """True while the owning loop can still run callbacks."""

    def poll_every(self, interval: float, poller: Callable[[], bool]) -> None:
        """Call ``poller()`` on the owning loop about every ``interval`` seconds until it
        returns False; call on the owning thread only.

        Pollers of one loop that share an interval share one timer (see ``polling``).
        """

    def when_host_ends(self, watcher: HostEndWatcher) -> None:
        """Call ``watcher.host_ended()`` on the owning loop when its host ends it
        (asyncio: the loop's tasks are cancelled at shutdown; trio: the run's main task
        returned); call on the owning thread only. Held weakly (see ``host_end``)."""

    def forget_host_end(self, watcher: HostEndWatcher) -> None:
        """Undo :meth:`when_host_ends` (the recorder ended by itself)."""


class HopBase:
    """What every backend's hop shares: who the owner is, and whether it can be reached."""

    thread: threading.Thread
    pid: int
    host_stops_recorders = False

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.thread_id = thread.ident or threading.get_ident()
        self.pid = os.getpid()

    def is_owner(self) -> bool:
        return threading.current_thread() is self.thread

    def is_alive(self) -> bool:
        raise NotImplementedError

    def _watchers(self, *, create: bool) -> HostEndWatchers | None:
        """The loop's sentinel's watchers (started on first need when ``create``)."""
        raise NotImplementedError

    def when_host_ends(self, watcher: HostEndWatcher) -> None:
        if self.host_stops_recorders:
            return
        watchers = self._watchers(create=True)
        assert watchers is not None
        watchers.add(watcher)

    def forget_host_end(self, watcher: HostEndWatcher) -> None:
        watchers = self._watchers(create=False)
        if watchers is not None:
            watchers.discard(watcher)

    def reach(self) -> Reach:
        if os.getpid() != self.pid:
            return Reach.FORKED
        if not self.is_alive():
            return Reach.GONE
        return Reach.OWNER if self.is_owner() else Reach.REACHABLE


#: A hop bound explicitly by :func:`binding_to`, which ``bind_owner`` returns as is.
_explicit: ContextVar[OwnerHop | None] = ContextVar("mvx_metrics_owner_hop", default=None)


class binding_to:
    """Within the block, ``bind_owner()`` in this context returns ``hop``, from any thread.

    For the runtime, which creates recorders for its own loop from callers' threads: the
    recorder is bound at once, with no round trip to the loop and no sniffio call. A
    class rather than a generator: one object per use, not two (a runtime may create
    thousands of recorders, each a use).
    """

    __slots__ = ("_hop", "_token")

    def __init__(self, hop: OwnerHop) -> None:
        self._hop = hop

    def __enter__(self) -> None:
        self._token = _explicit.set(self._hop)

    def __exit__(self, *exc_info: object) -> None:
        _explicit.reset(self._token)


def bind_owner(*, require: str | None = None) -> OwnerHop:
    """Return the hop for the event loop running in the calling thread.

    ``require`` restricts the accepted library ("asyncio"). Raises
    ``MetricsRecorderLoopUnavailableError`` outside a running loop. Inside
    :func:`binding_to`, returns the hop bound there.
    """
    explicit = _explicit.get()
    if explicit is not None:
        if require is not None and explicit.library != require:
            raise MetricsRecorderLoopUnavailableError(
                f"this recorder needs a {require} loop, but it is bound to {explicit.library}",
                details={"required": require, "found": explicit.library},
            )
        return explicit
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError as exc:
        raise MetricsRecorderLoopUnavailableError(cause=exc) from exc
    if require is not None and library != require:
        raise MetricsRecorderLoopUnavailableError(
            f"this recorder needs a running {require} loop, but the caller runs in {library}",
            details={"required": require, "found": library},
        )
    if library == "asyncio":
        from .owner_asyncio import AsyncioOwnerHop

        return AsyncioOwnerHop.current()
    if library == "trio":
        from .owner_trio import TrioOwnerHop

        return TrioOwnerHop.current()
    raise MetricsRecorderLoopUnavailableError(
        f"unsupported async library {library!r}; use asyncio, uvloop or trio",
        details={"found": library},
    )
