"""A read holds a recorder only while it copies the built-in metrics' series
(``BuiltinMetric.capture``); the snapshot built from the copy later is the snapshot of
that moment, whatever was applied since (issue 10, item 1)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    UpDownCounter,
)
from mvx_metrics._steps import SERIES_PER_STEP
from mvx_metrics.metrics._builtin import BuiltinMetric
from mvx_metrics.recorder import recorder as recorder_module
from mvx_metrics.testing import CapturingRecorder

from .._support import TIMEOUT


@dataclass(slots=True)
class Seen(MetricEvent):
    route: str
    value: float
    trace_id: str = "t"


def _kinds() -> list[BuiltinMetric[Any]]:
    return [
        Counter("count", event=Seen, labels=("route",), max_series=3),
        Counter("traced", event=Seen, labels=("route",), exemplar="trace_id", max_series=3),
        UpDownCounter("level", event=Seen, value="value", labels=("route",), max_series=3),
        Gauge("last", event=Seen, value="value", labels=("route",), max_series=3),
        Histogram(
            "sizes",
            event=Seen,
            value="value",
            labels=("route",),
            exemplar="trace_id",
            buckets=(1.0, 10.0),
            max_series=3,
        ),
        Distribution("spread", event=Seen, value="value", labels=("route",), max_series=3),
    ]


@pytest.mark.parametrize("index", range(len(_kinds())))
def test_a_capture_is_the_snapshot_of_its_moment(index: int) -> None:
    metric = _kinds()[index]
    recorder = CapturingRecorder()
    recorder.register_metric(metric)
    for i in range(4):  # three series and the overflow one
        recorder.register_event(event=Seen(f"/r/{i}", 2.0 + i, trace_id=f"t{i}"))
    before = metric.snapshot()
    captured = metric.capture()
    for i in range(6):  # every series changes, the overflow one too
        recorder.register_event(event=Seen(f"/r/{i}", 20.0 + i, trace_id=f"u{i}"))
    assert captured.snapshot() == before
    assert metric.snapshot() != before


def test_building_a_capture_pauses_every_slice_of_series() -> None:
    metric = Counter("count", event=Seen, labels=("route",), max_series=1_000)
    recorder = CapturingRecorder()
    recorder.register_metric(metric)
    for i in range(1_000):
        recorder.register_event(event=Seen(f"/r/{i}", 1.0))
    steps = metric.capture().snapshot_steps()
    pauses = 0
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            snapshot = stop.value
            break
        pauses += 1
    assert pauses == -(-1_000 // SERIES_PER_STEP) - 1
    assert snapshot == metric.snapshot()


@pytest.mark.anyio
async def test_a_reader_in_place_builds_the_snapshots_after_letting_go_of_the_recorder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = MetricsRecorder("copy-then-build")
    recorder.register_metric(Counter("count", event=Seen, labels=("route",)))
    free_while_building: list[bool] = []
    build = recorder_module.snapshots_of

    def building(captures: Any) -> Any:
        # Another thread can take the guard: the reader no longer holds it.
        def probe() -> None:
            taken = recorder._handoff.guard.acquire(blocking=False)
            if taken:
                recorder._handoff.guard.release()
            free_while_building.append(taken)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(TIMEOUT)
        return build(captures)

    monkeypatch.setattr(recorder_module, "snapshots_of", building)
    async with recorder:
        recorder.register_event(event=Seen("/a", 1.0))
        await recorder.aflush(timeout=TIMEOUT)

        def read() -> dict[str, Any]:
            return recorder.get_metric_snapshots(timeout=TIMEOUT)

        snapshots = await anyio.to_thread.run_sync(read)  # another thread: in place
    assert snapshots["count"]["series"] == [{"labels": {"route": "/a"}, "value": 1}]
    assert free_while_building == [True]
