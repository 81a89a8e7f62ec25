"""render_prometheus end to end: real recorders in a runtime, the recorder label, merging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    Metric,
    MetricEvent,
    MetricsRuntime,
    UpDownCounter,
)
from mvx_metrics.export import render_prometheus
from mvx_metrics.snapshots import families_from_snapshots

from ._support import Reading, Request, expected_rows, parsed_headers, parsed_rows

FORMATS = [pytest.param(False, id="text-0.0.4"), pytest.param(True, id="openmetrics")]


class EventCount(Metric):
    """A user-written metric: its snapshot has no built-in kind."""

    metric_name = "custom_events"

    def __init__(self) -> None:
        self.count = 0

    def handle_event(self, event: MetricEvent) -> bool:
        self.count += 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"count": self.count}


def _two_recorders(runtime: MetricsRuntime) -> None:
    api = runtime.create_recorder("api")
    worker = runtime.create_recorder("worker")
    for recorder in (api, worker):
        recorder.register_metric(
            Counter("requests", event=Request, labels=("route",), description="Requests.")
        )
    api.register_metric(
        Histogram("latency", event=Request, value="seconds", buckets=(0.1, 1), unit="seconds")
    )
    worker.register_metric(Gauge("temperature", event=Reading, value="celsius", unit="celsius"))
    worker.register_metric(EventCount())
    api.register_event(event=Request("/", 0.05))
    api.register_event(event=Request("/login", 0.5))
    worker.register_event(event=Request("/jobs", 2.0))
    worker.register_event(event=Reading("hall", -4.5))


def test_a_runtime_is_rendered_with_a_recorder_label_and_merged_families(
    runtime: MetricsRuntime,
) -> None:
    _two_recorders(runtime)
    assert render_prometheus(runtime, include_stats=False) == (
        "# HELP requests_total Requests.\n"
        "# TYPE requests_total counter\n"
        'requests_total{recorder="api",route="/"} 1.0\n'
        'requests_total{recorder="api",route="/login"} 1.0\n'
        'requests_total{recorder="worker",route="/jobs"} 1.0\n'
        "# HELP latency_seconds \n"
        "# TYPE latency_seconds histogram\n"
        'latency_seconds_bucket{le="0.1",recorder="api"} 1.0\n'
        'latency_seconds_bucket{le="1.0",recorder="api"} 2.0\n'
        'latency_seconds_bucket{le="+Inf",recorder="api"} 2.0\n'
        'latency_seconds_count{recorder="api"} 2.0\n'
        'latency_seconds_sum{recorder="api"} 0.55\n'
        "# HELP temperature_celsius \n"
        "# TYPE temperature_celsius gauge\n"
        'temperature_celsius{recorder="worker"} -4.5\n'
        "# mvx_metrics: skipped 1 snapshot without a built-in kind\n"
    )
    assert render_prometheus(runtime, openmetrics=True, include_stats=False) == (
        "# HELP requests Requests.\n"
        "# TYPE requests counter\n"
        'requests_total{recorder="api",route="/"} 1.0\n'
        'requests_total{recorder="api",route="/login"} 1.0\n'
        'requests_total{recorder="worker",route="/jobs"} 1.0\n'
        "# HELP latency_seconds \n"
        "# TYPE latency_seconds histogram\n"
        "# UNIT latency_seconds seconds\n"
        'latency_seconds_bucket{le="0.1",recorder="api"} 1.0\n'
        'latency_seconds_bucket{le="1.0",recorder="api"} 2.0\n'
        'latency_seconds_bucket{le="+Inf",recorder="api"} 2.0\n'
        'latency_seconds_count{recorder="api"} 2.0\n'
        'latency_seconds_sum{recorder="api"} 0.55\n'
        "# HELP temperature_celsius \n"
        "# TYPE temperature_celsius gauge\n"
        "# UNIT temperature_celsius celsius\n"
        'temperature_celsius{recorder="worker"} -4.5\n'
        "# EOF\n"
    )


def test_a_recorder_is_rendered_without_a_recorder_label(runtime: MetricsRuntime) -> None:
    _two_recorders(runtime)
    text = render_prometheus(runtime.get_recorder("api"))
    assert "recorder=" not in text
    assert 'requests_total{route="/login"} 1.0\n' in text


@pytest.mark.parametrize("openmetrics", FORMATS)
def test_every_kind_round_trips_through_prometheus_clients_parser(
    runtime: MetricsRuntime, openmetrics: bool
) -> None:
    recorders = [runtime.create_recorder("edge.1"), runtime.create_recorder('odd "id"\\')]
    for recorder in recorders:
        recorder.register_metric(Counter("hits", event=Request, labels=("route",)))
        recorder.register_metric(
            UpDownCounter("in_flight", event=Request, value="size", description="In flight.")
        )
        recorder.register_metric(
            Histogram("size", event=Request, value="size", buckets=(10, 1e6), unit="bytes")
        )
        recorder.register_metric(
            Distribution("seconds", event=Request, value="seconds", labels=("route",))
        )
        for event in [Request("/", 0.2, 5), Request("/a\nb", 1.5, 2_000_000)]:
            recorder.register_event(event=event)

    text = render_prometheus(runtime, openmetrics=openmetrics, include_stats=False)
    snapshots = runtime.get_metric_snapshots()
    # Samples come back family by family, each family's recorders in the runtime's order.
    by_recorder = {rid: families_from_snapshots(s) for rid, s in snapshots.items()}
    expected = [
        row
        for name in ["hits", "in_flight", "size", "seconds"]
        for rid, families in by_recorder.items()
        for row in expected_rows([f for f in families if f.name == name], recorder=rid)
    ]
    assert parsed_rows(text, openmetrics=openmetrics) == expected
    headers = parsed_headers(text, openmetrics=openmetrics)
    assert {name: header[0] for name, header in headers.items()} == {
        "hits": "counter",
        "in_flight": "gauge",
        "size_bytes": "histogram",
        "seconds": "summary",
    }
    assert headers["in_flight"][1] == "In flight."


def test_the_overflow_series_is_rendered_with_its_labels(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("web")
    recorder.register_metric(Counter("views", event=Request, labels=("route",), max_series=1))
    for route in ["/", "/a", "/b", "/"]:
        recorder.register_event(event=Request(route))
    assert render_prometheus(runtime, include_stats=False).splitlines()[2:] == [
        'views_total{recorder="web",route="/"} 2.0',
        'views_total{recorder="web",route="__overflow__"} 2.0',
    ]


def test_a_metric_own_recorder_label_is_renamed_under_a_runtime(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("api")
    recorder.register_metric(
        Gauge("owner", event=Reading, value="celsius", labels=lambda e: {"recorder": e.room})
    )
    recorder.register_event(event=Reading())
    # As Prometheus renames a scraped label clashing with a target label: neither is lost.
    assert 'owner{exported_recorder="hall",recorder="api"} 20.0' in render_prometheus(
        runtime, include_stats=False
    )
    assert 'owner{recorder="hall"} 20.0' in render_prometheus(
        recorder, include_stats=False
    )  # no clash on its own


def test_one_name_with_two_kinds_in_two_recorders_leaves_the_second_out(
    runtime: MetricsRuntime,
) -> None:
    runtime.create_recorder("api").register_metric(Counter("jobs", event=Request))
    runtime.create_recorder("worker").register_metric(Gauge("jobs", event=Reading, value="celsius"))
    runtime.create_recorder("other").register_metric(Counter("other", event=Request))
    for scrape in (1, 2):  # the runtime counts across its renders
        text = render_prometheus(runtime, include_stats=False)
        assert 'jobs_total{recorder="api"} 0.0' in text
        assert 'recorder="worker"' not in text
        assert 'other_total{recorder="other"} 0.0' in text
        assert f'mvx_exposition_problems_total{{problem="name_clash"}} {scrape}.0' in text


def test_names_clashing_across_recorders_leave_the_second_out(runtime: MetricsRuntime) -> None:
    runtime.create_recorder("api").register_metric(Counter("jobs", event=Request))
    runtime.create_recorder("worker").register_metric(
        Gauge("jobs_total", event=Reading, value="celsius")
    )
    text = render_prometheus(runtime, include_stats=False)
    assert 'jobs_total{recorder="api"} 0.0' in text and "# TYPE jobs_total gauge" not in text
    assert 'mvx_exposition_problems_total{problem="name_clash"} 1.0' in text


def test_help_and_unit_come_from_the_first_recorder_that_sets_them(
    runtime: MetricsRuntime,
) -> None:
    runtime.create_recorder("a").register_metric(Counter("sent_bytes", event=Request))
    runtime.create_recorder("b").register_metric(
        Counter("sent", event=Request, unit="bytes", description="Sent.")
    )
    runtime.create_recorder("c").register_metric(
        Counter("sent_bytes", event=Request, description="Ignored.")
    )
    assert render_prometheus(runtime, openmetrics=True, include_stats=False) == (
        "# HELP sent_bytes Sent.\n"
        "# TYPE sent_bytes counter\n"
        "# UNIT sent_bytes bytes\n"
        'sent_bytes_total{recorder="a"} 0.0\n'
        'sent_bytes_total{recorder="b"} 0.0\n'
        'sent_bytes_total{recorder="c"} 0.0\n'
        "# EOF\n"
    )


def test_an_empty_runtime_renders_nothing_but_the_openmetrics_eof(
    runtime: MetricsRuntime,
) -> None:
    assert render_prometheus(runtime, include_stats=False) == ""
    assert render_prometheus(runtime, openmetrics=True, include_stats=False) == "# EOF\n"
