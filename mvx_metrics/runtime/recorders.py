"""The recorders a runtime hosts, by recorder id: created and removed from any thread,
stopped and read together on its loop.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import (
    MetricsRecorderTimeoutError,
    MetricsRuntimeRecorderAlreadyExistsError,
    MetricsRuntimeRecorderNotFoundError,
    MetricsRuntimeRecorderStartupError,
    MetricsRuntimeTimeoutError,
)
from ..recorder.asyncio_recorder import AsyncioMetricsRecorder
from ..recorder.captures import Captures
from ..recorder.results import OpResult
from ..recorder.state import RecorderState
from ..recorder.stats import RecorderStats

__all__ = ["HostedRecorders"]

logger = logging.getLogger("mvx_metrics.runtime")

Snapshots = dict[str, dict[str, Mapping[str, Any]]]


class HostedRecorders:
    """``{recorder_id: recorder}`` of one runtime.

    The runtime names a recorder by its recorder id (this dict's key) in its errors
    (``details["recorder_id"]``) and log lines, never by the recorder's entity id, which
    may differ (``create_recorder(..., entity_id=...)``).

    Changed under ``_lock`` from any thread (ids are checked and reserved there). Read
    from any thread without it: a single dict operation (a get, a ``list(items())``) is
    atomic.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, AsyncioMetricsRecorder] = {}
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """In a forked child: a new lock (a parent's thread may have held the old one)."""
        self._lock = threading.Lock()

    # --- any thread ---------------------------------------------------------------------

    def add(self, rid: str, recorder: AsyncioMetricsRecorder, timeout: float) -> None:
        """Keep ``recorder`` (made for the runtime's loop, VIRGIN) as ``rid``, and start it.

        A recorder without an ``_on_starting`` hook is RUNNING on return, with no wait
        for the loop; one with a hook is waited for (at most ``timeout``), so that its
        failure is this call's error.
        """
        with self._lock:
            if rid in self.by_id:
                raise MetricsRuntimeRecorderAlreadyExistsError(
                    f"recorder {rid!r} already exists", details={"recorder_id": rid}
                )
            self.by_id[rid] = recorder
        handle = recorder._start_hosted()
        if handle is None or (recorder.state is RecorderState.RUNNING and not handle.done()):
            return  # parked already, or processing begins on the loop: nothing can fail first
        try:
            result = handle.wait(timeout)
        except MetricsRecorderTimeoutError as exc:
            self.remove(rid)
            raise MetricsRuntimeTimeoutError(
                f"create_recorder() did not complete within {timeout}s",
                details={"operation": "create_recorder", "recorder_id": rid},
                cause=exc,
            ) from None
        if not result.success:
            self.remove(rid)
            raise MetricsRuntimeRecorderStartupError(
                f"recorder {rid!r} failed to start: {result.error}",
                details={"recorder_id": rid},
                cause=result.error,
            )

    def host_ended(self) -> None:
        """On the runtime's loop as it ends: every recorder still active applies what it
        holds and ends CANCELLED, as any recorder whose host ends its loop does."""
        for rid, recorder in list(self.by_id.items()):
            try:
                recorder._host_ended()
            except Exception:  # one recorder's failure must not keep the others running
                logger.exception("recorder %r: ending with the runtime's loop failed", rid)

    def remove(self, rid: str) -> AsyncioMetricsRecorder:
        with self._lock:
            recorder = self.by_id.pop(rid, None)
        if recorder is None:
            raise MetricsRuntimeRecorderNotFoundError(
                f"recorder {rid!r} was removed concurrently", details={"recorder_id": rid}
            )
        return recorder

    # --- on the runtime's loop ----------------------------------------------------------

    async def stop_all(self) -> dict[str, OpResult]:
        """Stop every recorder that can be (each flushes), together."""
        # FAILURE and CANCELLED are final: such a recorder has nothing left to stop, and its
        # failure was reported (logged, and kept in last_error) when it happened.
        handles = {
            rid: rec.stop()
            for rid, rec in self.by_id.items()
            if rec.state not in (RecorderState.FAILURE, RecorderState.CANCELLED)
        }
        return {rid: await handle for rid, handle in handles.items()}

    async def capture_all(self) -> dict[str, Captures]:
        """Every recorder's captures, requested together (served inline: this is their
        loop); the snapshots are built by the reader (see ``recorder/captures.py``)."""
        recorders = list(self.by_id.items())
        values = await asyncio.gather(*(rec._acapture_snapshots() for _, rec in recorders))
        return {rid: value for (rid, _), value in zip(recorders, values, strict=True)}

    # --- any thread, reads --------------------------------------------------------------

    def stats(self) -> dict[str, RecorderStats]:
        return {rid: rec.get_stats() for rid, rec in list(self.by_id.items())}

    def captures_in_place(self) -> dict[str, Captures] | None:
        """Every recorder's captures taken in this thread, if all are idle; else None (one
        hop to the loop then serves them all)."""
        result = {}
        for rid, rec in list(self.by_id.items()):
            captures = rec._captures_in_place()
            if captures is None:
                return None
            result[rid] = captures
        return result

    def read_directly(self) -> Snapshots:
        """With no loop to hop to (recorders stopped or never started): read each one."""
        return {rid: rec.get_metric_snapshots() for rid, rec in list(self.by_id.items())}
