"""Property tests: totals, bucket counts and quantile bounds hold for any input."""

from __future__ import annotations

import math
from collections import defaultdict
from functools import reduce
from operator import add

from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Counter, Distribution, Histogram, QuantileSketch, UpDownCounter
from mvx_metrics.metrics._sketch import downscale, nearest_rank

from ._events import Anything

# Sane magnitudes: the bound is relative, so the range matters less than the mix of signs.
positive = st.floats(min_value=1e-9, max_value=1e9)
negative = st.floats(min_value=-1e9, max_value=-1e-9)
finite = st.one_of(positive, negative, st.just(0.0), st.integers(-(10**6), 10**6))
accuracies = st.sampled_from([0.001, 0.01, 0.02, 0.05, 0.2])
quantile_values = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8)
labels = st.sampled_from(["a", "b", "c"])


def exact_quantile(ordered: list[float], q: float) -> float:
    return ordered[nearest_rank(q, len(ordered)) - 1]


def within_bound(estimate: float | None, exact: float, accuracy: float) -> bool:
    assert estimate is not None
    return abs(estimate - exact) <= accuracy * abs(exact) * (1 + 1e-9)


@given(st.lists(st.tuples(labels, st.one_of(st.integers(0, 10**12), positive))))
def test_a_counter_equals_the_sum_of_its_increments(steps: list[tuple[str, float]]) -> None:
    counter = Counter("c", event=Anything, value="value", labels=("tags",))
    expected: dict[str, float] = defaultdict(int)
    for label, value in steps:
        counter.handle_event(Anything(value, tags=label))  # type: ignore[arg-type]
        expected[label] += value
    got = {s["labels"]["tags"]: s["value"] for s in counter.snapshot()["series"]}
    assert got == expected


@given(st.lists(labels))
def test_a_counting_counter_counts_every_event(steps: list[str]) -> None:
    counter = Counter("c", event=Anything, labels=("tags",), max_series=2)
    for label in steps:
        counter.handle_event(Anything(tags=label))  # type: ignore[arg-type]
    snapshot = counter.snapshot()
    assert sum(s["value"] for s in snapshot["series"]) == len(steps)
    admitted = list(dict.fromkeys(steps))[:2]
    assert snapshot["overflow_events"] == sum(1 for label in steps if label not in admitted)


@given(st.lists(finite))
def test_an_up_down_counter_equals_the_sum_of_its_steps(steps: list[float]) -> None:
    counter = UpDownCounter("u", event=Anything, value="value")
    for step in steps:
        counter.handle_event(Anything(step))
    assert counter.snapshot()["series"][0]["value"] == reduce(add, steps, 0)


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20, unique=True).map(sorted),
    st.lists(st.one_of(st.floats(-2e6, 2e6), st.integers(-(10**6), 10**6))),
)
def test_histogram_buckets_equal_a_plain_bucketing(
    bounds: list[float], values: list[float]
) -> None:
    histogram = Histogram("h", event=Anything, value="value", buckets=bounds)
    for value in values:
        histogram.handle_event(Anything(value))
    [series] = histogram.snapshot()["series"]
    expected = [sum(1 for v in values if v <= bound) for bound in bounds] + [len(values)]
    assert list(series["buckets"].values()) == expected
    assert series["count"] == series["buckets"]["+Inf"] == len(values)
    assert series["sum"] == reduce(add, map(float, values), 0.0)


@given(st.lists(finite, min_size=1, max_size=400), accuracies, quantile_values)
def test_distribution_quantiles_stay_within_the_relative_error(
    values: list[float], accuracy: float, qs: list[float]
) -> None:
    qs = [q for q in dict.fromkeys(qs) if 0 < q < 1]
    distribution = Distribution(
        "d", event=Anything, value="value", relative_accuracy=accuracy, quantiles=[0, 1, *qs]
    )
    for value in values:
        distribution.handle_event(Anything(value))
    [series] = distribution.snapshot()["series"]
    ordered = sorted(map(float, values))
    assert (series["min"], series["max"], series["count"]) == (ordered[0], ordered[-1], len(values))
    for q in [0, 1, *qs]:
        key = next(k for k in series["quantiles"] if float(k) == q)
        assert within_bound(series["quantiles"][key], exact_quantile(ordered, q), accuracy), q


