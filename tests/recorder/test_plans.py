"""Batch plans apply runs of events exactly as the per-event path would, event for event."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    Metric,
    MetricEvent,
    MetricsRecorder,
    UpDownCounter,
)
from mvx_metrics.recorder.handoff import ControlItem
from mvx_metrics.recorder.plans import build_plan, leading_run
from mvx_metrics.testing import assert_value, series


@dataclass(slots=True)
class Request(MetricEvent):
    route: Any
    method: Any
    duration_s: Any


@dataclass(slots=True)
class Other(MetricEvent):
    route: Any


class SeesEverything(Metric):
    """A user metric (never inlined) that fails on some events."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def metric_name(self) -> str:
        return "everything"

    def handle_event(self, event: MetricEvent) -> bool:
        if getattr(event, "route", None) == "/boom":
            raise RuntimeError("boom")
        self.seen.append(type(event).__name__)
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"seen": list(self.seen)}


def metric_set() -> list[Metric]:
    """Every built-in kind, with and without labels, plus metrics that are not inlined."""
    return [
        Counter("requests", event=Request),
        Counter("by_route", event=Request, labels=("route",), max_series=3),
        Counter("by_route_method", event=Request, labels=("route", "method"), max_series=4),
        Counter("seconds_total", event=Request, value="duration_s"),
        UpDownCounter("drift", event=Request, value="duration_s", labels=("method",)),
        Gauge("last", event=Request, value="duration_s"),
        Histogram("latency", event=Request, value="duration_s", buckets=(0.1, 1.0, 10.0)),
        Histogram(
            "latency_by_route",
            event=Request,
            value="duration_s",
            labels=("route",),
            buckets=(0.5, 5.0),
            max_series=2,
        ),
        Distribution("quantiles", event=Request, value="duration_s", labels=("method",)),
        # Without labels: a run's floats are deferred and added in one go.
        Distribution("spread", event=Request, value="duration_s", max_bins=8),
        Counter("others", event=Other, labels=("route",)),
        # A callable value: applied per event, never inlined.
        Gauge("doubled", event=Request, value=lambda e: e.duration_s * 2),
        SeesEverything(),
    ]


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.sampled_from(["1.5", None, 0, 0.0, -0.0, 1e-300, 5e-324]),
)
labels = st.one_of(st.sampled_from(["/", "/a", "/b", "/c", "/boom"]), st.integers(0, 3))
events = st.one_of(
    st.builds(Request, route=labels, method=st.sampled_from(["GET", "PUT", 7]), duration_s=values),
    st.builds(Other, route=labels),
)


def apply_per_event(metrics: list[Metric], batch: list[MetricEvent]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for event in batch:
        for metric in metrics:
            if metric.event_types is not None and not isinstance(event, metric.event_types):
                continue
            try:
                metric.handle_event(event)
            except Exception:
                errors[metric.metric_name] = errors.get(metric.metric_name, 0) + 1
    return errors


def apply_with_plans(metrics: list[Metric], batch: list[MetricEvent]) -> dict[str, int]:
    errors: dict[str, int] = {}

    def failed(metric: Metric, event: MetricEvent, exc: Exception) -> None:
        errors[metric.metric_name] = errors.get(metric.metric_name, 0) + 1

    plans = {
        cls: build_plan(
            cls,
            tuple(m for m in metrics if m.event_types is None or issubclass(cls, m.event_types)),
            failed,
            [0],
        )
        for cls in (Request, Other)
    }
    i = 0
    while i < len(batch):
        end = plans[batch[i].__class__](batch, i)
        assert end > i
        i = end
    assert i == len(batch)
    return errors


def same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN (a Gauge never holds NaN, but sums may)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=60))
def test_plans_give_the_per_event_states_and_error_counts(batch: list[MetricEvent]) -> None:
    reference, planned = metric_set(), metric_set()
    expected_errors = apply_per_event(reference, batch)
    assert apply_with_plans(planned, batch) == expected_errors
    for ref, got in zip(reference, planned, strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot())), ref.metric_name


