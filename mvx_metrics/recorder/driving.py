"""When and where buffered events are applied on the owning loop: callbacks, ticks, and
a task only while one is needed.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

A recorder has no task of its own while it rests, so that an idle recorder costs only
the objects that hold its state. Work is applied:

- in a loop callback (a wake-up, a tick of the loop's ticker, or a continuation), a
  slice of batches at a time (``DRAIN_SLICE_S``): a backlog larger than a slice
  schedules a continuation with ``call_soon`` and so yields to the loop between slices,
  as a task's checkpoint would;
- in a *drain task*, spawned for the busy spell, when applying could raise or await:
  a change hook to await, or ``MetricErrorPolicy.FAIL`` (trio treats an exception
  escaping a callback as fatal to the whole run). The task ends when the recorder rests.

After work the recorder rests POLLING: the loop's ticker looks at its buffer every
``max_processing_delay``. After ``PARK_AFTER_S`` of quiet it parks, and the next append
wakes it. The mode is the hand-off's :class:`~.handoff.Intake`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..errors import MetricsError, MetricsRecorderUnexpectedError
from ..hops import OwnerGoneError, OwnerHop
from ..metrics.base import Metric
from .handoff import Handoff, Intake, Waker
from .policies import PROPAGATED_EXCEPTIONS, MetricErrorPolicy
from .processing import ChangeHook, Processor

__all__ = ["PARK_AFTER_S", "Driver"]

logger = logging.getLogger("mvx_metrics.recorder")

#: Seconds of quiet after which a polling recorder parks: its ticks stop, and the next
#: append wakes it. Cross-thread wake-ups of a recorder are so bounded by about one per
#: this long (plus one per urgent read), whatever the event rate.
PARK_AFTER_S = 0.1


class Lifecycle(Waker, Protocol):
    """What the driver needs of its recorder, which owns the lifecycle (and, as the
    hand-off's :class:`~.handoff.Waker`, schedules the owner's wake-ups)."""

    def _spawn_guarded(self, body: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``body()`` as a task on the owning loop; its failure fails the recorder."""

    def _stop_applied(self) -> None:
        """A stop request was applied: run ``_on_stopped`` if any, then finish."""

    def _host_ended(self) -> None:
        """The host ended the loop without a stop: apply what is held, end CANCELLED."""

    def _fail(self, error: MetricsError) -> None:
        """End in FAILURE with ``error`` (if not already ended), answering every waiter."""


