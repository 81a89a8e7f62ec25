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
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mvx_metrics import (
    Counter,
    Histogram,
    Metric,
    MetricEvent,
    MetricsRecorderProto,
    MetricsRuntime,
)

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


# --- the metrics ---------------------------------------------------------------------------
# Built-in metrics read the event's fields declaratively. They run on the recorder's owning
# loop, one event at a time: no locks anywhere.


def document_metrics() -> list[Metric]:
    return [
        Counter(
            "document_save_attempts",
            event=DocumentSaveFinished,
            labels=("outcome",),
            description="save_document calls, by outcome",
        ),
        Histogram(
            "document_save_duration_seconds",
            event=DocumentSaveFinished,
            value="duration_s",
            buckets=(0.000_01, 0.000_1, 0.001, 0.01, 0.1, 1.0),
            labels=("outcome",),
            description="time spent in save_document",
            unit="seconds",
        ),
    ]


# --- the application ------------------------------------------------------------------------


def main() -> None:
    runtime = MetricsRuntime(namespace="example.metrics")
    runtime.start()
    try:
        recorder = runtime.create_recorder("document_storage")
        for metric in document_metrics():
            recorder.register_metric(metric)

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
