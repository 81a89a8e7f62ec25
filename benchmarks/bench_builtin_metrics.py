"""Built-in metrics: a labelled counter plus histogram among 20 registered metrics.

Run: ``python benchmarks/bench_builtin_metrics.py [--quick]``.

The recorder holds 20 metrics; only 2 of them (a Counter and a Histogram, one label each)
read the benchmark's event class, the other 18 read other classes. Measured:

1. processing per event on the owning loop (direct mode, asyncio): the drain of N
   buffered events, timed alone;
2. end to end: a plain producer thread hands N pre-built events to a runtime-owned
   recorder, until ``flush()`` returns (events/s);
3. the peer in the same run: prometheus_client doing ``labels(route).inc()`` and
   ``labels(route).observe(duration)`` synchronously in one thread (events/s).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, make_dataclass
from types import ModuleType

from _harness import Row, load_peer, median_of, parse_quick, print_missing_peers, print_table

from mvx_metrics import (
    Counter,
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


async def _drain_per_event(batch: list[RequestDone]) -> float:
    recorder = MetricsRecorder("bench", queue_max_size=len(batch) + 10)
    for metric in twenty_metrics():
        recorder.register_metric(metric)
    async with recorder:
        await recorder.aflush()
        for event in batch:
            recorder.register_event(event=event)
        start = time.perf_counter_ns()
        await recorder.aflush()
        elapsed = time.perf_counter_ns() - start
        stats = recorder.get_stats()
        assert stats.processed == len(batch) and not stats.metric_errors, stats
        snapshot = await recorder.aget_metric_snapshots()
    assert sum(s["value"] for s in snapshot["requests"]["series"]) == len(batch)
    return elapsed / len(batch)


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

    drain = median_of(repeats, lambda: asyncio.run(_drain_per_event(batch)))
    print_table(
        f"processing on the owning loop, 20 metrics (2 routed), {n:,} events x {repeats}",
        [Row("counter + histogram, one label each", drain, "ns/event", "target <= 1000 ns")],
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
