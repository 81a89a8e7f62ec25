"""Distribution and QuantileSketch: quantiles within the bound, empty series, memory bound."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from mvx_metrics import Distribution, QuantileSketch
from mvx_metrics.metrics._sketch import nearest_rank

from ._events import Anything, Request, assert_rejected, roundtrip


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def within_bound(estimate: float | None, exact: float, accuracy: float) -> bool:
    assert estimate is not None
    # A few ulps of slack for the rounding of log() in the bucket index.
    return abs(estimate - exact) <= accuracy * abs(exact) * (1 + 1e-9) + 1e-300


def test_an_empty_series_reports_none_for_min_max_and_quantiles() -> None:
    distribution = Distribution("d", event=Request, value="duration_s")
    assert roundtrip(distribution.snapshot()) == {
        "name": "d",
        "kind": "distribution",
        "description": "",
        "unit": "",
        "relative_accuracy": 0.01,
        "scale": 6,
        "series": [
            {
                "labels": {},
                "count": 0,
                "sum": 0.0,
                "min": None,
                "max": None,
                "quantiles": {"0.5": None, "0.9": None, "0.99": None},
                "zero_count": 0,
                "positive_buckets": [],
                "negative_buckets": [],
            }
        ],
        "overflow_events": 0,
    }
    sketch = QuantileSketch()
    assert (sketch.quantile(0.5), sketch.min, sketch.max, sketch.count) == (None, None, None, 0)


def test_quantiles_are_within_the_relative_error_of_exact_ones() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 2) * rng.choice([1, -1, 0]) for _ in range(5000)]
    distribution = Distribution(
        "d", event=Anything, value="value", quantiles=(0, 0.1, 0.5, 0.9, 0.99, 0.999, 1)
    )
    for value in values:
        distribution.handle_event(Anything(value))
    [series] = distribution.snapshot()["series"]
    assert series["count"] == len(values)
    assert series["sum"] == pytest.approx(math.fsum(values))
    assert (series["min"], series["max"]) == (min(values), max(values))
    for key, estimate in series["quantiles"].items():
        assert within_bound(estimate, exact_quantile(values, float(key)), 0.01), key
    # The extremes are exact (clamped to the observed min and max).
    assert series["quantiles"]["0.0"] == min(values)
    assert series["quantiles"]["1.0"] == max(values)


def test_quantile_keys_use_prometheus_text() -> None:
    distribution = Distribution("d", event=Anything, value="value", quantiles=(0.25, 1, 0))
    distribution.handle_event(Anything(3))
    assert list(distribution.snapshot()["series"][0]["quantiles"]) == ["0.25", "1.0", "0.0"]
    assert distribution.quantiles == (0.25, 1.0, 0.0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "nan_value"),
        (math.inf, "infinite_value"),
        (-math.inf, "infinite_value"),
        (-(10**400), "infinite_value"),
        ("1", "not_a_number"),
        (True, "not_a_number"),
    ],
)
def test_non_finite_or_non_numeric_values_are_refused(value: Any, reason: str) -> None:
    distribution = Distribution("d", event=Anything, value="value", labels=("tags",))
    distribution.handle_event(Anything(2))
    assert_rejected(distribution, Anything(value), reason)


def test_ints_and_other_reals_are_accepted() -> None:
    from fractions import Fraction

    distribution = Distribution("d", event=Anything, value="value")
    for value in [1, Fraction(1, 2), 2**70]:
        distribution.handle_event(Anything(value))
    assert distribution.snapshot()["series"][0]["max"] == float(2**70)


def test_the_sketch_checks_what_it_is_given() -> None:
    sketch = QuantileSketch(0.02)
    for bad in (math.nan, math.inf, 10**400):
        with pytest.raises(ValueError, match="finite"):
            sketch.add(bad)
    with pytest.raises(TypeError):
        sketch.add("1")  # type: ignore[arg-type]
    sketch.add(1)
    for q in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="quantile"):
            sketch.quantile(q)
    with pytest.raises(TypeError, match="merge"):
        sketch.merge([1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="relative_accuracy"):
        sketch.merge(QuantileSketch(0.01))
    assert sketch.count == 1 and sketch.relative_accuracy == 0.02
    assert "count=1" in repr(sketch)


def test_merging_adds_counts_sums_and_extremes() -> None:
    left, right = QuantileSketch(), QuantileSketch()
    for value in [1.0, 2.0, 0.0]:
        left.add(value)
    for value in [-5.0, 10.0]:
        right.add(value)
    left.merge(right)
    left.merge(QuantileSketch())
    assert (left.count, left.sum, left.min, left.max) == (5, 8.0, -5.0, 10.0)
    assert left.quantiles([0, 0.4, 0.6, 1]) == [-5.0, 0.0, pytest.approx(1.0, rel=0.01), 10.0]
    assert right.count == 2  # the merged sketch is unchanged


def test_memory_stays_bounded_and_the_upper_quantiles_keep_the_bound() -> None:
    rng = random.Random(3)
    values = [10 ** rng.uniform(-12, 12) for _ in range(20000)]
    sketch = QuantileSketch(0.01, max_bins=64)
    for value in values:
        sketch.add(value)
        assert sketch.bins <= 64
    assert sketch.collapsed > 0
    for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
        if nearest_rank(q, len(values)) > sketch.collapsed:
            assert within_bound(sketch.quantile(q), exact_quantile(values, q), 0.01), q
    assert sketch.quantile(0.999) is not None


def test_collapsing_merges_negatives_then_zeros_into_the_lowest_kept_bucket() -> None:
    sketch = QuantileSketch(0.05, max_bins=4)
    values = [-1000.0, -100.0, -10.0, 0.0, 0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0]
    for value in values:
        sketch.add(value)
    assert sketch.bins <= 4
    # The collapsed values are exactly the lowest ones; above them the bound holds.
    assert sketch.collapsed == 6
    for rank in range(sketch.collapsed + 1, len(values) + 1):
        q = rank / len(values)
        assert within_bound(sketch.quantile(q), exact_quantile(values, q), 0.05), rank
    assert sketch.quantile(0) == -1000.0  # min is exact even when collapsed


def test_the_smallest_memory_bound_is_one_bucket() -> None:
    sketch = QuantileSketch(max_bins=1)
    for value in [-2.0, 0.0, 1.0, 5.0, 7.0]:
        sketch.add(value)
    assert sketch.bins == 1 and sketch.count == 5
    assert sketch.quantile(1) == 7.0
