"""Label cardinality is bounded: extra label sets share one counted overflow series."""

from __future__ import annotations

import pytest

from mvx_metrics import Counter, Distribution, Gauge, Histogram, UpDownCounter
from mvx_metrics.metrics import DEFAULT_MAX_SERIES, OVERFLOW_LABEL_VALUE

from ._events import Anything, Request, roundtrip


def test_past_the_bound_events_land_in_one_overflow_series_and_are_counted() -> None:
    counter = Counter("c", event=Request, labels=("route", "status"), max_series=3)
    for i in range(10):
        counter.handle_event(Request(f"/{i}"))
        counter.handle_event(Request(f"/{i}"))
    snapshot = roundtrip(counter.snapshot())
    assert [s["labels"]["route"] for s in snapshot["series"]] == [
        "/0",
        "/1",
        "/2",
        OVERFLOW_LABEL_VALUE,
    ]
    assert snapshot["series"][-1] == {
        "labels": {"route": "__overflow__", "status": "__overflow__"},
        "value": 14,
    }
    assert snapshot["overflow_events"] == 14
    # Nothing is lost: the series add up to every event.
    assert sum(s["value"] for s in snapshot["series"]) == 20


def test_admitted_label_sets_keep_their_series_after_the_bound_is_reached() -> None:
    counter = Counter("c", event=Request, labels=("route",), max_series=2)
    for route in ["/a", "/b", "/c", "/a", "/b", "/d"]:
        counter.handle_event(Request(route))
    series = counter.snapshot()["series"]
    assert series == [
        {"labels": {"route": "/a"}, "value": 2},
        {"labels": {"route": "/b"}, "value": 2},
        {"labels": {"route": "__overflow__"}, "value": 2},
    ]
    assert counter.snapshot()["overflow_events"] == 2


def test_the_default_bound_is_2000_label_sets() -> None:
    counter = Counter("c", event=Anything, labels=("value",))
    assert counter.max_series == DEFAULT_MAX_SERIES == 2000
    for i in range(2500):
        counter.handle_event(Anything(i))
    snapshot = counter.snapshot()
    assert len(snapshot["series"]) == 2001
    assert snapshot["overflow_events"] == 500


@pytest.mark.parametrize(
    "metric",
    [
        UpDownCounter("u", event=Anything, value="value", labels=("tags",), max_series=1),
        Gauge("g", event=Anything, value="value", labels=("tags",), max_series=1),
        Histogram("h", event=Anything, value="value", labels=("tags",), max_series=1),
        Distribution("d", event=Anything, value="value", labels=("tags",), max_series=1),
    ],
    ids=lambda m: m.metric_name,
)
def test_every_kind_has_the_overflow_series(metric: object) -> None:
    from mvx_metrics import Metric

    assert isinstance(metric, Metric)
    for i in range(4):
        metric.handle_event(Anything(1, tags={"i": i}))
    snapshot = roundtrip(metric.snapshot())
    assert len(snapshot["series"]) == 2
    assert snapshot["series"][1]["labels"] == {"tags": "__overflow__"}
    assert snapshot["overflow_events"] == 3


def test_a_rejected_event_is_not_counted_as_overflow() -> None:
    counter = Counter("c", event=Anything, value="value", labels=("tags",), max_series=1)
    counter.handle_event(Anything(1, tags={"a": 1}))
    with pytest.raises(ValueError):
        counter.handle_event(Anything(-1, tags={"b": 1}))
    assert counter.snapshot()["overflow_events"] == 0
    assert len(counter.snapshot()["series"]) == 1


def test_a_labels_callable_overflows_with_the_names_it_used() -> None:
    counter = Counter("c", event=Anything, labels=lambda e: e.tags, max_series=2)
    counter.handle_event(Anything(tags={"b": 1}))
    counter.handle_event(Anything(tags={"a": 1, "b": 2}))
    counter.handle_event(Anything(tags={"z": 3}))
    assert counter.snapshot()["series"][-1] == {
        "labels": {"a": "__overflow__", "b": "__overflow__"},
        "value": 1,
    }


def test_a_real_label_value_equal_to_the_overflow_marker_is_refused() -> None:
    from ._events import assert_rejected

    one = Counter("one", event=Request, labels=("route",), max_series=2)
    two = Counter("two", event=Request, labels=("route", "status"))
    by_callable = Counter("fn", event=Request, labels=lambda e: {"route": e.route})
    for metric in (one, two, by_callable):
        assert_rejected(metric, Request(route=OVERFLOW_LABEL_VALUE), "bad_labels")
        metric.handle_event(Request(route="/ok"))
        series = metric.snapshot()["series"]
        assert all(OVERFLOW_LABEL_VALUE not in s["labels"].values() for s in series)
        assert metric.snapshot()["overflow_events"] == 0
