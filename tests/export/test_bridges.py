"""The prometheus_client collector and the OpenTelemetry bridge, on real recorders."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
)
from opentelemetry.sdk.metrics.export import (
    Gauge as OtelGauge,
)
from opentelemetry.sdk.metrics.export import (
    Sum as OtelSum,
)
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client.parser import text_string_to_metric_families

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRecorderTimeoutError,
    MetricsRuntime,
    UpDownCounter,
)
from mvx_metrics.export import render_prometheus
from mvx_metrics.export.otel_bridge import OpenTelemetryBridge, register_with_opentelemetry
from mvx_metrics.export.prometheus_client_bridge import (
    MvxCollector,
    register_with_prometheus_client,
)

from .._support import TIMEOUT


@dataclass(slots=True, frozen=True)
class Request(MetricEvent):
    route: str = "/"
    seconds: float = 0.1


@dataclass(slots=True, frozen=True)
class Reading(MetricEvent):
    room: str = "hall"
    celsius: float = 20.0


@dataclass(slots=True, frozen=True)
class Tagged(MetricEvent):
    recorder: str = "mine"


def register_all(recorder: Any) -> None:
    """One metric of each kind; descriptions and units on some."""
    recorder.register_metric(
        Counter("requests", event=Request, labels=("route",), description="Requests served.")
    )
    recorder.register_metric(
        UpDownCounter("in_flight", event=Request, value=lambda e: 1 if e.route == "/" else -1)
    )
    recorder.register_metric(
        Gauge("temperature", event=Reading, value="celsius", labels=("room",), unit="celsius")
    )
    recorder.register_metric(
        Histogram(
            "latency",
            event=Request,
            value="seconds",
            buckets=(0.1, 1.0),
            unit="seconds",
            description="Time to serve.",
        )
    )
    recorder.register_metric(
        Distribution("spread", event=Request, value="seconds", quantiles=(0.5, 1.0))
    )


def feed(recorder: Any) -> None:
    for event in [Request("/", 0.05), Request("/", 0.5), Request("/login", 2.0)]:
        recorder.register_event(event=event)
    recorder.register_event(event=Reading("hall", 19.5))
    recorder.register_event(event=Reading("attic", -3.0))


class SnapshotCalls:
    """Counts the ``get_metric_snapshots`` calls made on ``source``."""

    def __init__(self, source: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = source.get_metric_snapshots

        def counting(**kwargs: Any) -> Any:
            self.count += 1
            return original(**kwargs)

        monkeypatch.setattr(source, "get_metric_snapshots", counting)


# --- prometheus_client ----------------------------------------------------------------


def scrape(registry: CollectorRegistry) -> dict[str, Any]:
    """The 0.0.4 text parsed back: ``{family name: family}``."""
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples_of(family: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


def test_collector_exposes_each_kind_with_its_values_and_labels(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    feed(recorder)
    registry = CollectorRegistry()
    collector = register_with_prometheus_client(
        recorder, registry, timeout=TIMEOUT, include_stats=False
    )
    assert isinstance(collector, MvxCollector) and collector.source is recorder

    families = scrape(registry)
    assert sorted(families) == [
        "in_flight",
        "latency_seconds",
        "requests",
        "spread",
        "temperature_celsius",
    ]
    requests = families["requests"]
    assert (requests.type, requests.documentation) == ("counter", "Requests served.")
    assert samples_of(requests) == {
        ("requests_total", (("route", "/"),)): 2.0,
        ("requests_total", (("route", "/login"),)): 1.0,
    }
    assert families["in_flight"].type == "gauge"  # Prometheus has no up-down counter
    assert samples_of(families["in_flight"]) == {("in_flight", ()): 1.0}
    assert families["temperature_celsius"].type == "gauge"
    assert samples_of(families["temperature_celsius"]) == {
        ("temperature_celsius", (("room", "hall"),)): 19.5,
        ("temperature_celsius", (("room", "attic"),)): -3.0,
    }
    latency = families["latency_seconds"]
    assert (latency.type, latency.documentation) == ("histogram", "Time to serve.")
    assert samples_of(latency) == {
        ("latency_seconds_bucket", (("le", "0.1"),)): 1.0,
        ("latency_seconds_bucket", (("le", "1.0"),)): 2.0,
        ("latency_seconds_bucket", (("le", "+Inf"),)): 3.0,
        ("latency_seconds_count", ()): 3.0,
        ("latency_seconds_sum", ()): 2.55,
    }
    spread = families["spread"]
    assert spread.type == "summary"
    values = samples_of(spread)
    assert values.pop(("spread_count", ())) == 3.0
    assert values.pop(("spread_sum", ())) == pytest.approx(2.55)
    assert values.pop(("spread", (("quantile", "1.0"),))) == 2.0  # q=1 is the exact max
    assert values.pop(("spread", (("quantile", "0.5"),))) == pytest.approx(0.5, rel=0.01)
    assert values == {}


def test_openmetrics_output_carries_units_and_descriptions(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    feed(recorder)
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    text = om_exposition.generate_latest(registry).decode()
    # The strict OpenMetrics parser checks the histogram, summary and unit rules.
    families = {f.name: f for f in om_parser.text_string_to_metric_families(text)}
    assert families["latency_seconds"].unit == "seconds"
    assert families["temperature_celsius"].unit == "celsius"
    assert families["requests"].documentation == "Requests served."
    assert families["requests"].unit == ""


def test_runtime_source_labels_every_sample_with_its_recorder(runtime: MetricsRuntime) -> None:
    first, second = runtime.create_recorder("first"), runtime.create_recorder("second")
    for recorder in (first, second):
        recorder.register_metric(Counter("requests", event=Request, labels=("route",)))
        recorder.register_metric(Counter("tagged", event=Tagged, labels=("recorder",)))
    first.register_event(event=Request("/"))
    second.register_event(event=Request("/"))
    second.register_event(event=Request("/"))
    second.register_event(event=Tagged("mine"))
    registry = CollectorRegistry()
    register_with_prometheus_client(runtime, registry, timeout=TIMEOUT, include_stats=False)

    families = scrape(registry)
    # One family per name, merged across recorders.
    assert samples_of(families["requests"]) == {
        ("requests_total", (("recorder", "first"), ("route", "/"))): 1.0,
        ("requests_total", (("recorder", "second"), ("route", "/"))): 2.0,
    }
    # A metric's own `recorder` label is kept, renamed, as Prometheus renames clashing labels.
    assert samples_of(families["tagged"]) == {
        ("tagged_total", (("exported_recorder", "mine"), ("recorder", "second"))): 1.0,
    }


def test_the_collector_writes_what_the_package_renderer_writes(runtime: MetricsRuntime) -> None:
    for recorder_id in ("a", "b"):
        recorder = runtime.create_recorder(recorder_id)
        register_all(recorder)
        feed(recorder)
    registry = CollectorRegistry()
    register_with_prometheus_client(runtime, registry)
    # Same names, labels and values as the package's own /metrics, in both formats.
    assert generate_latest(registry).decode() == render_prometheus(runtime)
    assert om_exposition.generate_latest(registry).decode() == render_prometheus(
        runtime, openmetrics=True
    )


def test_invalid_prometheus_names_are_sanitised(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("http.requests-served", event=Request))
    recorder.register_metric(Gauge("5xx.ratio", event=Reading, value="celsius"))
    recorder.register_event(event=Request())
    recorder.register_event(event=Reading(celsius=0.25))
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    families = scrape(registry)
    assert samples_of(families["http_requests_served"]) == {("http_requests_served_total", ()): 1}
    assert samples_of(families["_5xx_ratio"]) == {("_5xx_ratio", ()): 0.25}


def test_registering_takes_no_snapshot_and_each_scrape_takes_one(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    calls = SnapshotCalls(recorder, monkeypatch)
    registry = CollectorRegistry(auto_describe=True)
    collector = register_with_prometheus_client(recorder, registry, include_stats=False)
    assert collector.describe() == []
    assert calls.count == 0
    generate_latest(registry)
    assert calls.count == 1
    generate_latest(registry)
    assert calls.count == 2


def test_the_default_registry_is_prometheus_clients_global_one(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("mvx_bridge_default_registry_probe", event=Request))
    recorder.register_event(event=Request())
    collector = register_with_prometheus_client(recorder, include_stats=False)
    try:
        assert REGISTRY.get_sample_value("mvx_bridge_default_registry_probe_total") == 1.0
    finally:
        REGISTRY.unregister(collector)


def test_a_metric_registered_after_bridging_is_in_the_next_scrape(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    assert scrape(registry) == {}
    recorder.register_metric(Counter("late", event=Request))
    recorder.register_event(event=Request())
    assert samples_of(scrape(registry)["late"]) == {("late_total", ()): 1.0}
    runtime.create_recorder("later").register_metric(Counter("late", event=Request))
    registry2 = CollectorRegistry()
    register_with_prometheus_client(runtime, registry2, include_stats=False)
    assert samples_of(scrape(registry2)["late"]) == {
        ("late_total", (("recorder", "x"),)): 1.0,
        ("late_total", (("recorder", "later"),)): 0.0,
    }


def test_an_empty_distribution_exposes_nan_quantiles(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Distribution("spread", event=Request, value="seconds"))
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    values = samples_of(scrape(registry)["spread"])
    assert values.pop(("spread_count", ())) == 0 and values.pop(("spread_sum", ())) == 0
    assert len(values) == 3 and all(math.isnan(v) for v in values.values())


def test_a_histogram_with_negative_buckets_has_no_sum(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("x")
    recorder.register_metric(
        Histogram("delta", event=Reading, value="celsius", buckets=(-10, 0, 10))
    )
    recorder.register_event(event=Reading(celsius=-4.0))
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    # As prometheus_client's HistogramMetricFamily: OpenMetrics forbids `_sum` here.
    text = om_exposition.generate_latest(registry).decode()
    (family,) = om_parser.text_string_to_metric_families(text)
    assert {s.name for s in family.samples} == {"delta_bucket"}
    assert [s.value for s in family.samples] == [0, 1, 1, 1]


def test_a_name_with_two_kinds_is_left_out_with_one_warning(
    runtime: MetricsRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.create_recorder("a").register_metric(Counter("thing", event=Request))
    runtime.create_recorder("b").register_metric(Gauge("thing", event=Reading, value="celsius"))
    registry = CollectorRegistry()
    register_with_prometheus_client(runtime, registry, include_stats=False)
    with caplog.at_level(logging.WARNING, logger="mvx_metrics.export"):
        for _ in range(2):
            assert samples_of(scrape(registry)["thing"]) == {
                ("thing_total", (("recorder", "a"),)): 0.0
            }
    warnings = [r for r in caplog.records if "thing" in r.getMessage()]
    assert len(warnings) == 1 and "recorder 'b'" in warnings[0].getMessage()


def test_a_failed_snapshot_fails_the_scrape(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = runtime.create_recorder("x")

    def fail(**kwargs: Any) -> Any:
        raise MetricsRecorderTimeoutError("snapshot did not complete in time")

    monkeypatch.setattr(recorder, "get_metric_snapshots", fail)
    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, include_stats=False)
    with pytest.raises(MetricsRecorderTimeoutError):
        generate_latest(registry)


def test_a_source_must_be_a_recorder_or_a_runtime() -> None:
    with pytest.raises(TypeError, match="MetricsRuntime or a recorder"):
        MvxCollector(object())  # type: ignore[arg-type]


# --- OpenTelemetry --------------------------------------------------------------------


@pytest.fixture
def otel() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        yield provider, reader
    finally:
        provider.shutdown()


def collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    """One collection: ``{instrument name: metric}`` of the mvx_metrics meter."""
    data = reader.get_metrics_data()
    if data is None:
        return {}
    return {
        metric.name: metric
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        if scope_metrics.scope.name == "mvx_metrics"
        for metric in scope_metrics.metrics
    }


def points(metric: Any) -> dict[tuple[tuple[str, Any], ...], float]:
    return {tuple(sorted(p.attributes.items())): p.value for p in metric.data.data_points}


def is_monotonic_cumulative_sum(metric: Any) -> bool:
    data = metric.data
    return (
        isinstance(data, OtelSum)
        and data.is_monotonic
        and data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    )


def test_otel_reports_each_kind_through_observable_instruments(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    feed(recorder)
    bridge = register_with_opentelemetry(recorder, provider, timeout=TIMEOUT, include_stats=False)
    assert isinstance(bridge, OpenTelemetryBridge)

    metrics = collect(reader)
    assert (
        sorted(metrics)
        == sorted(bridge.instrument_names)
        == [
            "in_flight",
            "latency_bucket",
            "latency_count",
            "latency_sum",
            "requests",
            "spread",
            "spread_count",
            "spread_sum",
            "temperature",
        ]
    )
    requests = metrics["requests"]
    assert is_monotonic_cumulative_sum(requests)
    assert requests.description == "Requests served."
    assert points(requests) == {(("route", "/"),): 2.0, (("route", "/login"),): 1.0}

    in_flight = metrics["in_flight"]
    assert isinstance(in_flight.data, OtelSum) and not in_flight.data.is_monotonic
    assert points(in_flight) == {(): 1.0}

    temperature = metrics["temperature"]
    assert isinstance(temperature.data, OtelGauge) and temperature.unit == "celsius"
    assert points(temperature) == {(("room", "hall"),): 19.5, (("room", "attic"),): -3.0}

    # Histogram: cumulative bucket counts by `le`, the count and the sum.
    assert is_monotonic_cumulative_sum(metrics["latency_bucket"])
    assert points(metrics["latency_bucket"]) == {
        (("le", "0.1"),): 1.0,
        (("le", "1.0"),): 2.0,
        (("le", "+Inf"),): 3.0,
    }
    assert metrics["latency_bucket"].unit == "" and metrics["latency_count"].unit == ""
    assert is_monotonic_cumulative_sum(metrics["latency_count"])
    assert points(metrics["latency_count"]) == {(): 3.0}
    latency_sum = metrics["latency_sum"]
    assert isinstance(latency_sum.data, OtelSum) and not latency_sum.data.is_monotonic
    assert latency_sum.unit == "seconds"
    assert points(latency_sum) == {(): pytest.approx(2.55)}

    # Distribution: quantiles as a gauge by `quantile`, the count and the sum.
    spread = metrics["spread"]
    assert isinstance(spread.data, OtelGauge)
    quantiles = points(spread)
    assert quantiles[(("quantile", "1.0"),)] == 2.0
    assert quantiles[(("quantile", "0.5"),)] == pytest.approx(0.5, rel=0.01)
    assert len(quantiles) == 2
    assert is_monotonic_cumulative_sum(metrics["spread_count"])
    assert points(metrics["spread_count"]) == {(): 3.0}
    assert points(metrics["spread_sum"]) == {(): pytest.approx(2.55)}


def test_otel_counters_stay_cumulative_across_collections(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("requests", event=Request))
    register_with_opentelemetry(recorder, provider, include_stats=False)
    seen = []
    for _ in range(3):
        recorder.register_event(event=Request())
        (point,) = collect(reader)["requests"].data.data_points
        seen.append((point.start_time_unix_nano, point.value))
    assert [value for _, value in seen] == [1.0, 2.0, 3.0]
    assert len({start for start, _ in seen}) == 1  # one cumulative stream


def test_otel_runtime_source_adds_a_recorder_attribute(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    first, second = runtime.create_recorder("first"), runtime.create_recorder("second")
    for recorder in (first, second):
        recorder.register_metric(Counter("requests", event=Request, labels=("route",)))
    second.register_metric(Counter("tagged", event=Tagged, labels=("recorder",)))
    first.register_event(event=Request("/"))
    second.register_event(event=Request("/login"))
    second.register_event(event=Tagged("mine"))
    register_with_opentelemetry(runtime, provider, include_stats=False)

    metrics = collect(reader)
    assert points(metrics["requests"]) == {
        (("recorder", "first"), ("route", "/")): 1.0,
        (("recorder", "second"), ("route", "/login")): 1.0,
    }
    assert points(metrics["tagged"]) == {
        (("exported_recorder", "mine"), ("recorder", "second")): 1.0
    }


def test_otel_takes_one_snapshot_per_collection(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    register_all(recorder)  # 9 instruments
    feed(recorder)
    bridge = register_with_opentelemetry(recorder, provider, include_stats=False)
    calls = SnapshotCalls(recorder, monkeypatch)
    assert len(collect(reader)) == 9
    assert calls.count == 1
    collect(reader)
    collect(reader)
    assert calls.count == 3
    bridge.close()


def test_otel_takes_one_snapshot_per_collection_of_each_reader(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first, second])
    try:
        recorder = runtime.create_recorder("x")
        recorder.register_metric(Counter("requests", event=Request))
        recorder.register_metric(Histogram("latency", event=Request, value="seconds"))
        register_with_opentelemetry(recorder, provider, include_stats=False)
        calls = SnapshotCalls(recorder, monkeypatch)
        recorder.register_event(event=Request())
        assert points(collect(first)["requests"]) == {(): 1.0}
        recorder.register_event(event=Request())
        assert points(collect(second)["requests"]) == {(): 2.0}  # not the first's snapshot
        assert calls.count == 2
    finally:
        provider.shutdown()


def test_otel_runtime_source_takes_one_runtime_snapshot_per_collection(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider, reader = otel
    for recorder_id in ("a", "b"):
        register_all(runtime.create_recorder(recorder_id))
    register_with_opentelemetry(runtime, provider, include_stats=False)
    calls = SnapshotCalls(runtime, monkeypatch)
    metrics = collect(reader)
    assert calls.count == 1
    assert points(metrics["latency_count"]) == {(("recorder", "a"),): 0, (("recorder", "b"),): 0}


def test_otel_metric_registered_later_is_reported_after_refresh(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    bridge = register_with_opentelemetry(recorder, provider, include_stats=False)
    assert collect(reader) == {}
    recorder.register_metric(Counter("late", event=Request))
    recorder.register_event(event=Request())
    assert bridge.refresh() == 1
    assert points(collect(reader)["late"]) == {(): 1.0}
    runtime.create_recorder("later")  # a runtime's later recorders too
    assert bridge.refresh() == 0


def test_otel_metric_registered_later_is_found_by_a_collection(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("early", event=Request))
    bridge = register_with_opentelemetry(runtime, provider, include_stats=False)
    recorder.register_metric(Histogram("late", event=Request, value="seconds"))
    runtime.create_recorder("later").register_metric(Gauge("temp", event=Reading, value="celsius"))
    recorder.register_event(event=Request())
    # The collection that finds them cannot create their instruments (the SDK holds the
    # lock that creating one takes); they are created right after it...
    assert sorted(collect(reader)) == ["early"]
    assert bridge.wait_for_instruments(TIMEOUT)
    # ...and reported from the next one.
    metrics = collect(reader)
    assert sorted(metrics) == ["early", "late_bucket", "late_count", "late_sum", "temp"]
    assert points(metrics["late_count"]) == {(("recorder", "x"),): 1.0}
    assert points(metrics["temp"]) == {(("recorder", "later"),): 0.0}


def test_otel_close_stops_reporting(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    feed(recorder)
    with register_with_opentelemetry(recorder, provider, include_stats=False) as bridge:
        assert len(collect(reader)) == 9
    assert bridge.closed
    calls = SnapshotCalls(recorder, monkeypatch)
    # No data points (recent SDKs also leave the point-less metrics out).
    assert all(not metric.data.data_points for metric in collect(reader).values())
    assert calls.count == 0
    bridge.close()  # idempotent
    assert bridge.refresh() == 0


def test_otel_does_not_report_nan_quantiles_of_an_empty_distribution(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Distribution("spread", event=Request, value="seconds"))
    register_with_opentelemetry(recorder, provider, include_stats=False)
    metrics = collect(reader)
    assert "spread" not in metrics  # NaN quantiles: nothing to report yet
    assert points(metrics["spread_count"]) == {(): 0.0}


def test_otel_failed_snapshot_is_reported_once_per_collection(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    register_all(recorder)
    feed(recorder)
    register_with_opentelemetry(recorder, provider, include_stats=False)
    original = recorder.get_metric_snapshots
    failures: list[int] = []

    def fail_once(**kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise MetricsRecorderTimeoutError("snapshot did not complete in time")
        return original(**kwargs)

    monkeypatch.setattr(recorder, "get_metric_snapshots", fail_once)
    calls = SnapshotCalls(recorder, monkeypatch)
    with caplog.at_level(logging.ERROR):
        assert collect(reader) == {}
    assert calls.count == 1  # not one attempt per instrument
    assert sum("Callback failed" in r.getMessage() for r in caplog.records) == 1
    assert len(collect(reader)) == 9
    assert calls.count == 2


def test_otel_default_provider_is_the_global_one(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import opentelemetry.metrics

    provider, reader = otel
    monkeypatch.setattr(opentelemetry.metrics, "get_meter_provider", lambda: provider)
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("requests", event=Request))
    register_with_opentelemetry(recorder, include_stats=False)
    assert points(collect(reader)["requests"]) == {(): 0.0}


def test_otel_names_are_made_valid_instrument_names(
    runtime: MetricsRuntime, otel: tuple[MeterProvider, InMemoryMetricReader]
) -> None:
    provider, reader = otel
    recorder = runtime.create_recorder("x")
    recorder.register_metric(Counter("http.requests-served", event=Request))  # valid as is
    recorder.register_metric(Gauge("5xx ratio", event=Reading, value="celsius"))
    register_with_opentelemetry(recorder, provider, include_stats=False)
    assert sorted(collect(reader)) == ["http.requests-served", "mvx_5xx_ratio"]


def test_otel_a_name_with_two_kinds_is_left_out_with_one_warning(
    runtime: MetricsRuntime,
    otel: tuple[MeterProvider, InMemoryMetricReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, reader = otel
    runtime.create_recorder("a").register_metric(Counter("thing", event=Request))
    runtime.create_recorder("b").register_metric(Gauge("thing", event=Reading, value="celsius"))
    with caplog.at_level(logging.WARNING, logger="mvx_metrics.export"):
        register_with_opentelemetry(runtime, provider, include_stats=False)
        for _ in range(2):
            metrics = collect(reader)
            assert is_monotonic_cumulative_sum(metrics["thing"])
            assert points(metrics["thing"]) == {(("recorder", "a"),): 0.0}
    assert len([r for r in caplog.records if "'thing'" in r.getMessage()]) == 1


# --- optional dependencies ------------------------------------------------------------


def test_missing_prometheus_client_gives_an_error_naming_the_extra(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = runtime.create_recorder("x")
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"mvx-metrics\[prometheus\]"):
        MvxCollector(recorder)
    with pytest.raises(ImportError, match=r"mvx-metrics\[prometheus\]"):
        register_with_prometheus_client(recorder, CollectorRegistry(), include_stats=False)


def test_missing_opentelemetry_gives_an_error_naming_the_extra(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = runtime.create_recorder("x")
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.metrics", None)
    with pytest.raises(ImportError, match=r"mvx-metrics\[otel\]"):
        register_with_opentelemetry(recorder, include_stats=False)


def test_importing_the_package_and_the_bridges_imports_neither_library() -> None:
    code = (
        "import sys, mvx_metrics, mvx_metrics.export, mvx_metrics.export.otel_bridge, "
        "mvx_metrics.export.prometheus_client_bridge\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('prometheus_client', 'opentelemetry')]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
