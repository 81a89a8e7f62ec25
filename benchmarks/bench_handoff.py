"""register_event cost and end-to-end throughput of mvx_metrics, against its peers.

Run: ``python benchmarks/bench_handoff.py [--quick]``.

The producer is this script's main thread, a plain thread; the recorder lives on the
MetricsRuntime's own loop thread, so every register_event here is a cross-thread hand-off.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from _harness import (
    Row,
    cost_ratio,
    fmt,
    load_peer,
    median_of,
    parse_quick,
    print_missing_peers,
    print_table,
    thread_cpu_clock,
    throughput_ratio,
)
from _workload import CountingMetric, Ev

from mvx_metrics import (
    AsyncioMetricsRecorder,
    MetricEvent,
    MetricsRuntime,
    RecorderStats,
)

TARGET_EVENTS_PER_S = 2_000_000
MVX_THREAD = "bench-mvx-runtime"
COMMON_NAMESPACE = "bench-common"
# mvx-common names its runtime thread after the namespace.
COMMON_THREAD = f"{COMMON_NAMESPACE}.metrics_runtime"
# Generous: a wait that outlives it means events were lost, which the check reports.
WAIT_S = 120.0


@dataclass(frozen=True, slots=True)
class Sizes:
    mvx: int
    prometheus: int
    prometheus_labels: int
    otel: int
    mvx_common: int
    repeats: int


FULL = Sizes(1_000_000, 1_000_000, 300_000, 200_000, 100_000, repeats=5)
QUICK = Sizes(20_000, 20_000, 5_000, 5_000, 2_000, repeats=5)


@dataclass(slots=True)
class MutableEv(MetricEvent):
    value: int


class Checks:
    """Per-scenario correctness checks, printed once per scenario."""

    def __init__(self) -> None:
        self._results: dict[str, list[tuple[bool, str]]] = {}

    def expect(self, label: str, ok: bool, detail: str) -> None:
        self._results.setdefault(label, []).append((ok, detail))

    def recorder(self, label: str, stats: RecorderStats, seen: int, n: int) -> None:
        ok = (
            stats.processed == n
            and stats.pending == 0
            and stats.dropped_total == 0
            and stats.metric_errors_total == 0
            and seen == n
        )
        self.expect(
            label,
            ok,
            f"processed={stats.processed:,} pending={stats.pending} "
            f"dropped={dict(stats.dropped)} metric saw {seen:,} (N={n:,})",
        )

    def print_all(self) -> None:
        for label, results in self._results.items():
            good = sum(ok for ok, _ in results)
            bad = next((detail for ok, detail in results if not ok), None)
            if bad is None:
                print(f"check OK   {label}: {good}/{len(results)} passed; last: {results[-1][1]}")
            else:
                print(f"check FAIL {label}: {good}/{len(results)} passed; first failure: {bad}")

    @property
    def failed(self) -> list[str]:
        return [label for label, res in self._results.items() if not all(ok for ok, _ in res)]


def per_call_ns(n: int, body: Callable[[], None]) -> float:
    gc.collect()  # garbage left by setup must not be collected inside the timed region
    t0 = time.perf_counter_ns()
    body()
    return (time.perf_counter_ns() - t0) / n


def median_note(label: str, values: list[float]) -> str:
    return f"{label} {fmt(statistics.median(values))}" if values else ""


# --- mvx_metrics --------------------------------------------------------------------------


def bench_mvx(sizes: Sizes, checks: Checks) -> dict[str, Row]:
    n, repeats = sizes.mvx, sizes.repeats
    events = [Ev(i) for i in range(n)]
    rows: dict[str, Row] = {}

    def loop_only() -> None:
        for _ev in events:
            pass

    def construct_only() -> None:
        for i in range(n):
            Ev(i)

    rows["loop"] = Row(
        "loop overhead (for ev in list: pass)",
        median_of(repeats, lambda: per_call_ns(n, loop_only)),
        "ns/event",
        "reference: included in every per-call figure",
    )
    rows["construct"] = Row(
        "Ev(i) construction alone (frozen)",
        median_of(repeats, lambda: per_call_ns(n, construct_only)),
        "ns/event",
        "reference: part of the built-per-call figures",
    )

    runtime = MetricsRuntime(namespace="bench", thread_name=MVX_THREAD)
    runtime.start()
    try:
        loop_cpu = thread_cpu_clock(MVX_THREAD)
        ids = itertools.count()
        caller_cpu: list[float] = []
        consumer_cpu: list[float] = []

        def run_once(
            label: str, produce: Callable[[AsyncioMetricsRecorder], None], timed_flush: bool
        ) -> int:
            rid = f"bench-{next(ids)}"
            recorder = runtime.create_recorder(rid, queue_max_size=n + 10)
            metric = CountingMetric()
            recorder.register_metric(metric)
            gc.collect()
            l0 = loop_cpu() if loop_cpu else 0
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            produce(recorder)
            if timed_flush:
                recorder.flush()
            elapsed = time.perf_counter_ns() - t0
            c1 = time.thread_time_ns()
            recorder.flush()
            if not timed_flush:
                caller_cpu.append((c1 - c0) / n)
                if loop_cpu:
                    consumer_cpu.append((loop_cpu() - l0) / n)
            checks.recorder(label, recorder.get_stats(), metric.count, n)
            runtime.stop_and_remove_recorder(rid)
            return elapsed

        def produce_prebuilt(recorder: AsyncioMetricsRecorder) -> None:
            for ev in events:
                recorder.register_event(event=ev)

        def produce_frozen(recorder: AsyncioMetricsRecorder) -> None:
            for i in range(n):
                recorder.register_event(event=Ev(i))

        def produce_mutable(recorder: AsyncioMetricsRecorder) -> None:
            for i in range(n):
                recorder.register_event(event=MutableEv(i))

        label = "mvx register_event"
        sample = median_of(repeats, lambda: run_once(label, produce_prebuilt, False) / n)
        note = median_note("CPU ns/event: caller", caller_cpu)
        if consumer_cpu:
            note += ", " + median_note("runtime loop thread", consumer_cpu)
        rows["register"] = Row(label, sample, "ns/event", note)

        def throughput(label: str, produce: Callable[[AsyncioMetricsRecorder], None]) -> Row:
            sample = median_of(repeats, lambda: n * 1e9 / run_once(label, produce, True))
            return Row(label, sample, "events/s")

        rows["e2e"] = throughput("mvx end-to-end, pre-allocated", produce_prebuilt)
        rows["e2e_frozen"] = throughput("mvx end-to-end, Ev(i) per call", produce_frozen)
        rows["e2e_mutable"] = throughput(
            "mvx end-to-end, non-frozen event per call", produce_mutable
        )
    finally:
        runtime.shutdown()
    return rows


# --- peers ----------------------------------------------------------------------------------


def bench_prometheus(sizes: Sizes, checks: Checks, missing: list[str]) -> dict[str, Row]:
    prom = load_peer("prometheus_client", "prometheus_client", missing)
    if prom is None:
        return {}
    registry = prom.CollectorRegistry()
    counter = prom.Counter("bench_events", "benchmark", registry=registry)
    labelled = prom.Counter("bench_labelled", "benchmark", ["k"], registry=registry)
    n, nl, repeats = sizes.prometheus, sizes.prometheus_labels, sizes.repeats

    def inc() -> None:
        for _ in range(n):
            counter.inc()

    def labels_inc() -> None:
        for _ in range(nl):
            labelled.labels("x").inc()

    rows = {
        "prom": Row(
            "prometheus Counter.inc()", median_of(repeats, lambda: per_call_ns(n, inc)), "ns/event"
        ),
        "prom_labels": Row(
            "prometheus Counter.labels('x').inc()",
            median_of(repeats, lambda: per_call_ns(nl, labels_inc)),
            "ns/event",
        ),
    }
    value = registry.get_sample_value("bench_events_total")
    checks.expect(
        "prometheus Counter.inc()", value == n * repeats, f"counter={value} expected {n * repeats}"
    )
    value = registry.get_sample_value("bench_labelled_total", {"k": "x"})
    checks.expect(
        "prometheus labels().inc()",
        value == nl * repeats,
        f"labelled={value} expected {nl * repeats}",
    )
    return rows


def bench_otel(sizes: Sizes, checks: Checks, missing: list[str]) -> dict[str, Row]:
    sdk = load_peer("opentelemetry-sdk", "opentelemetry.sdk.metrics", missing)
    if sdk is None:
        return {}
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = sdk.MeterProvider(metric_readers=[reader])
    try:
        counter = provider.get_meter("bench").create_counter("bench_events")
        n, repeats = sizes.otel, sizes.repeats

        def add() -> None:
            for _ in range(n):
                counter.add(1)

        row = Row(
            "otel Counter.add(1)",
            median_of(repeats, lambda: per_call_ns(n, add)),
            "ns/event",
            "SDK MeterProvider + InMemoryMetricReader",
        )
        data = reader.get_metrics_data()
        total: float = sum(
            getattr(point, "value", 0)
            for rm in (data.resource_metrics if data is not None else ())
            for sm in rm.scope_metrics
            for metric in sm.metrics
            for point in metric.data.data_points
        )
        checks.expect(
            "otel Counter.add(1)", total == n * repeats, f"sum={total} expected {n * repeats}"
        )
    finally:
        provider.shutdown()
    return {"otel": row}


def bench_mvx_common(sizes: Sizes, checks: Checks, missing: list[str]) -> dict[str, Row]:
    mc = load_peer("mvx-common 0.3", "mvx.common.metrics", missing)
    if mc is None:
        return {}
    signature = inspect.signature(mc.MetricsRuntime.create_recorder)
    print(f"mvx-common MetricsRuntime.create_recorder{signature}")
    if "queue_max_size" not in signature.parameters:
        checks.expect("mvx-common", False, "create_recorder has no queue_max_size: skipped")
        return {}

    @dataclass(slots=True, frozen=True)
    class CommonEv(mc.MetricEvent):  # type: ignore[misc, name-defined]
        value: int

        @property
        def event_type(self) -> str:  # abstract in mvx-common 0.3
            return "bench"

    class CommonCounting(mc.Metric):  # type: ignore[misc, name-defined]
        """Counts, and signals when the N-th event is applied: mvx-common has no flush()."""

        def __init__(self, target: int) -> None:
            self.count = 0
            self.target = target
            self.done = threading.Event()

        @property
        def metric_name(self) -> str:
            return "count"

        def handle_event(self, event: Any) -> bool:
            self.count += 1
            if self.count == self.target:
                self.done.set()
            return True

        def snapshot(self) -> Mapping[str, Any]:
            return {"count": self.count}

    n, repeats = sizes.mvx_common, sizes.repeats
    events = [CommonEv(i) for i in range(n)]
    runtime = mc.MetricsRuntime(namespace=COMMON_NAMESPACE)
    runtime.start()
    rows: dict[str, Row] = {}
    try:
        loop_cpu = thread_cpu_clock(COMMON_THREAD)
        ids = itertools.count()
        caller_cpu: list[float] = []
        consumer_cpu: list[float] = []

        def run_once(label: str, produce: Callable[[Any], None], timed_wait: bool) -> int:
            rid = f"bench-{next(ids)}"
            recorder = runtime.create_recorder(rid, queue_max_size=n + 10)
            metric = CommonCounting(n)
            recorder.register_metric(metric)
            gc.collect()
            l0 = loop_cpu() if loop_cpu else 0
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            produce(recorder)
            applied = metric.done.wait(WAIT_S) if timed_wait else True
            elapsed = time.perf_counter_ns() - t0
            c1 = time.thread_time_ns()
            applied = applied and metric.done.wait(WAIT_S)
            if not timed_wait:
                caller_cpu.append((c1 - c0) / n)
                if loop_cpu:
                    consumer_cpu.append((loop_cpu() - l0) / n)
            checks.expect(
                label, applied and metric.count == n, f"metric saw {metric.count:,} (N={n:,})"
            )
            runtime.stop_and_remove_recorder(rid)
            return elapsed

        def produce_prebuilt(recorder: Any) -> None:
            for ev in events:
                recorder.register_event(event=ev)

        def produce_built(recorder: Any) -> None:
            for i in range(n):
                recorder.register_event(event=CommonEv(i))

        label = "mvx-common register_event"
        sample = median_of(repeats, lambda: run_once(label, produce_prebuilt, False) / n)
        note = median_note("CPU ns/event: caller", caller_cpu)
        if consumer_cpu:
            note += ", " + median_note("runtime loop thread", consumer_cpu)
        rows["common"] = Row(label, sample, "ns/event", note + f"; N={n:,}")

        def throughput(label: str, produce: Callable[[Any], None]) -> Row:
            sample = median_of(repeats, lambda: n * 1e9 / run_once(label, produce, True))
            return Row(label, sample, "events/s", f"N={n:,}; until the metric saw event N")

        rows["common_e2e"] = throughput("mvx-common end-to-end, pre-allocated", produce_prebuilt)
        rows["common_e2e_built"] = throughput(
            "mvx-common end-to-end, event per call", produce_built
        )
    finally:
        runtime.shutdown()
    return rows


# --- report ------------------------------------------------------------------------------------


def main() -> int:
    quick = parse_quick(__doc__ or "")
    sizes = QUICK if quick else FULL
    checks = Checks()
    missing: list[str] = []
    print(
        f"bench_handoff ({'quick' if quick else 'full'}): Python {sys.version.split()[0]}, "
        f"median of {sizes.repeats} repeats each, GC enabled (gc.collect() before each "
        "timed region)"
    )
    print(
        f"N: mvx {sizes.mvx:,}; prometheus {sizes.prometheus:,} "
        f"(labels {sizes.prometheus_labels:,}); otel {sizes.otel:,}; "
        f"mvx-common {sizes.mvx_common:,} (smaller: it is much slower)"
    )
    try:
        import uvloop  # noqa: F401

        print("mvx runtime loop: uvloop (its default loop factory)")
    except ImportError:
        print("mvx runtime loop: asyncio (uvloop not installed)")

    rows = bench_mvx(sizes, checks)
    rows |= bench_prometheus(sizes, checks, missing)
    rows |= bench_otel(sizes, checks, missing)
    rows |= bench_mvx_common(sizes, checks, missing)

    call_keys = ("loop", "construct", "register", "prom", "prom_labels", "otel", "common")
    print_table(
        "1+3. cost per call [call only]: timed region = the loop of N calls, events "
        "pre-allocated outside it; wall ns/event, caller is a plain thread",
        [rows[k] for k in call_keys if k in rows],
        baseline=rows["register"].name,
    )
    print(
        "note: GIL: the wall time of the mvx and mvx-common rows includes what their runtime\n"
        "loop thread ran during the loop; the CPU split in the last column separates the two."
    )
    e2e_keys = ("e2e", "e2e_frozen", "e2e_mutable", "common_e2e", "common_e2e_built")
    print_table(
        "2. end-to-end throughput [end-to-end]: timed region = first register_event until "
        "flush() returns (every event applied); one producer thread",
        [rows[k] for k in e2e_keys if k in rows],
        baseline=rows["e2e"].name,
    )
    print()
    checks.print_all()
    for key in ("e2e", "e2e_frozen", "e2e_mutable"):
        rate = rows[key].sample.median
        verdict = "meets" if rate >= TARGET_EVENTS_PER_S else "BELOW"
        print(
            f"target >= {TARGET_EVENTS_PER_S:,} events/s, no drops: {rows[key].name} "
            f"{fmt(rate)} events/s -> {verdict} target"
        )

    print("\n== 4. ratios (medians)")
    mvx = rows["register"]
    for key in ("prom", "prom_labels", "otel"):
        if key in rows:
            print(cost_ratio(mvx, rows[key]))
    if "common" in rows:
        print(cost_ratio(rows["common"], mvx) + " (mvx-common is that much slower per call)")
        print(throughput_ratio(rows["e2e"], rows["common_e2e"]))
        print(throughput_ratio(rows["e2e_frozen"], rows["common_e2e_built"]))
    print_missing_peers(missing, quick)
    if checks.failed:
        print(f"\nFAILED checks: {', '.join(checks.failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
