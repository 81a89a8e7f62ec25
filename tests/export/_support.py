"""Events, prometheus_client helpers and parser round trips for the export tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric as PromMetric
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client.parser import text_string_to_metric_families

from mvx_metrics import Metric, MetricEvent
from mvx_metrics.export import exposed_name, format_value, sanitize_label_name
from mvx_metrics.snapshots import MetricFamily


@dataclass(slots=True, frozen=True)
class Request(MetricEvent):
    route: str = "/"
    seconds: float = 0.01
    size: int = 0


@dataclass(slots=True, frozen=True)
class Reading(MetricEvent):
    room: str = "hall"
    celsius: float = 20.0


def snapshots_of(metrics: Iterable[Metric], events: Iterable[MetricEvent]) -> dict[str, Any]:
    """``{name: snapshot}`` of ``metrics`` after each event of ``events`` (no recorder)."""
    metrics = list(metrics)
    for event in events:
        for metric in metrics:
            if metric.event_types is None or isinstance(event, metric.event_types):
                metric.handle_event(event)
    return {metric.metric_name: metric.snapshot() for metric in metrics}


class StaticCollector:
    """A prometheus_client custom collector yielding fixed metric families."""

    def __init__(self, families: Iterable[PromMetric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[PromMetric]:
        return iter(self._families)


def prometheus_client_output(registry: CollectorRegistry, *, openmetrics: bool) -> str:
    """prometheus_client's exposition of ``registry``, without the ``_created`` series.

    Its instruments stamp a creation time we do not model; everything else is compared.
    """
    if openmetrics:
        text = om_exposition.generate_latest(registry).decode()  # type: ignore[no-untyped-call]
    else:
        text = generate_latest(registry).decode()
    return re.sub(
        r"^(# (HELP|TYPE) )?[a-zA-Z_:][a-zA-Z0-9_:]*_created[ {].*\n", "", text, flags=re.M
    )


Row = tuple[str, tuple[tuple[str, str], ...], str]


def expected_rows(families: Iterable[MetricFamily], recorder: str | None = None) -> list[Row]:
    """``(sample name, sorted labels, value text)`` for each sample, as exposed."""
    rows: list[Row] = []
    for family in families:
        name = exposed_name(family)
        for sample in family.samples:
            labels = {sanitize_label_name(k): v for k, v in sample.labels}
            if recorder is not None:
                labels["recorder"] = recorder
            suffix = "_total" if family.kind == "counter" else sample.suffix
            rows.append((name + suffix, tuple(sorted(labels.items())), format_value(sample.value)))
    return rows


def parsed_rows(text: str, *, openmetrics: bool) -> list[Row]:
    """The samples prometheus_client's own parser reads back from ``text``."""
    parse = (
        om_parser.text_string_to_metric_families if openmetrics else text_string_to_metric_families
    )
    return [
        (s.name, tuple(sorted(s.labels.items())), format_value(s.value))
        for family in parse(text)
        for s in family.samples
    ]


def parsed_headers(text: str, *, openmetrics: bool) -> dict[str, tuple[str, str, str]]:
    """``{family name: (type, help, unit)}`` as the parser reads them back."""
    parse = (
        om_parser.text_string_to_metric_families if openmetrics else text_string_to_metric_families
    )
    return {f.name: (f.type, f.documentation, f.unit) for f in parse(text)}


def families_by_name(families: Iterable[MetricFamily]) -> Mapping[str, MetricFamily]:
    return {family.name: family for family in families}


async def call_asgi(
    app: Any, method: str = "GET", headers: Mapping[bytes, bytes] | None = None
) -> dict[str, Any]:
    """One request to an ASGI app, as a server would make it: status, headers, body."""
    scope = {
        "type": "http",
        "method": method,
        "path": "/metrics",
        "query_string": b"",
        "headers": list((headers or {}).items()),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body["body"]}
