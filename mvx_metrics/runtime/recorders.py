"""The recorders a runtime hosts, by id: created, removed and stopped on its loop, read
from any thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    MetricsRuntimeRecorderAlreadyExistsError,
    MetricsRuntimeRecorderNotFoundError,
    MetricsRuntimeRecorderStartupError,
)
from ..recorder.asyncio_recorder import AsyncioMetricsRecorder
from ..recorder.results import OpResult
from ..recorder.state import RecorderState
from ..recorder.stats import RecorderStats

__all__ = ["HostedRecorders"]

Snapshots = dict[str, dict[str, Mapping[str, Any]]]


class HostedRecorders:
    """``{recorder_id: recorder}`` of one runtime.

    Changed only by the coroutines below, which run on the runtime's loop: ids are checked
    and reserved there with no lock. Read from any thread: a single dict operation (a get,
    a ``list(items())``) is atomic.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, AsyncioMetricsRecorder] = {}

    # --- on the runtime's loop ----------------------------------------------------------

    async def create(
        self, rid: str, make: Callable[[], AsyncioMetricsRecorder]
    ) -> AsyncioMetricsRecorder:
        """Make recorder ``rid``, start it, and keep it once it runs."""
        if rid in self.by_id:
            raise MetricsRuntimeRecorderAlreadyExistsError(
                f"recorder {rid!r} already exists", details={"recorder_id": rid}
            )
        recorder = make()
        self.by_id[rid] = recorder  # reserved before the await: no duplicate can slip in
        result = await recorder.start()
        if not result.success:
            del self.by_id[rid]
            raise MetricsRuntimeRecorderStartupError(
                f"recorder {rid!r} failed to start: {result.error}",
                details={"recorder_id": rid},
                cause=result.error,
            )
        return recorder

    async def remove(self, rid: str) -> AsyncioMetricsRecorder:
        recorder = self.by_id.pop(rid, None)
        if recorder is None:
            raise MetricsRuntimeRecorderNotFoundError(
                f"recorder {rid!r} was removed concurrently", details={"recorder_id": rid}
            )
        return recorder

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

    async def collect_snapshots(self) -> Snapshots:
        """Every recorder's snapshots, requested together (served inline: this is their loop)."""
        recorders = list(self.by_id.items())
        values = await asyncio.gather(*(rec.aget_metric_snapshots() for _, rec in recorders))
        return {rid: value for (rid, _), value in zip(recorders, values, strict=True)}

    # --- any thread ---------------------------------------------------------------------

    def stats(self) -> dict[str, RecorderStats]:
        return {rid: rec.get_stats() for rid, rec in list(self.by_id.items())}

    def snapshots_in_place(self) -> Snapshots | None:
        """Every recorder's snapshots read in this thread, if all are idle; else None (one
        hop to the loop then serves them all)."""
        result = {}
        for rid, rec in list(self.by_id.items()):
            snapshots = rec._snapshots_in_place()
            if snapshots is None:
                return None
            result[rid] = snapshots
        return result

    def read_directly(self) -> Snapshots:
        """With no loop to hop to (recorders stopped or never started): read each one."""
        return {rid: rec.get_metric_snapshots() for rid, rec in list(self.by_id.items())}
