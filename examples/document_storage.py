"""A production component that emits metric events, and the application that wires it.

The component (``DocumentStorage``) knows only ``MetricsRecorderProto``: it builds an event
and hands it over with ``register_event(event=...)``, a plain synchronous call. The
application (``main``) owns the runtime, its thread and its event loop, creates the
recorder, registers the metrics and passes the recorder in.

Run it: ``python examples/document_storage.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mvx_metrics import Metric, MetricEvent, MetricsRecorderProto, MetricsRuntime

# --- the event ------------------------------------------------------------------------------


class SaveOutcome(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@dataclass(slots=True, frozen=True)
class DocumentSaveFinished(MetricEvent):
    """One ``save_document`` call finished."""

    outcome: SaveOutcome
    duration_s: float


# --- the production component ---------------------------------------------------------------


class DocumentStorageError(Exception):
    pass


class DocumentStorage:
    """Stores documents in memory. Synchronous: metrics do not make it async."""

    def __init__(
        self,
        *,
        metrics_recorder: MetricsRecorderProto | None = None,
        failing_ids: Iterable[str] = (),
    ) -> None:
        self._metrics_recorder = metrics_recorder
        self._failing_ids = frozenset(failing_ids)
        self._documents: dict[str, str] = {}

    def save_document(self, document_id: str, content: str) -> None:
        started = time.perf_counter()
        outcome = SaveOutcome.FAILURE
        try:
            if not content or document_id in self._failing_ids:
                raise DocumentStorageError(f"cannot save document {document_id!r}")
            self._documents[document_id] = content
            outcome = SaveOutcome.SUCCESS
        finally:
            self._send_metric_event(
                DocumentSaveFinished(outcome=outcome, duration_s=time.perf_counter() - started)
            )

    def _send_metric_event(self, event: MetricEvent) -> None:
        if self._metrics_recorder is not None:
            self._metrics_recorder.register_event(event=event)


# --- user-written metrics -------------------------------------------------------------------
# Metrics run on the recorder's owning loop, one event at a time: no locks needed.


class SaveAttemptsByOutcome(Metric):
    """How many saves ended in each outcome."""

    event_types = (DocumentSaveFinished,)

    def __init__(self) -> None:
        self._counts = dict.fromkeys(SaveOutcome, 0)

    @property
    def metric_name(self) -> str:
        return "document_save_attempts"

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, DocumentSaveFinished)
        self._counts[event.outcome] += 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"counts": {str(k): v for k, v in self._counts.items()}}


class SaveDurationStats(Metric):
    """Count, total, min, max and mean of save durations, in seconds."""

    event_types = (DocumentSaveFinished,)

    def __init__(self) -> None:
        self._count = 0
        self._total = 0.0
        self._min: float | None = None
        self._max: float | None = None

    @property
    def metric_name(self) -> str:
        return "document_save_duration_seconds"

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, DocumentSaveFinished)
        d = event.duration_s
        self._count += 1
        self._total += d
        self._min = d if self._min is None else min(self._min, d)
        self._max = d if self._max is None else max(self._max, d)
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {
            "count": self._count,
            "total": self._total,
            "min": self._min,
            "max": self._max,
            "mean": self._total / self._count if self._count else None,
        }


# --- the application ------------------------------------------------------------------------


def main() -> None:
    runtime = MetricsRuntime(namespace="example.metrics")
    runtime.start()
    try:
        recorder = runtime.create_recorder("document_storage")
        recorder.register_metric(SaveAttemptsByOutcome())
        recorder.register_metric(SaveDurationStats())

        storage = DocumentStorage(metrics_recorder=recorder, failing_ids={"doc-13"})
        for i in range(20):
            try:
                storage.save_document(f"doc-{i}", "" if i % 5 == 4 else f"content {i}")
            except DocumentStorageError:
                pass  # the failure is measured; the application decides what else to do

        # Read-your-writes: every event registered above is in these snapshots.
        snapshots = recorder.get_metric_snapshots()
        print(json.dumps(snapshots, indent=2))
    finally:
        runtime.shutdown()  # stops the recorder, which processes every accepted event first

    # Final figures stay readable after shutdown.
    print(recorder.get_stats())


if __name__ == "__main__":
    main()
