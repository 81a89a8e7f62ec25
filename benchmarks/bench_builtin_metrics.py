"""Built-in metrics: processing per event, and a labelled counter plus histogram among
20 registered metrics end to end.

Run: ``python benchmarks/bench_builtin_metrics.py [--quick]``.

Measured:

1. processing per event on the owning loop (direct mode, asyncio): the drain of N
   buffered, pre-built events, by the owning thread's CPU time (``time.thread_time_ns``)
   with the garbage collector off, for the three workloads of issue 8's item 4 and their
   bounds: a label-less ``Counter`` (60 ns), a labelled ``Counter`` plus ``Histogram``
   among 20 registered metrics whose other 18 read other event classes (250 ns), a
   ``Distribution`` (200 ns). Their durations take 97 distinct values; a ``Distribution``
   of continuous (lognormal) durations, which fill about a sketch bucket per three
   values, is timed beside them without a bound, and so is a bare ``x += i`` loop
   iteration, to show what a nanosecond is worth on the machine of the run;
2. end to end: a plain producer thread hands N pre-built events to a runtime-owned
   recorder, until ``flush()`` returns (events/s);
3. the peer in the same run: prometheus_client doing ``labels(route).inc()`` and
   ``labels(route).observe(duration)`` synchronously in one thread (events/s).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, make_dataclass
from types import ModuleType

from _harness import (
    Row,
    load_peer,
    median_of,
    medians_in_turn,
    parse_quick,
    print_missing_peers,
    print_table,
)

from mvx_metrics import (
    Counter,
    Distribution,
    Histogram,
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRuntime,
)

ROUTES = ("/", "/docs", "/api/items", "/api/users", "/login")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True, frozen=True)
class RequestDone(MetricEvent):
    route: str
    duration_s: float


# Event classes read by the 18 metrics that ignore RequestDone.
OTHER_EVENTS = [
    make_dataclass(f"Other{i}", [("route", str)], bases=(MetricEvent,), slots=True)
    for i in range(18)
]


def twenty_metrics() -> list[Metric]:
    metrics: list[Metric] = [
        Counter("requests", event=RequestDone, labels=("route",)),
        Histogram(
            "request_seconds",
            event=RequestDone,
            value="duration_s",
            buckets=BUCKETS,
            labels=("route",),
        ),
    ]
    metrics += [
        Counter(f"other_{i}", event=cls, labels=("route",)) for i, cls in enumerate(OTHER_EVENTS)
    ]
    return metrics


def events(n: int) -> list[RequestDone]:
    return [RequestDone(ROUTES[i % len(ROUTES)], (i % 97) / 100) for i in range(n)]


def continuous_events(n: int) -> list[RequestDone]:
    """Durations as a timer gives them: all distinct, lognormal around 18 ms (seeded)."""
    draw = random.Random(8).lognormvariate
    return [RequestDone(ROUTES[i % len(ROUTES)], draw(-4.0, 1.0)) for i in range(n)]


# Item 4's workloads: what each recorder holds, and its bound in ns per event.
WORKLOADS: dict[str, tuple[Callable[[], list[Metric]], float]] = {
    "label-less Counter (count only)": (lambda: [Counter("requests", event=RequestDone)], 60.0),
    "labelled Counter + Histogram, 20 metrics registered": (twenty_metrics, 250.0),
    "Distribution": (
        lambda: [Distribution("request_seconds", event=RequestDone, value="duration_s")],
        200.0,
    ),
}


async def _drain_per_event(metrics: list[Metric], batch: list[RequestDone]) -> float:
    """The owning thread's CPU ns per event to apply ``batch``, buffered beforehand."""
    recorder = MetricsRecorder("bench", queue_max_size=len(batch) + 1024)
    for metric in metrics:
        recorder.register_metric(metric)
    async with recorder:
        await recorder.aflush()
        for event in batch:
            recorder.register_event(event=event)
        gc.disable()  # a collection of the buffered events would be charged to the drain
        try:
            start = time.thread_time_ns()
            await recorder.aflush()
            elapsed = time.thread_time_ns() - start
        finally:
            gc.enable()
        stats = recorder.get_stats()
        assert stats.processed == len(batch) and not stats.metric_errors, stats
        snapshot = await recorder.aget_metric_snapshots()
    # The first metric of each workload reads every event: a counter's values, or a
    # Distribution's counts, add up to the batch.
    series = snapshot[metrics[0].metric_name]["series"]
    assert sum(s.get("value", s.get("count")) for s in series) == len(batch), series
    return elapsed / len(batch)


