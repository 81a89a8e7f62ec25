"""Native OpenTelemetry types over real OTLP/HTTP: the SDK's exporter, a decoding receiver."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as OtelHistogram,
)
from opentelemetry.sdk.resources import Resource

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    MetricsRuntime,
    UpDownCounter,
    _process,
)
from mvx_metrics.export import otlp
from mvx_metrics.export.otlp import OpenTelemetryExport, metrics_data

from .._support import TIMEOUT, run_fresh
from ._otlp_receiver import OtlpReceiver, otlp_receiver

CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
VALUES = [0.0, 0.003, 0.02, 0.02, 0.3, 1.5, -0.25]


@dataclass(slots=True)
class Served(MetricEvent):
    route: str
    seconds: float


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as r:
        yield r


def _fill(runtime: MetricsRuntime, rid: str = "api") -> MetricsRecorder:
    recorder = runtime.create_recorder(rid)
    recorder.register_metric(Counter("requests", event=Served, labels=("route",)))
    recorder.register_metric(UpDownCounter("balance", event=Served, value="seconds"))
    recorder.register_metric(Gauge("last_seconds", event=Served, value="seconds", unit="s"))
    recorder.register_metric(
        Histogram("latency", event=Served, value="seconds", buckets=(0.01, 0.1, 1.0), unit="s")
    )
    recorder.register_metric(Distribution("spread", event=Served, value="seconds"))
    for value in VALUES:
        recorder.register_event(event=Served("/a" if value < 0.1 else "/b", value))
    return recorder


def _exporter(receiver: OtlpReceiver) -> OTLPMetricExporter:
    return OTLPMetricExporter(endpoint=receiver.endpoint, timeout=TIMEOUT)


def _metrics(request: Any) -> dict[str, metrics_pb2.Metric]:
    [resource_metrics] = request.resource_metrics
    [scope] = resource_metrics.scope_metrics
    assert scope.scope.name == "mvx_metrics"
    return {metric.name: metric for metric in scope.metrics}


def _resource(request: Any) -> dict[str, str]:
    [resource_metrics] = request.resource_metrics
    return {a.key: a.value.string_value for a in resource_metrics.resource.attributes}


def _attrs(point: Any) -> dict[str, str]:
    return {a.key: a.value.string_value for a in point.attributes}


def test_every_kind_arrives_in_its_native_otlp_type(
    runtime: MetricsRuntime, receiver: OtlpReceiver
) -> None:
    _fill(runtime)
    export = OpenTelemetryExport(runtime, _exporter(receiver), interval=3600)
    assert export.export() is True
    request = receiver.next_request()
    metrics = _metrics(request)
    resource = _resource(request)
    assert resource["service.instance.id"] == _process.instance_id()
    assert resource["service.name"].startswith("unknown_service")  # the SDK's default

    requests = metrics["requests"]
    assert requests.WhichOneof("data") == "sum"
    assert requests.sum.is_monotonic and requests.sum.aggregation_temporality == CUMULATIVE
    by_route = {_attrs(p)["route"]: p for p in requests.sum.data_points}
    assert {r: p.as_int for r, p in by_route.items()} == {"/a": 5, "/b": 2}
    assert all(_attrs(p)["recorder"] == "api" for p in by_route.values())
    point = by_route["/a"]
    assert point.start_time_unix_nano == _process.started_ns() < point.time_unix_nano

    balance = metrics["balance"]
    assert balance.WhichOneof("data") == "sum" and not balance.sum.is_monotonic
    assert balance.sum.data_points[0].as_double == pytest.approx(sum(VALUES))
    gauge = metrics["last_seconds"]
    assert gauge.WhichOneof("data") == "gauge" and gauge.unit == "s"
    assert gauge.gauge.data_points[0].as_double == VALUES[-1]

    latency = metrics["latency"]
    assert latency.WhichOneof("data") == "histogram"
    assert latency.histogram.aggregation_temporality == CUMULATIVE
    [hist] = latency.histogram.data_points
    assert list(hist.explicit_bounds) == [0.01, 0.1, 1.0]
    # Non-cumulative counts per bucket, the last one +Inf: <=0.01, <=0.1, <=1, more.
    assert list(hist.bucket_counts) == [3, 2, 1, 1]
    assert (hist.count, hist.min, hist.max) == (7, -0.25, 1.5)
    assert hist.sum == pytest.approx(sum(VALUES))

    spread = metrics["spread"]
    assert spread.WhichOneof("data") == "exponential_histogram"
    [exp] = spread.exponential_histogram.data_points
    assert (exp.scale, exp.count, exp.zero_count, exp.min, exp.max) == (6, 7, 1, -0.25, 1.5)
    assert exp.sum == pytest.approx(sum(VALUES))
    _assert_buckets_hold(exp.scale, exp.positive, [v for v in VALUES if v > 0])
    _assert_buckets_hold(exp.scale, exp.negative, [-v for v in VALUES if v < 0])

    # The recorder's stats travel too, as sums and gauges.
    accepted = metrics["mvx_recorder_events_accepted"]
    assert accepted.WhichOneof("data") == "sum"
    assert accepted.sum.data_points[0].as_int == len(VALUES)
    assert metrics["mvx_otel_exports"].sum.data_points[0].as_int == 0  # none before this one
    export.close()  # the exporter's connection too: no server thread outlives the test


def _assert_buckets_hold(scale: int, buckets: Any, values: list[float]) -> None:
    """OTLP index i holds (base**i, base**(i+1)]: every value is in the bucket counted."""
    expected: dict[int, int] = {}
    for value in values:
        # log2 is exact at powers of two, which sit on the upper edge of their bucket.
        index = math.ceil(math.log2(value) * 2.0**scale) - 1
        expected[index] = expected.get(index, 0) + 1
    got = {buckets.offset + i: count for i, count in enumerate(buckets.bucket_counts) if count}
    assert got == expected
    assert sum(buckets.bucket_counts) == len(values)


def test_the_export_runs_every_interval_and_once_more_at_close(
    runtime: MetricsRuntime, receiver: OtlpReceiver
) -> None:
    recorder = _fill(runtime)
    with OpenTelemetryExport(runtime, _exporter(receiver), interval=0.05) as export:
        first = _metrics(receiver.next_request())
        second = _metrics(receiver.next_request())
        assert first.keys() == second.keys()
        recorder.register_event(event=Served("/late", 0.5))
    # close(): the thread stopped, a last export carried the late event.
    while True:
        last = _metrics(receiver.next_request())
        if receiver.received() == 0:
            break
    routes = {_attrs(p)["route"]: p.as_int for p in last["requests"].sum.data_points}
    assert routes["/late"] == 1
    assert export.failed_exports == 0 and export.succeeded_exports >= 3
    assert "closed" in repr(export)
    with pytest.raises(RuntimeError, match="closed"):
        export.start()


def test_a_failed_export_is_counted_and_reported_with_the_next_one(
    runtime: MetricsRuntime, receiver: OtlpReceiver
) -> None:
    _fill(runtime)
    export = OpenTelemetryExport(runtime, _exporter(receiver), interval=3600)
    receiver.status = 400  # not retryable: the exporter gives up at once
    assert export.export() is False
    assert export.failed_exports == 1 and export.last_error is not None
    receiver.status = 200
    assert export.export() is True
    outcomes = {
        _attrs(p)["outcome"]: p.as_int
        for p in _metrics(receiver.next_request())["mvx_otel_exports"].sum.data_points
    }
    assert outcomes == {"success": 0, "failure": 1}
    export.close()


def test_an_unreachable_collector_fails_within_the_timeout(runtime: MetricsRuntime) -> None:
    _fill(runtime)
    with otlp_receiver() as gone:
        endpoint = gone.endpoint  # a port nobody listens on once it is stopped
    export = OpenTelemetryExport(
        runtime, OTLPMetricExporter(endpoint=endpoint, timeout=1.0), timeout=2.0
    )
    assert export.export() is False
    assert export.failed_exports == 1
    export.close(timeout=2.0)


def test_one_name_of_two_kinds_is_exported_once_and_counted(
    runtime: MetricsRuntime, receiver: OtlpReceiver
) -> None:
    runtime.create_recorder("one").register_metric(Counter("hits", event=Served))
    runtime.create_recorder("two").register_metric(Gauge("hits", event=Served, value="seconds"))
    export = OpenTelemetryExport(runtime, _exporter(receiver), include_stats=False)
    assert export.export() is True
    metrics = _metrics(receiver.next_request())
    assert metrics["hits"].WhichOneof("data") == "sum"
    assert [_attrs(p)["recorder"] for p in metrics["hits"].sum.data_points] == ["one"]
    assert export.skipped_metrics == 1
    export.close()


@pytest.mark.anyio
async def test_metrics_data_of_a_direct_mode_recorder_keeps_a_given_resource() -> None:
    recorder = MetricsRecorder("direct")
    recorder.register_metric(Counter("requests", event=Served, labels=("route",)))
    recorder.register_metric(Distribution("spread", event=Served, value="seconds"))
    async with recorder:
        recorder.register_event(event=Served("/", 0.25))
        data = metrics_data(recorder, resource=Resource({"service.name": "shop"}))
    [resource_metrics] = data.resource_metrics
    attributes = resource_metrics.resource.attributes
    assert attributes["service.name"] == "shop"
    assert attributes["service.instance.id"] == _process.instance_id()
    metrics = {m.name: m for m in resource_metrics.scope_metrics[0].metrics}
    counter = metrics["requests"].data
    assert isinstance(counter, Sum) and counter.is_monotonic
    assert counter.aggregation_temporality is AggregationTemporality.CUMULATIVE
    assert [(dict(p.attributes or {}), p.value) for p in counter.data_points] == [
        ({"route": "/"}, 1)
    ]
    spread = metrics["spread"].data
    assert isinstance(spread, ExponentialHistogram)
    [point] = spread.data_points
    assert (point.count, point.scale, point.min, point.max) == (1, 6, 0.25, 0.25)
    # 0.25 = 2**-2 is the upper edge of its bucket: OTLP index -2 * 64 - 1.
    assert (point.positive.offset, list(point.positive.bucket_counts)) == (-129, [1])


def test_histograms_and_distributions_without_values_are_left_out(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("idle")
    recorder.register_metric(Histogram("latency", event=Served, value="seconds"))
    recorder.register_metric(Distribution("spread", event=Served, value="seconds"))
    recorder.register_metric(Counter("requests", event=Served))
    data = metrics_data(runtime, include_stats=False)
    metrics = {m.name: m.data for m in data.resource_metrics[0].scope_metrics[0].metrics}
    assert isinstance(metrics["latency"], OtelHistogram) and not metrics["latency"].data_points
    assert not metrics["spread"].data_points
    assert [p.value for p in metrics["requests"].data_points] == [0]  # counters start at 0


def test_a_sketch_too_spread_for_one_point_is_sent_at_a_coarser_scale(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp, "MAX_EXPONENTIAL_BUCKETS", 64)
    recorder = runtime.create_recorder("wide")
    recorder.register_metric(Distribution("spread", event=Served, value="seconds"))
    values = [1e-6, 1e-3, 1.0, 1e3]
    for value in values:
        recorder.register_event(event=Served("/", value))
    data = metrics_data(runtime, include_stats=False)
    [point] = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.scale < 6 and len(point.positive.bucket_counts) <= 64
    _assert_buckets_hold(point.scale, point.positive, values)


def test_huge_counts_stay_within_what_otlp_carries(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("huge")
    recorder.register_metric(Counter("bytes", event=Served, value="seconds"))
    recorder.register_event(event=Served("/", 2**70))  # type: ignore[arg-type]
    data = metrics_data(runtime, include_stats=False)
    [point] = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.value == float(2**70)


def test_a_forked_child_is_another_instance() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its id, leave at once
        os.write(write, _process.instance_id().encode())
        os._exit(0)
    os.close(write)
    try:
        child_id = os.read(read, 200).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert child_id and child_id != _process.instance_id()


def test_bad_arguments_are_refused(runtime: MetricsRuntime) -> None:
    with pytest.raises(TypeError, match="exporter"):
        OpenTelemetryExport(runtime, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        OpenTelemetryExport(runtime, OTLPMetricExporter(), interval=0)
    with pytest.raises(TypeError, match="source"):
        metrics_data(object())  # type: ignore[arg-type]


#: A fresh interpreter: what the export thread's first export imports, once the export
#: is made (the exporter here imports nothing of its own).
FIRST_EXPORT = """
import json, sys, threading
from dataclasses import dataclass
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from mvx_metrics import Counter, MetricEvent, MetricsRuntime
from mvx_metrics.export.otlp import OpenTelemetryExport

@dataclass
class Hit(MetricEvent):
    path: str = "/"

class Kept(MetricExporter):
    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        return MetricExportResult.SUCCESS
    def force_flush(self, timeout_millis=10_000):
        return True
    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass

runtime = MetricsRuntime(namespace="first")
runtime.start()
runtime.create_recorder("r").register_metric(Counter("hits", event=Hit, labels=("path",)))
export = OpenTelemetryExport(runtime, Kept(), interval=3600)
before = set(sys.modules)
done = []
thread = threading.Thread(target=lambda: done.append(export.export(timeout=30)))
thread.start()
thread.join(30)
export.close(timeout=10)
runtime.shutdown()
print(json.dumps({"exported": done, "imported": sorted(set(sys.modules) - before)}))
"""


def test_an_export_imports_nothing_a_forked_child_could_wait_on() -> None:
    # As the multiprocess publisher's (tests/multiprocess/test_process_metrics.py): a
    # module a thread is importing when the process forks stays locked in the child.
    assert run_fresh(FIRST_EXPORT) == {"exported": [True], "imported": []}
