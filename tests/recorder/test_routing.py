"""The active metrics are the recorder's registered ones, the first so many of them in
registration order; a metric added out of that order is still applied as it was added."""

from __future__ import annotations

from typing import Any

from mvx_metrics import Metric, MetricEvent, MetricsRecorder, MetricsRuntime

from .._support import TIMEOUT, BigSaved, CountingMetric, Saved, loop_held


class RegisteringAtFirst(Metric):
    """Counts its events; at the first, registers ``later`` on its own recorder (in place:
    its code runs on the owning loop, inside the batch)."""

    def __init__(self, later: Metric) -> None:
        self.recorder: MetricsRecorder | None = None
        self.later = later
        self.count = 0

    @property
    def metric_name(self) -> str:
        return "registering"

    def handle_event(self, event: MetricEvent) -> bool:
        self.count += 1
        if self.count == 1:
            assert self.recorder is not None
            self.recorder.register_metric(self.later)
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count}


def test_the_active_metrics_are_the_registered_ones_in_order(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("in-order")
    first, second = CountingMetric("first"), CountingMetric("second")
    recorder.register_metric(first)  # idle: added in place
    recorder.register_event(event=Saved())
    with loop_held(runtime):
        recorder.register_event(event=Saved())
        recorder.register_metric(second)  # behind the buffered event
        recorder.register_event(event=Saved())
    snapshots = recorder.get_metric_snapshots(timeout=TIMEOUT)
    assert snapshots == {"first": {"count": 3}, "second": {"count": 1}}
    core = recorder._handoff
    assert core.metrics == (first, second) and core.active == 2
    assert core.registered is recorder._registered


def test_a_metric_added_ahead_of_an_earlier_registration_is_applied_as_added(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("out-of-order")
    ahead = CountingMetric("ahead")
    registering = RegisteringAtFirst(ahead)
    registering.recorder = recorder
    recorder.register_metric(registering)
    behind = CountingMetric("behind")
    with loop_held(runtime):
        recorder.register_event(event=Saved())  # its metric code registers `ahead`...
        # ...in place, before `behind`'s registration (below) is applied; this event, of
        # a class the batch has not routed yet, is routed in between.
        recorder.register_event(event=BigSaved())
        recorder.register_metric(behind)
        recorder.register_event(event=Saved())
    snapshots = recorder.get_metric_snapshots(timeout=TIMEOUT)
    # `behind` sees only the event registered after its registration; `ahead`, added
    # during the first event, the two after it. Routing by a count of registered
    # metrics alone would have given the middle one to `behind` and not to `ahead`.
    assert snapshots == {
        "registering": {"count": 3},
        "ahead": {"count": 2},
        "behind": {"count": 1},
    }
    assert recorder._handoff.metrics == (registering, ahead, behind)
    assert list(recorder._registered) == ["registering", "behind", "ahead"]
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    assert (registering.count, ahead.count, behind.count) == (4, 3, 2)
