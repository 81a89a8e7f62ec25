"""The protobuf exposition: negotiated, decoded by protobuf itself, scraped by Prometheus."""

from __future__ import annotations

import gzip
import math
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    MetricEvent,
    MetricsRuntime,
    QuantileSketch,
)
from mvx_metrics.export import PROTOBUF_CONTENT_TYPE, choose_format
from mvx_metrics.exposition.prometheus_protobuf import (
    ZERO_THRESHOLD,
    render_protobuf_runtime_snapshots,
    render_protobuf_snapshots,
)

from .._prometheus_server import prometheus_server
from ._prometheus_proto import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    labels_of,
    native_buckets,
    parse_delimited,
)

#: What Prometheus 2.42 sends with --enable-feature=native-histograms.
PROMETHEUS_NATIVE_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
    "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
VALUES = [0.0, 0.004, 0.02, 0.02, 0.3, 1.5, -0.25]


@dataclass(slots=True)
class Served(MetricEvent):
    route: str
    seconds: float


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PROMETHEUS_NATIVE_ACCEPT, "protobuf"),
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
            "protobuf",
        ),
        # Without the message or the delimited encoding, it is not what we write.
        ("application/vnd.google.protobuf;encoding=delimited,text/plain", "text"),
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "text",
        ),
        # Refused, or weighed below OpenMetrics.
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0",
            "text",
        ),
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
            "encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0",
            "openmetrics",
        ),
        (
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "openmetrics",
        ),
        (None, "text"),
    ],
)
def test_protobuf_is_served_when_the_scraper_prefers_it(accept: str | None, expected: str) -> None:
    assert choose_format(accept)[0] == expected


