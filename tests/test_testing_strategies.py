"""mvx_metrics.testing.strategies: events from field types, hostile labels, edge values."""

from __future__ import annotations

import copy
import enum
import math
from dataclasses import dataclass
from typing import Literal

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import (
    Counter,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderMetricFailedError,
    MetricValueError,
)
from mvx_metrics.export import render_snapshots
from mvx_metrics.metrics._builtin import BuiltinMetric
from mvx_metrics.testing import CapturingRecorder, value
from mvx_metrics.testing.strategies import (
    bucket_layouts,
    builtin_metrics,
    events,
    label_values,
    metric_values,
)


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
    # Lone surrogates are exposed as U+FFFD: two routes that differ only there become one
    # series, and the repeat is left out (counted as duplicate_series), never sent twice.
    exposed = {
        "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s.route) for s in saves
    }
    assert text.count("saves_total") == len(exposed) + 2  # + HELP, TYPE


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


@dataclass(slots=True)
class Request(MetricEvent):
    route: str
    method: str
    seconds: float
    size: int


async def _through_a_recorder(
    metric: object, batch: list[Request]
) -> tuple[dict[str, object], int]:
    recorder = MetricsRecorder("drawn", queue_max_size=len(batch) + 10)
    recorder.register_metric(metric)  # type: ignore[arg-type]
    async with recorder:
        for event in batch:
            recorder.register_event(event=event)
        snapshots = await recorder.aget_metric_snapshots()
        errors = sum(recorder.get_stats().metric_errors.values())
    return dict(snapshots), errors


@settings(max_examples=150, deadline=None)
@given(builtin_metrics(Request), st.lists(events(Request), max_size=30))
def test_a_drawn_metric_agrees_in_a_recorder_and_a_capturing_recorder(
    metric: BuiltinMetric[object], batch: list[Request]
) -> None:
    """A recorder (batch plans on its loop) and the capturing recorder (per event, in the
    caller) give the same snapshot and refuse the same events, for any configuration."""
    twin = copy.deepcopy(metric)
    snapshots, errors = anyio.run(_through_a_recorder, metric, batch)
    capturing = CapturingRecorder.with_metrics([twin])
    refused = 0
    for event in batch:
        try:
            capturing.register_event(event)
        except MetricsRecorderMetricFailedError:
            refused += 1
    assert errors == refused
    assert snapshots == capturing.get_metric_snapshots()


def test_builtin_metrics_draw_every_kind_and_need_a_number_for_most() -> None:
    seen: set[str] = set()

    @settings(max_examples=200)
    @given(builtin_metrics(Request))
    def draw(metric: BuiltinMetric[object]) -> None:
        seen.add(type(metric).__name__)
        assert set(metric.label_names) <= {"route", "method"}

    draw()
    assert seen == {"Counter", "UpDownCounter", "Gauge", "Histogram", "Distribution"}

    @dataclass(slots=True)
    class Named(MetricEvent):
        name: str

    @settings(max_examples=20)
    @given(builtin_metrics(Named, name="named"))
    def only_counters(metric: BuiltinMetric[object]) -> None:
        assert type(metric) is Counter and metric.metric_name == "named"

    only_counters()
    with pytest.raises(TypeError, match="only Counter"):
        builtin_metrics(Named, kinds=(Gauge,))
