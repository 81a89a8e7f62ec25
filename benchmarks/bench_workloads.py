"""What applications live with, beyond the flood: real work between events, bursts, many
recorders. Every mvx figure is put beside prometheus_client doing the same in the same run,
and beside the OpenTelemetry SDK and mvx-common 0.3 where they are installed (the
``bench`` extra; see ``_workload_peers.py``). Figures compared with each other are
measured in turn, round by round.

Run: ``python benchmarks/bench_workloads.py [--quick]``.

1. Real work: each producer thread hashes 4 KB (sha256) per event, then counts it. The
   figure is application throughput (events/s over all producers, until every event is
   applied), and the cost of the hand-off: owner wake-ups per second and CPU of the
   runtime's loop thread per event.
2. Bursts: 1 and 8 tight producer threads emit 200k events each into a recorder with
   default settings; events processed per second and events dropped, against one
   producer into an unbounded recorder.
3. Many recorders: 10,000 idle recorders with 2 metrics each: memory each, time to create
   them, a full ``gc.collect()``, and one scrape of them all, against prometheus_client
   with 10,000 label children of two metrics. Each side runs in fresh interpreters, in
   turn, and the figures are medians over them.
4. Total cost: process CPU (every thread: under the GIL the runtime thread's work is the
   application's cost too) per event, with events pre-built or built per call, garbage
   collector off and on, against prometheus_client doing the same updates in the caller.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from _harness import (
    Row,
    Sample,
    collector,
    load_peer,
    medians_in_turn,
    parse_quick,
    print_missing_peers,
    print_table,
    run_threads,
    thread_cpu_clock,
)
from _workload_peers import CommonSide, process_cpu_otel, real_work_otel

from mvx_metrics import (
    AsyncioMetricsRecorder,
    Counter,
    Distribution,
    Histogram,
    MetricEvent,
    MetricsRuntime,
)
from mvx_metrics.hops import owner_asyncio
from mvx_metrics.recorder.handoff import Intake

MVX_THREAD = "bench-workloads-runtime"
PAYLOAD = os.urandom(4096)


@dataclass(slots=True)
class Hashed(MetricEvent):
    outcome: str


@dataclass(slots=True)
class Saved(MetricEvent):
    """The many-recorders scenario's event: a label and a value read by attribute."""

    outcome: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Sizes:
    real_work_events: int
    burst_events: int
    recorders: int
    repeats: int


FULL = Sizes(real_work_events=200_000, burst_events=200_000, recorders=10_000, repeats=5)


@dataclass
class Peers:
    """The peers loaded for this run: each None when not installed."""

    pc: ModuleType | None
    sdk: ModuleType | None  # opentelemetry.sdk.metrics
    common: CommonSide | None  # mvx-common 0.3's runtime, started


QUICK = Sizes(real_work_events=5_000, burst_events=5_000, recorders=300, repeats=3)


class WakeCounter:
    """Counts cross-thread wake-ups of asyncio owners (call_soon_threadsafe through the hop)."""

    def __init__(self) -> None:
        self.count = 0
        original = owner_asyncio.AsyncioOwnerHop.call_soon
        counter = self

        def counting(hop: owner_asyncio.AsyncioOwnerHop, callback: Callable[[], object]) -> None:
            if threading.get_ident() != hop.thread_id:
                counter.count += 1  # racy increments under-count a little at worst
            original(hop, callback)

        owner_asyncio.AsyncioOwnerHop.call_soon = counting  # type: ignore[method-assign]


# --- 1. real work between events ------------------------------------------------------------


def real_work_prometheus(pc: ModuleType, n: int, threads: int) -> float:
    registry = pc.CollectorRegistry()
    counter = pc.Counter("hashed", "hashes", ["outcome"], registry=registry)
    child = counter.labels("ok")
    per_thread = n // threads

    def body(_: int) -> None:
        sha256 = hashlib.sha256
        for _ in range(per_thread):
            sha256(PAYLOAD).digest()
            child.inc()

    elapsed = run_threads(threads, body)
    assert registry.get_sample_value("hashed_total", {"outcome": "ok"}) == per_thread * threads
    return per_thread * threads / elapsed


