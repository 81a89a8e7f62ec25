"""``MetricsRecorder``: lifecycle, the hot path, and reads, over the modules beside it.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

Threads meet in three places only: the hand-off (``handoff.py``: producers append,
the owning loop pops), the lifecycle lock (state moves made from any thread), and the
hops (``..hops``: running things on the owning loop and waiting for them).

A recorder has no task of its own while it rests: the driver (``driving.py``) applies
events in loop callbacks, and tasks exist only for what must await (the
``_on_starting``, ``_on_stopped`` and ``_on_metric_changed`` hooks) or may raise (policy
FAIL). The loop's sentinel (``..hops.host_end``) tells it when its host ends the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import partial
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, NoReturn

import anyio

from .._validation import (
    check_delay,
    check_enum,
    check_id,
    check_positive_int,
    check_timeout,
    random_id,
)
from ..errors import (
    MetricsError,
    MetricsRecorderCancelledError,
    MetricsRecorderInvalidStateError,
    MetricsRecorderOnStartingHookFailedError,
    MetricsRecorderOnStoppedHookFailedError,
    MetricsRecorderOverflowError,
    MetricsRecorderUnexpectedError,
)
from ..events import MetricEvent
from ..exposition.prometheus_text import exposed_sample_names
from ..hops import OwnerGoneError, OwnerHop, bind_owner
from ..hops.waiting import Completion, completed, failed
from ..metrics._builtin import BuiltinMetric, known_event_types, reset_metric
from ..metrics.base import Metric
from .captures import Captures, snapshots_of
from .driving import Driver
from .handoff import FORK_DISCARDED, ControlItem
from .policies import PROPAGATED_EXCEPTIONS, MetricErrorPolicy, OverflowPolicy
from .reads import ACTIVE as _ACTIVE
from .reads import BUSY, ReadPath
from .results import Operation, WaitHandle
from .state import RecorderState, check_transition
from .stats import RecorderStats

__all__ = [
    "DEFAULT_QUEUE_MAX_SIZE",
    "DEFAULT_TIMEOUT",
    "MAX_QUEUE_MAX_SIZE",
    "MetricsRecorder",
]

logger = logging.getLogger("mvx_metrics.recorder")

DEFAULT_QUEUE_MAX_SIZE = 10_000
#: The largest pending-event limit. Slots cost nothing until used, but ten million
#: pending events hold gigabytes: a larger limit is a mistake more often than a plan.
MAX_QUEUE_MAX_SIZE = 10_000_000
#: Seconds an event may wait before the owning loop looks at it, while the recorder is
#: busy (see ``Processor``); reads and flushes never wait for it.
DEFAULT_MAX_PROCESSING_DELAY = 0.005
#: Seconds a blocking call waits for the owning loop when the caller gives no timeout.
DEFAULT_TIMEOUT = 30.0
#: Seconds a producer waits for room under OverflowPolicy.BLOCK.
DEFAULT_BLOCK_TIMEOUT = 1.0

_S = RecorderState
_RUNNING = RecorderState.RUNNING


class MetricsRecorder:
    """Processes metric events into metrics on the event loop it was created in.

    Create it inside a running asyncio (uvloop included) or trio loop; that loop is its
    *owner* and is the only place where metric state changes. Everything else, including
    ``register_event``, may be called from any thread, from sync or async code.

    ``entity_id`` is the recorder's own identity (:attr:`entity_id`): stripped, and a
    random short id when blank.
    """

    #: The async library the owning loop must run (None: asyncio or trio).
    _required_library: ClassVar[str | None] = None

    # Slots: a runtime may hold thousands of idle recorders, and a full garbage
    # collection reads each one's attributes; in slots they are in the object itself, not
    # in a separate array (or, on CPython 3.13, a dict object). "__dict__" keeps
    # instances open to other attributes (a subclass's, a test's monkeypatch of a method),
    # made only when one is set.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_block_timeout",
        "_entity_id",
        "_handoff",
        "_hop",
        "_last_error",
        "_max_processing_delay",
        "_metric_error_policy",
        "_namespace",
        "_overflow_policy",
        "_processor",
        "_registered",
        "_start_op",
        "_state",
        "_stop_op",
        "_timeout",
    )

    def __init__(
        self,
        entity_id: str,
        *,
        namespace: str | None = None,
        queue_max_size: int | None = None,
        queue_overflow_policy: OverflowPolicy | None = None,
        metric_error_policy: MetricErrorPolicy | None = None,
        queue_block_timeout: float | None = None,
        timeout: float | None = None,
        max_processing_delay: float | None = None,
    ) -> None:
        self._entity_id = check_id(entity_id, "entity_id") or random_id()
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError(f"argument 'namespace' must be a str, got {type(namespace).__name__}")
        self._namespace = (namespace or "").strip() or "mvx_metrics"
        capacity = check_positive_int(
            queue_max_size, "queue_max_size", DEFAULT_QUEUE_MAX_SIZE, maximum=MAX_QUEUE_MAX_SIZE
        )
        self._overflow_policy = check_enum(
            queue_overflow_policy,
            OverflowPolicy,
            "queue_overflow_policy",
            OverflowPolicy.RAISE_ERROR,
        )
        self._metric_error_policy = check_enum(
            metric_error_policy, MetricErrorPolicy, "metric_error_policy", MetricErrorPolicy.ISOLATE
        )
        self._block_timeout = check_timeout(
            queue_block_timeout, "queue_block_timeout", DEFAULT_BLOCK_TIMEOUT
        )
        self._timeout = check_timeout(timeout, "timeout", DEFAULT_TIMEOUT)
        self._max_processing_delay = check_delay(
            max_processing_delay, "max_processing_delay", DEFAULT_MAX_PROCESSING_DELAY
        )

        self._hop = bind_owner(require=self._required_library)
        #: Every metric registered, by name, in order; shared with the routes, which
        #: apply the first ones (see ``Routes.active``).
        self._registered: dict[str, Metric] = {}
        self._build_parts(capacity)
        self._state = RecorderState.VIRGIN
        self._start_op: Completion[None] | None = None
        self._stop_op: Completion[None] | None = None
        self._last_error: MetricsError | None = None

    def _build_parts(self, capacity: int) -> None:
        """The hand-off and the processor, bound to ``self._hop``: one object, the
        :class:`Driver` (a processor that drives itself, built on the hand-off), where
        three cost the collector more at every full collection. ``_handoff`` and
        ``_processor`` are the two sides of it the recorder uses."""
        cls = type(self)
        self._processor = self._handoff = Driver(
            capacity,
            self,  # its waker and lifecycle
            self._hop,
            self._registered,
            error_policy=self._metric_error_policy,
            change_hook=(
                self._on_metric_changed
                if cls._on_metric_changed is not MetricsRecorder._on_metric_changed
                else None
            ),
            entity_id=self._entity_id,
            max_processing_delay=self._max_processing_delay,
        )

    def _revive_after_fork(self, hop: OwnerHop) -> None:
        """In a forked child, on its only thread, for a runtime that came back to life
        there: new parts bound to the new loop (``hop``), the same metrics with fresh
        state (:func:`~mvx_metrics.metrics._builtin.reset_metric`), and the parent's
        pending copies discarded and counted under ``fork_discarded``. A recorder that
        was running starts again; one that had ended keeps its state.

        Nothing of the parent's threads survives the fork, locks included: whatever they
        held stays held forever, so every lock is made anew."""
        discarded = self._handoff.pending_in_forked_child()
        was = self._state
        self._hop = hop
        self._build_parts(self._handoff.capacity)
        self._start_op = self._stop_op = None
        for metric in self._registered.values():
            reset_metric(metric)
            self._processor.routes.add(metric)
        if discarded:
            self._handoff.count_dropped(FORK_DISCARDED, discarded)
        if was in (_S.STARTING, _RUNNING, _S.STOPPING):
            self._state = _S.VIRGIN
            self._last_error = None
            self._start_hosted()

    @property
    def _lifecycle_lock(self) -> threading.Lock:
        """Serialises state moves and registrations made from any thread; never taken on
        the hot path (register_event reads ``_state`` without it). The hand-off's lock:
        one lock object fewer per recorder (see ``Handoff.lock``), and new with the
        hand-off in a forked child."""
        return self._handoff.lock

    @property
    def _reads(self) -> ReadPath:
        """The read path, made per read (reads are not the hot path) rather than kept:
        one object fewer per recorder for every full garbage collection to traverse."""
        return ReadPath(self)

    # --- identity and configuration -----------------------------------------------------

    @property
    def entity_id(self) -> str:
        """The recorder's own identity (stripped; random when created blank).

        Its error messages, log lines, ``details["entity_id"]`` and ``repr`` name it by
        this. A runtime's recorder has its recorder id as entity id unless
        ``create_recorder(..., entity_id=...)`` gave another; the runtime itself knows it
        by the recorder id."""
        return self._entity_id

    @property
    def namespace(self) -> str:
        """The namespace given at construction ("mvx_metrics" by default)."""
        return self._namespace

    @property
    def state(self) -> RecorderState:
        """The current lifecycle state."""
        return self._state

    def get_status(self) -> RecorderState:
        """The current lifecycle state (mvx-common 0.3 spelling of :attr:`state`)."""
        return self._state

    @property
    def queue_max_size(self) -> int:
        """The pending-event limit."""
        return self._handoff.capacity

    @property
    def queue_overflow_policy(self) -> OverflowPolicy:
        """What happens to an event that finds the pending-event limit reached."""
        return self._overflow_policy

    @property
    def max_processing_delay(self) -> float:
        """Seconds an event may wait before the owning loop looks at it while the
        recorder is busy; reads, flushes and stats never wait for it."""
        return self._max_processing_delay

    @property
    def metric_error_policy(self) -> MetricErrorPolicy:
        """What happens when a metric or the change hook raises."""
        return self._metric_error_policy

    @property
    def owner_library(self) -> str:
        """The async library of the owning loop: "asyncio" or "trio"."""
        return self._hop.library

    @property
    def last_error(self) -> MetricsError | None:
        """Why the recorder went to FAILURE or CANCELLED, if it did."""
        return self._last_error

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._namespace}/{self._entity_id} {self._state} "
            f"on {self._hop.library}>"
        )

    # --- the hot path ------------------------------------------------------------------

    def register_event(self, event: MetricEvent) -> None:
        """Hand ``event`` to the recorder. Never blocks on the owning loop, never awaits.

        Safe from any thread and any async library. See ``handoff.py`` for why the
        credit pop, the append and the wake-up check need no lock.
        """
        if not isinstance(event, MetricEvent):
            self._reject_non_event(event)
        if self._state is not _RUNNING:
            self._register_while_not_running(event)
            return
        handoff = self._handoff
        try:
            handoff.credits.pop()
        except IndexError:
            if not self._make_room():
                return
        handoff.buffer.append(event)
        if handoff.wake_on_append:
            handoff.claim_wake()

    # --- hot path's slow branches ---------------------------------------------------------

    @staticmethod
    def _reject_non_event(event: object) -> NoReturn:
        if event is None:
            raise ValueError("argument 'event' must not be None")
        raise TypeError(f"argument 'event' must be a MetricEvent, got {type(event).__name__}")

    def _register_while_not_running(self, event: MetricEvent) -> None:
        state = self._state
        if state is _S.VIRGIN:
            self.start()
            state = self._state
        if state is _S.STARTING or state is _RUNNING:
            handoff = self._handoff
            try:
                handoff.credits.pop()
            except IndexError:
                if not self._make_room():
                    return
            handoff.buffer.append(event)
            # Still checked: the owner may have parked since we read the state.
            if handoff.wake_on_append:
                handoff.claim_wake()
            return
        self._handoff.count_dropped("invalid_state")
        raise MetricsRecorderInvalidStateError(
            f"recorder {self._entity_id!r} does not accept events in state {state}",
            details={"entity_id": self._entity_id, "state": str(state)},
        )

    def _make_room(self) -> bool:
        """The credits ran out: get more, or apply the overflow policy. True: a slot was
        obtained; False: the event was dropped."""
        handoff = self._handoff
        foreign = not self._hop.is_owner()
        if handoff.issue_credits(may_press=foreign):
            return True
        policy = self._overflow_policy
        if policy is OverflowPolicy.DROP:
            handoff.count_dropped("overflow_dropped")
            return False
        if (
            policy is OverflowPolicy.BLOCK
            and foreign
            and handoff.wait_for_credit(self._block_timeout)
        ):
            return True
        handoff.count_dropped("overflow_rejected")
        raise MetricsRecorderOverflowError(
            f"recorder {self._entity_id!r} has {handoff.capacity} pending events (policy {policy})",
            details={
                "entity_id": self._entity_id,
                "capacity": handoff.capacity,
                "policy": str(policy),
            },
        ) from None

    def _wake_owner(self) -> None:
        """Wake the processing side (called by whoever claimed the wake token). On the
        owning thread too it is a callback, never applied inside the producer's call."""
        try:
            self._hop.call_soon(self._processor.on_wake)
        except OwnerGoneError:
            # The loop is gone: what is buffered stays counted as pending, never dropped
            # silently. Only a producer racing with shutdown gets here.
            pass

    def _push_control(self, fn: Callable[[], object], *, urgent: bool = True) -> None:
        """Queue ``fn`` to run on the owning loop after everything already buffered. An
        urgent item (a read, a stop) wakes a polling owner at once rather than at its
        next tick; any item wakes a parked one."""
        handoff = self._handoff
        handoff.appendable().append(ControlItem(fn))  # control items take no credit
        if urgent:
            handoff.claim_wake_urgently()
        elif handoff.wake_on_append:
            handoff.claim_wake()

    # --- lifecycle ----------------------------------------------------------------------

    def _move_to(self, new: RecorderState) -> None:
        """Change state; call with the lifecycle lock held."""
        check_transition(self._state, new)
        self._state = new

    def _handle(self, op: Operation, completion: Completion[None]) -> WaitHandle:
        return WaitHandle(op, completion, owner=self._hop, default_timeout=self._timeout)

    def start(self) -> WaitHandle:
        """Start processing. Joins a start in flight; a STOPPED recorder starts again."""
        unreachable = self._reads.unreachable_error("start")
        if unreachable is not None:  # forked, or the loop closed: fail now, not at a timeout
            return self._handle(Operation.START, failed(unreachable))
        with self._lifecycle_lock:
            state = self._state
            if state is _RUNNING:
                return self._handle(Operation.START, completed(None))
            if state is _S.STARTING and self._start_op is not None:
                return self._handle(Operation.START, self._start_op)
            if state is not _S.VIRGIN and state is not _S.STOPPED:
                return self._handle(Operation.START, failed(self._invalid_state("start", state)))
            self._move_to(_S.STARTING)
            self._processor.prepare_start()
            self._handoff.delay_since = time.perf_counter()  # events wait from here on
            op = self._start_op = Completion()
        try:
            self._hop.call_soon(self._begin)
        except OwnerGoneError as exc:
            self._finish(
                _S.FAILURE, MetricsRecorderUnexpectedError("owning loop is gone", cause=exc)
            )
        return self._handle(Operation.START, op)

    def _start_hosted(self) -> WaitHandle | None:
        """Start for a host whose loop is known to run and which ends its recorders
        itself (the runtime): a recorder without an ``_on_starting`` hook is RUNNING at
        once, since nothing can fail before its processing begins, and accepts events
        meanwhile; the caller need not wait.

        A new one (VIRGIN, nothing buffered) is also made PARKED right here and the loop
        is not called at all (None is returned): the first event wakes it, as it wakes
        any parked recorder. Creating thousands of recorders so costs their loop
        nothing. Its hand-off's mode is the owning loop's to change, but none has seen
        this recorder yet, and under the lifecycle lock no producer can append to it
        before it is RUNNING (``register_event`` starts a VIRGIN one under that lock)."""
        hookless = type(self)._on_starting is MetricsRecorder._on_starting
        if hookless and self._hop.host_stops_recorders:
            with self._lifecycle_lock:
                if self._state is _S.VIRGIN and self._processor.begin_parked():
                    self._move_to(_S.STARTING)
                    self._move_to(_RUNNING)
                    return None
        handle = self.start()
        if hookless:
            with self._lifecycle_lock:
                if self._state is _S.STARTING:
                    self._move_to(_RUNNING)
        return handle

    def stop(self) -> WaitHandle:
        """Stop accepting events, process every accepted one, then run ``_on_stopped()``."""
        with self._lifecycle_lock:
            state = self._state
            if state is _S.STOPPED:
                return self._handle(Operation.STOP, completed(None))
            if state is _S.STOPPING and self._stop_op is not None:
                return self._handle(Operation.STOP, self._stop_op)
            if state is _S.VIRGIN:
                self._move_to(_S.STOPPED)
                return self._handle(Operation.STOP, completed(None))
            unreachable = self._reads.unreachable_error("stop")
            if unreachable is not None:  # as in start()
                return self._handle(Operation.STOP, failed(unreachable))
            if state is not _S.STARTING and state is not _RUNNING:
                return self._handle(Operation.STOP, failed(self._invalid_state("stop", state)))
            self._move_to(_S.STOPPING)
            op = self._stop_op = Completion()
            self._push_control(self._processor.request_stop)
        return self._handle(Operation.STOP, op)

    def _invalid_state(self, what: str, state: RecorderState) -> MetricsRecorderInvalidStateError:
        return MetricsRecorderInvalidStateError(
            f"cannot {what} recorder {self._entity_id!r} in state {state}",
            details={"entity_id": self._entity_id, "state": str(state), "operation": what},
            cause=self._last_error,
        )

    def _begin(self) -> None:
        """On the owning loop, after start(): run ``_on_starting`` if there is one, then
        begin processing."""
        try:
            self._hop.when_host_ends(self._processor)
            if type(self)._on_starting is MetricsRecorder._on_starting:
                self._begin_processing()
            else:
                self._spawn_guarded(self._start_with_hook, "start")
        except Exception as exc:  # a bug of ours: never let it escape a loop callback
            logger.exception("recorder %r: starting failed", self._entity_id)
            self._fail(MetricsRecorderUnexpectedError(cause=exc))

    async def _start_with_hook(self) -> None:
        try:
            await self._on_starting()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            raise MetricsRecorderOnStartingHookFailedError(cause=exc) from exc
        self._begin_processing()

    def _begin_processing(self) -> None:
        with self._lifecycle_lock:
            if self._state is _S.STARTING:  # else stop() came first: stay STOPPING
                self._move_to(_RUNNING)
            op, self._start_op = self._start_op, None
        if op is not None:
            op.set_result(None)
        self._processor.begin()

    def _stop_applied(self) -> None:
        """On the owning loop: the stop request was applied, so everything accepted
        before it is processed. Run ``_on_stopped`` if there is one, then finish."""
        if type(self)._on_stopped is MetricsRecorder._on_stopped:
            self._finish(_S.STOPPED, None)
            return
        try:
            self._spawn_guarded(self._stop_with_hook, "stop")
        except RuntimeError:  # trio: the run is ending, its nursery takes no new task
            self._host_ended()

    async def _stop_with_hook(self) -> None:
        try:
            await self._on_stopped()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            raise MetricsRecorderOnStoppedHookFailedError(cause=exc) from exc
        self._finish(_S.STOPPED, None)

    def _spawn_guarded(self, body: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``body()`` as a task on the owning loop; its failure fails the recorder."""
        self._hop.spawn(partial(self._guarded, body), f"mvx-recorder-{self._entity_id}-{what}")

    async def _guarded(self, body: Callable[[], Awaitable[None]]) -> None:
        try:
            await body()
        except anyio.get_cancelled_exc_class():
            self._host_ended()
            raise
        except PROPAGATED_EXCEPTIONS as exc:  # Ctrl-C, sys.exit() from a metric or hook
            self._fail(MetricsRecorderUnexpectedError(cause=exc))
            if self._hop.exceptions_reach_host:
                raise
        except MetricsError as exc:
            self._fail(exc)
        except Exception as exc:
            logger.exception("recorder %r: a task of the recorder crashed", self._entity_id)
            self._fail(MetricsRecorderUnexpectedError(cause=exc))

    def _fail(self, error: MetricsError) -> None:
        if self._state in _ACTIVE:
            self._finish(_S.FAILURE, error)

    def _host_ended(self) -> None:
        """The host ended the owning loop (or cancelled our task) without a stop: apply
        what we already hold, and end CANCELLED."""
        if self._state not in _ACTIVE:
            return
        processor = self._processor
        if processor.can_drain_now():
            try:
                processor.drain_now()
            except MetricsError as exc:  # policy FAIL: what is left stays pending, counted
                logger.error("recorder %r: %s while its loop ended", self._entity_id, exc)
        self._finish(_S.CANCELLED, MetricsRecorderCancelledError())

    def _finish(self, state: RecorderState, error: MetricsError | None) -> None:
        """Enter a final state and resolve every waiting start/stop."""
        if error is not None:
            self._last_error = error
            log = logger.debug if state is _S.CANCELLED else logger.error
            log("recorder %r: %s (%s)", self._entity_id, state, error)
        with self._lifecycle_lock:
            self._move_to(state)
            ops = (self._start_op, self._stop_op)
            self._start_op = self._stop_op = None
        self._hop.forget_host_end(self._processor)
        if state is _S.STOPPED:
            self._processor.welcome_stragglers()
        else:
            self._processor.settle_requests()
        for op in ops:
            if op is not None and not op.done():
                if error is None:
                    op.set_result(None)
                else:
                    op.set_exception(error)

    async def __aenter__(self) -> MetricsRecorder:
        result = await self.start()
        if not result.success:
            assert result.error is not None
            raise result.error
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Shielded: a body that raised or was cancelled still flushes and stops.
        with anyio.CancelScope(shield=True):
            await self.stop()

    # --- metrics ------------------------------------------------------------------------

    def register_metric(self, metric: Metric) -> None:
        """Add ``metric``; it sees every event registered after this call returns."""
        if metric is None:
            raise ValueError("argument 'metric' must not be None")
        if not isinstance(metric, Metric):
            raise TypeError(f"argument 'metric' must be a Metric, got {type(metric).__name__}")
        name = metric.metric_name
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"metric_name must be a non-blank str, got {name!r}")
        _check_event_types(metric)
        with self._lifecycle_lock:
            state = self._state
            if state is _S.FAILURE or state is _S.CANCELLED:
                raise self._invalid_state("register a metric on", state)
            if name in self._registered:
                raise ValueError(
                    f"recorder {self._entity_id!r} already has a metric named {name!r}"
                )
            self._check_exposition_clash(metric)
            self._registered[name] = metric
            if state not in _ACTIVE:
                self._processor.routes.add(metric)  # not processing: nobody else reads
            elif not self._add_in_place(metric):
                # Ordered with events through the buffer; the owning loop applies it,
                # at its next tick: nothing waits for it (a read after it is urgent).
                self._push_control(partial(self._processor.routes.add, metric), urgent=False)

    def _check_exposition_clash(self, metric: Metric) -> None:
        """Refuse a built-in metric whose exposed samples would clash with another's here
        (``a.b`` and ``a_b``; counter ``jobs`` and gauge ``jobs_total``): the exposition
        would have to leave one out. Call with the lifecycle lock held."""
        if not self._registered or not isinstance(metric, BuiltinMetric):
            return  # the first metric; a user metric's kind is known only from its snapshots
        names = _exposed_names(metric)
        # Computed from the registered metrics, not kept: a recorder's few metrics are
        # quick to check (their names are cached), and a table of names kept per recorder
        # was a third of an idle recorder's memory.
        for other in self._registered.values():
            if isinstance(other, BuiltinMetric) and not names.isdisjoint(_exposed_names(other)):
                raise ValueError(
                    f"recorder {self._entity_id!r}: metric {metric.metric_name!r} would be "
                    f"exposed under the sample name {min(names & _exposed_names(other))!r}, "
                    f"as {other.metric_name!r} is"
                )

    def _add_in_place(self, metric: Metric) -> bool:
        """Add ``metric`` to the routes right here if the recorder is idle: under the
        guard, with nothing buffered, no batch is being applied and every event accepted
        so far has been, as for a read in place. Saves a wake-up of a parked owner."""
        handoff = self._handoff
        processor = self._processor
        if processor.change_hook is not None or not handoff.guard.acquire(blocking=False):
            return False
        try:
            if handoff.buffer:
                return False
            processor.routes.add(metric)
            return True
        finally:
            handoff.guard.release()

    def iter_metrics(self) -> Iterator[Metric]:
        """The registered metrics, in registration order."""
        with self._lifecycle_lock:
            return iter(tuple(self._registered.values()))

    # --- reads --------------------------------------------------------------------------

    def get_stats(self) -> RecorderStats:
        """Exact counters, from any thread: ``accepted == processed + pending``."""
        processed, pending = self._handoff.counts()
        return RecorderStats(
            accepted=processed + pending,
            processed=processed,
            pending=pending,
            capacity=self._handoff.capacity,
            dropped=MappingProxyType(self._handoff.dropped()),
            metric_errors=MappingProxyType(dict(self._processor.metric_errors)),
            hook_errors=self._processor.hook_errors,
            processing_delay=self._handoff.processing_delay(),
        )

    def get_metric_snapshots(self, *, timeout: float | None = None) -> dict[str, Mapping[str, Any]]:
        """``{metric_name: snapshot}`` including every event registered before the call.

        Raises:
            MetricsRecorderTimeoutError: the owning loop did not answer within ``timeout``.
            MetricsRecorderDeadlockError: the read would wait on its own loop's thread, or
                comes from inside the recorder's metric code.
            MetricsRecorderLoopUnavailableError: the owning loop is gone (closed, or this
                is a forked child that did not restart it).
        """
        # The recorder is held for the copy only; the dicts are built here (captures.py).
        return snapshots_of(
            self._reads.blocking(self._processor.capture_snapshots, timeout, "snapshot")
        )

    async def aget_metric_snapshots(
        self, *, timeout: float | None = None
    ) -> dict[str, Mapping[str, Any]]:
        """Async twin of :meth:`get_metric_snapshots`, for asyncio or trio, any thread."""
        return snapshots_of(await self._acapture_snapshots(timeout))

    async def _acapture_snapshots(self, timeout: float | None = None) -> Captures:
        """What :meth:`aget_metric_snapshots` builds its snapshots from (captures.py): for
        a scrape, which builds them in steps on its own loop."""
        return await self._reads.awaiting(self._processor.capture_snapshots, timeout, "snapshot")

    def _captures_in_place(self) -> Captures | None:
        """The captures, if this thread may take them right now without a hop; else None.

        For the runtime, which reads many recorders and hops once for those that are busy."""
        result = self._reads.in_place(self._processor.capture_snapshots)
        return None if result is BUSY else result

    def flush(self, timeout: float | None = None) -> None:
        """Return once every event accepted before the call has been processed.

        Raises:
            MetricsRecorderTimeoutError: not processed within ``timeout``.
            MetricsRecorderDeadlockError: the flush would wait on its own loop's thread.
            MetricsRecorderLoopUnavailableError: the owning loop is gone.
        """
        self._reads.blocking(_nothing, timeout, "flush")

    async def aflush(self, timeout: float | None = None) -> None:
        """Async twin of :meth:`flush`."""
        await self._reads.awaiting(_nothing, timeout, "flush")

    # --- subclass hooks (run on the owning loop) ----------------------------------------

    async def _on_starting(self) -> None:
        """Called once per start, before the first event is processed."""

    async def _on_stopped(self) -> None:
        """Called once per stop, after the last accepted event is processed."""

    async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
        """Called after ``event`` changed ``metric``. Only awaited when overridden."""


def _nothing() -> None:
    return None


def _check_event_types(metric: Metric) -> None:
    """``event_types`` is routed with ``issubclass``: anything but None or a non-empty
    tuple of MetricEvent classes would fail for every event, far from its cause."""
    types = metric.event_types
    if types is None or known_event_types(types):
        return
    if (
        not isinstance(types, tuple)
        or not types
        or not all(isinstance(t, type) and issubclass(t, MetricEvent) for t in types)
    ):
        raise TypeError(
            f"metric {metric.metric_name!r}: event_types must be None or a non-empty tuple "
            f"of MetricEvent subclasses, got {types!r}"
        )


def _exposed_names(metric: BuiltinMetric[Any]) -> frozenset[str]:
    """The sample names ``metric`` is exposed under (cached by kind, name and unit)."""
    return exposed_sample_names(metric.kind, metric.metric_name, metric.unit)