def test_a_plan_stops_at_the_end_and_at_another_class() -> None:
    counter = Counter("requests", event=Request)
    plan = build_plan(Request, (counter,), lambda m, e, x: None, [0])
    batch: list[Any] = [Request("/", "GET", 1.0)] * 5 + [Other("/")] + [Request("/", "GET", 1.0)]
    assert plan(batch, 0) == 5  # up to the Other
    assert plan(batch, 6) == 7  # from the last one to the end
    assert counter.snapshot()["series"][0]["value"] == 6


def test_a_plan_reads_the_objects_it_names_as_locals() -> None:
    """Read per event, a global costs a dict lookup where a local costs an index."""
    metrics = (Distribution("seconds", event=Request, value="duration_s"), SeesEverything())
    plan = build_plan(Request, metrics, lambda m, e, x: None, [0])
    assert plan.__defaults__ is not None and not plan.__kwdefaults__
    named = set(plan.__code__.co_varnames[2 : plan.__code__.co_argcount])
    assert len(named) == len(plan.__defaults__)
    assert {"CEIL", "LOG2", "Q0", "CLS", "slow", "float"} <= named
    assert not named & set(plan.__code__.co_names)  # none of them is looked up globally
    assert plan([Request("/", "GET", 0.5)] * 2, 0) == 2
    assert metrics[0].snapshot()["series"][0]["count"] == 2
    assert metrics[1].seen == ["Request", "Request"]  # the metric called per event


@pytest.mark.parametrize(
    ("tail", "run"),
    [
        ([], 4),  # one class throughout
        ([ControlItem(lambda: None)], 4),  # and the flush that woke the loop
        ([Other("/")], 0),  # another class: checked item by item
        ([ControlItem(lambda: None), Request("/", "GET", 1.0)], 0),
    ],
)
def test_a_label_less_count_takes_a_known_run_at_once(tail: list[Any], run: int) -> None:
    batch: list[Any] = [Request("/", "GET", 1.0)] * 4 + tail
    assert leading_run(batch, Request) == run
    counter = Counter("requests", event=Request)
    plan = build_plan(Request, (counter,), lambda m, e, x: None, [0])
    assert plan(batch, 0) == 4
    assert counter.snapshot()["series"][0]["value"] == 4


def test_a_class_that_overrides_its___class___is_checked_item_by_item() -> None:
    class Lying(Request):
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return Request

    assert leading_run([Lying("/", "GET", 1.0)] * 3, Lying) == 0


def test_events_that_claim_the_class_are_applied_as_routed() -> None:
    """Routing follows ``__class__``; a plan's run follows the type, so an event of another
    type that claims the class ends the run and is routed to the same plan again."""

    class Lying(Request):
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return Request

    class Honest(Request):  # defines __class__, truthfully: applied one per call
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return Honest

    batch: list[MetricEvent] = [
        *(Request("/a", "GET", 0.5) for _ in range(3)),
        Lying("/b", "PUT", 2.0),
        Request("/a", "GET", 7.0),
        Lying("/boom", 7, math.nan),
    ]
    reference, planned = metric_set(), metric_set()
    assert apply_with_plans(planned, batch) == apply_per_event(reference, batch)
    for ref, got in zip(reference, planned, strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot())), ref.metric_name

    counter = Counter("honest", event=Honest, labels=("route",))
    plan = build_plan(Honest, (counter,), lambda *_: None, [0])
    honest = [Honest("/", "GET", 1.0)] * 3
    assert [plan(honest, i) for i in range(3)] == [1, 2, 3]
    assert counter.snapshot()["series"] == [{"labels": {"route": "/"}, "value": 3}]


