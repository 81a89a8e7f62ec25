"""Deferred values, added at once, against the per-event path value by value.

A batch plan only collects a run's values for a sketch or histogram series and adds
them in one go (``Fragment.add_values``): sorted, counted bucket by bucket. The state
that leaves must be the one the per-event path leaves, slot for slot, whatever the
values (near bucket edges and bounds, signed zeros, ints beside equal floats,
subnormals, the largest floats) and whatever the series went through before
(collapses, cuts).
"""

from __future__ import annotations

import math
import struct
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Histogram, MetricEvent, QuantileSketch
from mvx_metrics.metrics import _sketch
from mvx_metrics.metrics._sketch import _upper_edge

MAXF = sys.float_info.max


def bits(x: float) -> bytes:
    """The float's bits: tells 0.0 from -0.0."""
    return struct.pack("<d", x)


#: Which way the next batches are counted: a cost hint, not state.
HINT = "_counting_settles"


def state(sketch: QuantileSketch) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in QuantileSketch.__slots__:
        if name == HINT:
            continue
        value = getattr(sketch, name)
        out[name] = bits(value) if isinstance(value, float) else value
    return out


def edges(scale: int) -> st.SearchStrategy[float]:
    """Floats at and next to bucket edges ``2**(k / 2**scale)``, either sign."""
    sf = 2.0**scale

    def around(k: int, step: int, sign: int) -> float:
        x = 2.0 ** (k / sf)
        for _ in range(abs(step)):
            x = math.nextafter(x, math.inf if step > 0 else 0.0)
        return sign * x

    top = int(1023 * sf)
    return st.builds(around, st.integers(-top, top), st.integers(-2, 2), st.sampled_from([1, -1]))


finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.one_of(
    finite,
    edges(6),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, MAXF, -MAXF, 0.012, 1.0]),
)


@settings(max_examples=400, deadline=None)
@given(
    before=st.lists(values, max_size=30),
    batch=st.lists(values, min_size=1, max_size=80),
    max_bins=st.sampled_from([1, 3, 8, 2048]),
    counting=st.booleans(),
)
def test_a_batch_leaves_the_state_value_by_value_adds_leave(
    before: list[float], batch: list[float], max_bins: int, counting: bool
) -> None:
    """Either way of counting a batch: sorted, or one by one (``counting``)."""
    one_by_one, batched = QuantileSketch(max_bins=max_bins), QuantileSketch(max_bins=max_bins)
    batched._counting_settles = int(counting)
    for x in before:  # may collapse, and leave a cut in place
        one_by_one._add(x)
        batched._add(x)
    for x in batch:
        one_by_one._add(x)
    pending = list(batch)
    batched._add_floats(pending)
    assert pending == []  # emptied, for the plan to refill
    assert state(batched) == state(one_by_one)


@settings(max_examples=100, deadline=None)
@given(batch=st.lists(edges(20), min_size=1, max_size=40), counting=st.booleans())
def test_the_finest_scale_counts_edges_as_value_by_value_adds_do(
    batch: list[float], counting: bool
) -> None:
    one_by_one, batched = QuantileSketch(4e-7), QuantileSketch(4e-7)
    batched._counting_settles = int(counting)
    assert batched.scale == 20
    for x in batch:
        one_by_one._add(x)
    batched._add_floats(list(batch))
    assert state(batched) == state(one_by_one)


@pytest.mark.parametrize("counting", [False, True])
def test_the_first_of_equal_extremes_is_kept(counting: bool) -> None:
    one_by_one, batched = QuantileSketch(), QuantileSketch()
    batched._counting_settles = int(counting)
    for x in (0.0, -0.0, 0.0, -0.0, 0.0):
        one_by_one._add(x)
    batched._add_floats([0.0, -0.0, 0.0, -0.0, 0.0])  # past the few added one by one
    assert bits(batched._max) == bits(one_by_one._max) == bits(0.0)
    assert bits(batched._min) == bits(one_by_one._min) == bits(0.0)


def test_a_sorted_count_picks_the_way_of_the_next_batches() -> None:
    """Values that fill a bucket each are counted one by one for the next batches, then
    sorted again to measure; values crowding a few buckets keep being sorted."""
    spread, crowded = QuantileSketch(), QuantileSketch()
    spread._add_floats([1.1**i for i in range(64)])
    crowded._add_floats([0.012, 0.25] * 32)
    assert spread._counting_settles > 0
    assert crowded._counting_settles == 0
    coming = spread._counting_settles
    for _ in range(coming):
        spread._add_floats([0.012, 0.25] * 32)
    assert spread._counting_settles == 0
    assert spread.count == 64 * (1 + coming)


