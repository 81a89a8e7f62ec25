"""Every metric kind in its own OpenTelemetry type, handed to any OpenTelemetry exporter.

:func:`metrics_data` turns one snapshot of a recorder or a runtime into the SDK's
``MetricsData``; :class:`OpenTelemetryExport` does it every ``interval`` seconds and hands
the result to a ``MetricExporter`` (OTLP over HTTP or gRPC, the console, or any other):

======================  ====================================================================
our kind                OpenTelemetry data
======================  ====================================================================
``counter``             ``Sum``, monotonic
``updown_counter``      ``Sum``, not monotonic
``gauge``               ``Gauge``
``histogram``           ``Histogram``: explicit bounds, bucket counts, count, sum, min, max
``distribution``        ``ExponentialHistogram``: the sketch's own buckets (its base-2
                        layout is the exponential histogram's), count, sum, min, max
recorder stats          ``Sum`` (the counters) and ``Gauge`` (pending events, errors)
======================  ====================================================================

Temporality is cumulative, as our metrics are. Each stream's start time is when this
process imported mvx_metrics (every value was counted after it). The resource carries a
per-process ``service.instance.id``, so that a Collector or backend keeps the series of
the workers of one service apart; the SDK's ``Resource.create`` adds ``service.name``
from ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES``. Under a runtime, every data
point has a ``recorder`` attribute, as in the Prometheus exposition.

Histograms and distributions without any value yet are left out, as the SDK leaves out
streams with no measurement. A name taken by two kinds (in two recorders) is exported
once, as the first kind seen; the others are logged and counted (``skipped_metrics``).

This path needs ``opentelemetry-sdk`` (extra ``otel``), plus the exporter of your choice
(``opentelemetry-exporter-otlp-proto-http`` for OTLP/HTTP). Compared with the
observable-instrument bridge (:mod:`mvx_metrics.export.otel_bridge`), which hands our
metrics to a ``MeterProvider`` as counters and gauges, nothing here goes through the
SDK's instruments: histograms keep their buckets. The bridge remains for applications
whose ``MeterProvider`` already has readers and views to which our metrics must be added.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import _process
from .._validation import check_timeout
from ..exposition.prometheus_text import series_labels
from ..exposition.recorder_stats import stats_families
from ..metrics._sketch import downscale
from ..recorder.stats import ProcessingDelay, RecorderStats
from ._collections import collections_deferred
from ._source import Source, check_source, read_snapshots
from .otel_bridge import otel_instrument_name, require_opentelemetry

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import (
        Metric,
        MetricExporter,
        MetricsData,
        NumberDataPoint,
    )
    from opentelemetry.sdk.resources import Resource

__all__ = [
    "DEFAULT_EXPORT_INTERVAL",
    "DEFAULT_EXPORT_TIMEOUT",
    "MAX_EXPONENTIAL_BUCKETS",
    "OpenTelemetryExport",
    "metrics_data",
    "process_resource",
]

logger = logging.getLogger("mvx_metrics.export")

#: Seconds between two exports, as the SDK's ``PeriodicExportingMetricReader`` default.
DEFAULT_EXPORT_INTERVAL = 60.0
#: Seconds one export (snapshot and exporter call) may take.
DEFAULT_EXPORT_TIMEOUT = 10.0
#: Most buckets per sign in one exponential histogram point. A sketch spread wider (its
#: buckets are sparse, a point's are a dense run) is exported at a coarser scale.
MAX_EXPONENTIAL_BUCKETS = 2048

_INT64 = 2**63


def process_resource(attributes: Mapping[str, str | int | float | bool] | None = None) -> Resource:
    """The SDK's ``Resource.create(attributes)`` with this process's
    ``service.instance.id`` (unless ``attributes`` sets one). ``Resource.create`` also
    reads ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME``."""
    require_sdk()
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.instance.id": _process.instance_id(), **(attributes or {})})


def metrics_data(
    source: Source,
    *,
    resource: Resource | None = None,
    timeout: float | None = None,
    include_stats: bool = True,
) -> MetricsData:
    """One snapshot of ``source`` (a runtime or a recorder) as the SDK's ``MetricsData``.

    ``resource``: default :func:`process_resource`; a given one gets this process's
    ``service.instance.id`` unless it has one. ``timeout``: for the snapshot (None: the
    source's default)."""
    with collections_deferred():  # as a scrape does: see _collections.py
        return _Converter(_resource(resource)).convert(
            read_snapshots(check_source(source), timeout, include_stats=include_stats)
        )


def require_sdk() -> None:
    """Raise a clear ImportError naming the extra when the OpenTelemetry SDK is missing."""
    require_opentelemetry()
    try:
        import opentelemetry.sdk.metrics.export  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "exporting to OpenTelemetry needs the 'opentelemetry-sdk' package: install it "
            "with `pip install 'mvx-metrics[otel]'`"
        ) from exc