def test_a_plan_that_raises_reports_how_many_events_it_applied() -> None:
    class Interrupting(SeesEverything):
        def handle_event(self, event: MetricEvent) -> bool:
            if len(self.seen) == 2:
                raise KeyboardInterrupt
            return super().handle_event(event)

    progress = [0]
    plan = build_plan(Request, (Interrupting(),), lambda m, e, x: None, progress)
    with pytest.raises(KeyboardInterrupt):
        plan([Request("/", "GET", 1.0)] * 5, 0)
    assert progress == [3]  # two applied, and the one it raised on (counted, as per event)
    with pytest.raises(KeyboardInterrupt):  # on the first event of a call, from index 3
        plan([Request("/", "GET", 1.0)] * 5, 3)
    assert progress == [4]


@pytest.mark.anyio
async def test_a_recorder_applies_mixed_runs_and_control_items_in_order() -> None:
    recorder = MetricsRecorder("mixed", queue_max_size=10_000)
    for metric in metric_set():
        recorder.register_metric(metric)
    async with recorder:
        for i in range(3_000):
            recorder.register_event(event=Request(f"/{i % 5}", "GET", i / 1000))
            if i % 7 == 0:
                recorder.register_event(event=Other("/a"))
            if i == 1_500:
                recorder.register_metric(Counter("late", event=Request))
        snapshots = await recorder.aget_metric_snapshots()
        stats = recorder.get_stats()
    assert stats.processed == 3_000 + 429 and stats.pending == 0
    assert_value(snapshots, "requests", 3_000)
    assert series(snapshots, "others") == [{"labels": {"route": "/a"}, "value": 429}]
    assert_value(snapshots, "late", 3_000 - 1_501)  # from its registration on
    assert snapshots["by_route"]["overflow_events"] == 3_000 * 2 // 5  # 5 routes, 3 series


def test_inlined_parts_match_the_per_event_path_on_repeated_values() -> None:
    # Repeated label sets and buckets: nearly every event takes the inlined path.
    batch: list[MetricEvent] = [
        Request(f"/{i % 3}", ("GET", "PUT")[i % 2], (0.25, 3.0, 0.001, 42.0)[i % 4])
        for i in range(2_000)
    ]
    reference, planned = metric_set(), metric_set()
    assert apply_with_plans(planned, batch) == apply_per_event(reference, batch)
    for ref, got in zip(reference, planned, strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot())), ref.metric_name


@pytest.mark.anyio
async def test_events_a_ctrl_c_left_unapplied_stay_buffered_in_order() -> None:
    class Interrupting(SeesEverything):
        def handle_event(self, event: MetricEvent) -> bool:
            if getattr(event, "route", None) == "/stop":
                raise KeyboardInterrupt
            return super().handle_event(event)

    recorder = MetricsRecorder("interrupted", queue_max_size=100)
    recorder.register_metric(Interrupting())
    await recorder.start()
    batch = [Request("/a", "GET", 1.0), Request("/stop", "GET", 1.0)]
    batch += [Request(f"/{i}", "GET", 1.0) for i in range(3)] + [Other("/b")]
    for event in batch:
        recorder.register_event(event=event)
    with pytest.raises(KeyboardInterrupt):
        recorder._processor.drain_now()
    stats = recorder.get_stats()
    # The one it raised on counts as processed, as in the per-event loop.
    assert (stats.processed, stats.pending) == (2, 4)
    assert list(recorder._handoff.buffer) == batch[2:]
    await recorder.stop()


def test_a_plan_leaves_nothing_waiting_when_it_returns() -> None:
    """Deferred values are added before the plan returns: a read sees them all."""
    metrics = metric_set()
    plan = build_plan(Request, tuple(metrics[:-3]), lambda m, e, x: None, [0])
    defaults = dict(zip(plan.__code__.co_varnames[2:], plan.__defaults__ or (), strict=False))
    waiting = [v for k, v in defaults.items() if k[0] in "WX" and isinstance(v, list)]
    assert waiting  # the label-less sketch and histogram, and the labelled groups
    batch: list[MetricEvent] = [Request(f"/{i % 2}", "GET", i / 7) for i in range(50)]
    assert plan(batch, 0) == 50
    assert not any(waiting)
    reference = metric_set()[:-3]
    apply_per_event(reference, batch)
    for ref, got in zip(reference, metrics[:-3], strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot())), ref.metric_name


