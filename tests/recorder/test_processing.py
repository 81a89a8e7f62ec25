"""Processing: routing by event class, isolation of failing metrics, consistent snapshots."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from mvx_metrics import (
    Metric,
    MetricErrorPolicy,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderInvalidStateError,
    MetricsRecorderMetricFailedError,
    MetricsRuntime,
    RecorderState,
)

from .._support import (
    TIMEOUT,
    BigSaved,
    CountingMetric,
    FailingEveryNth,
    Loaded,
    Saved,
    SumMetric,
    loop_held,
)

pytestmark = pytest.mark.anyio


async def test_a_metric_raising_on_every_third_event_leaves_the_others_correct(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = MetricsRecorder("isolate")
    recorder.register_metric(FailingEveryNth(3))
    recorder.register_metric(CountingMetric())
    with caplog.at_level(logging.WARNING, logger="mvx_metrics.recorder"):
        async with recorder:
            for _ in range(30):
                recorder.register_event(event=Saved())
            snapshots = await recorder.aget_metric_snapshots()
            assert recorder.state is RecorderState.RUNNING
    assert snapshots["count"] == {"count": 30}
    assert snapshots["flaky"] == {"count": 20, "seen": 30}
    stats = recorder.get_stats()
    assert dict(stats.metric_errors) == {"flaky": 10}
    assert stats.processed == 30 and stats.pending == 0
    # Logged, but not once per event: a hot failing metric must not flood the log.
    assert 1 <= len([r for r in caplog.records if "flaky" in r.getMessage()]) <= 3


async def test_fail_policy_moves_the_recorder_to_failure() -> None:
    recorder = MetricsRecorder("fail", metric_error_policy=MetricErrorPolicy.FAIL)
    recorder.register_metric(FailingEveryNth(2))
    await recorder.start()
    recorder.register_event(event=Saved())
    recorder.register_event(event=Saved())
    result = await recorder.stop()
    assert recorder.state is RecorderState.FAILURE
    assert isinstance(result.error, MetricsRecorderMetricFailedError)
    assert isinstance(recorder.last_error, MetricsRecorderMetricFailedError)
    assert recorder.last_error.details["metric"] == "flaky"
    with pytest.raises(MetricsRecorderInvalidStateError):
        recorder.register_event(event=Saved())
    stats = recorder.get_stats()
    assert stats.accepted == stats.processed + stats.pending


async def test_routing_follows_declared_event_classes_and_subclasses() -> None:
    recorder = MetricsRecorder("routing")
    saved_only = CountingMetric("saved", event_types=(Saved,))
    loaded_only = CountingMetric("loaded", event_types=(Loaded,))
    everything = CountingMetric("all")
    for metric in (saved_only, loaded_only, everything):
        recorder.register_metric(metric)
    async with recorder:
        for event in (Saved(), BigSaved(), Loaded(), Loaded(), Loaded()):
            recorder.register_event(event=event)
        snapshots = await recorder.aget_metric_snapshots()
    assert snapshots == {"saved": {"count": 2}, "loaded": {"count": 3}, "all": {"count": 5}}


async def test_events_reach_each_metric_in_registration_order_within_a_snapshot() -> None:
    class Recording(Metric):
        def __init__(self, name: str, log: list[str]) -> None:
            self._name, self.log = name, log

        @property
        def metric_name(self) -> str:
            return self._name

        def handle_event(self, event: MetricEvent) -> bool:
            self.log.append(self._name)
            return True

        def snapshot(self) -> dict[str, Any]:
            return {"seen": self.log.count(self._name)}

    log: list[str] = []
    recorder = MetricsRecorder("order")
    recorder.register_metric(Recording("a", log))
    recorder.register_metric(Recording("b", log))
    async with recorder:
        recorder.register_event(event=Saved())
        recorder.register_event(event=Saved())
    assert log == ["a", "b", "a", "b"]


async def test_hook_errors_are_isolated_and_counted() -> None:
    class BadHook(MetricsRecorder):
        async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
            raise RuntimeError("hook failed")

    recorder = BadHook("bad-hook")
    recorder.register_metric(CountingMetric())
    async with recorder:
        for _ in range(4):
            recorder.register_event(event=Saved())
    assert recorder.get_stats().hook_errors == 4
    assert recorder.get_metric_snapshots()["count"] == {"count": 4}


async def test_snapshots_are_consistent_across_metrics() -> None:
    # Two metrics fed by the same events must agree in every snapshot.
    recorder = MetricsRecorder("consistent", queue_max_size=100_000)
    recorder.register_metric(CountingMetric("a", event_types=(Saved,)))
    recorder.register_metric(CountingMetric("b", event_types=(Saved,)))
    async with recorder:
        for i in range(20_000):
            recorder.register_event(event=Saved())
            if i % 2_000 == 0:
                snapshot = await recorder.aget_metric_snapshots()
                assert snapshot["a"] == snapshot["b"]
                assert snapshot["a"]["count"] == i + 1


def test_snapshots_are_json_serialisable_and_survive_runtime_shutdown() -> None:
    runtime = MetricsRuntime(namespace="json")
    runtime.start()
    try:
        recorder = runtime.create_recorder("r")
        recorder.register_metric(SumMetric())
        recorder.register_event(event=Saved(duration_s=1.5))
    finally:
        runtime.shutdown()
    assert recorder.state is RecorderState.STOPPED
    assert json.loads(json.dumps(runtime.get_metric_snapshots())) == {"r": {"sum": {"total": 1.5}}}
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"sum": {"total": 1.5}}


async def test_event_type_defaults_to_the_qualified_class_name() -> None:
    assert Saved().event_type == "Saved"

    class Custom(MetricEvent):
        __slots__ = ()

        @property
        def event_type(self) -> str:
            return "custom.v1"

    assert Custom().event_type == "custom.v1"
    assert not hasattr(Saved(), "__dict__")  # slots survive the base class


def test_a_read_queued_behind_a_failing_event_is_answered_not_left_to_time_out(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("fails", metric_error_policy=MetricErrorPolicy.FAIL)
    recorder.register_metric(FailingEveryNth(1))
    recorder.register_metric(CountingMetric())
    with loop_held(runtime):
        recorder.register_event(event=Saved())
        recorder.register_event(event=Saved())  # never processed: the recorder fails first
        fut = threading_call(lambda: recorder.get_metric_snapshots(timeout=TIMEOUT))
    snapshots = fut.result(TIMEOUT)  # answered once the recorder failed, not at its timeout
    assert recorder.state is RecorderState.FAILURE
    # FAIL stops at the failing metric: later metrics never see that event.
    assert snapshots == {"flaky": {"count": 0, "seen": 1}, "count": {"count": 0}}
    stats = recorder.get_stats()
    assert (stats.accepted, stats.processed, stats.pending) == (2, 1, 1)


def threading_call(fn: Any) -> Any:
    """Run ``fn`` in a new thread; return a future of its result."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future
