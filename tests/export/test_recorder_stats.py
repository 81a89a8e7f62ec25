"""Each recorder's own accounting is exported beside its metrics, by every exporter."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from mvx_metrics import (
    Counter,
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRuntime,
    OverflowPolicy,
    RecorderStats,
)
from mvx_metrics.export import STATS_FAMILY_NAMES, render_prometheus, stats_families
from mvx_metrics.export.asgi import metrics_asgi_app
from mvx_metrics.export.otel_bridge import register_with_opentelemetry
from mvx_metrics.export.prometheus_client_bridge import register_with_prometheus_client
from mvx_metrics.recorder.stats import ProcessingDelay

from .._support import TIMEOUT, FailingEveryNth, Saved, loop_held

STATS_TEXT = """\
# HELP mvx_recorder_events_accepted_total Events accepted by register_event.
# TYPE mvx_recorder_events_accepted_total counter
mvx_recorder_events_accepted_total 6.0
# HELP mvx_recorder_events_processed_total Accepted events applied to their metrics.
# TYPE mvx_recorder_events_processed_total counter
mvx_recorder_events_processed_total 6.0
# HELP mvx_recorder_events_pending Accepted events not processed yet.
# TYPE mvx_recorder_events_pending gauge
mvx_recorder_events_pending 0.0
# HELP mvx_recorder_queue_capacity The pending-event limit (queue_max_size).
# TYPE mvx_recorder_queue_capacity gauge
mvx_recorder_queue_capacity 4.0
# HELP mvx_recorder_hook_errors_total Exceptions raised by the _on_metric_changed hook.
# TYPE mvx_recorder_hook_errors_total counter
mvx_recorder_hook_errors_total 0.0
# HELP mvx_recorder_events_dropped_total Events not accepted, by reason.
# TYPE mvx_recorder_events_dropped_total counter
mvx_recorder_events_dropped_total{reason="overflow_dropped"} 2.0
mvx_recorder_events_dropped_total{reason="overflow_rejected"} 0.0
mvx_recorder_events_dropped_total{reason="invalid_state"} 0.0
mvx_recorder_events_dropped_total{reason="fork_discarded"} 0.0
# HELP mvx_recorder_metric_errors_total Exceptions raised by a metric (handle_event or snapshot), by metric.
# TYPE mvx_recorder_metric_errors_total counter
mvx_recorder_metric_errors_total{metric="flaky"} 2.0
"""


def lossy_recorder(runtime: MetricsRuntime, rid: str = "lossy") -> MetricsRecorder:
    """6 events accepted and processed, 2 dropped on overflow, 2 refused by a metric."""
    recorder = runtime.create_recorder(
        rid, queue_max_size=4, queue_overflow_policy=OverflowPolicy.DROP
    )
    recorder.register_metric(Counter("saves", event=Saved))
    recorder.register_metric(FailingEveryNth(3))
    with loop_held(runtime):
        for _ in range(6):  # 4 fit, 2 are dropped while the loop cannot make room
            recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    recorder.register_event(event=Saved())
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    return recorder


def test_stats_families_follow_the_stats_exactly() -> None:
    stats = RecorderStats(
        accepted=10,
        processed=7,
        pending=3,
        capacity=100,
        dropped={"invalid_state": 4, "someday_new": 1},
        metric_errors={"b": 2, "a": 1},
        hook_errors=5,
        processing_delay=ProcessingDelay(
            counts=(0, 3, 1, *(0,) * 11, 1), sum=20.5, min=0.0007, max=20.0
        ),
    )
    families = stats_families(stats)
    assert tuple(f.name for f in families) == STATS_FAMILY_NAMES
    values = {f.name: [(dict(s.labels), s.value) for s in f.samples] for f in families}
    assert values == {
        "mvx_recorder_events_accepted": [({}, 10.0)],
        "mvx_recorder_events_processed": [({}, 7.0)],
        "mvx_recorder_events_pending": [({}, 3.0)],
        "mvx_recorder_queue_capacity": [({}, 100.0)],
        "mvx_recorder_events_dropped": [
            ({"reason": "overflow_dropped"}, 0.0),  # every known reason, zeros included
            ({"reason": "overflow_rejected"}, 0.0),
            ({"reason": "invalid_state"}, 4.0),
            ({"reason": "fork_discarded"}, 0.0),
            ({"reason": "someday_new"}, 1.0),  # and whatever else the stats hold
        ],
        "mvx_recorder_metric_errors": [({"metric": "a"}, 1.0), ({"metric": "b"}, 2.0)],
        "mvx_recorder_hook_errors": [({}, 5.0)],
        "mvx_recorder_processing_delay_seconds": [  # cumulative, as a histogram's buckets
            *(({"le": le}, n) for le, n in [("0.0005", 0.0), ("0.001", 3.0)]),
            *(({"le": le}, 4.0) for le in ["0.0025", "0.005", "0.01", "0.025", "0.05", "0.1"]),
            *(({"le": le}, 4.0) for le in ["0.25", "0.5", "1.0", "2.5", "5.0", "10.0"]),
            ({"le": "+Inf"}, 5.0),
            ({}, 5.0),
            ({}, 20.5),
        ],
    }
    kinds = {f.name: f.kind for f in families}
    assert kinds["mvx_recorder_events_pending"] == kinds["mvx_recorder_queue_capacity"] == "gauge"
    assert kinds.pop("mvx_recorder_processing_delay_seconds") == "histogram"
    assert {k for n, k in kinds.items() if "pending" not in n and "capacity" not in n} == {
        "counter"
    }


def test_a_recorder_is_rendered_with_its_stats_after_its_metrics(runtime: MetricsRuntime) -> None:
    recorder = lossy_recorder(runtime)
    text = render_prometheus(recorder)
    assert text.startswith("# HELP saves_total")
    metrics_part, stats_part = text.split("# HELP mvx_recorder_events_accepted_total", 1)
    assert "flaky" not in metrics_part  # a user metric without a built-in kind: skipped
    stats_part, delay_part = stats_part.split("# HELP mvx_recorder_processing_delay_seconds")
    assert "# HELP mvx_recorder_events_accepted_total" + stats_part == STATS_TEXT
    slices = recorder.get_stats().processing_delay.count
    assert slices >= 2  # the two flushes found work, at least
    assert f"mvx_recorder_processing_delay_seconds_count {float(slices)}\n" in delay_part
    assert delay_part.count("mvx_recorder_processing_delay_seconds_bucket{") == 15
    assert delay_part.endswith("# mvx_metrics: skipped 1 snapshot without a built-in kind\n")
    assert "mvx_recorder" not in render_prometheus(recorder, include_stats=False)


@pytest.mark.parametrize("openmetrics", [False, True])
def test_a_runtime_labels_each_recorders_stats_and_parses(
    runtime: MetricsRuntime, openmetrics: bool
) -> None:
    lossy_recorder(runtime, "a")
    runtime.create_recorder("b").register_event(event=Saved())
    runtime.get_recorder("b").flush(timeout=TIMEOUT)
    text = render_prometheus(runtime, openmetrics=openmetrics)
    parse = parse_om if openmetrics else parse_text
    families = {f.name: f for f in parse(text)}
    accepted = families["mvx_recorder_events_accepted"]
    assert accepted.type == "counter"
    assert {
        s.labels["recorder"]: s.value for s in accepted.samples if s.name.endswith("_total")
    } == {
        "a": 6.0,
        "b": 1.0,
    }
    dropped = {
        (s.labels["recorder"], s.labels["reason"]): s.value
        for s in families["mvx_recorder_events_dropped"].samples
        if s.name.endswith("_total")
    }
    assert dropped[("a", "overflow_dropped")] == 2.0 and dropped[("b", "overflow_dropped")] == 0.0
    assert text.count("# TYPE mvx_recorder_events_pending gauge") == 1  # one block, merged


def test_runtime_get_stats_is_every_recorders_stats(runtime: MetricsRuntime) -> None:
    lossy_recorder(runtime, "a")
    runtime.create_recorder("b")
    stats = runtime.get_stats()
    assert list(stats) == ["a", "b"]
    assert stats["a"].dropped == {"overflow_dropped": 2} and stats["a"].accepted == 6
    assert stats["b"] == runtime.get_recorder("b").get_stats()


class NamedLikeStats(Metric):
    metric_name = "mvx_recorder_events_accepted"

    def handle_event(self, event: MetricEvent) -> bool:
        return False

    def snapshot(self) -> Mapping[str, Any]:
        return {
            "name": self.metric_name,
            "kind": "gauge",
            "description": "mine",
            "unit": "",
            "series": [{"labels": {}, "value": 42}],
        }


def test_a_metric_named_like_a_stats_family_wins_over_it(
    runtime: MetricsRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = runtime.create_recorder("clash")
    recorder.register_metric(NamedLikeStats())
    caplog.set_level(logging.WARNING, logger="mvx_metrics.export")
    text = render_prometheus(recorder)
    assert "# TYPE mvx_recorder_events_accepted gauge\nmvx_recorder_events_accepted 42.0\n" in text
    assert "mvx_recorder_events_accepted_total" not in text
    assert "mvx_recorder_events_processed_total 0.0" in text  # the other stats stay
    assert 'mvx_exposition_problems_total{problem="name_clash"} 1.0' in text  # counted

    registry = CollectorRegistry()
    register_with_prometheus_client(recorder, registry, timeout=TIMEOUT)
    scraped = generate_latest(registry).decode()
    assert "mvx_recorder_events_accepted 42.0" in scraped
    assert "mvx_recorder_events_processed_total 0.0" in scraped


def test_http_and_asgi_scrapes_carry_the_stats(runtime: MetricsRuntime) -> None:
    lossy_recorder(runtime)
    host, port = runtime.serve_http()
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=TIMEOUT) as response:
        text = response.read().decode()
    assert (
        'mvx_recorder_events_dropped_total{reason="overflow_dropped",recorder="lossy"} 2.0' in text
    )
    host, port = runtime.serve_http(include_stats=False)
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=TIMEOUT) as response:
        assert "mvx_recorder" not in response.read().decode()


@pytest.mark.anyio
async def test_the_asgi_app_carries_the_stats_unless_told_not_to() -> None:
    recorder = MetricsRecorder("asgi")
    recorder.register_metric(Counter("saves", event=Saved))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": []}
    async with recorder:
        recorder.register_event(event=Saved())
        await metrics_asgi_app(recorder)(scope, receive, send)
        await metrics_asgi_app(recorder, include_stats=False)(scope, receive, send)
    with_stats, without = sent[1]["body"].decode(), sent[3]["body"].decode()
    assert (
        "saves_total 1.0" in with_stats and "mvx_recorder_events_accepted_total 1.0" in with_stats
    )
    assert "saves_total 1.0" in without and "mvx_recorder" not in without


def test_the_prometheus_client_bridge_matches_the_renderer(runtime: MetricsRuntime) -> None:
    lossy_recorder(runtime)
    registry = CollectorRegistry()
    register_with_prometheus_client(runtime, registry, timeout=TIMEOUT)
    assert generate_latest(registry).decode() == render_prometheus(runtime).removesuffix(
        "# mvx_metrics: skipped 1 snapshot without a built-in kind\n"
    )


def test_the_opentelemetry_bridge_reports_the_stats(runtime: MetricsRuntime) -> None:
    lossy_recorder(runtime)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with register_with_opentelemetry(runtime, provider, timeout=TIMEOUT):
        data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    (scope,) = [s for s in data.resource_metrics[0].scope_metrics if s.scope.name == "mvx_metrics"]
    metrics = {m.name: m for m in scope.metrics}
    # The observable-instrument bridge gives a histogram as its three sample series.
    delay = "mvx_recorder_processing_delay_seconds"
    expected = (set(STATS_FAMILY_NAMES) - {delay}) | {
        delay + s for s in ("_bucket", "_count", "_sum")
    }
    assert {name for name in metrics if name.startswith("mvx_recorder_")} == expected
    accepted = metrics["mvx_recorder_events_accepted"].data
    assert accepted.is_monotonic
    assert [(dict(p.attributes), p.value) for p in accepted.data_points] == [
        ({"recorder": "lossy"}, 6)
    ]
    errors = metrics["mvx_recorder_metric_errors"].data.data_points
    assert [(dict(p.attributes), p.value) for p in errors] == [
        ({"recorder": "lossy", "metric": "flaky"}, 2)
    ]


class ProtoOnly:
    """A recorder that implements only MetricsRecorderProto: no stats to export."""

    def register_metric(self, metric: Metric) -> None:
        pass

    def register_event(self, event: MetricEvent) -> None:
        pass

    def get_metric_snapshots(self) -> dict[str, Mapping[str, Any]]:
        return {}

    def iter_metrics(self) -> Any:
        return iter(())


def test_a_recorder_without_stats_is_rendered_without_them() -> None:
    assert render_prometheus(ProtoOnly()) == ""