def _resource(resource: Resource | None) -> Resource:
    if resource is None:
        return process_resource()
    require_sdk()
    from opentelemetry.sdk.resources import Resource

    return Resource({"service.instance.id": _process.instance_id()}).merge(resource)


# --- conversion ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Stream:
    """One exported metric: its kind and description, and the points of every recorder."""

    kind: str
    name: str
    description: str
    unit: str
    points: list[Any] = field(default_factory=list)


class _Converter:
    """Snapshots to ``MetricsData``; one per export (it holds the export's time)."""

    def __init__(self, resource: Resource) -> None:
        require_sdk()
        self.resource = resource
        self.start = _process.started_ns()
        self.now = time.time_ns()
        self.streams: dict[str, _Stream] = {}
        #: Metrics left out: a name taken by another kind, or a snapshot of another shape.
        self.skipped = 0

    def convert(
        self,
        read: Iterable[tuple[str | None, Mapping[str, Mapping[str, Any]], RecorderStats | None]],
        extra: Iterable[Metric] = (),
    ) -> MetricsData:
        from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from .. import __version__

        for rid, snapshots, stats in read:
            for snapshot in snapshots.values():
                self._add_snapshot(rid, snapshot)
            if stats is not None:
                self._add_stats(rid, stats)
        metrics = [*map(self._metric, self.streams.values()), *extra]
        scope = ScopeMetrics(InstrumentationScope("mvx_metrics", __version__), metrics, "")
        return MetricsData([ResourceMetrics(self.resource, [scope], "")])

    # --- one snapshot ---------------------------------------------------------------------

    def _add_snapshot(self, rid: str | None, snapshot: Mapping[str, Any]) -> None:
        if not isinstance(snapshot, Mapping):
            return
        kind = snapshot.get("kind")
        points = _POINTS.get(kind) if isinstance(kind, str) else None
        if points is None:
            return  # a user-written metric without a built-in kind: not ours to export
        try:
            stream = self._stream(
                kind,  # type: ignore[arg-type]
                str(snapshot["name"]),
                str(snapshot.get("description", "")),
                str(snapshot.get("unit", "")),
            )
            if stream is None:
                return
            made = [points(self, snapshot, series, rid) for series in snapshot["series"]]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # A user-written metric borrowing a built-in kind with another shape: the rest
            # of the export goes on without it.
            logger.warning(
                "metric %r: snapshot of kind %r not exportable to OpenTelemetry (%r); skipped",
                snapshot.get("name"),
                kind,
                exc,
            )
            self.skipped += 1
            return
        stream.points.extend(point for point in made if point is not None)

    def _stream(self, kind: str, name: str, description: str, unit: str) -> _Stream | None:
        otel_name = otel_instrument_name(name)
        key = otel_name.lower()  # OpenTelemetry names are case-insensitive
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = _Stream(kind, otel_name, description, unit)
        elif stream.kind != kind:
            logger.warning(
                "metric %r is a %s here but a %s elsewhere: exported once, as the %s",
                name,
                kind,
                stream.kind,
                stream.kind,
            )
            self.skipped += 1
            return None
        return stream

    def _attributes(self, series: Mapping[str, Any], rid: str | None) -> dict[str, str]:
        labels = tuple((str(k), str(v)) for k, v in series["labels"].items())
        return series_labels(labels, rid)

    def _number_point(
        self, snapshot: Mapping[str, Any], series: Mapping[str, Any], rid: str | None
    ) -> NumberDataPoint:
        from opentelemetry.sdk.metrics.export import NumberDataPoint

        exemplar = series.get("exemplar")
        return NumberDataPoint(
            self._attributes(series, rid),
            self.start,
            self.now,
            _number(series["value"]),
            exemplars=[] if exemplar is None else [_exemplar(exemplar)],
        )

    def _histogram_point(
        self, snapshot: Mapping[str, Any], series: Mapping[str, Any], rid: str | None
    ) -> Any:
        from opentelemetry.sdk.metrics.export import HistogramDataPoint

        count = int(series["count"])
        if not count:
            return None
        bounds: list[float] = []
        counts: list[int] = []
        below = 0
        for le, cumulative in series["buckets"].items():
            if le != "+Inf":
                bounds.append(float(le))
            counts.append(int(cumulative) - below)
            below = int(cumulative)
        return HistogramDataPoint(
            attributes=self._attributes(series, rid),
            start_time_unix_nano=self.start,
            time_unix_nano=self.now,
            count=count,
            sum=float(series["sum"]),
            bucket_counts=counts,
            explicit_bounds=bounds,
            min=float(series["min"]),
            max=float(series["max"]),
            exemplars=[_exemplar(e) for e in series.get("exemplars", {}).values()],
        )

    def _exponential_point(
        self, snapshot: Mapping[str, Any], series: Mapping[str, Any], rid: str | None
    ) -> Any:
        from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint

        count = int(series["count"])
        if not count:
            return None
        scale = int(snapshot["scale"])
        positive = [(int(k), int(c)) for k, c in series["positive_buckets"]]
        negative = [(int(k), int(c)) for k, c in series["negative_buckets"]]
        while (
            _span(positive) > MAX_EXPONENTIAL_BUCKETS or _span(negative) > MAX_EXPONENTIAL_BUCKETS
        ):
            positive, negative, scale = downscale(positive, 1), downscale(negative, 1), scale - 1
        return ExponentialHistogramDataPoint(
            attributes=self._attributes(series, rid),
            start_time_unix_nano=self.start,
            time_unix_nano=self.now,
            count=count,
            sum=float(series["sum"]),
            scale=scale,
            zero_count=int(series["zero_count"]),
            positive=_dense(positive),
            negative=_dense(negative),
            flags=0,
            min=float(series["min"]),
            max=float(series["max"]),
        )

    # --- recorder stats ---------------------------------------------------------------------

    def _add_stats(self, rid: str | None, stats: RecorderStats) -> None:
        from opentelemetry.sdk.metrics.export import NumberDataPoint

        for family in stats_families(stats):
            stream = self._stream(family.kind, family.name, family.description, family.unit)
            if stream is None:
                continue
            if family.kind == "histogram":  # the processing delay, from its counts
                point = self._delay_point(stats.processing_delay, rid)
                if point is not None:
                    stream.points.append(point)
                continue
            stream.points.extend(
                NumberDataPoint(
                    series_labels(sample.labels, rid), self.start, self.now, _count(sample.value)
                )
                for sample in family.samples
            )

    def _delay_point(self, delay: ProcessingDelay, rid: str | None) -> Any:
        from opentelemetry.sdk.metrics.export import HistogramDataPoint

        if delay.min is None or delay.max is None:
            return None  # no observation yet: as for a metric's empty series
        return HistogramDataPoint(
            attributes=series_labels((), rid),
            start_time_unix_nano=self.start,
            time_unix_nano=self.now,
            count=delay.count,
            sum=delay.sum,
            bucket_counts=list(delay.counts),
            explicit_bounds=list(delay.bounds),
            min=delay.min,
            max=delay.max,
        )

    # --- assembling -------------------------------------------------------------------------

    def _metric(self, stream: _Stream) -> Metric:
        from opentelemetry.sdk.metrics.export import (
            AggregationTemporality,
            ExponentialHistogram,
            Gauge,
            Histogram,
            Metric,
            Sum,
        )

        cumulative = AggregationTemporality.CUMULATIVE
        data: Any
        if stream.kind == "counter":
            data = Sum(stream.points, cumulative, is_monotonic=True)
        elif stream.kind == "updown_counter":
            data = Sum(stream.points, cumulative, is_monotonic=False)
        elif stream.kind == "gauge":
            data = Gauge(stream.points)
        elif stream.kind == "histogram":
            data = Histogram(stream.points, cumulative)
        else:
            data = ExponentialHistogram(stream.points, cumulative)
        return Metric(stream.name, stream.description, stream.unit, data)


