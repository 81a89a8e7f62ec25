"""Histogram: bucketing, cumulative ``le`` counts, le text, rejections."""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Histogram
from mvx_metrics.metrics import DEFAULT_BUCKETS
from mvx_metrics.metrics._format import go_float
from mvx_metrics.metrics.histogram import bucket_index, check_buckets

from ._events import Anything, Request, assert_rejected, roundtrip


def test_values_are_counted_cumulatively_by_upper_bound() -> None:
    histogram = Histogram("h", event=Anything, value="value", buckets=(1, 2.5, 10))
    for value in [0.5, 1, 1.0001, 2.5, 3, 10, 11, -4]:
        histogram.handle_event(Anything(value))
    [series] = histogram.snapshot()["series"]
    assert series == {
        "labels": {},
        "count": 8,
        "sum": pytest.approx(25.0001),
        "min": -4.0,
        "max": 11.0,
        "buckets": {"1.0": 3, "2.5": 5, "10.0": 7, "+Inf": 8},
    }
    assert list(series["buckets"])[-1] == "+Inf"
    assert series["count"] == series["buckets"]["+Inf"]


def test_the_default_buckets_are_prometheus_clients() -> None:
    histogram = Histogram("h", event=Request, value="duration_s")
    assert histogram.buckets == DEFAULT_BUCKETS == Histogram.DEFAULT_BUCKETS
    keys = list(histogram.snapshot()["series"][0]["buckets"])
    assert keys == [
        "0.005",
        "0.01",
        "0.025",
        "0.05",
        "0.075",
        "0.1",
        "0.25",
        "0.5",
        "0.75",
        "1.0",
        "2.5",
        "5.0",
        "7.5",
        "10.0",
        "+Inf",
    ]


def test_a_trailing_infinity_is_accepted_and_not_repeated() -> None:
    histogram = Histogram("h", event=Anything, value="value", buckets=[0, 1e6, math.inf])
    assert histogram.buckets == (0.0, 1e6)
    assert list(histogram.snapshot()["series"][0]["buckets"]) == ["0.0", "1e+06", "+Inf"]


@pytest.mark.parametrize(
    "value", [0.005, 1, 2.5, 1e6, 1.5e7, 123456789.0, 1e-7, 10, 0.0, -1.5, 1e22, 100000.0, math.inf]
)
def test_le_text_matches_prometheus_client(value: float) -> None:
    from prometheus_client.utils import floatToGoString

    assert go_float(value) == floatToGoString(value)


def test_le_text_examples() -> None:
    assert [go_float(x) for x in (0.005, 1, 2.5, math.inf, -math.inf, 1e6)] == [
        "0.005",
        "1.0",
        "2.5",
        "+Inf",
        "-Inf",
        "1e+06",
    ]
    assert go_float(math.nan) == "NaN"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "nan_value"),
        (math.inf, "infinite_value"),
        (-math.inf, "infinite_value"),
        (10**400, "infinite_value"),
        ("0.1", "not_a_number"),
        (True, "not_a_number"),
        (None, "not_a_number"),
    ],
)
def test_non_finite_or_non_numeric_values_are_refused(value: Any, reason: str) -> None:
    histogram = Histogram("h", event=Anything, value="value", labels=("tags",))
    histogram.handle_event(Anything(0.3))
    assert_rejected(histogram, Anything(value), reason)


def test_an_unknown_attribute_is_refused() -> None:
    histogram = Histogram("h", event=Anything, value="missing")
    assert_rejected(histogram, Anything(1), "unknown_attribute")


def test_labelled_series_and_json_round_trip() -> None:
    histogram = Histogram(
        "latency", event=Request, value="duration_s", labels=("route",), buckets=(0.1, 1)
    )
    histogram.handle_event(Request("/a", duration_s=0.05))
    histogram.handle_event(Request("/b", duration_s=5))
    snapshot = histogram.snapshot()
    assert roundtrip(snapshot) == snapshot
    assert snapshot["series"][1] == {
        "labels": {"route": "/b"},
        "count": 1,
        "sum": 5.0,
        "min": 5.0,
        "max": 5.0,
        "buckets": {"0.1": 0, "1.0": 0, "+Inf": 1},
    }


