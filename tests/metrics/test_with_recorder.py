"""Built-in metrics inside a real recorder: routing, isolation of rejected events, snapshots."""

from __future__ import annotations

import json
import logging

import anyio
import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    RecorderState,
    UpDownCounter,
    families_from_snapshots,
)
from mvx_metrics.testing import assert_value

from .._support import TIMEOUT, BigSaved, Loaded, Saved

pytestmark = pytest.mark.anyio


class SpyCounter(Counter):
    """A Counter that counts how often the recorder calls it."""

    calls = 0

    def handle_event(self, event: MetricEvent) -> bool:
        self.calls += 1
        return super().handle_event(event)


async def test_built_in_metrics_follow_the_events_registered_with_a_recorder() -> None:
    with anyio.fail_after(TIMEOUT):
        recorder = MetricsRecorder("builtins")
        async with recorder:
            recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
            recorder.register_metric(
                Histogram("save_seconds", event=Saved, value="duration_s", buckets=(0.1, 1))
            )
            recorder.register_metric(Distribution("save_spread", event=Saved, value="duration_s"))
            recorder.register_metric(Gauge("last_load", event=Loaded, value="size"))
            recorder.register_metric(UpDownCounter("loaded", event=Loaded, value="size"))
            for event in [Saved("ok", 0.05), Saved("failed", 2.0), BigSaved("ok", 0.5)]:
                recorder.register_event(event=event)
            recorder.register_event(event=Loaded(7))
            recorder.register_event(event=Loaded(-2))
            snapshots = await recorder.aget_metric_snapshots()
    assert json.loads(json.dumps(snapshots)) == snapshots
    assert snapshots["saves"]["series"] == [
        {"labels": {"outcome": "ok"}, "value": 2},
        {"labels": {"outcome": "failed"}, "value": 1},
    ]
    buckets = {"0.1": 1, "1.0": 2, "+Inf": 3}
    assert_value(snapshots, "save_seconds", buckets, field="buckets")
    assert_value(snapshots, "save_spread", 2.0, field="max")
    assert_value(snapshots, "last_load", -2)
    assert_value(snapshots, "loaded", 5)
    assert [f.name for f in families_from_snapshots(snapshots)] == list(snapshots)


async def test_a_rejected_event_is_counted_for_its_metric_and_the_recorder_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with anyio.fail_after(TIMEOUT), caplog.at_level(logging.WARNING, "mvx_metrics.recorder"):
        recorder = MetricsRecorder("rejects")
        async with recorder:
            recorder.register_metric(Counter("seconds_total", event=Saved, value="duration_s"))
            recorder.register_metric(Counter("saves", event=Saved))
            for duration in [1.0, -1.0, float("nan"), 2.0]:
                recorder.register_event(event=Saved(duration_s=duration))
            snapshots = await recorder.aget_metric_snapshots()
            assert recorder.state is RecorderState.RUNNING
            stats = recorder.get_stats()
    assert dict(stats.metric_errors) == {"seconds_total": 2}
    assert stats.processed == 4
    assert_value(snapshots, "seconds_total", 3.0)
    assert_value(snapshots, "saves", 4)
    assert any("seconds_total" in record.getMessage() for record in caplog.records)


async def test_only_the_metrics_reading_an_event_class_are_called() -> None:
    with anyio.fail_after(TIMEOUT):
        recorder = MetricsRecorder("routing")
        readers = [SpyCounter(f"saves_{i}", event=Saved) for i in range(2)]
        others = [SpyCounter(f"loads_{i}", event=Loaded) for i in range(18)]
        for metric in [*others[:9], *readers, *others[9:]]:
            recorder.register_metric(metric)
        async with recorder:
            for _ in range(50):
                recorder.register_event(event=Saved())
            recorder.register_event(event=BigSaved())
            snapshots = await recorder.aget_metric_snapshots()
    assert len(snapshots) == 20
    assert [m.calls for m in readers] == [51, 51]
    assert [m.calls for m in others] == [0] * 18