class Driver(Processor):
    """A recorder's core: the hand-off (``handoff.py``), its routes, its
    :class:`Processor`, and what drives it on the owning loop (see module docs), in one
    object, not four, for every full garbage collection to traverse.

    Producers reach only its hand-off part; the rest runs on the owning loop only. It
    holds its recorder once, as the hand-off's ``waker``, which is also its
    :class:`Lifecycle` (one reference, not a bound method per callback: idle recorders
    should cost little), and is the recorder's watcher of the loop's end
    (``..hops.host_end``).
    """

    # "__dict__": made only if something sets another attribute (a test's patch);
    # "__weakref__": a loop's sentinel watches its drivers weakly (``..hops.host_end``).
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_continuation_due",
        "_hop",
        "_idle_ticks",
        "_park_after_ticks",
        "_task_active",
        "_tick_s",
    )
    waker: Lifecycle

    def __init__(
        self,
        capacity: int,
        lifecycle: Lifecycle,
        hop: OwnerHop,
        registered: dict[str, Metric],
        *,
        error_policy: MetricErrorPolicy,
        change_hook: ChangeHook | None,
        entity_id: str,
        max_processing_delay: float,
    ) -> None:
        super().__init__(
            capacity,
            lifecycle,
            registered,
            error_policy=error_policy,
            change_hook=change_hook,
            entity_id=entity_id,
        )
        self._hop = hop
        self._tick_s = max_processing_delay
        self._park_after_ticks = max(1, round(PARK_AFTER_S / max_processing_delay))
        self._idle_ticks = 0
        #: True while a drain task runs: it applies until the recorder rests.
        self._task_active = False
        #: True while a continuation callback is scheduled.
        self._continuation_due = False

    def begin(self) -> None:
        """Processing begins (the recorder is RUNNING): apply what is buffered, then rest.

        With nothing buffered it parks at once: a runtime may create thousands of
        recorders, and polling each for ``PARK_AFTER_S`` would cost the loop a callback
        per recorder per tick for nothing."""
        handoff: Handoff = self
        handoff.busy()
        if handoff.buffer or not handoff.rest(Intake.PARKED):
            self._work()

    def begin_parked(self) -> bool:
        """Processing begins with nothing buffered, PARKED at once, as :meth:`begin` would
        end; called off the loop for a recorder the loop has never seen (see
        ``MetricsRecorder._start_hosted``). False, and nothing changed, if anything is
        buffered."""
        if self.buffer:
            return False
        self.prepare_start()
        self.busy()
        return self.rest(Intake.PARKED)

    # --- entry points: wake-ups, ticks, continuations, the loop's end ---------------------

    def host_ended(self) -> None:
        """The loop's sentinel: the host is ending the loop (see ``..hops.host_end``)."""
        self.waker._host_ended()

    def on_wake(self) -> None:
        """Runs on the owning loop, scheduled by whoever claimed the wake token."""
        mode = self.mode
        if mode is Intake.POLLING or mode is Intake.PARKED:
            self.wake_from_rest()
            self._work()
        elif mode is Intake.STOPPED:
            self.drain_stragglers()
        elif mode is Intake.FAILED:
            self.settle_requests()
        # BUSY or AWAITING_START: whoever is busy looks at the buffer before resting, and
        # processing applies what is buffered when it begins.

    def kick(self) -> None:
        """Owning loop: look at the buffer and the stop flag soon, even if resting (after
        a read applied items inline, a stop request among them)."""
        self.wake_from_rest()
        if self.mode is Intake.BUSY:
            self._continue_soon()

    def _poll(self) -> bool:
        """A tick of the loop's ticker, while POLLING. True: poll again next tick."""
        handoff: Handoff = self
        if handoff.mode is not Intake.POLLING:
            return False  # woken meanwhile, or stopped
        if handoff.buffer:
            self._idle_ticks = 0
            handoff.busy()
        else:
            handoff.delay_since = time.perf_counter()  # nothing waits: see delay.py
            self._idle_ticks += 1
            if self._idle_ticks < self._park_after_ticks:
                return True
            if handoff.rest(Intake.PARKED):
                return False  # quiet: the next append wakes us
        self._work()
        return handoff.mode is Intake.POLLING

    def _continue(self) -> None:
        self._continuation_due = False
        if self.mode is Intake.BUSY and not self._task_active:
            self._work()

    def _continue_soon(self) -> None:
        if self._continuation_due or self._task_active:
            return
        self._continuation_due = True
        try:
            self._hop.call_soon(self._continue)
        except OwnerGoneError:
            self._continuation_due = False  # the loop is ending: the sentinel takes over

    # --- applying -----------------------------------------------------------------------

    def _work(self) -> None:
        """BUSY: apply a slice in this callback, or leave the spell to a drain task."""
        if self._task_active:
            return  # the task applies until it rests
        if not self.can_apply_in_callback():
            self._task_active = True
            try:
                self.waker._spawn_guarded(self._drain_task, "drain")
            except RuntimeError:  # trio: the run is ending, its nursery takes no new task
                self._task_active = False
                self.waker._host_ended()
            return
        try:
            self.apply_slice()
        except PROPAGATED_EXCEPTIONS as exc:  # Ctrl-C, sys.exit() from a metric
            self.waker._fail(MetricsRecorderUnexpectedError(cause=exc))
            if self._hop.exceptions_reach_host:
                raise
            return
        except Exception as exc:  # a bug of ours: never let it escape a loop callback
            logger.exception("recorder %r: applying events failed", self.entity_id)
            self.waker._fail(MetricsRecorderUnexpectedError(cause=exc))
            return
        if self.stop_requested:
            self.waker._stop_applied()
        elif self.buffer or not self._rest():
            self._continue_soon()  # more than a slice, or work came as we rested

    async def _drain_task(self) -> None:
        """A busy spell that may await (a change hook) or raise (policy FAIL)."""
        try:
            while True:
                await self.drain()
                if self.stop_requested:
                    self.waker._stop_applied()
                    return
                if self._rest():
                    return
        finally:
            self._task_active = False

    def _rest(self) -> bool:
        """After applying: rest POLLING. False: more work came; stay BUSY and apply it."""
        if not self.rest(Intake.POLLING):
            return False
        self._idle_ticks = 0
        self._hop.poll_every(self._tick_s, self._poll)
        return True
