"""Merging one recorder's snapshots from several processes, kind by kind."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Counter, Distribution, Gauge, Histogram, MetricEvent, UpDownCounter
from mvx_metrics.metrics.gauge import GAUGE_MULTIPROCESS_MODES
from mvx_metrics.multiprocess import merge_snapshots
from mvx_metrics.multiprocess.merging import Part
from mvx_metrics.testing import CapturingRecorder, value


@dataclass(slots=True)
class Req(MetricEvent):
    route: str
    seconds: float


def process(events: list[Req], *, mode: str = "per_process") -> dict[str, Any]:
    recorder = CapturingRecorder.with_metrics(
        [
            Counter("requests", event=Req, labels=("route",)),
            UpDownCounter("balance", event=Req, value="seconds"),
            Histogram("seconds", event=Req, value="seconds", buckets=(0.1, 1.0)),
            Distribution("spread", event=Req, value="seconds"),
            Gauge("last", event=Req, value="seconds", multiprocess_mode=mode),
        ]
    )
    for event in events:
        recorder.register_event(event)
    return recorder.get_metric_snapshots()


def part(instance: str, snapshots: dict[str, Any], *, written: int = 0, live: bool = True) -> Part:
    return Part(instance, written, live, snapshots)


def test_counters_and_histograms_add_up_series_by_series() -> None:
    a = process([Req("/", 0.05), Req("/a", 2.0)])
    b = process([Req("/", 0.5)])
    merged, conflicts = merge_snapshots([part("a", a), part("b", b)])
    assert conflicts == 0
    assert value(merged, "requests", route="/") == 2
    assert value(merged, "requests", route="/a") == 1
    assert value(merged, "balance") == pytest.approx(2.55)
    assert value(merged, "seconds") == 3
    assert value(merged, "seconds", field="buckets") == {"0.1": 1, "1.0": 2, "+Inf": 3}
    assert (value(merged, "seconds", field="min"), value(merged, "seconds", field="max")) == (
        0.05,
        2.0,
    )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.floats(0.001, 1000.0), min_size=1, max_size=60), min_size=2, max_size=4)
)
def test_merged_quantiles_keep_the_sketch_s_relative_error(per_process: list[list[float]]) -> None:
    parts = [
        part(str(i), process([Req("/", v) for v in values])) for i, values in enumerate(per_process)
    ]
    merged, _ = merge_snapshots(parts)
    everything = process([Req("/", v) for values in per_process for v in values])
    # Merging sketches answers as one sketch of every value would: within 1%.
    got = value(merged, "spread", field="quantiles")
    want = value(everything, "spread", field="quantiles")
    assert got.keys() == want.keys()
    for q in got:
        assert got[q] == pytest.approx(want[q], rel=1e-9)
    assert value(merged, "spread") == sum(len(v) for v in per_process)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("live_sum", 3.0), ("live_max", 2.0), ("live_min", 1.0), ("most_recent", 1.0)],
)
def test_gauges_join_by_their_declared_mode(mode: str, expected: float) -> None:
    a = process([Req("/", 2.0)], mode=mode)
    b = process([Req("/", 1.0)], mode=mode)
    dead = process([Req("/", 100.0)], mode=mode)
    merged, _ = merge_snapshots(
        [part("a", a, written=1), part("b", b, written=2), part("c", dead, written=3, live=False)]
    )
    assert value(merged, "last") == expected  # the exited process's value is not live


def test_per_process_gauges_get_an_instance_label() -> None:
    merged, _ = merge_snapshots(
        [part("a", process([Req("/", 2.0)])), part("b", process([Req("/", 1.0)]))]
    )
    assert value(merged, "last", instance="a") == 2.0
    assert value(merged, "last", instance="b") == 1.0
    assert set(GAUGE_MULTIPROCESS_MODES) == {
        "live_sum",
        "live_max",
        "live_min",
        "most_recent",
        "per_process",
    }


def test_a_metric_whose_kind_differs_between_processes_is_kept_once_and_counted() -> None:
    a = process([Req("/", 1.0)])
    b = dict(process([Req("/", 1.0)]))
    b["requests"] = dict(b["last"], name="requests")  # a gauge under the counter's name
    merged, conflicts = merge_snapshots([part("a", a), part("b", b)])
    assert conflicts == 1
    assert value(merged, "requests", route="/") == 1


def test_a_gauge_mode_outside_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="multiprocess_mode"):
        Gauge("g", event=Req, value="seconds", multiprocess_mode="sum")


def test_order_of_processes_does_not_change_cumulative_totals() -> None:
    snapshots = [
        process([Req(random.choice("ab"), random.random()) for _ in range(20)]) for _ in range(4)
    ]
    forward, _ = merge_snapshots([part(str(i), s) for i, s in enumerate(snapshots)])
    backward, _ = merge_snapshots(
        [part(str(i), s) for i, s in reversed(list(enumerate(snapshots)))]
    )
    for route in "ab":
        assert value(forward, "requests", route=route, default=0) == value(
            backward, "requests", route=route, default=0
        )
    assert value(forward, "spread", field="quantiles") == value(
        backward, "spread", field="quantiles"
    )
