"""Cost of one scrape: snapshot and render a recorder, against prometheus_client.

Run: ``python benchmarks/bench_export.py [--quick]``.

Both sides hold the same data: a counter and a histogram (prometheus_client's default
buckets), each with SERIES values of one label, fed the same observations.

- mvx: ``render_prometheus(recorder)`` from this (plain) thread on a runtime-owned
  recorder; the recorder is idle, so its snapshot is taken in place. Also timed apart:
  the snapshot alone (``get_metric_snapshots()``) and the rendering alone
  (``render_snapshots`` of a snapshot taken once).
- prometheus_client: ``generate_latest(registry)``.

The recorder stats families are left out (``include_stats=False``) and prometheus_client's
``_created`` series are disabled (``disable_created_metrics()``, where it exists), so that
both sides write the same text; the check compares the two.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from _harness import (
    Row,
    cost_ratio,
    load_peer,
    median_of,
    parse_quick,
    print_missing_peers,
    print_table,
)

from mvx_metrics import Counter, Histogram, MetricEvent, MetricsRuntime
from mvx_metrics.export import render_prometheus, render_snapshots

#: prometheus_client's default histogram buckets, so both sides have the same series.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@dataclass(slots=True, frozen=True)
class RequestDone(MetricEvent):
    route: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class Sizes:
    series: int
    calls: int
    repeats: int


FULL = Sizes(series=200, calls=200, repeats=7)
QUICK = Sizes(series=20, calls=20, repeats=3)


def observations(series: int) -> list[RequestDone]:
    return [
        RequestDone(route=f"/route/{i}", duration_s=(i * 7 + k) % 100 / 37.0)
        for i in range(series)
        for k in range(5)
    ]


def per_call_us(calls: int, fn: Callable[[], object]) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - t0) / calls / 1_000


def bench_mvx(sizes: Sizes, events: list[RequestDone]) -> tuple[dict[str, Row], str]:
    with MetricsRuntime(namespace="bench-export") as runtime:
        recorder = runtime.create_recorder("api", queue_max_size=len(events) + 1)
        recorder.register_metric(Counter("requests", event=RequestDone, labels=("route",)))
        recorder.register_metric(
            Histogram(
                "request_seconds",
                event=RequestDone,
                value="duration_s",
                buckets=DEFAULT_BUCKETS,
                labels=("route",),
            )
        )
        for event in events:
            recorder.register_event(event=event)
        recorder.flush()

        def scrape() -> str:
            return render_prometheus(recorder, include_stats=False)

        snapshots = recorder.get_metric_snapshots()
        scrape()  # warm-up
        rows = {
            "scrape": Row(
                "mvx render_prometheus(recorder)",
                median_of(sizes.repeats, lambda: per_call_us(sizes.calls, scrape)),
                "us/scrape",
                "snapshot in place + render",
            ),
            "snapshot": Row(
                "  of which get_metric_snapshots()",
                median_of(
                    sizes.repeats, lambda: per_call_us(sizes.calls, recorder.get_metric_snapshots)
                ),
                "us/scrape",
            ),
            "render": Row(
                "  of which render_snapshots()",
                median_of(
                    sizes.repeats,
                    lambda: per_call_us(sizes.calls, lambda: render_snapshots(snapshots)),
                ),
                "us/scrape",
            ),
        }
        return rows, scrape()


def bench_prometheus(
    sizes: Sizes, events: list[RequestDone], missing: list[str]
) -> tuple[dict[str, Row], str | None]:
    prometheus_client = load_peer("prometheus_client", "prometheus_client", missing)
    if prometheus_client is None:
        return {}, None
    disable_created = getattr(prometheus_client, "disable_created_metrics", None)
    if disable_created is not None:
        disable_created()
    registry = prometheus_client.CollectorRegistry()
    requests = prometheus_client.Counter("requests", "", ["route"], registry=registry)
    seconds = prometheus_client.Histogram(
        "request_seconds", "", ["route"], registry=registry, buckets=DEFAULT_BUCKETS
    )
    for event in events:
        requests.labels(event.route).inc()
        seconds.labels(event.route).observe(event.duration_s)

    def scrape() -> bytes:
        data: bytes = prometheus_client.generate_latest(registry)
        return data

    scrape()
    row = Row(
        "prometheus_client generate_latest(registry)",
        median_of(sizes.repeats, lambda: per_call_us(sizes.calls, scrape)),
        "us/scrape",
        "" if disable_created is not None else "with its _created series (too old to disable)",
    )
    return {"prometheus": row}, scrape().decode()


def without_created(text: str) -> str:
    return re.sub(
        r"^(# (HELP|TYPE) )?[a-zA-Z_:][a-zA-Z0-9_:]*_created[ {].*\n", "", text, flags=re.M
    )


def main() -> int:
    quick = parse_quick(__doc__ or "")
    sizes = QUICK if quick else FULL
    missing: list[str] = []
    events = observations(sizes.series)
    print(
        f"bench_export ({'quick' if quick else 'full'}): Python {sys.version.split()[0]}, "
        f"a counter and a histogram ({len(DEFAULT_BUCKETS)} buckets) with {sizes.series} "
        f"label values each, {len(events):,} observations; {sizes.calls} scrapes per repeat, "
        f"median of {sizes.repeats} repeats"
    )
    rows, ours = bench_mvx(sizes, events)
    peer_rows, theirs = bench_prometheus(sizes, events, missing)
    rows |= peer_rows
    failed = False
    if theirs is not None:
        same = ours == without_created(theirs)
        failed = not same
        print(f"check {'OK  ' if same else 'FAIL'} both expose the same text ({len(ours):,} bytes)")
    order = ("prometheus", "scrape", "snapshot", "render")
    baseline = rows["prometheus"].name if "prometheus" in rows else rows["scrape"].name
    print_table("one scrape, plain thread", [rows[k] for k in order if k in rows], baseline)
    if "prometheus" in rows:
        print("-- ratios (medians)")
        print(cost_ratio(rows["scrape"], rows["prometheus"]))
    print_missing_peers(missing, quick)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
