"""``MetricsRuntime``: a thread with its own event loop, and the recorders living in it.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._validation import check_delay, check_enum, check_id, check_positive_int, check_timeout
from ..errors import (
    MetricsError,
    MetricsRecorderTimeoutError,
    MetricsRuntimeDeadlockError,
    MetricsRuntimeInvalidStateError,
    MetricsRuntimeRecorderNotFoundError,
    MetricsRuntimeRecorderStopError,
    MetricsRuntimeShutdownError,
    MetricsRuntimeStartupError,
    MetricsRuntimeTimeoutError,
)
from ..exposition.process import process_families
from ..hops import binding_to
from ..hops.waiting import checkpoint_if_trio, spawn_on_owner, wait_async
from ..multiprocess.directory import MultiprocessDirectory
from ..multiprocess.publisher import DEFAULT_PUBLISH_INTERVAL, Publisher
from ..recorder.asyncio_recorder import AsyncioMetricsRecorder
from ..recorder.captures import Captures, snapshots_of
from ..recorder.policies import MetricErrorPolicy, OverflowPolicy
from ..recorder.recorder import (
    DEFAULT_MAX_PROCESSING_DELAY,
    DEFAULT_QUEUE_MAX_SIZE,
    MAX_QUEUE_MAX_SIZE,
)
from ..recorder.results import OpResult
from ..recorder.stats import RecorderStats
from ..snapshots import MetricFamily
from .loop_thread import LoopFactory, LoopThread, default_loop_factory, unexpected_wrapped
from .recorders import HostedRecorders
from .state import RuntimeState, check_transition

if TYPE_CHECKING:
    from ..export.http import MetricsHTTPServer

__all__ = ["MetricsRuntime"]

logger = logging.getLogger("mvx_metrics.runtime")

T = TypeVar("T")
R = TypeVar("R", bound=AsyncioMetricsRecorder)

_S = RuntimeState


class MetricsRuntime:
    """Owns one thread running a uvloop (or asyncio) loop, and the recorders created in it.

    Every public method is synchronous, safe from any thread, and bounded by a timeout.
    Blocking methods called from the runtime's own loop thread raise
    ``MetricsRuntimeDeadlockError`` at once instead of hanging.

    A started runtime comes back to life in a process forked from it (a new thread, the
    same recorders and metrics from zero, the parent's pending copies counted as
    ``fork_discarded``) unless ``restart_after_fork`` is False: see docs/threading.md,
    "After fork".
    """

    def __init__(
        self,
        *,
        namespace: str | None = None,
        default_recorder_queue_max_size: int | None = None,
        default_recorder_queue_overflow_policy: OverflowPolicy = OverflowPolicy.DROP,
        default_recorder_metric_error_policy: MetricErrorPolicy = MetricErrorPolicy.ISOLATE,
        default_recorder_max_processing_delay: float | None = None,
        loop_factory: LoopFactory | None = None,
        start_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        operation_timeout: float | None = None,
        thread_name: str | None = None,
        restart_after_fork: bool = True,
        process_metrics: bool = True,
        multiprocess_dir: str | os.PathLike[str] | None = None,
        publish_interval: float | None = None,
    ) -> None:
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError(f"argument 'namespace' must be a str, got {type(namespace).__name__}")
        self._namespace = (namespace or "").strip() or "mvx_metrics"
        self._default_queue_max_size = check_positive_int(
            default_recorder_queue_max_size,
            "default_recorder_queue_max_size",
            DEFAULT_QUEUE_MAX_SIZE,
            maximum=MAX_QUEUE_MAX_SIZE,
        )
        self._default_overflow_policy = check_enum(
            default_recorder_queue_overflow_policy,
            OverflowPolicy,
            "default_recorder_queue_overflow_policy",
            OverflowPolicy.DROP,
        )
        self._default_metric_error_policy = check_enum(
            default_recorder_metric_error_policy,
            MetricErrorPolicy,
            "default_recorder_metric_error_policy",
            MetricErrorPolicy.ISOLATE,
        )
        self._default_max_processing_delay = check_delay(
            default_recorder_max_processing_delay,
            "default_recorder_max_processing_delay",
            DEFAULT_MAX_PROCESSING_DELAY,
        )
        if loop_factory is not None and not callable(loop_factory):
            raise TypeError("argument 'loop_factory' must be callable")
        self._loop_factory = loop_factory or default_loop_factory
        self._start_timeout = check_timeout(start_timeout, "start_timeout", 10.0)
        self._shutdown_timeout = check_timeout(shutdown_timeout, "shutdown_timeout", 30.0)
        self._operation_timeout = check_timeout(operation_timeout, "operation_timeout", 10.0)
        self._thread_name = thread_name or f"mvx-metrics-runtime[{self._namespace}]"
        if not isinstance(restart_after_fork, bool):
            raise TypeError(
                "argument 'restart_after_fork' must be a bool, got "
                f"{type(restart_after_fork).__name__}"
            )
        #: Come back to life in a forked child (see _restart_in_forked_child).
        self._restart_after_fork = restart_after_fork
        if not isinstance(process_metrics, bool):
            raise TypeError(
                f"argument 'process_metrics' must be a bool, got {type(process_metrics).__name__}"
            )
        self._process_metrics = process_metrics
        #: Multiprocess mode (``mvx_metrics.multiprocess``): where this process publishes,
        #: and whose merge its expositions show. None: this process alone.
        self._publisher: Publisher | None = None
        if multiprocess_dir is not None:
            self._publisher = Publisher(
                MultiprocessDirectory(multiprocess_dir),
                self._read_for_publishing,
                check_timeout(publish_interval, "publish_interval", DEFAULT_PUBLISH_INTERVAL),
                # Each process's own, shown labelled by process by whoever reads the group.
                self._read_process_for_publishing if process_metrics else None,
            )

        self._state = RuntimeState.VIRGIN
        # Held for the whole of start() and shutdown(): concurrent callers queue on it
        # (bounded by their timeout) and then find the work done.
        self._lifecycle_lock = threading.Lock()
        self._loop_thread: LoopThread | None = None
        # Why the loop thread died, if it did (FAILURE); see _loop_died.
        self._loop_failure: BaseException | None = None
        self._recorders = HostedRecorders()
        # /metrics servers started by serve_http(); touched on the loop thread only.
        self._http_servers: list[MetricsHTTPServer] = []

    # --- state --------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace given at construction; recorders inherit it by default."""
        return self._namespace

    @property
    def state(self) -> RuntimeState:
        """The current lifecycle state."""
        return self._state

    @property
    def process_metrics(self) -> bool:
        """Whether this runtime's expositions end with the process's metrics
        (``process_cpu_seconds_total`` and the rest: see
        :mod:`mvx_metrics.exposition.process`); in multiprocess mode, whether this
        process publishes them, for the group's expositions to show labelled by process."""
        return self._process_metrics

    @property
    def multiprocess_dir(self) -> MultiprocessDirectory | None:
        """The shared directory of multiprocess mode, or None (see
        :mod:`mvx_metrics.multiprocess`)."""
        return None if self._publisher is None else self._publisher.directory

    def _read_for_publishing(
        self, timeout: float | None
    ) -> tuple[Mapping[str, Mapping[str, Mapping[str, Any]]], Mapping[str, RecorderStats]]:
        if self._state is _S.RUNNING:
            snapshots = self.get_metric_snapshots(timeout=timeout)
        else:  # stopping: the recorders are stopped, and read directly
            snapshots = self._recorders.read_directly()
        return snapshots, self._recorders.stats()

    def _read_process_for_publishing(self) -> list[MetricFamily]:
        return process_families(self.loop_lag)

    def publish(self, *, timeout: float | None = None) -> bool:
        """Multiprocess mode: publish this process's snapshots now (a scrape served here
        does it first, within its own timeout); False if it failed or did not finish
        within ``timeout`` (logged). Without a directory, False."""
        return self._publisher is not None and self._publisher.publish(timeout=timeout)

    @property
    def loop_lag(self) -> float | None:
        """Seconds late the runtime's loop ran its latest lag probe (one a second); None
        before start."""
        loop_thread = self._loop_thread
        return None if loop_thread is None else loop_thread.loop_lag

    def get_status(self) -> RuntimeState:
        """The current state (mvx-common 0.3 spelling of :attr:`state`)."""
        return self._state

    def __repr__(self) -> str:
        return f"<MetricsRuntime {self._namespace} {self._state} recorders={len(self._recorders.by_id)}>"

    def _move_to(self, new: RuntimeState) -> None:
        check_transition(self._state, new)
        self._state = new

    def _on_loop_thread(self) -> bool:
        return self._loop_thread is not None and self._loop_thread.is_current()

    def _refuse_on_loop_thread(self, what: str) -> None:
        if self._on_loop_thread():
            raise MetricsRuntimeDeadlockError(
                f"MetricsRuntime.{what}() blocks, and was called on the runtime's own loop "
                "thread; call it from another thread",
                details={"operation": what},
            )

    def _acquire_lifecycle(self, timeout: float, what: str) -> None:
        if not self._lifecycle_lock.acquire(timeout=timeout):
            raise MetricsRuntimeTimeoutError(
                f"{what}: another start/shutdown did not finish within {timeout}s",
                details={"operation": what},
            )

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Start the loop thread. Idempotent when RUNNING; concurrent callers join.

        Raises:
            MetricsRuntimeStartupError: the thread or its loop could not start.
            MetricsRuntimeInvalidStateError: the runtime was shut down, or failed.
            MetricsRuntimeTimeoutError: another start or shutdown held the runtime longer
                than ``timeout``.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread.
        """
        wait_for = check_timeout(timeout, "timeout", self._start_timeout)
        if self._state is _S.RUNNING:
            return
        self._refuse_on_loop_thread("start")
        self._acquire_lifecycle(wait_for, "start")
        try:
            state = self.state  # re-read: another caller may have started it meanwhile
            if state is _S.RUNNING:
                return
            if state is not _S.VIRGIN:
                raise MetricsRuntimeInvalidStateError(
                    f"cannot start a runtime in state {self._state}",
                    details={"state": str(self._state)},
                )
            self._move_to(_S.STARTING)
            loop_thread = self._loop_thread = self._new_loop_thread()
            try:
                loop_thread.start(wait_for)
            except BaseException as exc:
                self._move_to(_S.FAILURE)
                raise MetricsRuntimeStartupError(cause=exc) from exc
            # Strong reference on purpose: a runtime nobody shut down must still process
            # its accepted events before the interpreter exits.
            atexit.register(self._shutdown_at_exit)
            self._move_to(_S.RUNNING)
            if self._restart_after_fork:
                _RESTART_AFTER_FORK.add(self)
            if self._publisher is not None:
                self._publisher.start()
        finally:
            self._lifecycle_lock.release()

    def _new_loop_thread(self) -> LoopThread:
        """The loop thread, not started: it reports its death, and ends the recorders."""
        return LoopThread(
            self._thread_name,
            self._loop_factory,
            on_death=self._loop_died,
            on_end=self._recorders.host_ended,
        )

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every recorder (each flushes), then the loop and the thread. Idempotent.

        Raises:
            MetricsRuntimeShutdownError: closed anyway, but a recorder failed to stop,
                the thread did not end in time, or (multiprocess mode) the last
                publication failed; ``details`` says which.
            MetricsRuntimeTimeoutError: another start or shutdown held the runtime longer
                than ``timeout``.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread.
        """
        wait_for = check_timeout(timeout, "timeout", self._shutdown_timeout)
        if self._state is _S.CLOSED:
            return
        self._refuse_on_loop_thread("shutdown")
        deadline = time.monotonic() + wait_for
        self._acquire_lifecycle(wait_for, "shutdown")
        try:
            state = self.state  # re-read: another caller may have closed it meanwhile
            if state is _S.CLOSED:
                return
            if state is _S.VIRGIN:
                self._move_to(_S.CLOSED)
                return
            if self._loop_thread is not None and self._loop_thread.in_forked_child():
                self._close_in_forked_child(self._loop_thread)
                return
            problems: dict[str, Any] = {}
            if state is _S.RUNNING:
                self._move_to(_S.STOPPING)
                problems.update(self._stop_all_recorders(deadline))
            if self._publisher is not None:  # the last word: the archive keeps the totals
                self._publisher.stop(max(0.0, deadline - time.monotonic()))
                if not self._publisher.publish(exited=True):
                    problems["multiprocess"] = "the last publication failed"
            loop_thread = self._loop_thread
            if loop_thread is not None and not loop_thread.stop(
                max(0.0, deadline - time.monotonic())
            ):
                problems["thread"] = "did not end in time"
            self._move_to(_S.CLOSED)
            atexit.unregister(self._shutdown_at_exit)
            _RESTART_AFTER_FORK.discard(self)
        finally:
            self._lifecycle_lock.release()
        if problems:
            raise MetricsRuntimeShutdownError(
                f"runtime {self._namespace!r} closed with problems: {problems}", details=problems
            )

    def _stop_all_recorders(self, deadline: float) -> dict[str, Any]:
        async def stop_all() -> dict[str, OpResult]:
            servers, self._http_servers = self._http_servers, []
            for server in servers:  # no scrape may race with the recorders' final drain
                await server.close()
            return await self._recorders.stop_all()

        try:
            results = self._run_on_loop(
                stop_all, max(0.001, deadline - time.monotonic()), "shutdown"
            )
        except MetricsError as exc:
            return {"recorders": str(exc)}
        return {
            f"recorder:{rid}": str(result.error)
            for rid, result in results.items()
            if not result.success
        }

    def _close_in_forked_child(self, loop_thread: LoopThread) -> None:
        """Close without the thread, which this process (a fork) never had: nothing to join."""
        pending = sum(stats.pending for stats in self._recorders.stats().values())
        # Nothing pending: nothing lost, and a worker that started its own runtime after
        # fork (the right thing) should not hear about the inherited copy at every exit.
        log = logger.warning if pending else logger.debug
        log(
            "MetricsRuntime %r: closed in process %d, a fork of process %d where it was "
            "started; its thread does not exist here, so events registered in this process "
            "were not processed (%d pending). Start a new MetricsRuntime after fork.",
            self._namespace,
            os.getpid(),
            loop_thread.started_pid,
            pending,
        )
        if self._state is _S.RUNNING:
            self._move_to(_S.STOPPING)
        self._move_to(_S.CLOSED)
        atexit.unregister(self._shutdown_at_exit)

    def _restart_in_forked_child(self) -> None:
        """In a forked child (``os.register_at_fork``), on its only thread: a new loop
        thread, and every recorder rebuilt for it with its metrics and fresh state (see
        ``MetricsRecorder._revive_after_fork``). The parent's ``serve_http`` servers are
        not restarted: their loop is the parent's.

        The parent's other threads do not exist here, and any lock one of them held at
        the fork stays held: every lock is made anew before anything waits on one."""
        old = self._loop_thread
        if old is None or not old.in_forked_child() or self._state is not _S.RUNNING:
            return
        self._lifecycle_lock = threading.Lock()
        self._recorders.after_fork()
        self._http_servers = []
        loop_thread = self._loop_thread = self._new_loop_thread()
        try:
            loop_thread.start(self._start_timeout)
        except BaseException as exc:
            self._move_to(_S.FAILURE)
            self._loop_failure = exc
            logger.exception(
                "MetricsRuntime %r: could not restart in forked process %d",
                self._namespace,
                os.getpid(),
            )
            return
        for rid, recorder in list(self._recorders.by_id.items()):
            try:
                recorder._revive_after_fork(loop_thread.hop)
            except Exception:  # one recorder's failure must not keep the others down
                logger.exception("recorder %r: could not restart after fork", rid)
        if self._publisher is not None:  # its thread was the parent's; a new file here
            self._publisher.start()
        logger.debug(
            "MetricsRuntime %r: restarted in process %d, forked from %d",
            self._namespace,
            os.getpid(),
            old.started_pid,
        )

    def _refuse_in_forked_child(self, what: str) -> None:
        if self._loop_thread is not None:
            self._loop_thread.refuse_in_forked_child(what, self._namespace)

    def _shutdown_at_exit(self) -> None:
        try:
            self.shutdown()
        except Exception:
            logger.exception(
                "MetricsRuntime %r: shutdown at interpreter exit failed", self._namespace
            )

    def __enter__(self) -> MetricsRuntime:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # --- running things on the loop -------------------------------------------------------

    def _run_on_loop(self, coro_fn: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
        """Run ``coro_fn()`` on the runtime loop and block for its result."""
        self._refuse_on_loop_thread(what)
        self._refuse_in_forked_child(what)
        loop_thread = self._loop_thread
        if loop_thread is None or self._state not in (_S.RUNNING, _S.STOPPING):
            raise self._state_error(what, "a running")
        return loop_thread.run(coro_fn, timeout, what)

    def _require_running(self, what: str) -> None:
        if self._state is not _S.RUNNING:
            raise self._state_error(what, "a RUNNING")

    def _state_error(self, what: str, needed: str) -> MetricsRuntimeInvalidStateError:
        failure = self._loop_failure
        if failure is not None:
            return MetricsRuntimeInvalidStateError(
                f"{what}(): the runtime's loop thread died ({failure!r}); shut it down and "
                "start a new MetricsRuntime",
                reason="loop_died",
                details={"operation": what, "state": str(self._state)},
                cause=failure,
            )
        return MetricsRuntimeInvalidStateError(
            f"{what}() needs {needed} runtime; state is {self._state}",
            details={"operation": what, "state": str(self._state)},
        )

    def _loop_died(self, exc: BaseException) -> None:
        """In the dying loop thread: FAILURE at once, so that every call from now on
        fails with the cause instead of waiting for a loop that is gone. Not under the
        lifecycle lock, which a shutdown joining this very thread may hold."""
        self._loop_failure = exc
        if self._state in (_S.RUNNING, _S.STOPPING):
            self._move_to(_S.FAILURE)

    # --- recorders ----------------------------------------------------------------------

    def create_recorder(
        self,
        recorder_id: str,
        *,
        entity_id: str | None = None,
        namespace: str | None = None,
        queue_max_size: int | None = None,
        queue_overflow_policy: OverflowPolicy | None = None,
        metric_error_policy: MetricErrorPolicy | None = None,
        queue_block_timeout: float | None = None,
        recorder_timeout: float | None = None,
        recorder_class: type[R] | None = None,
        timeout: float | None = None,
        max_processing_delay: float | None = None,
    ) -> AsyncioMetricsRecorder:
        """Create a recorder for the runtime's loop, start it, and return it (RUNNING).

        ``recorder_id`` is the runtime's key for it (stripped; blank -> ``ValueError``):
        :meth:`get_recorder` and the other methods take it, the runtime's snapshots and
        stats are keyed by it, and expositions label the recorder's samples
        ``recorder="<recorder_id>"``. ``entity_id`` is the recorder's own identity
        (``recorder.entity_id``, which its own messages and logs name it by); it defaults
        to ``recorder_id``.

        The recorder is made in the calling thread, bound to the runtime's loop, and this
        call does not wait for that loop, unless ``recorder_class`` has an
        ``_on_starting`` hook: then it waits for the hook, whose failure it raises.

        Unset options take the runtime's defaults; ``queue_block_timeout`` and
        ``recorder_timeout`` are passed to the recorder (its ``queue_block_timeout`` and
        ``timeout``); ``timeout`` bounds this call.

        Raises:
            MetricsRuntimeRecorderAlreadyExistsError: the recorder id is in use.
            MetricsRuntimeRecorderStartupError: the recorder's ``_on_starting`` hook failed.
            MetricsRuntimeTimeoutError: its ``_on_starting`` hook took longer than ``timeout``.
            MetricsRuntimeInvalidStateError: the runtime is not RUNNING.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread.
        """
        rid = _recorder_id(recorder_id)
        cls: type[AsyncioMetricsRecorder] = AsyncioMetricsRecorder
        if recorder_class is not None:
            if not (
                isinstance(recorder_class, type)
                and issubclass(recorder_class, AsyncioMetricsRecorder)
            ):
                raise TypeError(
                    "argument 'recorder_class' must be a subclass of AsyncioMetricsRecorder"
                )
            cls = recorder_class
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        self._require_running("create_recorder")
        self._refuse_on_loop_thread("create_recorder")
        self._refuse_in_forked_child("create_recorder")
        assert self._loop_thread is not None
        # Made right here, bound to the runtime's loop: no round trip to it (see
        # HostedRecorders.add).
        with binding_to(self._loop_thread.hop), unexpected_wrapped("create_recorder"):
            recorder = cls(
                entity_id if entity_id is not None else rid,
                namespace=namespace if namespace is not None else self._namespace,
                queue_max_size=_or_default(queue_max_size, self._default_queue_max_size),
                queue_overflow_policy=_or_default(
                    queue_overflow_policy, self._default_overflow_policy
                ),
                metric_error_policy=_or_default(
                    metric_error_policy, self._default_metric_error_policy
                ),
                queue_block_timeout=queue_block_timeout,
                timeout=recorder_timeout,
                max_processing_delay=_or_default(
                    max_processing_delay, self._default_max_processing_delay
                ),
            )
        self._recorders.add(rid, recorder, wait_for)
        return recorder

    def get_recorder(self, recorder_id: str) -> AsyncioMetricsRecorder:
        """The recorder with this recorder id, or ``MetricsRuntimeRecorderNotFoundError``."""
        rid = _recorder_id(recorder_id)
        recorder = self._recorders.by_id.get(rid)
        if recorder is None:
            raise MetricsRuntimeRecorderNotFoundError(
                f"no recorder {rid!r} in runtime {self._namespace!r}", details={"recorder_id": rid}
            )
        return recorder

    def try_get_recorder(self, recorder_id: str) -> AsyncioMetricsRecorder | None:
        """The recorder with this recorder id, or None."""
        return self._recorders.by_id.get(_recorder_id(recorder_id))

    def list_recorder_ids(self) -> tuple[str, ...]:
        """The recorder ids of the runtime's recorders, in creation order."""
        return tuple(self._recorders.by_id)

    def stop_recorder(self, recorder_id: str, *, timeout: float | None = None) -> None:
        """Stop (and flush) one recorder; it stays registered and readable.

        Raises:
            MetricsRuntimeRecorderNotFoundError: no recorder has this recorder id.
            MetricsRuntimeRecorderStopError: the recorder failed to stop (its hook raised).
            MetricsRuntimeTimeoutError: the stop took longer than ``timeout``.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread.
        """
        rid = _recorder_id(recorder_id)
        recorder = self.get_recorder(rid)
        self._refuse_on_loop_thread("stop_recorder")
        self._refuse_in_forked_child("stop_recorder")
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        try:
            result = recorder.stop().wait(wait_for)
        except MetricsRecorderTimeoutError as exc:
            raise MetricsRuntimeTimeoutError(
                f"stop_recorder({rid!r}) did not complete within {wait_for}s",
                details={"operation": "stop_recorder", "recorder_id": rid},
                cause=exc,
            ) from None
        if not result.success:
            raise MetricsRuntimeRecorderStopError(
                f"recorder {rid!r} failed to stop: {result.error}",
                details={"recorder_id": rid},
                cause=result.error,
            )

    def stop_and_remove_recorder(
        self, recorder_id: str, *, timeout: float | None = None
    ) -> AsyncioMetricsRecorder:
        """Stop one recorder, remove it from the runtime and return it (still readable)."""
        rid = _recorder_id(recorder_id)
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        self.stop_recorder(rid, timeout=wait_for)
        return self._recorders.remove(rid)

    def get_stats(self) -> dict[str, RecorderStats]:
        """``{recorder_id: recorder.get_stats()}``: exact counters, at once, from any thread."""
        return self._recorders.stats()

    def get_metric_snapshots(
        self, *, timeout: float | None = None
    ) -> dict[str, dict[str, Mapping[str, Any]]]:
        """``{recorder_id: {metric_name: snapshot}}`` for every recorder, read-your-writes.

        Raises:
            MetricsRuntimeTimeoutError: a busy recorder's loop did not answer within
                ``timeout``.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread (use
                :meth:`aget_metric_snapshots` there).
        """
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        if self._state is not _S.RUNNING:
            return self._recorders.read_directly()
        self._refuse_on_loop_thread("get_metric_snapshots")
        captures = self._recorders.captures_in_place()
        if captures is None:
            captures = self._run_on_loop(
                self._recorders.capture_all, wait_for, "get_metric_snapshots"
            )
        return _built(captures)

    async def aget_metric_snapshots(
        self, *, timeout: float | None = None
    ) -> dict[str, dict[str, Mapping[str, Any]]]:
        """Async twin of :meth:`get_metric_snapshots`, for asyncio or trio code in any
        thread, the runtime's own loop included (an ASGI app or an exporter, say)."""
        return _built(await self._acapture_snapshots(timeout))

    async def _acapture_snapshots(self, timeout: float | None = None) -> Mapping[str, Captures]:
        """What :meth:`aget_metric_snapshots` builds its snapshots from (see
        ``recorder/captures.py``): for a scrape, which builds them in steps."""
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        loop_thread = self._loop_thread
        if self._state is not _S.RUNNING or loop_thread is None:
            return self._recorders.read_directly()
        if loop_thread.is_current():
            return await self._recorders.capture_all()
        idle = self._recorders.captures_in_place()
        if idle is not None:
            await checkpoint_if_trio()
            return idle
        self._refuse_in_forked_child("aget_metric_snapshots")
        fut = spawn_on_owner(
            loop_thread.hop, self._recorders.capture_all, name="mvx-runtime-snapshots"
        )
        return await wait_async(
            fut,
            timeout=wait_for,
            timeout_error=lambda w: MetricsRuntimeTimeoutError(
                f"{w}() did not complete within {wait_for}s", details={"operation": w}
            ),
            what="aget_metric_snapshots",
        )

    # --- export -------------------------------------------------------------------------

    def serve_http(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float | None = None,
        include_stats: bool = True,
    ) -> tuple[str, int]:
        """Serve ``GET /metrics`` from the runtime's loop; return the bound ``(host, port)``.

        Every recorder is exposed, each sample labelled ``recorder="<recorder_id>"``, as
        Prometheus text 0.0.4 or OpenMetrics 1.0 as the scraper's Accept header asks,
        followed by each recorder's stats (``mvx_recorder_*``) unless ``include_stats`` is
        False. ``port=0`` picks a free port. The server stops with the runtime. Call it
        again to listen on more addresses.

        Raises:
            OSError: the address cannot be bound (a port in use, say).
            MetricsRuntimeTimeoutError: the server did not start within ``timeout``.
            MetricsRuntimeInvalidStateError: the runtime is not RUNNING.
            MetricsRuntimeDeadlockError: called on the runtime's own loop thread.
        """
        # Here, not at module level: export reads runtimes, so it imports this module.
        from ..export.http import MetricsHTTPServer, check_address
        from ..export.scrape import Scrape, scrape_response

        host, port = check_address(host, port)
        wait_for = check_timeout(timeout, "timeout", self._operation_timeout)
        self._require_running("serve_http")

        async def scrape(accept: str | None, accept_encoding: str | None) -> Scrape:
            return await scrape_response(
                self,
                accept,
                accept_encoding=accept_encoding,
                timeout=wait_for,
                include_stats=include_stats,
            )

        async def start() -> tuple[str, int]:
            server = MetricsHTTPServer(scrape)
            address = await server.start(host, port)
            self._http_servers.append(server)
            return address

        return self._run_on_loop(start, wait_for, "serve_http")


def _built(captures: Mapping[str, Captures]) -> dict[str, dict[str, Mapping[str, Any]]]:
    # In the caller's thread: the recorders were held only for their captures.
    return {rid: snapshots_of(recorder) for rid, recorder in captures.items()}


def _or_default(value: T | None, default: T) -> T:
    # Not `value or default`: 0 must reach the recorder's checks and fail there.
    return default if value is None else value


#: Runtimes to restart in a forked child: running, with ``restart_after_fork``.
_RESTART_AFTER_FORK: weakref.WeakSet[MetricsRuntime] = weakref.WeakSet()


def _restart_runtimes_in_forked_child() -> None:
    for runtime in list(_RESTART_AFTER_FORK):
        try:
            runtime._restart_in_forked_child()
        except Exception:
            logger.exception("MetricsRuntime %r: restart after fork failed", runtime.namespace)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_restart_runtimes_in_forked_child)


def _recorder_id(value: object) -> str:
    rid = check_id(value, "recorder_id")
    if not rid:
        raise ValueError("argument 'recorder_id' must not be blank")
    return rid
