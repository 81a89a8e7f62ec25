"""Exemplars: kept per series and bucket, shown in OpenMetrics, protobuf and OTLP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from mvx_metrics import Counter, Distribution, Gauge, Histogram, MetricEvent, MetricsRuntime
from mvx_metrics.export import render_snapshots
from mvx_metrics.export.otlp import metrics_data
from mvx_metrics.exposition.prometheus_protobuf import render_protobuf_snapshots
from mvx_metrics.metrics._exemplars import MAX_EXEMPLAR_CHARS

from ._prometheus_proto import labels_of, parse_delimited

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@dataclass(slots=True)
class Traced(MetricEvent):
    route: str
    seconds: float
    trace_id: str | None = None
    span_id: str | None = None


def _counter() -> Counter:
    return Counter("requests", event=Traced, labels=("route",), exemplar="trace_id")


def test_a_counter_keeps_each_series_latest_exemplar() -> None:
    counter = _counter()
    before = time.time()
    counter.handle_event(Traced("/a", 0.1, trace_id="t1"))
    counter.handle_event(Traced("/a", 0.1, trace_id="t2"))
    counter.handle_event(Traced("/a", 0.1))  # no trace: the last exemplar stays
    counter.handle_event(Traced("/b", 0.1))  # a series without any
    snapshot = counter.snapshot()
    first, second = snapshot["series"]
    assert first["value"] == 3
    assert first["exemplar"]["labels"] == {"trace_id": "t2"}
    assert first["exemplar"]["value"] == 1.0
    assert before <= first["exemplar"]["timestamp"] <= time.time()
    assert "exemplar" not in second
    assert snapshot["exemplars_dropped"] == 0


def test_a_histogram_keeps_each_buckets_latest_exemplar() -> None:
    histogram = Histogram(
        "latency", event=Traced, value="seconds", buckets=(0.1, 1.0), exemplar="trace_id"
    )
    for seconds, trace in ((0.05, "fast"), (0.5, "mid1"), (0.7, "mid2"), (3.0, "slow")):
        histogram.handle_event(Traced("/", seconds, trace_id=trace))
    [series] = histogram.snapshot()["series"]
    exemplars = {le: (e["labels"]["trace_id"], e["value"]) for le, e in series["exemplars"].items()}
    assert exemplars == {"0.1": ("fast", 0.05), "1.0": ("mid2", 0.7), "+Inf": ("slow", 3.0)}


def test_exemplars_past_the_openmetrics_bound_or_whose_callable_fails_are_counted() -> None:
    def labels(event: Traced) -> dict[str, str]:
        if event.route == "/boom":
            raise RuntimeError("user code")
        return {"trace_id": event.trace_id or "", "user": "x" * MAX_EXEMPLAR_CHARS}

    counter = Counter("requests", event=Traced, exemplar=labels)
    counter.handle_event(Traced("/", 0.1, trace_id="t"))  # 8 + 1 + 4 + 128 characters
    counter.handle_event(Traced("/boom", 0.1))
    snapshot = counter.snapshot()
    assert snapshot["series"][0]["value"] == 2  # the events count; their exemplars do not
    assert "exemplar" not in snapshot["series"][0]
    assert snapshot["exemplars_dropped"] == 2


@pytest.mark.parametrize("kind", [Gauge, Distribution])
def test_kinds_without_exemplars_refuse_one(kind: Any) -> None:
    with pytest.raises(TypeError, match="exemplar"):
        kind("m", event=Traced, value="seconds", exemplar="trace_id")


def test_bad_exemplar_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="exemplar"):
        Counter("c", event=Traced, exemplar="not an attribute")
    with pytest.raises(TypeError, match="exemplar"):
        Counter("c", event=Traced, exemplar=3)  # type: ignore[arg-type]


def test_a_recorder_applies_exemplars_as_handle_event_does(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("traced")
    recorder.register_metric(_counter())
    for i in range(1_000):
        recorder.register_event(event=Traced("/", 0.1, trace_id=f"t{i}"))
    [series] = recorder.get_metric_snapshots()["requests"]["series"]
    assert series["value"] == 1_000 and series["exemplar"]["labels"] == {"trace_id": "t999"}


def _traced_snapshots() -> dict[str, Any]:
    counter = _counter()
    histogram = Histogram(
        "latency", event=Traced, value="seconds", buckets=(0.1,), exemplar="trace_id"
    )
    event = Traced("/", 0.05, trace_id=TRACE, span_id=SPAN)
    counter.handle_event(event)
    histogram.handle_event(event)
    return {"requests": counter.snapshot(), "latency": histogram.snapshot()}


def test_openmetrics_text_shows_exemplars_as_prometheus_client_parses_them() -> None:
    snapshots = _traced_snapshots()
    text = render_snapshots(snapshots, openmetrics=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    [total] = [s for s in families["requests"].samples if s.name == "requests_total"]
    assert total.exemplar is not None
    assert total.exemplar.labels == {"trace_id": TRACE} and total.exemplar.value == 1.0
    bucket = next(s for s in families["latency"].samples if s.labels.get("le") == "0.1")
    assert bucket.exemplar is not None and bucket.exemplar.value == 0.05
    assert float(bucket.exemplar.timestamp) == pytest.approx(
        snapshots["latency"]["series"][0]["exemplars"]["0.1"]["timestamp"], abs=0.001
    )
    # The 0.0.4 text format has no exemplars.
    assert " # {" not in render_snapshots(snapshots)


def test_the_protobuf_format_carries_exemplars() -> None:
    families = {f.name: f for f in parse_delimited(render_protobuf_snapshots(_traced_snapshots()))}
    exemplar = families["requests_total"].metric[0].counter.exemplar
    assert labels_of(exemplar) == {"trace_id": TRACE} and exemplar.value == 1.0
    assert exemplar.timestamp.seconds > 1_700_000_000
    bucket = families["latency"].metric[0].histogram.bucket[0]
    assert labels_of(bucket.exemplar) == {"trace_id": TRACE} and bucket.exemplar.value == 0.05


def test_otlp_exemplars_link_to_the_trace(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("traced")
    recorder.register_metric(
        Counter(
            "requests",
            event=Traced,
            exemplar=lambda e: {"trace_id": e.trace_id, "span_id": e.span_id},
        )
    )
    recorder.register_metric(
        Histogram("latency", event=Traced, value="seconds", buckets=(0.1,), exemplar="trace_id")
    )
    recorder.register_event(event=Traced("/", 0.05, trace_id=TRACE, span_id=SPAN))
    data = metrics_data(runtime, include_stats=False)
    metrics = {m.name: m.data for m in data.resource_metrics[0].scope_metrics[0].metrics}
    [exemplar] = metrics["requests"].data_points[0].exemplars
    assert (exemplar.trace_id, exemplar.span_id) == (int(TRACE, 16), int(SPAN, 16))
    assert exemplar.value == 1.0 and not exemplar.filtered_attributes
    # A trace id alone cannot be sent as the exemplar's ids: it stays an attribute.
    [alone] = metrics["latency"].data_points[0].exemplars
    assert alone.trace_id is None and alone.filtered_attributes == {"trace_id": TRACE}
    assert alone.value == 0.05