def real_work_alone(n: int, threads: int) -> float:
    per_thread = n // threads

    def body(_: int) -> None:
        sha256 = hashlib.sha256
        for _ in range(per_thread):
            sha256(PAYLOAD).digest()

    return per_thread * threads / run_threads(threads, body)


class RealWorkMvx:
    def __init__(self, runtime: MetricsRuntime, wakes: WakeCounter) -> None:
        self.runtime = runtime
        self.wakes = wakes
        self.ids = itertools.count()
        self.loop_cpu = thread_cpu_clock(MVX_THREAD)
        self.wakeups_per_s: list[float] = []
        self.loop_ns_per_event: list[float] = []

    def run(self, n: int, threads: int) -> float:
        rid = f"work-{next(self.ids)}"
        recorder = self.runtime.create_recorder(rid)
        recorder.register_metric(Counter("hashed", event=Hashed, labels=("outcome",)))
        per_thread = n // threads
        event = Hashed("ok")

        def body(_: int) -> None:
            sha256 = hashlib.sha256
            register = recorder.register_event
            for _ in range(per_thread):
                sha256(PAYLOAD).digest()
                register(event=event)

        wakes0 = self.wakes.count
        cpu0 = self.loop_cpu() if self.loop_cpu else 0
        t0 = time.perf_counter()
        run_threads(threads, body)
        recorder.flush()
        elapsed = time.perf_counter() - t0
        total = per_thread * threads
        self.wakeups_per_s.append((self.wakes.count - wakes0) / elapsed)
        if self.loop_cpu:
            self.loop_ns_per_event.append((self.loop_cpu() - cpu0) / total)
        stats = recorder.get_stats()
        assert stats.processed == total and stats.dropped_total == 0, stats
        self.runtime.stop_and_remove_recorder(rid)
        return total / elapsed


def bench_real_work(
    sizes: Sizes, runtime: MetricsRuntime, wakes: WakeCounter, peers: Peers, threads: int
) -> None:
    pc = peers.pc
    n = sizes.real_work_events
    mvx = RealWorkMvx(runtime, wakes)
    fns: list[Callable[[], float]] = [
        lambda: real_work_alone(n, threads),
        lambda: mvx.run(n, threads),
    ]
    names: list[str] = []
    if pc is not None:
        names.append("prometheus_client labels().inc()")
        fns.append(lambda: real_work_prometheus(pc, n, threads))
    if peers.sdk is not None:
        sdk = peers.sdk
        names.append('OpenTelemetry SDK counter.add(1, {"outcome": "ok"})')
        fns.append(lambda: real_work_otel(sdk, n, threads))
    if peers.common is not None:
        common = peers.common
        names.append("mvx-common 0.3 register_event (its runtime)")
        fns.append(lambda: common.real_work(n, threads))
    samples = medians_in_turn(sizes.repeats, fns)
    rows = [
        Row("sha256 alone (no metrics)", samples[0], "events/s"),
        Row(
            "mvx register_event (runtime)",
            samples[1],
            "events/s",
            f"wake-ups/s {_median(mvx.wakeups_per_s):,.0f}; loop thread CPU "
            f"{_median(mvx.loop_ns_per_event):,.0f} ns/event",
        ),
    ]
    rows += [Row(name, sample, "events/s") for name, sample in zip(names, samples[2:], strict=True)]
    print_table(
        f"1. real work: {threads} producer thread(s), sha256 of 4 KB per event, "
        f"{n:,} events (higher is better)",
        rows,
        baseline="prometheus_client labels().inc()" if pc is not None else None,
    )


# --- 2. bursts ---------------------------------------------------------------------------------


