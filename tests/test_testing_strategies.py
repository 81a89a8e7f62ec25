"""mvx_metrics.testing.strategies: events from field types, hostile labels, edge values."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Counter, Gauge, Histogram, MetricEvent, MetricValueError
from mvx_metrics.export import render_snapshots
from mvx_metrics.testing import CapturingRecorder, value
from mvx_metrics.testing.strategies import bucket_layouts, events, label_values, metric_values


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass(slots=True, frozen=True)
class Saved(MetricEvent):
    outcome: Outcome
    route: str
    seconds: float
    retries: int
    cached: bool
    region: str | None = None
    tier: Literal["free", "paid"] = "free"


@settings(max_examples=100)
@given(events(Saved))
def test_events_are_built_from_the_field_types(event: Saved) -> None:
    assert isinstance(event.outcome, Outcome)
    assert isinstance(event.route, str) and isinstance(event.cached, bool)
    assert isinstance(event.seconds, float) and math.isfinite(event.seconds)
    assert isinstance(event.retries, int)
    assert event.region is None or isinstance(event.region, str)
    assert event.tier in ("free", "paid")


@given(events(Saved, outcome=Outcome.OK, seconds=st.floats(0, 1)))
def test_overrides_take_a_value_or_a_strategy(event: Saved) -> None:
    assert event.outcome is Outcome.OK and 0 <= event.seconds <= 1


def test_a_field_without_a_strategy_asks_for_an_override() -> None:
    @dataclass(slots=True)
    class Odd(MetricEvent):
        payload: bytearray

    with pytest.raises(TypeError, match=r"Odd\.payload.*override"):
        events(Odd).example()
    with pytest.raises(TypeError, match="no fields"):
        events(Saved, nope=1)
    with pytest.raises(TypeError, match="dataclass"):
        events(int)  # type: ignore[type-var]


@settings(max_examples=200)
@given(
    st.lists(
        events(Saved, route=label_values().filter(lambda text: text != "__overflow__")),
        max_size=20,
    )
)
def test_any_label_text_is_counted_and_rendered(saves: list[Saved]) -> None:
    # The strategies used as a user would: hostile labels never break the exposition.
    recorder = CapturingRecorder.with_metrics([Counter("saves", event=Saved, labels=("route",))])
    for save in saves:
        recorder.register_event(event=save)
    snapshots = recorder.get_metric_snapshots()
    for route in {save.route for save in saves}:
        expected = sum(1 for save in saves if save.route == route)
        assert value(snapshots, "saves", route=route) == expected
    text = render_snapshots(snapshots)
    assert text.count("saves_total") == len({s.route for s in saves}) + 2  # + HELP, TYPE


@settings(max_examples=300)
@given(metric_values())
def test_a_gauge_takes_or_refuses_every_edge_value(raw: object) -> None:
    @dataclass(slots=True)
    class Reading(MetricEvent):
        level: object

    gauge = Gauge("level", event=Reading, value="level")
    try:
        gauge.handle_event(Reading(raw))
    except MetricValueError:
        assert raw is None or isinstance(raw, str | bool) or raw != raw  # NaN
        return
    [series] = gauge.snapshot()["series"]
    assert series["value"] == raw or series["value"] in (math.inf, -math.inf)


@given(bucket_layouts())
def test_bucket_layouts_are_valid_histograms(bounds: tuple[float, ...]) -> None:
    histogram = Histogram("h", event=Saved, value="seconds", buckets=bounds)
    assert histogram.buckets == tuple(float(b) for b in bounds)


def test_hostile_label_text_is_drawn() -> None:
    seen: set[str] = set()

    @settings(max_examples=300)
    @given(label_values())
    def collect(text: str) -> None:
        seen.update(text)

    collect()
    assert {'"', "\\", "\n", "\x00"} <= seen
