"""Runtime lifecycle states and the moves allowed between them.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import MetricsRuntimeInvalidStateError

__all__ = ["RuntimeState", "check_transition"]


class RuntimeState(StrEnum):
    """Where a ``MetricsRuntime`` is in its life."""

    #: Created; no thread yet.
    VIRGIN = "VIRGIN"
    #: The loop thread is being started.
    STARTING = "STARTING"
    #: The loop runs; recorders can be created and managed.
    RUNNING = "RUNNING"
    #: Recorders are being stopped (each flushed), then the loop and thread.
    STOPPING = "STOPPING"
    #: Shut down. Final snapshots stay readable; the runtime cannot start again.
    CLOSED = "CLOSED"
    #: The loop thread failed to start. ``shutdown()`` still cleans up.
    FAILURE = "FAILURE"


_S = RuntimeState

_ALLOWED: dict[RuntimeState, frozenset[RuntimeState]] = {
    _S.VIRGIN: frozenset({_S.STARTING, _S.CLOSED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILURE}),
    # FAILURE from RUNNING or STOPPING: the loop thread died (see LoopThread.died).
    _S.RUNNING: frozenset({_S.STOPPING, _S.FAILURE}),
    _S.STOPPING: frozenset({_S.CLOSED, _S.FAILURE}),
    _S.CLOSED: frozenset(),
    _S.FAILURE: frozenset({_S.CLOSED}),
}


def check_transition(current: RuntimeState, new: RuntimeState) -> None:
    """Raise ``MetricsRuntimeInvalidStateError`` naming both states if the move is illegal."""
    if new not in _ALLOWED[current]:
        raise MetricsRuntimeInvalidStateError(
            f"runtime cannot move from {current} to {new}",
            details={"current": str(current), "requested": str(new)},
        )
