"""Our exposition is byte for byte prometheus_client's, for the same data, in both formats."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge
from prometheus_client import Histogram as PromHistogram
from prometheus_client.core import SummaryMetricFamily

from mvx_metrics import Counter, Distribution, Gauge, Histogram, UpDownCounter
from mvx_metrics.export import render_families_by_recorder, render_snapshots
from mvx_metrics.snapshots import families_from_snapshots

from ._support import Reading, Request, StaticCollector, prometheus_client_output, snapshots_of

FORMATS = [pytest.param(False, id="text-0.0.4"), pytest.param(True, id="openmetrics")]

REQUESTS = [
    Request("/", 0.004, 800),
    Request("/login", 0.02, 1_000),
    Request("/", 0.3, 50_000),
    Request("/", 12.0, 5_000_000),
]


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_counters_match_including_total_and_unit_suffixes(openmetrics: bool) -> None:
    ours = snapshots_of(
        [
            Counter("http_requests", event=Request, labels=("route",), description="Requests."),
            Counter("http_response", event=Request, value="size", unit="bytes", description="B"),
            Counter("jobs_total", event=Request, description="A name ending in _total."),
        ],
        REQUESTS,
    )
    registry = CollectorRegistry()
    requests = PromCounter("http_requests", "Requests.", ["route"], registry=registry)
    response = PromCounter("http_response", "B", unit="bytes", registry=registry)
    jobs = PromCounter("jobs_total", "A name ending in _total.", registry=registry)
    for event in REQUESTS:
        requests.labels(event.route).inc()
        response.inc(event.size)
        jobs.inc()

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    assert "http_response_bytes_total 5.0518e+06\n" in expected  # Go float text


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_gauges_and_updown_counters_match_with_special_values(openmetrics: bool) -> None:
    readings = [
        Reading("hall", -4.5),
        Reading("attic", math.inf),
        Reading("cellar", -math.inf),
        Reading("oven", 1e6),
        Reading("lab", 1.5e-7),
        Reading("server", 12345678.0),
        Reading("hall", 21.0),  # last value wins
    ]
    ours = snapshots_of(
        [
            Gauge("temperature", event=Reading, value="celsius", labels=("room",), unit="celsius"),
            UpDownCounter("readings_in_flight", event=Reading, value=lambda e: 1, description="U"),
        ],
        readings,
    )
    registry = CollectorRegistry()
    temperature = PromGauge("temperature", "", ["room"], unit="celsius", registry=registry)
    in_flight = PromGauge("readings_in_flight", "U", registry=registry)
    for reading in readings:
        temperature.labels(reading.room).set(reading.celsius)
        in_flight.inc()

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    for text in ['"attic"} +Inf', '"cellar"} -Inf', '"oven"} 1e+06', '"lab"} 1.5e-07']:
        assert text in expected


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_histograms_match_with_default_and_explicit_buckets(openmetrics: bool) -> None:
    ours = snapshots_of(
        [
            Histogram(
                "upload_size",
                event=Request,
                value="size",
                labels=("route",),
                buckets=(1_000, 100_000, 1_000_000),
                unit="bytes",
                description="Upload sizes.",
            ),
            Histogram("latency_seconds", event=Request, value="seconds", description="Latency."),
        ],
        REQUESTS,
    )
    registry = CollectorRegistry()
    sizes = PromHistogram(
        "upload_size",
        "Upload sizes.",
        ["route"],
        unit="bytes",
        buckets=(1_000, 100_000, 1_000_000),
        registry=registry,
    )
    latency = PromHistogram("latency_seconds", "Latency.", registry=registry)
    for event in REQUESTS:
        sizes.labels(event.route).observe(event.size)
        latency.observe(event.seconds)

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    assert 'upload_size_bytes_bucket{le="1e+06",route="/"} 2.0\n' in expected


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_distributions_match_a_summary_with_quantiles(openmetrics: bool) -> None:
    ours = snapshots_of(
        [
            Distribution(
                "rpc_seconds",
                event=Request,
                value="seconds",
                labels=("route",),
                quantiles=(0.5, 0.9, 1),
                description="RPC time.",
            ),
            Distribution("idle", event=Reading, value="celsius", unit="seconds"),  # no events
        ],
        REQUESTS,
    )
    # The data model is the same (quantile samples, then _count and _sum per series);
    # prometheus_client has no quantile sketch, so it is fed our snapshot's numbers.
    summaries = []
    for snapshot in ours.values():
        label_names = sorted({k for s in snapshot["series"] for k in s["labels"]})
        summary = SummaryMetricFamily(
            snapshot["name"], snapshot["description"], labels=label_names, unit=snapshot["unit"]
        )
        for series in snapshot["series"]:
            for q, value in series["quantiles"].items():
                quantile = math.nan if value is None else value
                summary.add_sample(summary.name, {**series["labels"], "quantile": q}, quantile)
            values = [series["labels"][k] for k in label_names]
            summary.add_metric(values, count_value=series["count"], sum_value=series["sum"])
        summaries.append(summary)
    registry = CollectorRegistry()
    registry.register(StaticCollector(summaries))

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    assert 'idle_seconds{quantile="0.5"} NaN\n' in expected  # an empty series' quantile


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_escaping_of_help_and_label_values_matches(openmetrics: bool) -> None:
    description = 'Line one\nsays "hi" \\ then \\n literally'
    routes = ['/a"b', "back\\slash", "new\nline", 'all\\"\n', "ünïcødé"]
    ours = snapshots_of(
        [Counter("odd", event=Request, labels=("route",), description=description)],
        [Request(route) for route in routes],
    )
    registry = CollectorRegistry()
    odd = PromCounter("odd", description, ["route"], registry=registry)
    for route in routes:
        odd.labels(route).inc()

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    assert 'odd_total{route="all\\\\\\"\\n"} 1.0\n' in expected


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_invalid_characters_in_metric_names_become_underscores_as_there(
    openmetrics: bool,
) -> None:
    ours = snapshots_of(
        [
            Counter("http.requests-count", event=Request, description="Dots and dashes."),
            Gauge("queue.depth", event=Reading, value="celsius", unit="items"),
        ],
        [Request(), Reading()],
    )
    registry = CollectorRegistry()
    PromCounter("http.requests-count", "Dots and dashes.", registry=registry).inc()
    PromGauge("queue.depth", "", unit="items", registry=registry).set(20.0)

    expected = prometheus_client_output(registry, openmetrics=openmetrics)
    assert render_snapshots(ours, openmetrics=openmetrics) == expected
    assert "http_requests_count_total 1.0\n" in expected


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_a_family_merged_across_recorders_matches_a_recorder_label(openmetrics: bool) -> None:
    api = snapshots_of(
        [Histogram("latency", event=Request, value="seconds", labels=("route",), buckets=(1,))],
        REQUESTS[:2],
    )
    worker = snapshots_of(
        [Histogram("latency", event=Request, value="seconds", labels=("route",), buckets=(1,))],
        REQUESTS[2:],
    )
    registry = CollectorRegistry()
    latency = PromHistogram("latency", "", ["route", "recorder"], buckets=(1,), registry=registry)
    for recorder, events in [("api", REQUESTS[:2]), ("worker", REQUESTS[2:])]:
        for event in events:
            latency.labels(event.route, recorder).observe(event.seconds)

    ours = render_families_by_recorder(
        {"api": families_from_snapshots(api), "worker": families_from_snapshots(worker)},
        openmetrics=openmetrics,
    )
    assert ours == prometheus_client_output(registry, openmetrics=openmetrics)