_POINTS = {
    "counter": _Converter._number_point,
    "updown_counter": _Converter._number_point,
    "gauge": _Converter._number_point,
    "histogram": _Converter._histogram_point,
    "distribution": _Converter._exponential_point,
}


def _number(value: object) -> int | float:
    """A value OTLP can carry: ints within int64 as ints (exact), others as floats."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"snapshot value must be a number, got {type(value).__name__}")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        try:
            return float(value)
        except OverflowError:  # an exact total past the float range
            return math.inf if value > 0 else -math.inf
    return value


def _exemplar(data: Mapping[str, Any]) -> Any:
    """A snapshot exemplar as the SDK's: ``trace_id`` and ``span_id`` labels holding hex
    ids become the exemplar's own ids (what backends link to traces); other labels are
    its filtered attributes."""
    from opentelemetry.sdk.metrics import Exemplar

    attributes = {str(k): str(v) for k, v in data["labels"].items()}
    trace_id = _hex_id(attributes, "trace_id", 32)
    span_id = _hex_id(attributes, "span_id", 16)
    if trace_id is None or span_id is None:  # OTLP sends ids only as a pair
        if trace_id is not None:
            attributes["trace_id"] = f"{trace_id:032x}"
        if span_id is not None:
            attributes["span_id"] = f"{span_id:016x}"
        trace_id = span_id = None
    return Exemplar(
        attributes,
        _number(data["value"]),
        int(float(data["timestamp"]) * 1e9),
        span_id=span_id,
        trace_id=trace_id,
    )


def _hex_id(attributes: dict[str, str], key: str, digits: int) -> int | None:
    text = attributes.get(key, "")
    if len(text) != digits:
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    del attributes[key]
    return value


def _count(value: float) -> int | float:
    """A stats value (a float in the family) as the exact count it is, when it is one."""
    return int(value) if value.is_integer() and abs(value) < _INT64 else value


def _span(pairs: Sequence[tuple[int, int]]) -> int:
    return pairs[-1][0] - pairs[0][0] + 1 if pairs else 0


def _dense(pairs: Sequence[tuple[int, int]]) -> Any:
    """Sparse ``(k, count)`` pairs as an OTLP bucket run: our bucket ``k`` covers
    ``(base**(k-1), base**k]``, OpenTelemetry's index ``i`` covers
    ``(base**i, base**(i+1)]``, so the offset is the lowest ``k`` minus one."""
    from opentelemetry.sdk.metrics.export import Buckets

    if not pairs:
        return Buckets(offset=0, bucket_counts=[])
    low = pairs[0][0]
    counts = [0] * _span(pairs)
    for k, count in pairs:
        counts[k - low] = count
    return Buckets(offset=low - 1, bucket_counts=counts)


# --- periodic export -------------------------------------------------------------------------


class OpenTelemetryExport:
    """Exports ``source`` (a runtime or a recorder) to ``exporter`` every ``interval``
    seconds, from a thread of its own, until :meth:`close`.

    ``exporter`` is any OpenTelemetry ``MetricExporter``, for example
    ``OTLPMetricExporter(endpoint="http://collector:4318/v1/metrics")``. Each export takes
    one snapshot (at most ``timeout`` seconds) and calls ``exporter.export`` with what
    time is left. A failed export (the exporter says FAILURE, raises, or the snapshot
    times out) is logged and counted in :attr:`failed_exports`, and both counts are
    exported as ``mvx_otel_exports`` (attribute ``outcome``) with the next export.
    :meth:`close` (or leaving a ``with`` block) stops the thread, exports one last time
    and shuts the exporter down.
    """

    def __init__(
        self,
        source: Source,
        exporter: MetricExporter,
        *,
        interval: float = DEFAULT_EXPORT_INTERVAL,
        timeout: float = DEFAULT_EXPORT_TIMEOUT,
        resource: Resource | None = None,
        include_stats: bool = True,
    ) -> None:
        require_sdk()
        self._source = check_source(source)
        if not callable(getattr(exporter, "export", None)):
            raise TypeError(
                f"argument 'exporter' must be an OpenTelemetry MetricExporter, got "
                f"{type(exporter).__name__}"
            )
        self._exporter = exporter
        self._interval = check_timeout(interval, "interval", DEFAULT_EXPORT_INTERVAL)
        self._timeout = check_timeout(timeout, "timeout", DEFAULT_EXPORT_TIMEOUT)
        self._resource = _resource(resource)
        self._include_stats = include_stats
        # One export at a time: the thread's and explicit ones never interleave.
        self._exporting = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.succeeded_exports = 0
        #: Exports that did not reach the exporter's SUCCESS.
        self.failed_exports = 0
        #: Metrics left out of exports so far (a name taken by two kinds, another shape).
        self.skipped_metrics = 0
        #: Why the last failed export failed.
        self.last_error: BaseException | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._thread else "not started"
        return (
            f"<OpenTelemetryExport {state} every {self._interval}s "
            f"ok={self.succeeded_exports} failed={self.failed_exports}>"
        )

    def start(self) -> OpenTelemetryExport:
        """Start the periodic thread (idempotent); returns ``self``."""
        if self._closed:
            raise RuntimeError("this OpenTelemetryExport is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="mvx-metrics-otel-export", daemon=True
            )
            self._thread.start()
        return self

    def export(self, *, timeout: float | None = None) -> bool:
        """Export once, now; True when the exporter reported SUCCESS. Never raises for a
        failed export (it is counted and logged)."""
        wait_for = check_timeout(timeout, "timeout", self._timeout)
        deadline = time.monotonic() + wait_for
        with self._exporting:
            return self._export(deadline)

    def close(self, *, timeout: float | None = None) -> None:
        """Stop the thread, export one last time, shut the exporter down (idempotent)."""
        if self._closed:
            return
        self._closed = True
        wait_for = check_timeout(timeout, "timeout", self._timeout)
        deadline = time.monotonic() + wait_for
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._exporting.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                self._export(deadline)
            finally:
                self._exporting.release()
        try:
            left_ms = max(0.0, deadline - time.monotonic()) * 1000.0
            self._exporter.shutdown(timeout_millis=left_ms)
        except Exception:
            logger.exception("OpenTelemetry exporter %r: shutdown failed", self._exporter)

    def __enter__(self) -> OpenTelemetryExport:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._exporting:
                if self._stop.is_set():
                    return
                self._export(time.monotonic() + self._timeout)

    def _export(self, deadline: float) -> bool:
        """One export within ``deadline`` (time.monotonic()); hold ``_exporting``."""
        from opentelemetry.sdk.metrics.export import MetricExportResult

        try:
            converter = _Converter(self._resource)
            with collections_deferred():  # as a scrape does: see _collections.py
                read = read_snapshots(
                    self._source,
                    max(0.001, deadline - time.monotonic()),
                    include_stats=self._include_stats,
                )
                data = converter.convert(read, [self._own_metric(converter)])
            self.skipped_metrics += converter.skipped
            left_ms = max(1.0, (deadline - time.monotonic()) * 1000.0)
            result = self._exporter.export(data, timeout_millis=left_ms)
        except Exception as exc:
            self._failed(exc)
            return False
        if result is not MetricExportResult.SUCCESS:
            self._failed(RuntimeError(f"exporter returned {result}"))
            return False
        self.succeeded_exports += 1
        return True

    def _failed(self, exc: BaseException) -> None:
        self.failed_exports += 1
        self.last_error = exc
        logger.warning("export to OpenTelemetry failed (%d so far): %r", self.failed_exports, exc)

    def _own_metric(self, converter: _Converter) -> Metric:
        """``mvx_otel_exports``: this export's outcomes so far, so failures reach the
        backend with the first export that gets through."""
        from opentelemetry.sdk.metrics.export import (
            AggregationTemporality,
            Metric,
            NumberDataPoint,
            Sum,
        )

        points = [
            NumberDataPoint({"outcome": outcome}, converter.start, converter.now, count)
            for outcome, count in (
                ("success", self.succeeded_exports),
                ("failure", self.failed_exports),
            )
        ]
        return Metric(
            "mvx_otel_exports",
            "Exports to OpenTelemetry by outcome (before this one).",
            "",
            Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=True),
        )