class Burst:
    def __init__(self, runtime: MetricsRuntime) -> None:
        self.runtime = runtime
        self.ids = itertools.count()
        self.dropped: list[float] = []

    def run(self, per_thread: int, threads: int, *, unbounded: bool = False) -> float:
        rid = f"burst-{next(self.ids)}"
        total = per_thread * threads
        recorder = self.runtime.create_recorder(
            rid, queue_max_size=total + 10 if unbounded else None
        )
        recorder.register_metric(Counter("hashed", event=Hashed, labels=("outcome",)))
        events = [Hashed("ok")] * per_thread

        def body(_: int) -> None:
            register = recorder.register_event
            for event in events:
                register(event=event)

        t0 = time.perf_counter()
        run_threads(threads, body)
        recorder.flush()
        elapsed = time.perf_counter() - t0
        stats = recorder.get_stats()
        assert stats.accepted + stats.dropped_total == total, stats
        assert stats.pending == 0, stats
        self.dropped.append(stats.dropped_total / total)
        self.runtime.stop_and_remove_recorder(rid)
        return stats.processed / elapsed


def bench_bursts(sizes: Sizes, runtime: MetricsRuntime, peers: Peers) -> None:
    n = sizes.burst_events
    reference, one, eight = Burst(runtime), Burst(runtime), Burst(runtime)
    fns: list[Callable[[], float]] = [
        lambda: reference.run(n, 1, unbounded=True),
        lambda: one.run(n, 1),
        lambda: eight.run(n, 8),
    ]
    common_dropped: dict[int, list[float]] = {1: [], 8: []}  # mvx-common's, by producers
    if peers.common is not None:
        common = peers.common

        def common_burst(threads: int) -> float:
            rate = common.burst(n, threads)
            common_dropped[threads].append(common.dropped[-1])
            return rate

        fns += [lambda: common_burst(1), lambda: common_burst(8)]
    samples = medians_in_turn(sizes.repeats, fns)
    rows = [Row("1 producer, unbounded recorder (reference)", samples[0], "events/s")]
    rows += [
        Row(
            f"{threads} producer(s), default recorder",
            sample,
            "events/s",
            f"dropped {100 * _median(burst.dropped):.1f}% (median)",
        )
        for threads, sample, burst in ((1, samples[1], one), (8, samples[2], eight))
    ]
    rows += [
        Row(
            f"mvx-common 0.3: {threads} producer(s), its default recorder",
            sample,
            "events/s",
            f"dropped {100 * _median(common_dropped[threads]):.1f}% (median; it counts none)",
        )
        for threads, sample in zip((1, 8), samples[3:], strict=False)
    ]
    print_table(
        f"2. bursts: {sizes.burst_events:,} events per producer, processed events/s "
        "(higher is better); default recorder = the runtime's defaults",
        rows,
        baseline=rows[0].name,
    )


# --- 4. total cost to the application ----------------------------------------------------------


@dataclass(slots=True)
class Request(MetricEvent):
    route: str
    duration_s: float


@dataclass(slots=True, frozen=True)
class FrozenRequest(MetricEvent):
    route: str
    duration_s: float


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROUTES = ("/", "/docs", "/api/items", "/api/users", "/login")


def mvx_metrics_for(shape: str, cls: type[MetricEvent]) -> list[Any]:
    if shape == "count":
        return [Counter("requests", event=cls)]
    if shape == "labelled":
        return [
            Counter("requests", event=cls, labels=("route",)),
            Histogram("seconds", event=cls, value="duration_s", labels=("route",), buckets=BUCKETS),
        ]
    return [Distribution("seconds", event=cls, value="duration_s")]