@given(
    st.lists(finite, max_size=200),
    st.lists(finite, max_size=200),
    accuracies,
    quantile_values,
)
def test_merging_two_sketches_equals_sketching_the_concatenation(
    left: list[float], right: list[float], accuracy: float, qs: list[float]
) -> None:
    a, b, both = QuantileSketch(accuracy), QuantileSketch(accuracy), QuantileSketch(accuracy)
    for value in left:
        a.add(value)
        both.add(value)
    for value in right:
        b.add(value)
        both.add(value)
    a.merge(b)
    assert (a.count, a.min, a.max) == (both.count, both.min, both.max)
    assert math.isclose(a.sum, both.sum, rel_tol=1e-9, abs_tol=1e-6)
    # Without collapsing, the buckets are the same, so the answers are identical.
    assert a.quantiles(qs) == both.quantiles(qs)
    if both.count:
        ordered = sorted(map(float, left + right))
        for q, estimate in zip(qs, a.quantiles(qs), strict=True):
            assert within_bound(estimate, exact_quantile(ordered, q), accuracy)


wide = st.one_of(
    st.floats(min_value=1e-30, max_value=1e30),
    st.floats(min_value=-1e30, max_value=-1e-30),
    st.just(0.0),
)


@settings(max_examples=300)
@given(
    st.lists(st.lists(wide, max_size=60), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=12),
    st.sampled_from([0.01, 0.1]),
)
def test_when_memory_runs_short_ranks_above_the_collapsed_ones_keep_the_bound(
    parts: list[list[float]], max_bins: int, accuracy: float
) -> None:
    sketches = []
    for part in parts:
        sketch = QuantileSketch(accuracy, max_bins=max_bins)
        for value in part:
            sketch.add(value)
            assert sketch.bins <= max_bins
        sketches.append(sketch)
    merged = sketches[0]
    for other in sketches[1:]:
        merged.merge(other)
        assert merged.bins <= max_bins
    values = sorted(v for part in parts for v in part)
    assert merged.count == len(values) and merged.collapsed <= len(values)
    for rank in range(merged.collapsed + 1, len(values) + 1):
        q = rank / len(values)
        # q * n may round to a neighbouring rank; compare with the rank the sketch uses.
        exact = exact_quantile(values, q)
        assert within_bound(merged.quantile(q), exact, accuracy), (rank, merged.collapsed)


@given(st.lists(finite, max_size=60), accuracies)
def test_sketch_buckets_follow_the_base_2_exponential_layout(
    values: list[float], accuracy: float
) -> None:
    # What Prometheus native histograms and OpenTelemetry exponential histograms read:
    # bucket k holds magnitudes in (gamma**(k-1), gamma**k], gamma = 2**(2**-scale).
    sketch = QuantileSketch(accuracy)
    expected: dict[tuple[int, int], int] = defaultdict(int)
    for value in values:
        sketch.add(value)
        if value == 0:
            continue
        alone = QuantileSketch(accuracy)
        alone.add(value)
        _, positive, negative = alone.buckets()
        ((k, count),) = positive or negative
        assert count == 1 and bool(positive) == (value > 0)
        expected[1 if value > 0 else -1, k] += 1
        # log_gamma(|v|) = log2(|v|) * 2**scale is in (k - 1, k], up to float rounding.
        position = math.log2(abs(value)) * 2.0**sketch.scale
        assert k - 1 - 1e-9 <= position <= k + 1e-9
    gamma = 2.0 ** (2.0**-sketch.scale)
    coarser = gamma**2
    assert (gamma - 1) / (gamma + 1) <= accuracy < (coarser - 1) / (coarser + 1)
    zero, positive, negative = sketch.buckets()
    assert zero == values.count(0)
    got = {(1, k): c for k, c in positive} | {(-1, k): c for k, c in negative}
    assert got == expected
    assert [k for k, _ in positive] == sorted(k for k, _ in positive)


@given(st.lists(st.tuples(st.integers(-5000, 5000), st.integers(1, 9)), unique_by=lambda p: p[0]))
def test_downscaling_merges_neighbours_into_the_coarser_bucket_holding_them(
    pairs: list[tuple[int, int]],
) -> None:
    pairs.sort()
    for by in (1, 2, 3):
        merged = downscale(pairs, by)
        assert sum(c for _, c in merged) == sum(c for _, c in pairs)
        step = 2**by
        for k, _ in pairs:
            # (g**(k-1), g**k] at scale s lies inside (G**(j-1), G**j] at s - by, G = g**step.
            j = math.ceil(k / step)
            assert (j - 1) * step <= k - 1 and k <= j * step
            assert j in dict(merged)
