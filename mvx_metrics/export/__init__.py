"""Export: Prometheus text (0.0.4) and OpenMetrics 1.0 from a recorder or a runtime.

Everything here is pure text from snapshots; prometheus_client is not imported (it is an
optional dependency). See :mod:`mvx_metrics.export.prometheus_text` for the format rules.
"""

from __future__ import annotations

from typing import Any

from .negotiation import OPENMETRICS_CONTENT_TYPE as OPENMETRICS_CONTENT_TYPE
from .negotiation import PROTOBUF_CONTENT_TYPE as PROTOBUF_CONTENT_TYPE
from .negotiation import TEXT_CONTENT_TYPE as TEXT_CONTENT_TYPE
from .negotiation import choose_format as choose_format
from .problems import ExpositionProblems as ExpositionProblems
from .problems import problems_of
from .prometheus_text import RECORDER_LABEL as RECORDER_LABEL
from .prometheus_text import escape_help as escape_help
from .prometheus_text import escape_label_value as escape_label_value
from .prometheus_text import exposed_name as exposed_name
from .prometheus_text import format_value as format_value
from .prometheus_text import render_families as render_families
from .prometheus_text import render_families_by_recorder as render_families_by_recorder
from .prometheus_text import render_runtime_snapshots as render_runtime_snapshots
from .prometheus_text import render_snapshots as render_snapshots
from .prometheus_text import sanitize_label_name as sanitize_label_name
from .prometheus_text import sanitize_metric_name as sanitize_metric_name
from .recorder_stats import STATS_FAMILY_NAMES as STATS_FAMILY_NAMES
from .recorder_stats import recorder_stats
from .recorder_stats import stats_families as stats_families

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
    "render_runtime_snapshots",
    "render_snapshots",
    "sanitize_label_name",
    "sanitize_metric_name",
    "stats_families",
]


def render_prometheus(source: Any, *, openmetrics: bool = False, include_stats: bool = True) -> str:
    """Exposition text for a recorder (``{metric_name: snapshot}``) or a ``MetricsRuntime``
    (every recorder, each sample labelled ``recorder="<id>"``); OpenMetrics if asked.

    Each recorder's stats follow its metrics (``mvx_recorder_events_dropped_total`` and
    the rest, see :mod:`mvx_metrics.export.recorder_stats`) unless ``include_stats`` is
    False."""
    # Imported here, not at module level: the runtime may import this package (to serve
    # /metrics), and a module-level import back into it would be circular.
    from ..runtime import MetricsRuntime

    problems = problems_of(source)  # counted across the source's renders and scrapes
    if isinstance(source, MetricsRuntime):
        snapshots = source.get_metric_snapshots()
        return render_runtime_snapshots(
            snapshots,
            openmetrics=openmetrics,
            stats=source.get_stats() if include_stats else None,
            problems=problems,
        )
    snapshots = source.get_metric_snapshots()
    return render_snapshots(
        snapshots,
        openmetrics=openmetrics,
        stats=recorder_stats(source) if include_stats else None,
        problems=problems,
    )