def process_cpu_mvx(
    runtime: MetricsRuntime, shape: str, n: int, *, build: str, gc_on: bool
) -> float:
    """Process CPU (all threads) per event, from the first register_event until flushed."""
    cls = FrozenRequest if build == "frozen" else Request
    recorder_id = f"cpu-{shape}-{build}-{gc_on}-{time.monotonic_ns()}"
    recorder = runtime.create_recorder(recorder_id)
    for metric in mvx_metrics_for(shape, cls):
        recorder.register_metric(metric)
    prebuilt = [cls(ROUTES[i % 5], (i % 97) / 100) for i in range(n)] if build == "no" else []
    register = recorder.register_event
    with collector(on=gc_on):
        t0 = time.process_time_ns()
        if build == "no":
            for event in prebuilt:
                register(event=event)
        else:
            for i in range(n):
                register(event=cls(ROUTES[i % 5], (i % 97) / 100))
        recorder.flush(timeout=120)
        elapsed = time.process_time_ns() - t0
    stats = recorder.get_stats()
    assert stats.processed == n and stats.dropped_total == 0, stats
    runtime.stop_and_remove_recorder(recorder_id)
    return elapsed / n


def process_cpu_prometheus(pc: ModuleType, shape: str, n: int, *, gc_on: bool) -> float:
    registry = pc.CollectorRegistry()
    values = [(ROUTES[i % 5], (i % 97) / 100) for i in range(n)]
    with collector(on=gc_on):
        if shape == "count":
            counter = pc.Counter("requests", "requests", registry=registry)
            t0 = time.process_time_ns()
            for _ in values:
                counter.inc()
        elif shape == "labelled":
            lc = pc.Counter("requests", "requests", ["route"], registry=registry)
            lh = pc.Histogram("seconds", "s", ["route"], buckets=BUCKETS, registry=registry)
            t0 = time.process_time_ns()
            for route, duration in values:
                lc.labels(route).inc()
                lh.labels(route).observe(duration)
        else:
            histogram = pc.Histogram("seconds", "s", registry=registry)
            t0 = time.process_time_ns()
            for _, duration in values:
                histogram.observe(duration)
        return (time.process_time_ns() - t0) / n


OTEL_SHAPES = {
    "count": "counter.add(1)",
    "labelled": "counter.add(1, attrs) + histogram.record(d, attrs)",
    "distribution": "histogram.record(d)",
}

SHAPES = {
    "count": ("count-only Counter", "Counter.inc()"),
    "labelled": ("labelled Counter + Histogram", "labels().inc() + labels().observe()"),
    "distribution": ("Distribution", "Histogram.observe()"),
}


def bench_process_cpu(sizes: Sizes, runtime: MetricsRuntime, peers: Peers) -> None:
    n, repeats, pc = sizes.burst_events, sizes.repeats, peers.pc
    for shape, (ours, theirs) in SHAPES.items():
        names: list[str] = []
        fns: list[Callable[[], float]] = []
        for build, gc_on in (("no", False), ("no", True), ("slots", True), ("frozen", True)):
            label = {"no": "pre-built", "slots": "slots dataclass per call"}.get(
                build, "frozen dataclass per call"
            )
            names.append(f"mvx {ours}, {label}, gc {'on' if gc_on else 'off'}")
            fns.append(
                lambda s=shape, b=build, g=gc_on: process_cpu_mvx(runtime, s, n, build=b, gc_on=g)
            )
        if pc is not None:
            for gc_on in (False, True):
                names.append(f"prometheus_client {theirs}, gc {'on' if gc_on else 'off'}")
                fns.append(lambda s=shape, g=gc_on: process_cpu_prometheus(pc, s, n, gc_on=g))
        if peers.sdk is not None:
            sdk = peers.sdk
            names.append(f"OpenTelemetry SDK {OTEL_SHAPES[shape]}, gc off")
            fns.append(lambda s=shape, k=sdk: process_cpu_otel(k, s, n, gc_on=False))
        if peers.common is not None and shape == "count":
            common = peers.common
            names.append("mvx-common 0.3, a counting Metric of its own, gc off")
            fns.append(lambda c=common: c.process_cpu(n, gc_on=False))
        samples = medians_in_turn(repeats, fns)
        rows = [Row(name, sample, "ns/event") for name, sample in zip(names, samples, strict=True)]
        print_table(
            f"4. process CPU per event, all threads (lower is better): {ours}, {n:,} events",
            rows,
            baseline=f"prometheus_client {theirs}, gc off" if pc is not None else None,
        )


