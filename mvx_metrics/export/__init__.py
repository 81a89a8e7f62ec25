"""Export: metrics of a recorder or a runtime, on their way out of the process.

Three layers, each importing only those below it:

- :mod:`mvx_metrics.exposition` (pure): snapshot values to Prometheus text, OpenMetrics
  or protobuf, and the choice of format; it never reads a recorder or a runtime;
- :mod:`._source`: the one module that knows "a runtime or a recorder" and reads one
  consistent snapshot of either (blocking, or awaited as captures, for a scrape);
- the transports and bridges: :mod:`.scrape` (one scrape, in slices on the serving
  loop) under :mod:`.http` (``runtime.serve_http()``) and :mod:`.asgi`; :mod:`.otlp` (native
  OpenTelemetry); :mod:`.otel_bridge` and :mod:`.prometheus_client_bridge`.

This package's names re-export the exposition's public ones, plus
:func:`render_prometheus`. prometheus_client and OpenTelemetry are never imported here
(they are optional dependencies).
"""

from __future__ import annotations

from ..exposition.negotiation import OPENMETRICS_CONTENT_TYPE as OPENMETRICS_CONTENT_TYPE
from ..exposition.negotiation import PROTOBUF_CONTENT_TYPE as PROTOBUF_CONTENT_TYPE
from ..exposition.negotiation import TEXT_CONTENT_TYPE as TEXT_CONTENT_TYPE
from ..exposition.negotiation import choose_format as choose_format
from ..exposition.problems import ExpositionProblems as ExpositionProblems
from ..exposition.problems import problems_of
from ..exposition.prometheus_protobuf import (
    render_protobuf_runtime_snapshots as render_protobuf_runtime_snapshots,
)
from ..exposition.prometheus_protobuf import render_protobuf_snapshots as render_protobuf_snapshots
from ..exposition.prometheus_text import RECORDER_LABEL as RECORDER_LABEL
from ..exposition.prometheus_text import escape_help as escape_help
from ..exposition.prometheus_text import escape_label_value as escape_label_value
from ..exposition.prometheus_text import exposed_name as exposed_name
from ..exposition.prometheus_text import format_value as format_value
from ..exposition.prometheus_text import render_families as render_families
from ..exposition.prometheus_text import render_families_by_recorder as render_families_by_recorder
from ..exposition.prometheus_text import render_read
from ..exposition.prometheus_text import render_runtime_snapshots as render_runtime_snapshots
from ..exposition.prometheus_text import render_snapshots as render_snapshots
from ..exposition.prometheus_text import sanitize_label_name as sanitize_label_name
from ..exposition.prometheus_text import sanitize_metric_name as sanitize_metric_name
from ..exposition.recorder_stats import STATS_FAMILY_NAMES as STATS_FAMILY_NAMES
from ..exposition.recorder_stats import stats_families as stats_families
from ._collections import collections_deferred
from ._source import Source, check_source, read_exposition

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "PROTOBUF_CONTENT_TYPE",
    "RECORDER_LABEL",
    "STATS_FAMILY_NAMES",
    "TEXT_CONTENT_TYPE",
    "ExpositionProblems",
    "choose_format",
    "escape_help",
    "escape_label_value",
    "exposed_name",
    "format_value",
    "render_families",
    "render_families_by_recorder",
    "render_prometheus",
    "render_protobuf_runtime_snapshots",
    "render_protobuf_snapshots",
    "render_runtime_snapshots",
    "render_snapshots",
    "sanitize_label_name",
    "sanitize_metric_name",
    "stats_families",
]


def render_prometheus(
    source: Source, *, openmetrics: bool = False, include_stats: bool = True
) -> str:
    """Exposition text for a recorder or a ``MetricsRuntime`` (every recorder, each sample
    labelled ``recorder="<recorder_id>"``); OpenMetrics if asked.

    Each recorder's stats follow its metrics (``mvx_recorder_events_dropped_total`` and
    the rest, see :mod:`mvx_metrics.exposition.recorder_stats`) unless ``include_stats``
    is False; a runtime's exposition ends with the process's metrics
    (:mod:`mvx_metrics.exposition.process`) unless it was made with
    ``process_metrics=False`` (in multiprocess mode, every live process's, labelled
    ``instance``: see docs/multiprocess.md). A blocking read (the source's default timeout): call it
    from a plain thread or sync code, not from a recorder's own loop."""
    with collections_deferred():  # as a scrape does: see _collections.py
        read, process = read_exposition(check_source(source), None, include_stats=include_stats)
        # Problems are counted across the source's renders and scrapes.
        return render_read(
            read, openmetrics=openmetrics, problems=problems_of(source), process=process
        )
