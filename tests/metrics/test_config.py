"""Construction: every bad argument is refused with a clear ValueError or TypeError."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    UpDownCounter,
)

from ._events import Other, Request

Builder = Callable[..., Any]

BUILDERS: dict[str, Builder] = {
    "counter": lambda name="m", **kw: Counter(name, **{"event": Request, **kw}),
    "updown_counter": lambda name="m", **kw: UpDownCounter(
        name, **{"event": Request, "value": "size", **kw}
    ),
    "gauge": lambda name="m", **kw: Gauge(name, **{"event": Request, "value": "size", **kw}),
    "histogram": lambda name="m", **kw: Histogram(
        name, **{"event": Request, "value": "duration_s", **kw}
    ),
    "distribution": lambda name="m", **kw: Distribution(
        name, **{"event": Request, "value": "duration_s", **kw}
    ),
}

every_kind = pytest.mark.parametrize("kind", list(BUILDERS))


@every_kind
def test_a_valid_metric_exposes_its_configuration(kind: str) -> None:
    metric = BUILDERS[kind](
        "  requests  ", labels=("route",), description="Requests.", unit="seconds"
    )
    assert metric.metric_name == "requests"
    assert metric.event_types == (Request,)
    snapshot = metric.snapshot()
    assert snapshot["name"] == "requests" and snapshot["kind"] == kind
    assert (snapshot["description"], snapshot["unit"]) == ("Requests.", "seconds")
    assert snapshot["series"] == [] and snapshot["overflow_events"] == 0


@every_kind
def test_event_may_be_a_tuple_and_repeats_are_dropped(kind: str) -> None:
    metric = BUILDERS[kind](event=(Request, Other, Request))
    assert metric.event_types == (Request, Other)
    assert BUILDERS[kind](event=MetricEvent).event_types == (MetricEvent,)


@every_kind
@pytest.mark.parametrize(
    ("name", "error"), [(None, ValueError), (3, TypeError), ("", ValueError), ("  ", ValueError)]
)
def test_bad_names_are_refused(kind: str, name: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="name"):
        BUILDERS[kind](name)


@every_kind
@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("Request", TypeError),
        (int, TypeError),
        (Request(), TypeError),
        ((Request, int), TypeError),
        ([Request], TypeError),
        ((), ValueError),
        (None, TypeError),
    ],
)
def test_bad_event_classes_are_refused(kind: str, event: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="event"):
        BUILDERS[kind](event=event)


@every_kind
@pytest.mark.parametrize(
    ("value", "error"),
    [
        (3, TypeError),
        (b"size", TypeError),
        ("", ValueError),
        ("no such", ValueError),
        ("a..b", ValueError),
    ],
)
def test_bad_value_sources_are_refused(kind: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="value"):
        BUILDERS[kind](value=value)


@pytest.mark.parametrize("kind", ["updown_counter", "gauge", "histogram", "distribution"])
def test_value_is_required_except_for_counter(kind: str) -> None:
    with pytest.raises(TypeError, match="value"):
        BUILDERS[kind](value=None)


@every_kind
@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ("route", TypeError),
        (5, TypeError),
        ((1,), TypeError),
        (("route", "route"), ValueError),
        (("bad-name",), ValueError),
        (("__reserved",), ValueError),
        (("",), ValueError),
        (("1st",), ValueError),
    ],
)
def test_bad_labels_are_refused(kind: str, labels: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="label"):
        BUILDERS[kind](labels=labels)


@every_kind
def test_labels_may_be_a_list(kind: str) -> None:
    assert BUILDERS[kind](labels=["route", "status"]).label_names == ("route", "status")


@pytest.mark.parametrize(("kind", "name"), [("histogram", "le"), ("distribution", "quantile")])
def test_label_names_used_by_the_exposition_are_reserved(kind: str, name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        BUILDERS[kind](labels=(name,))


@every_kind
@pytest.mark.parametrize(
    ("argument", "value"), [("description", None), ("description", 1), ("unit", None)]
)
def test_description_and_unit_must_be_text(kind: str, argument: str, value: Any) -> None:
    with pytest.raises(TypeError, match=argument):
        BUILDERS[kind](**{argument: value})


@every_kind
@pytest.mark.parametrize(
    ("max_series", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("9", TypeError)],
)
def test_max_series_must_be_a_positive_int(
    kind: str, max_series: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="max_series"):
        BUILDERS[kind](max_series=max_series)


@pytest.mark.parametrize(
    ("buckets", "error"),
    [
        ([], ValueError),
        ([math.inf], ValueError),
        ([1, 1], ValueError),
        ([2, 1], ValueError),
        ([math.nan], ValueError),
        ([-math.inf, 1], ValueError),
        ([1, math.inf, 2], ValueError),
        ([1, math.inf, math.inf], ValueError),
        (["1"], TypeError),
        ([True], TypeError),
        ([None], TypeError),
        ("123", TypeError),
        (5, TypeError),
    ],
)
def test_bad_buckets_are_refused(buckets: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="buckets"):
        Histogram("h", event=Request, value="duration_s", buckets=buckets)


@pytest.mark.parametrize(
    ("relative_accuracy", "error"),
    [
        (0, ValueError),
        (1, ValueError),
        (-0.1, ValueError),
        (1.5, ValueError),
        (math.nan, ValueError),
        ("0.01", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_bad_relative_accuracy_is_refused(relative_accuracy: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="relative_accuracy"):
        Distribution("d", event=Request, value="duration_s", relative_accuracy=relative_accuracy)


@pytest.mark.parametrize(
    ("quantiles", "error"),
    [
        ((1.5,), ValueError),
        ((-0.1,), ValueError),
        ((math.nan,), ValueError),
        (("0.5",), TypeError),
        ((True,), TypeError),
        ((0.5, 0.5), ValueError),
        (0.5, TypeError),
        ("0.5", TypeError),
    ],
)
def test_bad_quantiles_are_refused(quantiles: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="quantile"):
        Distribution("d", event=Request, value="duration_s", quantiles=quantiles)


@pytest.mark.parametrize(("max_bins", "error"), [(0, ValueError), (1.0, TypeError)])
def test_bad_max_bins_is_refused(max_bins: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_bins"):
        Distribution("d", event=Request, value="duration_s", max_bins=max_bins)