def _bare_loop_ns(n: int) -> float:
    """CPU ns of one iteration of ``for i in range(n): x += i``: the machine's yardstick."""
    x = 0
    start = time.thread_time_ns()
    for i in range(n):
        x += i
    return (time.thread_time_ns() - start) / n


def end_to_end(runtime: MetricsRuntime, batch: list[RequestDone], rid: str) -> float:
    recorder = runtime.create_recorder(rid, queue_max_size=len(batch) + 10)
    for metric in twenty_metrics():
        recorder.register_metric(metric)
    register = recorder.register_event
    start = time.perf_counter_ns()
    for event in batch:
        register(event=event)
    recorder.flush(timeout=120)
    elapsed = time.perf_counter_ns() - start
    stats = recorder.get_stats()
    assert stats.processed == len(batch) and stats.dropped_total == 0, stats
    runtime.stop_and_remove_recorder(rid)
    return len(batch) / (elapsed / 1e9)


def prometheus_sync(pc: ModuleType, batch: list[RequestDone]) -> float:
    registry = pc.CollectorRegistry()
    counter = pc.Counter("requests", "requests", ["route"], registry=registry)
    histogram = pc.Histogram(
        "request_seconds", "seconds", ["route"], buckets=BUCKETS, registry=registry
    )
    start = time.perf_counter_ns()
    for event in batch:
        counter.labels(event.route).inc()
        histogram.labels(event.route).observe(event.duration_s)
    elapsed = time.perf_counter_ns() - start
    return len(batch) / (elapsed / 1e9)


def main() -> None:
    quick = parse_quick(__doc__ or "")
    n, repeats = (20_000, 3) if quick else (300_000, 5)
    batch = events(n)
    missing: list[str] = []

    # In turn, bare loop included: a slow spell of the machine then shows in the yardstick
    # too, instead of in one workload's figure alone.
    continuous = continuous_events(n)
    labels: list[tuple[str, str]] = []
    fns: list[Callable[[], float]] = []
    for label, (make, bound) in WORKLOADS.items():
        labels.append((label, f"bound {bound:.0f} ns"))
        fns.append(lambda make=make: asyncio.run(_drain_per_event(make(), batch)))
    labels.append(("Distribution, continuous (lognormal) durations", "no bound"))
    fns.append(lambda: asyncio.run(_drain_per_event(WORKLOADS["Distribution"][0](), continuous)))
    labels.append(("bare `x += i` loop iteration", ""))
    fns.append(lambda: _bare_loop_ns(n))
    processing = [
        Row(label, sample, "ns/event" if note else "ns", note)
        for (label, note), sample in zip(labels, medians_in_turn(repeats, fns), strict=True)
    ]
    print_table(
        f"processing on the owning loop, thread CPU, gc off, {n:,} events x {repeats}",
        processing,
    )

    rows: list[Row] = []
    runs = iter(range(10_000))
    with MetricsRuntime(namespace="bench-builtin") as runtime:
        rows.append(
            Row(
                "mvx end to end (producer thread -> runtime)",
                median_of(repeats, lambda: end_to_end(runtime, batch, f"r{next(runs)}")),
                "events/s",
            )
        )
    prometheus = load_peer("prometheus_client", "prometheus_client", missing)
    if prometheus is not None:
        rows.append(
            Row(
                "prometheus_client labels().inc() + labels().observe()",
                median_of(repeats, lambda: prometheus_sync(prometheus, batch)),
                "events/s",
            )
        )
    print_table("end to end, events/s (higher is better)", rows, baseline=rows[-1].name)
    if len(rows) == 2:
        ratio = rows[0].sample.median / rows[1].sample.median
        print(f"mvx end to end sustains {ratio:.2f}x prometheus_client's throughput (target >= 3x)")
    print_missing_peers(missing, quick)


if __name__ == "__main__":
    main()
