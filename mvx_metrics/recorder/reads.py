"""How a read (a snapshot, a flush) reaches the owning loop and comes back.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

- On the owning loop's own thread the read is served inline: buffered events are
  applied first, synchronously. When that would need an await (a hook, a batch suspended
  in one, a recorder still STARTING) a blocking read raises
  ``MetricsRecorderDeadlockError`` rather than hang the loop that must do the work.
- Elsewhere, while the recorder runs idle (nothing buffered, no batch being applied), the
  read is served in the caller's thread under the hand-off's guard, which holds
  processing back for as long as the snapshot takes: no hop, no wait on the owning loop
  (see "Reads in place" in ``handoff``). A recorder with a change hook, or a metric with
  ``snapshot_on_owner_loop``, opts out.
- Otherwise, while the owning loop processes the metrics, the read is queued in the
  hand-off buffer behind every event already there (read-your-writes), and the caller
  waits as its context allows: a plain thread blocks with a timeout, async code awaits.
- When no task owns the metrics (VIRGIN, STOPPED, FAILURE, CANCELLED) nothing writes
  them, and the read is served directly in the caller's thread.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Final, TypeVar

from .._validation import check_timeout
from ..errors import (
    MetricsRecorderDeadlockError,
    MetricsRecorderLoopUnavailableError,
    MetricsRecorderTimeoutError,
    MetricsRecorderUnexpectedError,
)
from ..hops import OwnerHop, Reach
from ..hops.waiting import (
    Completion,
    checkpoint_if_trio,
    resolve,
    serving_in_place,
    wait_async,
    wait_blocking,
)
from .policies import PROPAGATED_EXCEPTIONS
from .state import RecorderState

if TYPE_CHECKING:
    from .handoff import Handoff
    from .processing import Processor
    from .recorder import MetricsRecorder

__all__ = ["BUSY", "ReadPath"]

T = TypeVar("T")


class _Busy(enum.Enum):
    BUSY = "busy"


#: Returned by :meth:`ReadPath.in_place` when the read must go to the owning loop.
BUSY: Final = _Busy.BUSY

_S = RecorderState
#: States in which the owning loop processes events (or is about to) and owns the metrics.
ACTIVE = frozenset({_S.STARTING, _S.RUNNING, _S.STOPPING})


class ReadPath:
    """Serves one recorder's reads to callers in any thread or loop (see module docs).

    It reads the recorder's parts (state, hand-off, processor, driver) through the one
    reference it holds, rather than through callables handed to it: a runtime may hold
    thousands of recorders, and every object each one keeps costs memory and collector
    time."""

    # Only the recorder: its parts are looked up through it on each read rather than kept
    # here too, since every field of every recorder's parts is one more visit for each
    # full garbage collection, and reads are not the hot path.
    __slots__ = ("_recorder",)

    def __init__(self, recorder: MetricsRecorder) -> None:
        self._recorder = recorder

    @property
    def _entity_id(self) -> str:
        return self._recorder._entity_id

    @property
    def _hop(self) -> OwnerHop:
        return self._recorder._hop

    @property
    def _handoff(self) -> Handoff:
        return self._recorder._handoff

    @property
    def _processor(self) -> Processor:
        return self._recorder._processor

    def _state_of(self) -> RecorderState:
        return self._recorder._state

    def blocking(self, fn: Callable[[], T], timeout: float | None, what: str) -> T:
        """Run ``fn`` after every event accepted so far is applied; block for its result."""
        wait_for = check_timeout(timeout, "timeout", self._recorder._timeout)
        if self._hop.is_owner():
            return self._inline(fn, what)
        result = self.in_place(fn)
        if result is not BUSY:
            return result
        self._refuse_unreachable(what)
        fut = self._submit(fn)
        if fut is None:
            return self._direct(fn)
        return wait_blocking(
            fut,
            timeout=wait_for,
            owner=self._hop,
            deadlock_error=MetricsRecorderDeadlockError,
            timeout_error=self._timeout_error,
            what=what,
        )

    async def awaiting(self, fn: Callable[[], T], timeout: float | None, what: str) -> T:
        """The async form of :meth:`blocking`, for asyncio or trio code on any thread."""
        wait_for = check_timeout(timeout, "timeout", self._recorder._timeout)
        if (
            self._hop.is_owner()
            and self._state_of() is _S.RUNNING
            and self._processor.can_drain_now()
        ):
            return self._inline(fn, what)
        result = self.in_place(fn)
        if result is not BUSY:
            await checkpoint_if_trio()
            return result
        self._refuse_unreachable(what)
        fut = self._submit(fn)
        if fut is None:
            return self._direct(fn)
        return await wait_async(fut, timeout=wait_for, timeout_error=self._timeout_error, what=what)

    def in_place(self, fn: Callable[[], T]) -> T | _Busy:
        """``fn()`` in this thread if no owning loop is needed for it right now, else ``BUSY``:
        the recorder runs idle (see "Reads in place" in ``handoff``) or has no task."""
        state = self._state_of()
        if state not in ACTIVE:
            return self._direct(fn)
        if state is not _S.RUNNING or not self._processor.can_read_in_place():
            return BUSY
        handoff = self._handoff
        if not handoff.guard.acquire(blocking=False):
            return BUSY  # a batch is being applied (or another reader is in place)
        try:
            self._refuse_reentry()
            if handoff.buffer:
                return BUSY  # events not yet applied: the owning loop must go first
            if not self._processor.can_read_in_place():
                return BUSY  # an opting-out metric was registered since the check above
            with serving_in_place():
                return fn()
        finally:
            handoff.guard.release()

    def _refuse_reentry(self) -> None:
        """Hold the guard. Refuse a read issued by metric code of this very recorder, in
        this very thread (a ``handle_event`` or ``snapshot()`` reading its own recorder):
        the guard is reentrant, so only ``in_metric_code`` can tell, and serving it would
        apply events under the feet of the batch that called it."""
        if self._processor.in_metric_code:
            raise MetricsRecorderDeadlockError(
                f"recorder {self._entity_id!r} was read from inside its own metric code "
                "(handle_event() or snapshot()); that read would have to apply events "
                "queued behind the one being processed",
                reason="reentrant_read",
                details={"entity_id": self._entity_id},
            )

    def _refuse_unreachable(self, what: str) -> None:
        """Fail at once, rather than at the timeout, where the owning loop cannot answer."""
        if self._state_of() in ACTIVE:
            error = self.unreachable_error(what)
            if error is not None:
                raise error

    def unreachable_error(self, what: str) -> MetricsRecorderLoopUnavailableError | None:
        """The error for ``what`` when the owning loop cannot be reached from here (a
        forked child, a closed loop); None when it can."""
        reach = self._hop.reach()
        if reach is Reach.FORKED:
            pid = os.getpid()
            return MetricsRecorderLoopUnavailableError(
                f"recorder {self._entity_id!r}: {what} needs its owning loop, which runs in "
                f"process {self._hop.pid}; this process ({pid}) is a fork of it",
                reason="forked",
                details={"entity_id": self._entity_id, "operation": what, "pid": pid},
            )
        if reach is Reach.GONE:
            return MetricsRecorderLoopUnavailableError(
                f"recorder {self._entity_id!r}: {what} needs its owning loop, which is closed",
                reason="loop_closed",
                details={"entity_id": self._entity_id, "operation": what},
            )
        return None

    def _direct(self, fn: Callable[[], T]) -> T:
        """``fn()`` while nothing processes. The guard still matters: events that
        straggle in after a stop are applied on the owning loop, under it."""
        with self._handoff.guard:
            self._refuse_reentry()
            return fn()

    def _submit(self, fn: Callable[[], T]) -> Completion[T] | None:
        """Queue ``fn`` behind everything buffered; None when no task owns the metrics."""
        if self._state_of() not in ACTIVE:
            return None
        fut: Completion[T] = Completion()
        self._recorder._push_control(partial(resolve, fut, fn))
        return fut

    def _inline(self, fn: Callable[[], T], what: str) -> T:
        state = self._state_of()
        processor = self._processor
        with self._handoff.guard:  # a reader in place may be using the metrics
            self._refuse_reentry()
            if state in ACTIVE and (self._handoff.buffer or processor.in_async_batch):
                if state is _S.STARTING or not processor.can_drain_now():
                    twin = "aget_metric_snapshots" if what == "snapshot" else "aflush"
                    raise MetricsRecorderDeadlockError(
                        f"{what} on the recorder's own loop thread needs events processed "
                        f"first; use 'await recorder.{twin}()'",
                        details={"entity_id": self._entity_id, "operation": what},
                    )
                try:
                    processor.drain_now()
                except PROPAGATED_EXCEPTIONS as exc:  # to this reader, ending the recorder
                    self._recorder._fail(MetricsRecorderUnexpectedError(cause=exc))
                    raise
                if processor.stop_requested:
                    self._recorder._processor.kick()  # the stop just applied must finish
            return fn()

    def _timeout_error(self, what: str) -> MetricsRecorderTimeoutError:
        state = self._state_of()
        return MetricsRecorderTimeoutError(
            f"recorder {self._entity_id!r}: {what} did not complete in time (state {state})",
            details={"entity_id": self._entity_id, "operation": what, "state": str(state)},
        )