def _runtime_with_metrics(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("api")
    recorder.register_metric(
        Counter("requests", event=Served, labels=("route",), description="Requests.")
    )
    recorder.register_metric(Gauge("last_seconds", event=Served, value="seconds"))
    recorder.register_metric(
        Histogram(
            "latency", event=Served, value="seconds", buckets=(0.01, 0.1, 1.0), unit="seconds"
        )
    )
    recorder.register_metric(Distribution("spread", event=Served, value="seconds", unit="seconds"))
    for value in VALUES:
        recorder.register_event(event=Served("/a" if value < 0.1 else "/b", value))


def test_every_kind_decodes_as_prometheus_reads_it(runtime: MetricsRuntime) -> None:
    _runtime_with_metrics(runtime)
    body = render_protobuf_runtime_snapshots(
        runtime.get_metric_snapshots(), stats=runtime.get_stats()
    )
    families = {family.name: family for family in parse_delimited(body)}

    requests = families["requests_total"]  # a counter's family is named by its sample
    assert (requests.type, requests.help) == (COUNTER, "Requests.")
    assert {labels_of(m)["route"]: m.counter.value for m in requests.metric} == {"/a": 5, "/b": 2}
    assert all(labels_of(m)["recorder"] == "api" for m in requests.metric)
    assert families["last_seconds"].type == GAUGE
    assert families["last_seconds"].metric[0].gauge.value == VALUES[-1]

    [latency] = families["latency_seconds"].metric
    assert families["latency_seconds"].type == HISTOGRAM
    assert latency.histogram.sample_count == 7
    assert latency.histogram.sample_sum == pytest.approx(sum(VALUES))
    assert [(b.upper_bound, b.cumulative_count) for b in latency.histogram.bucket] == [
        (0.01, 3),
        (0.1, 5),
        (1.0, 6),
        (math.inf, 7),
    ]

    # The distribution is a native histogram with the sketch's own buckets.
    spread_family = families["spread_seconds"]
    assert spread_family.type == HISTOGRAM
    [spread] = spread_family.metric
    native = spread.histogram
    assert (native.sample_count, native.schema, native.zero_count) == (7, 6, 1)
    assert native.zero_threshold == ZERO_THRESHOLD and not native.bucket
    sketch = QuantileSketch(0.01)
    for value in VALUES:
        sketch.add(value)
    _, positive, negative = sketch.buckets()
    assert native_buckets(native.positive_span, native.positive_delta) == positive
    assert native_buckets(native.negative_span, native.negative_delta) == negative

    accepted = families["mvx_recorder_events_accepted_total"]
    assert accepted.type == COUNTER and accepted.metric[0].counter.value == len(VALUES)


def test_buckets_with_gaps_make_spans_and_a_fine_schema_is_merged_down_to_8() -> None:
    distribution = Distribution("fine", event=Served, value="seconds", relative_accuracy=0.001)
    for value in (1.0, 1.001, 1.002, 5.0, 5.0, 100.0):
        distribution.handle_event(Served("/", value))
    assert distribution.scale == 9
    [family] = parse_delimited(render_protobuf_snapshots({"fine": distribution.snapshot()}))
    native = family.metric[0].histogram
    assert native.schema == 8
    pairs = native_buckets(native.positive_span, native.positive_delta)
    assert sum(count for _, count in pairs) == 6
    assert len(native.positive_span) >= 3  # 1.0.., 5.0, 100.0: apart
    # Each value is inside its bucket at schema 8: (base**(k-1), base**k].
    base = 2.0 ** (2.0**-8)
    for value in (1.0, 1.001, 5.0, 100.0):
        k = math.ceil(math.log2(value) * 2**8)
        assert base ** (k - 1) < value <= base**k * (1 + 1e-12)
        assert k in dict(pairs)


def test_a_user_distribution_without_buckets_stays_a_summary() -> None:
    snapshot = {
        "name": "mine",
        "kind": "distribution",
        "series": [{"labels": {}, "count": 2, "sum": 3.0, "quantiles": {"0.5": 1.0, "0.9": 2.0}}],
    }
    [family] = parse_delimited(render_protobuf_snapshots({"mine": snapshot}))
    assert family.type == SUMMARY
    summary = family.metric[0].summary
    assert (summary.sample_count, summary.sample_sum) == (2, 3.0)
    assert [(q.quantile, q.value) for q in summary.quantile] == [(0.5, 1.0), (0.9, 2.0)]


def test_a_family_that_cannot_be_exposed_is_left_out_and_counted() -> None:
    good = {"name": "good", "kind": "gauge", "series": [{"labels": {}, "value": 1.0}]}
    # Two label names that are the same once sanitised: the family is left out whole.
    bad = {
        "name": "bad",
        "kind": "gauge",
        "series": [{"labels": {"a-b": "1", "a_b": "2"}, "value": 1.0}],
    }
    families = {
        f.name: f for f in parse_delimited(render_protobuf_snapshots({"bad": bad, "good": good}))
    }
    assert "bad" not in families and families["good"].metric[0].gauge.value == 1.0
    problems = families["mvx_exposition_problems_total"]
    assert {labels_of(m)["problem"]: m.counter.value for m in problems.metric} == {"label_clash": 1}


def test_serve_http_answers_prometheus_in_protobuf_gzipped(runtime: MetricsRuntime) -> None:
    _runtime_with_metrics(runtime)
    host, port = runtime.serve_http()
    request = urllib.request.Request(
        f"http://{host}:{port}/metrics",
        headers={"Accept": PROMETHEUS_NATIVE_ACCEPT, "Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == PROTOBUF_CONTENT_TYPE
        assert response.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(response.read())
    names = {family.name for family in parse_delimited(body)}
    assert {"requests_total", "latency_seconds", "spread_seconds"} <= names


def test_a_real_prometheus_scrapes_native_histograms_and_computes_quantiles(
    runtime: MetricsRuntime, tmp_path: Path
) -> None:
    recorder = runtime.create_recorder("api")
    recorder.register_metric(Distribution("spread", event=Served, value="seconds", unit="seconds"))
    recorder.register_metric(Counter("requests", event=Served, labels=("route",)))
    values = [0.001 * i for i in range(1, 1001)]  # 1 ms .. 1 s, evenly
    for value in values:
        recorder.register_event(event=Served("/", value))
    host, port = runtime.serve_http()
    with prometheus_server([f"{host}:{port}"], tmp_path, native_histograms=True) as prometheus:
        [count] = prometheus.wait_for('histogram_count(spread_seconds{recorder="api"})')
        assert float(count["value"][1]) == 1000
        [total] = prometheus.query('histogram_sum(spread_seconds{recorder="api"})')
        assert float(total["value"][1]) == pytest.approx(sum(values))
        # Prometheus interpolates within the bucket holding the rank: within one bucket's
        # width (a relative 2**(1/64) - 1, about 1.1%) of the exact value.
        for q, exact in ((0.5, 0.5), (0.9, 0.9), (0.99, 0.99)):
            [result] = prometheus.query(
                f'histogram_quantile({q}, spread_seconds{{recorder="api"}})'
            )
            estimate = float(result["value"][1])
            assert abs(estimate - exact) <= 0.011 * exact, (q, estimate)
        # The rest of the exposition came through the same protobuf scrape.
        [requests] = prometheus.query('requests_total{recorder="api",route="/"}')
        assert float(requests["value"][1]) == 1000
        [target] = prometheus.targets()
        assert target["health"] == "up", target
