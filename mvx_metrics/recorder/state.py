"""Recorder lifecycle states and the moves allowed between them.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import MetricsRecorderInvalidStateError

__all__ = ["RecorderState", "check_transition"]


class RecorderState(StrEnum):
    """Where a recorder is in its life."""

    #: Created; nothing started. The first ``register_event`` or ``start()`` starts it.
    VIRGIN = "VIRGIN"
    #: Processing is about to begin, or ``_on_starting()`` runs; events are buffered.
    STARTING = "STARTING"
    #: Events are accepted and processed.
    RUNNING = "RUNNING"
    #: No new events; everything already accepted is being processed, then ``_on_stopped()``.
    STOPPING = "STOPPING"
    #: Stopped cleanly; every accepted event was processed. ``start()`` may run it again.
    STOPPED = "STOPPED"
    #: A hook failed, or a metric failed under ``metric_error_policy=FAIL``. Terminal.
    FAILURE = "FAILURE"
    #: The host ended the owning loop without a stop (loop shut down, trio run ended). Terminal.
    CANCELLED = "CANCELLED"


_S = RecorderState

#: Every legal move. Anything else is a bug in the recorder, reported loudly.
_ALLOWED: dict[RecorderState, frozenset[RecorderState]] = {
    _S.VIRGIN: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.STOPPING, _S.FAILURE, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.STOPPING, _S.FAILURE, _S.CANCELLED}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILURE, _S.CANCELLED}),
    _S.STOPPED: frozenset({_S.STARTING}),
    _S.FAILURE: frozenset(),
    _S.CANCELLED: frozenset(),
}


def check_transition(current: RecorderState, new: RecorderState) -> None:
    """Raise ``MetricsRecorderInvalidStateError`` naming both states if the move is illegal."""
    if new not in _ALLOWED[current]:
        raise MetricsRecorderInvalidStateError(
            f"recorder cannot move from {current} to {new}",
            details={"current": str(current), "requested": str(new)},
        )