# --- 3. many recorders --------------------------------------------------------------------------
#
# Each side runs in a fresh interpreter, mvx and prometheus_client in turn, ``repeats``
# times: a full collection's time depends on where the allocator put every object, which
# differs from one process to the next by a third or more, so one process's figure says
# little. The figures are medians over the processes.


def measure_many(
    n: int, create_one: Callable[[int], None], settle: Callable[[], None] = lambda: None
) -> dict[str, float]:
    """Bytes each, seconds to create ``n``, seconds of a full gc.collect() with them and
    before them, for ``n`` objects made by ``create_one(i)``; ``settle()`` runs before the
    collection is timed (recorders come to rest).

    Creation is timed without tracemalloc, which slows allocation several times over;
    memory is then traced over ``n // 10`` more."""
    gc.collect()
    collect_before = _collect_seconds()
    t0 = time.perf_counter()
    for i in range(n):
        create_one(i)
    created = time.perf_counter() - t0
    settle()
    collect = _collect_seconds()
    extra = max(1, n // 10)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(n, n + extra):
        create_one(i)
    gc.collect()
    per = (tracemalloc.get_traced_memory()[0] - before) / extra
    tracemalloc.stop()
    return {"bytes": per, "create": created, "collect": collect, "collect_before": collect_before}


def _until(done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait until ``done()``, looking every millisecond, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"recorders were not {what} within {timeout} s")
        time.sleep(0.001)


def _collect_seconds() -> float:
    """A full collection's time, the least of 5: within one process, noise only adds."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t0)
    return min(times)


def _scrape_seconds(render: Callable[[], object], repeats: int) -> float:
    """The median time of ``render()``: one scrape of everything."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        render()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def many_mvx(n: int) -> dict[str, float]:
    from mvx_metrics.export import render_prometheus

    with MetricsRuntime(namespace="bench-create") as runtime:
        t0 = time.perf_counter()
        for i in range(n):
            runtime.create_recorder(f"r{i}")
        create_only = time.perf_counter() - t0
    gc.collect()
    with MetricsRuntime(namespace="bench-many") as runtime:

        def create_one(i: int) -> None:
            recorder = runtime.create_recorder(f"r{i}")
            # Metrics as an application declares them: attribute names, no callable
            # made per recorder (a lambda here was one more function object each).
            recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
            recorder.register_metric(
                Histogram("save_seconds", event=Saved, value="seconds", buckets=(0.1, 1.0))
            )
            if i == n - 1:
                # The clock stops when every registration is applied: one that went
                # through a recorder's buffer (not in place) counts its loop's work.
                _until(lambda: not any(r._handoff.buffer for r in hosted()), "applied")

        def hosted() -> list[AsyncioMetricsRecorder]:
            return list(runtime._recorders.by_id.values())

        def settle() -> None:
            # Idle recorders: every one parked (its quiet spell over), as in
            # bench_instructions.py, so that none holds a place on the loop's ticker.
            recorders = hosted()
            _until(lambda: all(r._handoff.mode is Intake.PARKED for r in recorders), "parked")

        figures = measure_many(n, create_one, settle)
        figures["create_only"] = create_only
        figures["scrape"] = _scrape_seconds(
            lambda: render_prometheus(runtime, include_stats=False), 3
        )
        figures["scrape_stats"] = _scrape_seconds(lambda: render_prometheus(runtime), 1)
        return figures


def many_prometheus(pc: ModuleType, n: int) -> dict[str, float]:
    registry = pc.CollectorRegistry()
    counter = pc.Counter("saves", "saves", ["recorder", "outcome"], registry=registry)
    histogram = pc.Histogram(
        "save_seconds", "seconds", ["recorder"], buckets=(0.1, 1.0), registry=registry
    )

    def create_one(i: int) -> None:
        counter.labels(f"r{i}", "ok")
        histogram.labels(f"r{i}")

    figures = measure_many(n, create_one)
    figures["scrape"] = _scrape_seconds(lambda: pc.generate_latest(registry), 3)
    return figures


def many_otel(n: int) -> dict[str, float]:
    """The OpenTelemetry SDK's equivalent: an attribute set per recorder on two
    instruments, each made by a first measurement (the SDK keeps no point before one);
    its "scrape" is one collection of every point by an in-memory reader (no text)."""
    from opentelemetry.sdk.metrics import Counter as OtelCounter
    from opentelemetry.sdk.metrics import Histogram as OtelHistogram
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    # Past 2,000 attribute sets per instrument, the SDK folds new ones into one overflow
    # point: raised here above the sets made, as an application with so many would.
    limit = 2 * n + 10
    reader = InMemoryMetricReader(cardinality_limits={OtelCounter: limit, OtelHistogram: limit})
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("bench-many")
    counter = meter.create_counter("saves")
    histogram = meter.create_histogram(
        "save_seconds", explicit_bucket_boundaries_advisory=[0.1, 1.0]
    )

    def create_one(i: int) -> None:
        name = f"r{i}"
        counter.add(1, {"recorder": name, "outcome": "ok"})
        histogram.record(0.5, {"recorder": name})

    figures = measure_many(n, create_one)
    figures["scrape"] = _scrape_seconds(reader.get_metrics_data, 3)
    provider.shutdown()
    return figures


def many_child(side: str, n: int) -> None:
    """One side of section 3 in this (fresh) interpreter: its figures as a JSON line."""
    if side == "mvx":
        figures = many_mvx(n)
    elif side == "otel":
        figures = many_otel(n)
    else:
        figures = many_prometheus(importlib.import_module("prometheus_client"), n)
    print(json.dumps(figures))


def _many_in_child(side: str, n: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--many-child", side, str(n)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"section 3, {side}, exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(proc.stdout.splitlines()[-1])
    return figures


def bench_many(sizes: Sizes, pc: ModuleType | None, sdk: ModuleType | None) -> None:
    n = sizes.recorders
    sides: tuple[str, ...] = ("mvx", "prometheus_client") if pc is not None else ("mvx",)
    if sdk is not None:
        sides += ("otel",)
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for _ in range(sizes.repeats):
        for side in sides:  # in turn, so that a slow spell of the machine hits both
            runs[side].append(_many_in_child(side, n))

    def sample(side: str, key: str, scale: float = 1.0) -> Sample:
        values = [run[key] * scale for run in runs[side]]
        return Sample(statistics.median(values), min(values), max(values), len(values))

    def added_per_unit(side: str) -> list[float]:
        """Microseconds each recorder (or pair of children) adds to a full collection."""
        return [(run["collect"] - run["collect_before"]) / n * 1e6 for run in runs[side]]

    def per_unit(side: str) -> Sample:
        values = added_per_unit(side)
        return Sample(statistics.median(values), min(values), max(values), len(values))

    rows = [
        Row("mvx: memory per idle recorder (2 metrics)", sample("mvx", "bytes"), "bytes"),
        Row(f"mvx: create {n:,} recorders, no metrics", sample("mvx", "create_only", 1e3), "ms"),
        Row(f"mvx: create {n:,} recorders, 2 metrics each", sample("mvx", "create", 1e3), "ms"),
        Row(f"mvx: gc.collect() with {n:,} recorders", sample("mvx", "collect", 1e3), "ms"),
        Row("mvx: gc.collect() before them", sample("mvx", "collect_before", 1e3), "ms"),
        Row("mvx: what a recorder adds to gc.collect()", per_unit("mvx"), "us"),
        Row("mvx: scrape all (render_prometheus, no stats)", sample("mvx", "scrape", 1e3), "ms"),
        Row("mvx: scrape all with recorder stats", sample("mvx", "scrape_stats", 1e3), "ms"),
    ]
    title = f"3. many idle recorders ({n:,}), {sizes.repeats} processes each side"
    if "otel" in runs:
        rows += [
            Row("OpenTelemetry SDK: memory per 2 attribute sets", sample("otel", "bytes"), "bytes"),
            Row(f"OpenTelemetry SDK: create {n:,} x 2", sample("otel", "create", 1e3), "ms"),
            Row(
                f"OpenTelemetry SDK: gc.collect() with {n:,} x 2",
                sample("otel", "collect", 1e3),
                "ms",
            ),
            Row(
                "OpenTelemetry SDK: what 2 attribute sets add to gc.collect()",
                per_unit("otel"),
                "us",
            ),
            Row(
                "OpenTelemetry SDK: collect all (InMemoryMetricReader)",
                sample("otel", "scrape", 1e3),
                "ms",
            ),
        ]
    if pc is None:
        print_table(title, rows)
        return
    rows += [
        Row("prometheus_client: memory per 2 label children", sample(sides[1], "bytes"), "bytes"),
        Row(f"prometheus_client: create {n:,} x 2 children", sample(sides[1], "create", 1e3), "ms"),
        Row(
            f"prometheus_client: gc.collect() with {n:,} x 2",
            sample(sides[1], "collect", 1e3),
            "ms",
        ),
        Row(
            "prometheus_client: gc.collect() before them",
            sample(sides[1], "collect_before", 1e3),
            "ms",
        ),
        Row("prometheus_client: what 2 children add to gc.collect()", per_unit(sides[1]), "us"),
        Row(
            "prometheus_client: scrape all (generate_latest)", sample(sides[1], "scrape", 1e3), "ms"
        ),
    ]
    print_table(title, rows)

    def ratio(key: str) -> float:
        return sample("mvx", key).median / sample(sides[1], key).median

    added = statistics.median(added_per_unit("mvx")) / statistics.median(added_per_unit(sides[1]))
    print(
        f"ratios of medians: memory {ratio('bytes'):.2f}x, gc.collect() {ratio('collect'):.2f}x "
        f"(what the objects add: {added:.2f}x), scrape {ratio('scrape'):.2f}x "
        "prometheus_client's"
    )
    if "otel" in runs:

        def otel_ratio(key: str) -> float:
            return sample("mvx", key).median / sample("otel", key).median

        print(
            f"against the OpenTelemetry SDK: memory {otel_ratio('bytes'):.2f}x, gc.collect() "
            f"{otel_ratio('collect'):.2f}x, create {otel_ratio('create'):.2f}x"
        )


def _one(value: float) -> Sample:
    """A figure measured once, as a Sample for the table."""
    return Sample(value, value, value, 1)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    if sys.argv[1:2] == ["--many-child"]:
        many_child(sys.argv[2], int(sys.argv[3]))
        return
    quick = parse_quick(__doc__ or "")
    sizes = QUICK if quick else FULL
    missing: list[str] = []
    pc = load_peer("prometheus_client", "prometheus_client", missing)
    sdk = load_peer("opentelemetry-sdk", "opentelemetry.sdk.metrics", missing)
    mc = load_peer("mvx-common 0.3", "mvx.common.metrics", missing)
    print(
        f"bench_workloads ({'quick' if quick else 'full'}): Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, medians of {sizes.repeats}"
    )
    wakes = WakeCounter()
    with ExitStack() as stack:
        runtime = stack.enter_context(
            MetricsRuntime(namespace="bench-workloads", thread_name=MVX_THREAD)
        )
        common = stack.enter_context(CommonSide(mc)) if mc is not None else None
        peers = Peers(pc, sdk, common)
        for threads in (1, 4):
            bench_real_work(sizes, runtime, wakes, peers, threads)
        bench_bursts(sizes, runtime, peers)
        bench_process_cpu(sizes, runtime, peers)
    bench_many(sizes, pc, sdk)
    print_missing_peers(missing, quick)


if __name__ == "__main__":
    main()
