"""Counter, UpDownCounter and Gauge: values, labels, per-event rejections."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

from mvx_metrics import Counter, Gauge, MetricValueError, UpDownCounter

from ._events import Anything, Other, Request, assert_rejected, roundtrip


def test_a_counter_without_value_counts_events_per_label_set() -> None:
    counter = Counter("requests", event=Request, labels=("route", "status"))
    for event in [Request("/a"), Request("/a"), Request("/b", 500), Request("/a")]:
        assert counter.handle_event(event) is True
    assert counter.snapshot()["series"] == [
        {"labels": {"route": "/a", "status": "200"}, "value": 3},
        {"labels": {"route": "/b", "status": "500"}, "value": 1},
    ]


def test_a_counter_without_labels_is_exported_at_zero_before_any_event() -> None:
    counter = Counter("requests", event=Request)
    assert counter.snapshot() == {
        "name": "requests",
        "kind": "counter",
        "description": "",
        "unit": "",
        "series": [{"labels": {}, "value": 0}],
        "overflow_events": 0,
    }
    counter.handle_event(Request())
    assert counter.snapshot()["series"] == [{"labels": {}, "value": 1}]


def test_a_counter_with_value_adds_it_and_keeps_integer_totals_exact() -> None:
    counter = Counter("bytes", event=Anything, value="value")
    for value in [2**60, 1, 0, 3]:
        counter.handle_event(Anything(value))
    assert counter.snapshot()["series"][0]["value"] == 2**60 + 4
    counter.handle_event(Anything(0.5))
    counter.handle_event(Anything(Fraction(1, 4)))
    assert counter.snapshot()["series"][0]["value"] == pytest.approx(2**60 + 4.75)


def test_values_and_labels_may_come_from_callables() -> None:
    counter = Counter(
        "kb",
        event=Request,
        value=lambda e: e.size / 1000,
        labels=lambda e: {"route": e.route, "class": e.status // 100},
    )
    counter.handle_event(Request("/x", 201, size=1500))
    counter.handle_event(Request("/x", 204, size=500))
    assert counter.snapshot()["series"] == [{"labels": {"class": "2", "route": "/x"}, "value": 2.0}]


def test_label_values_are_text_and_equal_text_shares_a_series() -> None:
    counter = Counter("c", event=Anything, labels=("value",))
    for value in [1, "1", True, None, 1.5]:
        counter.handle_event(Anything(value))
    assert [s["labels"]["value"] for s in counter.snapshot()["series"]] == [
        "1",
        "True",
        "None",
        "1.5",
    ]
    assert counter.snapshot()["series"][0]["value"] == 2


def test_the_value_attribute_may_be_dotted() -> None:
    class Holder:
        nested = 7

    counter = Counter("c", event=Anything, value="value.nested")
    counter.handle_event(Anything(Holder()))
    assert counter.snapshot()["series"][0]["value"] == 7


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "negative_increment"),
        (-0.5, "negative_increment"),
        (math.nan, "nan_value"),
        (math.inf, "infinite_value"),
        (-math.inf, "negative_increment"),
        (10**400, "infinite_value"),
        ("3", "not_a_number"),
        (True, "not_a_number"),
        (None, "not_a_number"),
        (object(), "not_a_number"),
        (1 + 2j, "not_a_number"),
    ],
)
def test_a_counter_refuses_bad_increments_and_stays_unchanged(value: Any, reason: str) -> None:
    counter = Counter("c", event=Anything, value="value", labels=("tags",))
    counter.handle_event(Anything(2))
    error = assert_rejected(counter, Anything(value), reason)
    assert error.details["attribute"] == "value"
    assert isinstance(error, ValueError)  # also a plain ValueError for broad handlers
    assert "'c'" in str(error) and "Anything" in str(error)


def test_an_unknown_attribute_names_the_metric_the_event_class_and_the_attribute() -> None:
    counter = Counter("c", event=(Request, Other), value="duration_s")
    counter.handle_event(Request())
    error = assert_rejected(counter, Other(), "unknown_attribute")
    assert error.details == {"metric": "c", "event_type": "Other", "attribute": "duration_s"}
    assert "'c'" in str(error) and "Other" in str(error) and "duration_s" in str(error)
    assert isinstance(error.__cause__, AttributeError)


def test_an_unknown_label_attribute_is_reported_the_same_way() -> None:
    counter = Counter("c", event=(Request, Other), labels=("size", "route"))
    error = assert_rejected(counter, Other(), "unknown_attribute")
    assert error.details == {"metric": "c", "event_type": "Other", "attribute": "route"}
    single = Counter("c", event=(Request, Other), labels=("route",))
    assert_rejected(single, Other(), "unknown_attribute")


def test_errors_raised_by_a_value_callable_pass_through_unchanged() -> None:
    def broken(event: Any) -> float:
        raise AttributeError("inside the callable")

    counter = Counter("c", event=Request, value=broken)
    with pytest.raises(AttributeError, match="inside the callable"):
        counter.handle_event(Request())
    counter = Counter("c", event=Request, value=lambda e: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        counter.handle_event(Request())
    assert counter.snapshot()["series"][0]["value"] == 0


def test_a_labels_callable_must_return_a_mapping_of_valid_names() -> None:
    counter = Counter("c", event=Anything, labels=lambda e: e.tags)
    counter.handle_event(Anything(tags={"ok": 1}))
    error = assert_rejected(counter, Anything(tags=["ok"]), "bad_labels")  # type: ignore[arg-type]
    assert error.details["attribute"].endswith("<lambda>")
    assert_rejected(counter, Anything(tags={"bad-name": 1}), "bad_labels")
    assert_rejected(counter, Anything(tags={"__name__": 1}), "bad_labels")
    empty_labels = Counter("c", event=Anything, labels=lambda e: e.tags)
    empty_labels.handle_event(Anything(tags={}))
    assert empty_labels.snapshot()["series"] == [{"labels": {}, "value": 1}]


def test_an_up_down_counter_accepts_any_finite_step() -> None:
    gauge = UpDownCounter("in_flight", event=Anything, value="value")
    for step in [1, 1, -1, 2.5, -10, Fraction(1, 2)]:
        gauge.handle_event(Anything(step))
    assert gauge.snapshot()["series"] == [{"labels": {}, "value": pytest.approx(-6.0)}]
    assert gauge.snapshot()["kind"] == "updown_counter"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "nan_value"),
        (math.inf, "infinite_value"),
        (-math.inf, "infinite_value"),
        (-(10**400), "infinite_value"),
        ("1", "not_a_number"),
        (False, "not_a_number"),
    ],
)
def test_an_up_down_counter_refuses_non_finite_steps(value: Any, reason: str) -> None:
    gauge = UpDownCounter("in_flight", event=Anything, value="value")
    gauge.handle_event(Anything(-3))
    assert_rejected(gauge, Anything(value), reason)


def test_a_gauge_keeps_the_last_value_including_infinities() -> None:
    gauge = Gauge("temperature", event=Anything, value="value", labels=("tags",))
    assert gauge.snapshot()["series"] == []
    for value in [3, -2.5, math.inf]:
        gauge.handle_event(Anything(value, tags={}))
    assert gauge.snapshot()["series"] == [{"labels": {"tags": "{}"}, "value": math.inf}]
    gauge.handle_event(Anything(-math.inf, tags={}))
    assert roundtrip(gauge.snapshot())["series"][0]["value"] == -math.inf
    gauge.handle_event(Anything(10**400, tags={}))
    assert gauge.snapshot()["series"][0]["value"] == math.inf


def test_a_gauge_without_labels_starts_at_zero() -> None:
    assert Gauge("g", event=Anything, value="value").snapshot()["series"] == [
        {"labels": {}, "value": 0}
    ]


@pytest.mark.parametrize(
    ("value", "reason"), [(math.nan, "nan_value"), ("1", "not_a_number"), (True, "not_a_number")]
)
def test_a_gauge_refuses_nan_and_non_numbers(value: Any, reason: str) -> None:
    gauge = Gauge("g", event=Anything, value="value")
    gauge.handle_event(Anything(4))
    assert_rejected(gauge, Anything(value), reason)


def test_metric_value_errors_form_their_own_family() -> None:
    import mvx_metrics as m

    assert issubclass(m.MetricValueError, m.MetricsMetricError)
    assert issubclass(m.MetricsMetricError, m.MetricsError)
    assert not issubclass(m.MetricsMetricError, m.MetricsRecorderError)
    error = MetricValueError()
    assert error.reason == "bad_value" and error.details == {}