class ClaimsToBeAStr:
    """A label value whose ``__class__`` says str: it is converted, never kept."""

    __class__ = property(lambda self: str)  # type: ignore[assignment]

    iterated = 0

    def __str__(self) -> str:
        return "claimed"

    def __iter__(self) -> Any:  # never called: it is not the plan's own key tuple
        ClaimsToBeAStr.iterated += 1
        return iter(())


@pytest.mark.parametrize("labels", [("route",), ("route", "method")])
def test_a_label_value_that_claims_to_be_a_str_is_converted(labels: tuple[str, ...]) -> None:
    reference, planned = (
        [
            Counter("by", event=Request, labels=labels),
            Histogram("h", event=Request, value="duration_s", labels=labels),
        ]
        for _ in range(2)
    )
    batch: list[MetricEvent] = [
        Request(route, method, 0.5)
        for route, method in [("/", "GET"), (ClaimsToBeAStr(), "GET"), ("/", ClaimsToBeAStr())] * 3
    ]
    assert apply_with_plans(planned, batch) == apply_per_event(reference, batch) == {}
    for ref, got in zip(reference, planned, strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot()))
        for one in got.snapshot()["series"]:
            assert all(type(value) is str for value in one["labels"].values()), one
    assert ClaimsToBeAStr.iterated == 0


def label_less_set() -> list[Metric]:
    """Metrics a batch all of one class takes column by column: label-less counts and
    deferred values, two of them reading the same attribute."""
    return [
        Counter("requests", event=Request),
        Distribution("spread", event=Request, value="duration_s", max_bins=8),
        Histogram("latency", event=Request, value="duration_s", buckets=(0.1, 1.0, 10.0)),
        Distribution("routes", event=Request, value="route"),
    ]


def apply_one_class(metrics: list[Metric], batch: list[Any]) -> dict[str, int]:
    """``batch`` (Requests, maybe ending with a control item) through Request's plan."""
    errors: dict[str, int] = {}

    def failed(metric: Metric, event: MetricEvent, exc: BaseException) -> None:
        errors[metric.metric_name] = errors.get(metric.metric_name, 0) + 1

    plan = build_plan(Request, tuple(metrics), failed, [0])
    assert "COL0" in plan.__code__.co_names  # the columns are read by comprehensions
    events = sum(1 for item in batch if isinstance(item, Request))
    i = 0
    while i < events:
        i = plan(batch, i)
    assert i == events
    return errors


floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 0.012, 0.5, 5e-324]),
)


@settings(max_examples=200, deadline=None)
@given(
    durations=st.lists(st.one_of(floats, values), min_size=1, max_size=40),
    routes=st.lists(st.one_of(floats, labels), min_size=1, max_size=40),
    tail=st.sampled_from(["none", "control", "other"]),
    clean=st.booleans(),
)
def test_a_batch_of_one_class_by_columns_gives_the_per_event_states(
    durations: list[Any], routes: list[Any], tail: str, clean: bool
) -> None:
    """Mostly all floats (the columns apply at once), else anything (they fall back); the
    batch may end in the control item that woke the loop, or in an event of another class,
    where the run stops."""
    if clean:
        durations = [x for x in durations if type(x) is float and math.isfinite(x)] or [1.0]
        routes = [x for x in routes if type(x) is float and math.isfinite(x)] or [2.0]
    size = max(len(durations), len(routes))
    batch: list[Any] = [
        Request(routes[k % len(routes)], "GET", durations[k % len(durations)]) for k in range(size)
    ]
    if tail == "control":
        batch.append(ControlItem(lambda: None))
    elif tail == "other":
        batch.append(Other("/"))
    reference, planned = label_less_set(), label_less_set()
    expected = apply_per_event(reference, [e for e in batch if isinstance(e, Request)])
    assert apply_one_class(planned, batch) == expected
    for ref, got in zip(reference, planned, strict=True):
        assert same(dict(got.snapshot()), dict(ref.snapshot())), ref.metric_name