class Timed(MetricEvent):
    def __init__(self, seconds: object) -> None:
        self.seconds = seconds


def histogram_state(histogram: Histogram) -> tuple[object, ...]:
    state = histogram._single
    assert state is not None

    def exact(x: object) -> object:
        return (type(x), bits(x)) if isinstance(x, float) else (type(x), x)

    return (list(state.counts), exact(state.sum), exact(state.min), exact(state.max))


bounds = st.lists(finite, min_size=1, max_size=20, unique=True).map(
    lambda found: sorted({b + 0.0 for b in found})  # -0.0 and 0.0 are one bound
)
numbers = st.one_of(
    finite,
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 1.0, 0.0, -0.0, 5e-324, MAXF, -MAXF, 2**53 + 1]),
)


@settings(max_examples=300, deadline=None)
@given(
    layout=bounds,
    before=st.lists(numbers, max_size=10),
    batch=st.lists(numbers, min_size=1, max_size=60),
    near=st.booleans(),
)
def test_a_histogram_batch_leaves_the_state_handle_event_leaves(
    layout: list[float], before: list[object], batch: list[object], near: bool
) -> None:
    if near:  # values at and next to the bounds
        batch = batch + [math.nextafter(b, d) for b in layout for d in (-1e308, 1e308)] + layout
    one_by_one, batched = (
        Histogram("h", event=Timed, value="seconds", buckets=layout) for _ in range(2)
    )
    for x in before:
        one_by_one.handle_event(Timed(x))
        batched.handle_event(Timed(x))
    for x in batch:
        one_by_one.handle_event(Timed(x))
    pending = list(batch)
    assert batched._single is not None
    batched._add_values(batched._single, pending)
    assert pending == []
    assert histogram_state(batched) == histogram_state(one_by_one)


@pytest.mark.parametrize(
    "batch",
    [[0.0, -0.0], [-0.0, 0.0, -0.0], [1, 1.0], [1.0, 1, 1.0], [2, 0.5, 2.0, 2], [-1.0, -1]],
)
def test_a_histogram_keeps_the_first_of_equal_extremes(batch: list[object]) -> None:
    one_by_one, batched = (
        Histogram("h", event=Timed, value="seconds", buckets=(0.0, 1.0)) for _ in range(2)
    )
    for x in batch:
        one_by_one.handle_event(Timed(x))
    assert batched._single is not None
    batched._add_values(batched._single, list(batch) * 3)  # past the one-by-one count
    for x in batch * 2:
        one_by_one.handle_event(Timed(x))
    assert histogram_state(batched) == histogram_state(one_by_one)


@settings(max_examples=300, deadline=None)
@given(scale=st.sampled_from([0, 3, 6, 10, 20]), x=st.floats(min_value=5e-324, max_value=MAXF))
def test_a_bucket_s_upper_edge_is_its_largest_float(scale: int, x: float) -> None:
    """The edge a sorted count bisects at: in the bucket of ``x``, and the next float not."""
    sf = 2.0**scale
    k = math.ceil(math.log2(x) * sf)
    edge = _upper_edge(k, sf)
    assert x <= edge and math.ceil(math.log2(edge) * sf) == k
    assert edge == MAXF or math.ceil(math.log2(math.nextafter(edge, math.inf)) * sf) > k


def test_the_edges_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``_EDGES_KEPT`` edges of a scale, the cache starts over: memory stays bounded
    whatever spread of values a process sees, and counts stay exact."""
    monkeypatch.setattr(_sketch, "_UPPER_EDGES", {})
    monkeypatch.setattr(_sketch, "_EDGES_KEPT", 8)
    one_by_one, batched = QuantileSketch(), QuantileSketch()
    for _ in range(3):
        batch = [1.5**i for i in range(-20, 20)]  # 40 buckets a batch
        for x in batch:
            one_by_one._add(x)
        batched._count_sorted(batch)
        assert all(len(kept) <= 8 + 40 for kept in _sketch._UPPER_EDGES.values())
    assert state(batched) == state(one_by_one)
