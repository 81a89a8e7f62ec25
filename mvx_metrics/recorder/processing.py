"""Applying buffered events to metrics, on the owning loop, with failing metrics isolated.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Mapping
from itertools import repeat, starmap
from typing import Any, Protocol

import anyio.lowlevel

from .._tables import EMPTY, own
from ..errors import MetricsError, MetricsRecorderMetricFailedError
from ..events import MetricEvent
from ..metrics._builtin import Captured
from ..metrics.base import Metric
from .captures import Captures, capture_of, snapshots_of
from .handoff import ControlItem, Handoff, Intake, Waker
from .plans import Plan, build_plan
from .policies import PROPAGATED_EXCEPTIONS, MetricErrorPolicy
from .routing import Routes

__all__ = ["BATCH_SIZE", "DRAIN_SLICE_S", "ROUTING_ERRORS", "ChangeHook", "Processor"]

logger = logging.getLogger("mvx_metrics.recorder")

#: Items applied per batch: the unit in which processed events are counted and slots
#: given back to producers.
BATCH_SIZE = 1024

#: Seconds of batches applied before yielding to the owning loop (a drain task awaits a
#: checkpoint; a callback schedules its continuation). Yielding lets the loop's
#: other tasks run, but also makes the loop poll for I/O, which releases the GIL; busy
#: producer threads may then keep it for a whole switch interval (5 ms by default). A
#: slice of the same order keeps the consumer's share of the GIL fair under a flood, and
#: bounds how long other tasks on the loop wait.
DRAIN_SLICE_S = 0.005

#: The ``metric_errors`` key under which events that could not be routed are counted.
ROUTING_ERRORS = "<routing>"

#: Errors of one metric logged in full before the rest are only counted.
_LOGGED_ERRORS_PER_METRIC = 3


class ChangeHook(Protocol):
    def __call__(self, *, metric: Metric, event: MetricEvent) -> Awaitable[None]: ...


class Processor(Routes):
    """Applies the hand-off buffer to metrics. Lives on the owning loop; the one method
    used elsewhere is :meth:`collect_snapshots`, by a reader in place holding the guard.

    It is its own routing table (:class:`~.routing.Routes`, :attr:`routes`): one object
    fewer per recorder for every full garbage collection to traverse.

    Metric state changes happen here and nowhere else (one writer), under
    ``handoff.guard``. Each event is applied to all its metrics
    before anything awaits, so a snapshot taken between two awaits never sees an event
    half-applied.

    When and where it applies is the :class:`~.driving.Driver`'s business.
    """

    __slots__ = (
        "_progress",
        "change_hook",
        "entity_id",
        "error_policy",
        "hook_errors",
        "in_async_batch",
        "in_metric_code",
        "metric_errors",
        "stop_requested",
    )

    @property
    def routes(self) -> Routes:
        """Which metrics see which event class: this processor's own table."""
        return self

    def __init__(
        self,
        capacity: int,
        waker: Waker,
        registered: dict[str, Metric],
        *,
        error_policy: MetricErrorPolicy,
        change_hook: ChangeHook | None,
        entity_id: str,
    ) -> None:
        super().__init__(capacity, waker, registered)
        self.error_policy = error_policy
        self.change_hook = change_hook
        self.entity_id = entity_id
        self.stop_requested = False
        #: True while an async batch is suspended inside the change hook.
        self.in_async_batch = False
        #: Errors by metric name. A plain dict: other threads copy it with one atomic dict().
        self.metric_errors: dict[str, int] = EMPTY  # its own at the first (``.._tables``)
        self.hook_errors = 0
        #: Above 0 while this processor runs metric code (``handle_event``, ``snapshot()``),
        #: always under ``handoff.guard``: a read that finds it set while holding the guard
        #: comes from inside that code, in this very thread (see ``reads.refuse_reentry``).
        self.in_metric_code = 0
        #: Events a plan had applied when it raised (see ``plans.build_plan``).
        self._progress: list[int] | None = None  # made with the first plan

    def settle_requests(self) -> None:
        """After FAILURE or CANCELLED: run the control items still buffered (answering
        their waiters at once instead of at their timeout); events stay pending, counted.
        Later requests are answered the same way when their wake-up arrives."""
        buffer = self.buffer
        with self.guard:
            for _ in range(len(buffer)):
                item = buffer.popleft()
                if item.__class__ is ControlItem:
                    item.fn()
                else:
                    buffer.append(item)
        # Events left pending keep the buffer non-empty for good: whatever rest() finds,
        # nothing more can be done for them.
        self.rest(Intake.FAILED)

    def prepare_start(self) -> None:
        """Before a (re)start: no wake-ups until processing begins, no stop pending."""
        self.await_start()
        self.stop_requested = False

    def welcome_stragglers(self) -> None:
        """After a clean stop: apply events from producers that passed the state check
        just before stop() and appended after the final drain, now and whenever more
        come, so none is stranded. (The ``_on_metric_changed`` hook is not run for them.)"""
        self.drain_stragglers()

    def drain_stragglers(self) -> None:
        """After a clean stop: apply what came late, then rest STOPPED."""
        while True:
            try:
                self.drain_now()
            except MetricsRecorderMetricFailedError as exc:
                # metric_error_policy=FAIL: counted; the rest stay pending, visibly.
                logger.error("recorder %r: late event failed after stop: %s", self.entity_id, exc)
                return
            if self.rest(Intake.STOPPED):
                return

    def request_stop(self) -> None:
        """Run as a control item: everything before it has been applied."""
        self.stop_requested = True

    # --- draining -----------------------------------------------------------------------

    def apply_slice(self) -> None:
        """Apply batches until the buffer is empty or ``DRAIN_SLICE_S`` has passed (no
        hook may be awaited: see ``can_apply_in_callback``)."""
        handoff: Handoff = self
        buffer = handoff.buffer
        started = time.perf_counter()
        handoff.count_delay(started)
        slice_end = started + DRAIN_SLICE_S
        left = len(buffer)  # of what was pending as the slice started
        while buffer:
            n = min(len(buffer), BATCH_SIZE)
            self.apply_batch(n)
            left -= n
            if time.perf_counter() >= slice_end:
                break
        if left <= 0:  # what is still buffered came after the slice started
            handoff.delay_since = started

    async def drain(self) -> None:
        """Apply everything in the buffer, yielding to the loop every ``DRAIN_SLICE_S``."""
        handoff: Handoff = self
        buffer = handoff.buffer
        hook = self.change_hook
        while buffer:
            started = time.perf_counter()
            handoff.count_delay(started)
            slice_end = started + DRAIN_SLICE_S
            left = len(buffer)
            while buffer:
                n = min(len(buffer), BATCH_SIZE)
                if hook is None:
                    self.apply_batch(n)
                else:
                    await self.apply_batch_with_hook(n, hook)
                left -= n
                if time.perf_counter() >= slice_end:
                    break
            if left <= 0:  # see apply_slice
                handoff.delay_since = started
            if buffer:
                await anyio.lowlevel.checkpoint()

    def drain_now(self) -> None:
        """Apply everything in the buffer synchronously (no hook may be awaited)."""
        buffer = self.buffer
        with self.guard:
            self.in_metric_code += 1
            try:
                while buffer:
                    self._apply(min(len(buffer), BATCH_SIZE))
            finally:
                self.in_metric_code -= 1

    def can_drain_now(self) -> bool:
        """True when buffered items can be applied synchronously, right now."""
        return self.change_hook is None and not self.in_async_batch

    def can_read_in_place(self) -> bool:
        """True when a reader in another thread may take snapshots itself while it holds
        ``handoff.guard``: no hook batch can be changing metrics without the guard, and
        no metric asked for its snapshot to be taken on the owning loop."""
        return self.change_hook is None and self.routes.readable_in_place

    def can_apply_in_callback(self) -> bool:
        """True when applying in a loop callback cannot raise: trio treats an exception
        escaping a ``run_sync_soon`` callback as fatal to the whole run."""
        return self.can_drain_now() and self.error_policy is MetricErrorPolicy.ISOLATE

    def apply_batch(self, limit: int) -> None:
        """Apply the next ``limit`` buffered items, holding the guard against readers in place."""
        with self.guard:
            self.in_metric_code += 1
            try:
                self._apply(limit)
            finally:
                self.in_metric_code -= 1

    def _apply(self, limit: int) -> None:
        """Apply the next ``limit`` buffered items; the caller holds ``handoff.guard``.

        The items are popped in one C call into a list (a Python-level pop per event
        costs more than a label-less count does), then go through their class's batch
        plan (``plans.py``), one run of consecutive events of a class at a time; under
        ``MetricErrorPolicy.FAIL`` through the exact per-event loop. Popped items count
        as pending until applied, and any left unapplied by an exception go back to the
        front of the buffer, in order."""
        buffer = self.buffer
        limit = min(limit, len(buffer))  # only this side pops: the islice cannot run dry
        if limit <= 0:
            return
        if self.error_policy is MetricErrorPolicy.FAIL:
            self._apply_per_event(limit)
            return
        # starmap rather than iter(popleft, sentinel), which would compare every event
        # with the sentinel (a dataclass's __eq__ is Python code).
        batch = list(starmap(buffer.popleft, repeat((), limit)))
        routes = self.routes
        plans = routes.plans
        events = 0
        i = 0
        try:
            while i < limit:
                item = batch[i]
                cls = item.__class__
                if cls is ControlItem:
                    # Count what came before first: a flush or snapshot answered here
                    # must find its events in get_stats() as processed.
                    self.release(events)
                    events = 0
                    i += 1
                    item.fn()
                    plans = routes.plans  # the item may have registered a metric
                    continue
                try:
                    plan = plans.get(cls)
                    if plan is None:
                        plan = build_plan(
                            cls, routes.resolve(cls), self._metric_failed, self._plan_progress()
                        )
                        plans = routes.keep_plan(cls, plan)
                except Exception as exc:  # the class cannot be routed (its hash raises)
                    plan = self._unroutable(exc)
                try:
                    end = plan(batch, i)
                except BaseException:
                    end = self._plan_progress()[0]
                    events += end - i
                    i = end
                    raise
                events += end - i
                i = end
        finally:
            self.release(events)
            if i < limit:  # an exception: what was not applied goes back, in order
                buffer.extendleft(reversed(batch[i:]))

    def _unroutable(self, exc: Exception) -> Plan:
        """A plan for one event whose class cannot be routed: counts it as a routing error."""

        def plan(batch: list[Any], i: int) -> int:
            self._routing_failed(batch[i], exc)
            return i + 1

        return plan

    def _plan_progress(self) -> list[int]:
        """The cell in which plans count the events they applied (see ``build_plan``)."""
        progress = self._progress
        if progress is None:
            progress = self._progress = [0]
        return progress

    def _apply_per_event(self, limit: int) -> None:
        """The exact per-event loop (MetricErrorPolicy.FAIL); the caller holds the guard."""
        popleft = self.buffer.popleft
        events = 0
        try:
            for _ in range(limit):
                item = popleft()
                if item.__class__ is ControlItem:
                    self.release(events)  # see _apply
                    events = 0
                    item.fn()
                    continue
                events += 1  # counted even if a metric fails it: it was processed
                self._apply_one(item)
        finally:
            self.release(events)

    async def apply_batch_with_hook(self, limit: int, hook: ChangeHook) -> None:
        """Like :meth:`apply_batch`, then await the hook for each metric that changed.

        The guard covers each event's changes but cannot be held across the awaits that
        follow, which is why readers never read in place while a hook exists
        (:meth:`can_read_in_place`); a direct read of a stopped recorder still excludes it."""
        popleft = self.buffer.popleft
        guard = self.guard
        events = 0
        self.in_async_batch = True
        try:
            for _ in range(limit):
                with guard:
                    item = popleft()
                    if item.__class__ is ControlItem:
                        self.release(events)  # see apply_batch
                        events = 0
                        item.fn()
                        continue
                    changed = self._apply_one(item)
                for metric in changed:
                    try:
                        await hook(metric=metric, event=item)
                    except Exception as exc:
                        self._hook_failed(metric, item, exc)
                events += 1
        finally:
            self.in_async_batch = False
            self.release(events)

    def _apply_one(self, item: MetricEvent) -> list[Metric]:
        """Apply one event to its metrics (hold the guard); the metrics it changed."""
        routes = self.routes
        try:
            targets = routes.table.get(item.__class__)
            if targets is None:  # not `or`: an empty tuple is a cached "no metrics"
                targets = routes.resolve(item.__class__)
        except Exception as exc:  # see _apply
            self._routing_failed(item, exc)
            return []
        changed: list[Metric] = []
        self.in_metric_code += 1
        try:
            for metric in targets:
                try:
                    if metric.handle_event(item):
                        changed.append(metric)
                except PROPAGATED_EXCEPTIONS:
                    raise
                except BaseException as exc:  # see PROPAGATED_EXCEPTIONS
                    self._metric_failed(metric, item, exc)
        finally:
            self.in_metric_code -= 1
        return changed

    # --- failures -----------------------------------------------------------------------

    def _metric_failed(self, metric: Metric, event: MetricEvent, exc: BaseException) -> None:
        # A built-in metric refusing a value (MetricsError) is routine: its message says it
        # all. Anything else is a bug in a metric, worth its traceback.
        name = _safe_name(metric)
        what = f"metric {name!r} raised on {type(event).__qualname__}"
        self._count_failure(name, event, exc, what, traceback=not isinstance(exc, MetricsError))

    def _routing_failed(self, event: MetricEvent, exc: Exception) -> None:
        """An event whose class could not be looked up (a metaclass whose hash raises):
        processed, applied to nothing, counted under ``ROUTING_ERRORS``."""
        what = f"an event of class {type(event).__qualname__} cannot be routed"
        self._count_failure(ROUTING_ERRORS, event, exc, what, traceback=False)

    def _count_failure(
        self, key: str, event: MetricEvent, exc: BaseException, what: str, *, traceback: bool
    ) -> None:
        """Count one failure under ``metric_errors[key]``; raise it under policy FAIL, else
        log the first few."""
        errors = self.metric_errors = own(self.metric_errors)
        count = errors[key] = errors.get(key, 0) + 1
        if self.error_policy is MetricErrorPolicy.FAIL:
            raise MetricsRecorderMetricFailedError(
                what,
                details={"metric": key, "event_type": type(event).__qualname__},
                cause=exc,
            ) from exc
        if count <= _LOGGED_ERRORS_PER_METRIC:
            logger.warning(
                "recorder %r: %s (isolated; error %d, later ones counted in "
                "get_stats().metric_errors[%r]): %s",
                self.entity_id,
                what,
                count,
                key,
                exc,
                exc_info=exc if traceback else None,
            )

    def _hook_failed(self, metric: Metric, event: MetricEvent, exc: Exception) -> None:
        self.hook_errors += 1
        if self.error_policy is MetricErrorPolicy.FAIL:
            raise MetricsRecorderMetricFailedError(
                f"_on_metric_changed raised for metric {_safe_name(metric)!r}",
                details={"metric": _safe_name(metric), "hook": "_on_metric_changed"},
                cause=exc,
            ) from exc
        if self.hook_errors <= _LOGGED_ERRORS_PER_METRIC:
            logger.warning(
                "recorder %r: _on_metric_changed raised for metric %r on %s (isolated)",
                self.entity_id,
                _safe_name(metric),
                type(event).__qualname__,
                exc_info=exc,
            )

    # --- reading ------------------------------------------------------------------------

    def capture_snapshots(self) -> Captures:
        """Every active metric's capture (see :mod:`.captures`), taken with no event in
        between: what a read copies while it holds the recorder.

        Runs on the owning loop, or in a reader's thread that holds ``handoff.guard``."""
        result: dict[str, Captured | Mapping[str, Any]] = {}
        self.in_metric_code += 1
        try:
            for metric in self.routes.metrics:
                name = _safe_name(metric)
                try:
                    result[name] = capture_of(metric)
                except PROPAGATED_EXCEPTIONS:
                    raise
                except BaseException:  # see PROPAGATED_EXCEPTIONS
                    errors = self.metric_errors = own(self.metric_errors)
                    errors[name] = errors.get(name, 0) + 1
                    logger.exception(
                        "recorder %r: metric %r snapshot() raised", self.entity_id, name
                    )
        finally:
            self.in_metric_code -= 1
        return result

    def collect_snapshots(self) -> dict[str, Mapping[str, Any]]:
        """Every active metric's snapshot, taken with no event in between (on the owning
        loop, or holding ``handoff.guard``)."""
        return snapshots_of(self.capture_snapshots())


def _safe_name(metric: Metric) -> str:
    try:
        return str(metric.metric_name)
    except Exception:
        return f"<{type(metric).__qualname__} at {id(metric):#x}>"
