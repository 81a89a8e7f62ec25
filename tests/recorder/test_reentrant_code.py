"""Metric code that reads its own recorder, or waits for a loop while served in place, is
refused at once and counted; the recorder keeps running (issue 9, items 1 and 7)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from mvx_metrics import (
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderDeadlockError,
    MetricsRecorderTimeoutError,
    MetricsRuntime,
    MetricsRuntimeDeadlockError,
    RecorderState,
)
from mvx_metrics.export import render_prometheus

from .._support import TIMEOUT, CountingMetric, Saved

pytestmark = pytest.mark.anyio

Read = Callable[[MetricsRecorder], object]

READS: dict[str, Read] = {
    "snapshot": lambda rec: rec.get_metric_snapshots(timeout=TIMEOUT),
    "flush": lambda rec: rec.flush(timeout=TIMEOUT),
    "render": lambda rec: render_prometheus(rec),
}


class ReadingMetric(Metric):
    """Reads ``recorder`` from inside ``handle_event`` (or ``snapshot()``); keeps what it got."""

    event_types = (Saved,)

    def __init__(self, read: Read, *, in_snapshot: bool = False) -> None:
        self.recorder: MetricsRecorder | None = None
        self._read = read
        self._in_snapshot = in_snapshot
        self.errors: list[BaseException] = []
        self.count = 0

    @property
    def metric_name(self) -> str:
        return "reading"

    def _attempt(self) -> None:
        assert self.recorder is not None
        try:
            self._read(self.recorder)
        except Exception as exc:
            self.errors.append(exc)
            raise

    def handle_event(self, event: MetricEvent) -> bool:
        self.count += 1
        if not self._in_snapshot:
            self._attempt()
        return True

    def snapshot(self) -> dict[str, Any]:
        if self._in_snapshot:
            self._attempt()
        return {"count": self.count}


def check_refused(recorder: MetricsRecorder, metric: ReadingMetric, events: int) -> None:
    assert recorder.state is RecorderState.RUNNING
    assert metric.errors, "the read was not attempted"
    assert all(isinstance(e, MetricsRecorderDeadlockError) for e in metric.errors)
    assert {e.reason for e in metric.errors} == {"reentrant_read"}  # type: ignore[attr-defined]
    stats = recorder.get_stats()
    assert (stats.processed, stats.pending) == (events, 0)


@pytest.mark.parametrize("read", list(READS))
def test_a_read_from_handle_event_on_the_runtime_is_refused_and_counted(
    runtime: MetricsRuntime, read: str
) -> None:
    recorder = runtime.create_recorder(f"reentrant-{read}")
    metric = ReadingMetric(READS[read])
    metric.recorder = recorder
    recorder.register_metric(metric)
    recorder.register_metric(CountingMetric())
    for _ in range(5):  # queued behind one another: the failing reads drained them before
        recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    check_refused(recorder, metric, 5)
    assert recorder.get_stats().metric_errors == {"reading": 5}
    snapshots = recorder.get_metric_snapshots(timeout=TIMEOUT)
    assert snapshots == {"reading": {"count": 5}, "count": {"count": 5}}


@pytest.mark.parametrize("read", list(READS))
async def test_a_read_from_handle_event_in_direct_mode_is_refused_and_counted(read: str) -> None:
    recorder = MetricsRecorder(f"direct-{read}")
    metric = ReadingMetric(READS[read])
    metric.recorder = recorder
    recorder.register_metric(metric)
    async with recorder:
        for _ in range(5):
            recorder.register_event(event=Saved())
        await recorder.aflush(timeout=TIMEOUT)
        check_refused(recorder, metric, 5)
        assert recorder.get_stats().metric_errors == {"reading": 5}


@pytest.mark.parametrize("read", ["snapshot", "render"])
def test_a_snapshot_that_reads_its_own_recorder_is_refused_in_place_and_on_the_loop(
    runtime: MetricsRuntime, read: str
) -> None:
    recorder = runtime.create_recorder(f"self-snapshot-{read}")
    metric = ReadingMetric(READS[read], in_snapshot=True)
    metric.recorder = recorder
    recorder.register_metric(metric)
    recorder.register_metric(CountingMetric())
    recorder.register_event(event=Saved())
    # Pending: served on the loop. Then idle: served in place, in this thread.
    for _ in range(2):
        snapshots = recorder.get_metric_snapshots(timeout=TIMEOUT)
        assert snapshots == {"count": {"count": 1}}  # the failing metric is left out
    check_refused(recorder, metric, 1)
    assert recorder.get_stats().metric_errors == {"reading": 2}


def test_a_snapshot_in_place_that_waits_for_a_loop_is_refused_at_once(
    runtime: MetricsRuntime,
) -> None:
    other = runtime.create_recorder("waited-for")
    other.register_metric(CountingMetric())
    waits: list[Read] = [
        lambda _: other.flush(timeout=TIMEOUT),
        lambda _: runtime.get_metric_snapshots(timeout=TIMEOUT),
    ]
    for i, wait in enumerate(waits):
        recorder = runtime.create_recorder(f"waiting-{i}")
        metric = ReadingMetric(wait, in_snapshot=True)
        metric.recorder = recorder
        recorder.register_metric(metric)
        recorder.flush(timeout=TIMEOUT)
        other.register_event(event=Saved())  # the wait must reach the loop
        assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {}
        (error,) = metric.errors
        assert isinstance(error, MetricsRecorderDeadlockError | MetricsRuntimeDeadlockError)
        assert "in place" in str(error)
    assert other.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 2}}


class Blocking(Metric):
    """A snapshot() that blocks until released; taken on the owning loop."""

    snapshot_on_owner_loop = True

    def __init__(self) -> None:
        self.release = threading.Event()

    @property
    def metric_name(self) -> str:
        return "blocking"

    def handle_event(self, event: MetricEvent) -> bool:
        return True

    def snapshot(self) -> dict[str, Any]:
        self.release.wait(TIMEOUT)
        return {}


def test_a_read_times_out_on_a_snapshot_taken_on_the_owning_loop(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("slow-snapshot")
    metric = Blocking()
    recorder.register_metric(metric)
    try:
        with pytest.raises(MetricsRecorderTimeoutError):
            recorder.get_metric_snapshots(timeout=0.2)
    finally:
        metric.release.set()
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"blocking": {}}