class Watched(MetricEvent):
    """Another class, whose attributes run code when read."""

    reads = 0

    @property
    def route(self) -> float:
        Watched.reads += 1
        return 0.25

    @property
    def duration_s(self) -> float:
        Watched.reads += 1
        return 0.5


def test_the_columns_never_read_an_item_of_another_class() -> None:
    """A batch with another class's event in it is walked; no column reads that event
    (its attributes may be properties), however many columns the plan reads."""
    metrics = label_less_set()
    plan = build_plan(Request, tuple(metrics), lambda m, e, x: None, [0])
    assert "COL1" in plan.__code__.co_names  # two columns: durations, then routes
    Watched.reads = 0
    batch: list[Any] = [Request(0.5, "GET", 0.25)] * 3 + [Watched()] + [Request(0.5, "GET", 0.25)]
    assert plan(batch, 0) == 3  # the walk stops at the other class, for its own plan
    assert Watched.reads == 0
    assert metrics[0].snapshot()["series"][0]["value"] == 3


class Computed(MetricEvent):
    """An event whose value is a property: user code, read event by event."""

    reads = 0

    @property
    def duration_s(self) -> float:
        Computed.reads += 1
        return 0.5


class Looked(MetricEvent):
    """An event class with its own attribute lookup."""

    def __getattr__(self, name: str) -> float:
        return 0.25


@pytest.mark.parametrize("cls", [Computed, Looked])
def test_values_read_by_user_code_are_not_read_by_columns(cls: type[MetricEvent]) -> None:
    metric = Distribution("seconds", event=cls, value="duration_s")
    plan = build_plan(cls, (metric,), lambda m, e, x: None, [0])
    assert "COL0" not in plan.__code__.co_names
    Computed.reads = 0
    assert plan([cls() for _ in range(5)], 0) == 5
    assert metric.snapshot()["series"][0]["count"] == 5
    assert Computed.reads == (5 if cls is Computed else 0)  # once per event, as ever


def test_a_clean_batch_of_one_class_is_added_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    added: list[int] = []
    original = Histogram._add_values

    def spy(self: Histogram, state: Any, values: list[float]) -> None:
        added.append(len(values))
        original(self, state, values)

    monkeypatch.setattr(Histogram, "_add_values", spy)
    histogram = Histogram("latency", event=Request, value="duration_s", buckets=(1.0,))
    plan = build_plan(Request, (histogram,), lambda m, e, x: None, [0])
    batch: list[Any] = [Request("/", "GET", k / 10) for k in range(10)]
    assert plan([*batch, ControlItem(lambda: None)], 0) == 10
    assert added == [10]  # all of them at once, none applied in place
    batch[3] = Request("/", "GET", math.inf)  # a value the columns do not vouch for
    assert plan(batch, 0) == 10
    # Event by event: a run's first value in place, the next ones deferred, the
    # infinity apart (the values before it added first), then the same again.
    assert added == [10, 1, 5]
    snapshot = histogram.snapshot()["series"][0]
    assert snapshot["count"] == 19 and snapshot["buckets"]["1.0"] == 19


def test_a_batch_of_ints_is_walked_without_reading_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ints (sizes in bytes, say) are a histogram's values too: its batches are walked
    event by event, and the first event's value tells so before any column is read."""
    read: list[object] = []
    histogram = Histogram("sizes", event=Request, value="duration_s", buckets=(512, 4096))
    plan = build_plan(Request, (histogram,), lambda m, e, x: None, [0])
    monkeypatch.setitem(plan.__globals__, "COL0", read.append)  # the column's reader
    assert plan([Request("/", "GET", size) for size in (100, 1000, 10_000)], 0) == 3
    assert read == []  # no column was read
    assert histogram.snapshot()["series"][0]["buckets"] == {"512.0": 1, "4096.0": 2, "+Inf": 3}
