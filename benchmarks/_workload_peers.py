"""The OpenTelemetry SDK and mvx-common 0.3 in ``bench_workloads.py``'s scenarios.

Each function does what the scenario's mvx_metrics and prometheus_client sides do, the
way an application would with that library: the OpenTelemetry SDK updates its
instruments in the caller (a ``MeterProvider`` with an ``InMemoryMetricReader``, read
once at the end to check the totals); mvx-common 0.3 hands each event to a recorder of
its own runtime, whose metric is user-written (it has no built-in ones). mvx-common
keeps no count of what it drops and has no ``flush()``: its side waits until its
metric has seen every event, or, in a burst, until the count stops moving.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from _harness import collector, run_threads

__all__ = [
    "CommonSide",
    "otel_meter",
    "process_cpu_otel",
    "real_work_otel",
]

PAYLOAD = b"x" * 4096
ROUTES = ("/", "/docs", "/api/items", "/api/users", "/login")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WAIT_S = 120.0
COMMON_NAMESPACE = "bench-workloads-common"


@contextmanager
def otel_meter(sdk: ModuleType) -> Iterator[tuple[Any, Callable[[], float]]]:
    """A meter of a fresh ``MeterProvider``, and a function summing every point's value
    (a counter's sum, a histogram's count) read from its in-memory reader."""
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = sdk.MeterProvider(metric_readers=[reader])

    def total() -> float:
        data = reader.get_metrics_data()
        return float(
            sum(
                getattr(point, "value", None) or getattr(point, "count", 0)
                for rm in (data.resource_metrics if data is not None else ())
                for sm in rm.scope_metrics
                for metric in sm.metrics
                for point in metric.data.data_points
            )
        )

    try:
        yield provider.get_meter("bench-workloads"), total
    finally:
        provider.shutdown()


def real_work_otel(sdk: ModuleType, n: int, threads: int) -> float:
    """Section 1: sha256 of 4 KB, then ``counter.add(1, {"outcome": "ok"})``, per event."""
    per_thread = n // threads
    with otel_meter(sdk) as (meter, total):
        counter = meter.create_counter("hashed")
        attributes = {"outcome": "ok"}

        def body() -> None:
            sha256 = hashlib.sha256
            for _ in range(per_thread):
                sha256(PAYLOAD).digest()
                counter.add(1, attributes)

        elapsed = run_threads(threads, lambda _: body())
        assert total() == per_thread * threads
    return per_thread * threads / elapsed


def process_cpu_otel(sdk: ModuleType, shape: str, n: int, *, gc_on: bool) -> float:
    """Section 4: process CPU per event of the same updates as the other sides."""
    values = [(ROUTES[i % 5], (i % 97) / 100) for i in range(n)]
    with otel_meter(sdk) as (meter, total):
        with collector(on=gc_on):
            if shape == "count":
                counter = meter.create_counter("requests")
                t0 = time.process_time_ns()
                for _ in values:
                    counter.add(1)
            elif shape == "labelled":
                requests = meter.create_counter("requests")
                seconds = meter.create_histogram(
                    "seconds", explicit_bucket_boundaries_advisory=BUCKETS
                )
                labels = {route: {"route": route} for route in ROUTES}
                t0 = time.process_time_ns()
                for route, duration in values:
                    attributes = labels[route]
                    requests.add(1, attributes)
                    seconds.record(duration, attributes)
            else:
                histogram = meter.create_histogram("seconds")
                t0 = time.process_time_ns()
                for _, duration in values:
                    histogram.record(duration)
            elapsed = time.process_time_ns() - t0
        assert total() == n * (2 if shape == "labelled" else 1)
    return elapsed / n


class CommonSide:
    """mvx-common 0.3's runtime, for sections 1, 2 and 4."""

    def __init__(self, mc: ModuleType) -> None:
        self.mc = mc
        self.runtime = mc.MetricsRuntime(namespace=COMMON_NAMESPACE)
        self.ids = itertools.count()
        self.dropped: list[float] = []

        @dataclass(slots=True, frozen=True)
        class Hashed(mc.MetricEvent):  # type: ignore[misc, name-defined]
            outcome: str

            @property
            def event_type(self) -> str:  # abstract in mvx-common 0.3
                return "hashed"

        class Counting(mc.Metric):  # type: ignore[misc, name-defined]
            """Counts by outcome; signals when the N-th event is applied."""

            def __init__(self, target: int) -> None:
                self.counts: dict[str, int] = {}
                self.count = 0
                self.target = target
                self.done = threading.Event()

            @property
            def metric_name(self) -> str:
                return "hashed"

            def handle_event(self, event: Any) -> bool:
                self.counts[event.outcome] = self.counts.get(event.outcome, 0) + 1
                self.count += 1
                if self.count == self.target:
                    self.done.set()
                return True

            def snapshot(self) -> Mapping[str, Any]:
                return dict(self.counts)

        self.event_class = Hashed
        self.metric_class = Counting

    def __enter__(self) -> CommonSide:
        self.runtime.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.runtime.shutdown()

    def _recorder(self, target: int, queue_max_size: int | None) -> tuple[str, Any, Any]:
        rid = f"common-{next(self.ids)}"
        recorder = self.runtime.create_recorder(rid, queue_max_size=queue_max_size)
        metric = self.metric_class(target)
        recorder.register_metric(metric)
        return rid, recorder, metric

    def real_work(self, n: int, threads: int) -> float:
        """Section 1: throughput until the metric has seen every event."""
        per_thread = n // threads
        total = per_thread * threads
        rid, recorder, metric = self._recorder(total, total + 10)
        event = self.event_class("ok")

        def body() -> None:
            sha256 = hashlib.sha256
            register = recorder.register_event
            for _ in range(per_thread):
                sha256(PAYLOAD).digest()
                register(event=event)

        t0 = time.perf_counter()
        run_threads(threads, lambda _: body())
        applied = metric.done.wait(WAIT_S)
        elapsed = time.perf_counter() - t0
        self.runtime.stop_and_remove_recorder(rid)
        assert applied and metric.count == total, metric.count
        return total / elapsed

    def burst(self, per_thread: int, threads: int) -> float:
        """Section 2, with the runtime's defaults: processed events per second. What was
        dropped is what the metric never saw (mvx-common does not count it): the count
        is read every millisecond until it has not moved for 200 ms."""
        total = per_thread * threads
        rid, recorder, metric = self._recorder(total, None)
        events = [self.event_class("ok")] * per_thread

        def body() -> None:
            register = recorder.register_event
            for event in events:
                register(event=event)

        t0 = time.perf_counter()
        run_threads(threads, lambda _: body())
        last_count, last_change = metric.count, time.perf_counter()
        deadline = last_change + WAIT_S
        while metric.count < total and time.perf_counter() - last_change < 0.2:
            if time.perf_counter() > deadline:
                raise RuntimeError("mvx-common's metric kept counting for 120 s")
            time.sleep(0.001)
            if metric.count != last_count:
                last_count, last_change = metric.count, time.perf_counter()
        self.runtime.stop_and_remove_recorder(rid)
        self.dropped.append(1 - last_count / total)
        return last_count / (last_change - t0)

    def process_cpu(self, n: int, *, gc_on: bool) -> float:
        """Section 4, count only: process CPU per event until the metric saw them all."""
        rid, recorder, metric = self._recorder(n, n + 10)
        events = [self.event_class(ROUTES[i % 5]) for i in range(n)]
        register = recorder.register_event
        with collector(on=gc_on):
            t0 = time.process_time_ns()
            for event in events:
                register(event=event)
            applied = metric.done.wait(WAIT_S)
            elapsed = time.process_time_ns() - t0
        self.runtime.stop_and_remove_recorder(rid)
        assert applied and metric.count == n, metric.count
        return elapsed / n