def test_each_snapshot_is_a_new_object() -> None:
    histogram = Histogram("h", event=Anything, value="value")
    first = histogram.snapshot()
    histogram.handle_event(Anything(1))
    assert first["series"][0]["count"] == 0
    assert histogram.snapshot()["series"][0]["count"] == 1


def test_histograms_with_the_same_buckets_share_their_bounds_and_texts() -> None:
    # One histogram per recorder, thousands of recorders: one layout, not one each.
    a = Histogram("a", event=Request, value="duration_s", buckets=(0.1, 1.0))
    b = Histogram("b", event=Request, value="duration_s", buckets=[0.1, 1, math.inf])
    assert a._bounds is b._bounds and a._le is b._le
    assert a.buckets == (0.1, 1.0) and a._le == ("0.1", "1.0", "+Inf")
    # 0.0 and -0.0 are equal bounds with different texts: each keeps its own.
    negative = Histogram("n", event=Request, value="duration_s", buckets=(-0.0, 1.0))
    positive = Histogram("p", event=Request, value="duration_s", buckets=(0.0, 1.0))
    assert negative._le[0] == "-0.0" and positive._le[0] == "0.0"
    negative.handle_event(Request(duration_s=-0.0))
    assert list(negative.snapshot()["series"][0]["buckets"]) == ["-0.0", "1.0", "+Inf"]


def test_a_kept_layout_is_reused_only_for_the_same_floats() -> None:
    # Tuples of floats equal to a kept layout skip the checks; anything else is checked.
    kept = Histogram("k", event=Request, value="duration_s", buckets=(1.0, 2.0))
    again = Histogram("a", event=Request, value="duration_s", buckets=(1.0, 2.0))
    assert again._bounds is kept._bounds
    with pytest.raises(TypeError, match="buckets"):
        Histogram("b", event=Request, value="duration_s", buckets=(True, 2.0))  # == (1.0, 2.0)
    ints = Histogram("i", event=Request, value="duration_s", buckets=(1, 2))
    assert ints._bounds is kept._bounds and ints._le == ("1.0", "2.0", "+Inf")


def test_checked_event_classes_are_reused_and_others_still_checked() -> None:
    first = Histogram("f", event=Request, value="duration_s")
    assert Histogram("s", event=(Request,), value="duration_s").event_types is first.event_types
    for bad in ((int,), ([Request],), (Request, "Request")):
        with pytest.raises(TypeError, match="event"):
            Histogram("b", event=bad, value="duration_s")  # type: ignore[arg-type]


def test_a_series_counts_are_an_exact_list() -> None:
    # CPython specialises `counts[i] += 1` for exact lists only: a list subclass (one
    # collector object fewer per series) cost about 380 instructions more per event.
    histogram = Histogram("h", event=Request, value="duration_s", buckets=(0.1, 1.0))
    assert histogram._single is not None and type(histogram._single.counts) is list


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(finite, min_size=1, max_size=80, unique=True).map(sorted),
    st.lists(st.one_of(finite, st.integers(-(10**400), 10**400)), max_size=20),
)
def test_the_inlined_bucket_index_is_bisection(bounds: list[float], values: list[Any]) -> None:
    """Batch plans find the bucket by inlined comparisons (bisection above 64 bounds):
    the same index for every finite value, at, next to and between the bounds."""
    layout = check_buckets([b + 0.0 for b in bounds])  # -0.0 and 0.0 are one bound
    index = eval(f"lambda v: {bucket_index(layout, 'v')}", {"bisect_left": bisect_left})
    nearby = [math.nextafter(b, d) for b in layout for d in (-math.inf, math.inf)]
    for value in [*values, *layout, *nearby, 0, -0.0]:
        assert index(value) == bisect_left(layout, value), (layout, value)
