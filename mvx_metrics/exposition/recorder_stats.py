"""Each recorder's own accounting (``get_stats()``) as metric families, beside its metrics.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.export`.

Loss is never silent, and it must be visible where people look: on the same dashboards
and alerts as the metrics. Every exporter therefore adds these families (unless asked not
to), per recorder, labelled like the recorder's metrics:

- ``mvx_recorder_events_accepted_total``, ``mvx_recorder_events_processed_total``;
- ``mvx_recorder_events_pending`` and ``mvx_recorder_queue_capacity`` (gauges);
- ``mvx_recorder_events_dropped_total{reason=...}``, one series per reason, zeros
  included, so that ``rate()`` and ``increase()`` work before the first drop;
- ``mvx_recorder_metric_errors_total{metric=...}`` and ``mvx_recorder_hook_errors_total``;
- ``mvx_recorder_processing_delay_seconds`` (a histogram): how long events waited
  between ``register_event`` and their processing, one observation per slice of
  processing (see ``recorder/delay.py``).

A recorder whose own metric already uses one of these names keeps its metric: every
exporter leaves that stats family out for it, with a warning in the log.
"""

from __future__ import annotations

import math
from itertools import accumulate

from ..metrics._format import go_float
from ..recorder.stats import ProcessingDelay, RecorderStats
from ..snapshots import MetricFamily, Sample

__all__ = ["DROP_REASONS", "STATS_FAMILY_NAMES", "recorder_stats", "stats_families", "with_stats"]

#: The reasons ``RecorderStats.dropped`` can hold; each is exported, at zero until it occurs.
DROP_REASONS = ("overflow_dropped", "overflow_rejected", "invalid_state", "fork_discarded")

#: ``(family name, kind, description, RecorderStats field)`` of the one-sample families.
_SINGLE = (
    ("mvx_recorder_events_accepted", "counter", "Events accepted by register_event.", "accepted"),
    (
        "mvx_recorder_events_processed",
        "counter",
        "Accepted events applied to their metrics.",
        "processed",
    ),
    ("mvx_recorder_events_pending", "gauge", "Accepted events not processed yet.", "pending"),
    (
        "mvx_recorder_queue_capacity",
        "gauge",
        "The pending-event limit (queue_max_size).",
        "capacity",
    ),
    (
        "mvx_recorder_hook_errors",
        "counter",
        "Exceptions raised by the _on_metric_changed hook.",
        "hook_errors",
    ),
)

#: The family names added for every recorder, in order (counters get ``_total``).
STATS_FAMILY_NAMES = (
    *(name for name, _, _, _ in _SINGLE),
    "mvx_recorder_events_dropped",
    "mvx_recorder_metric_errors",
    "mvx_recorder_processing_delay_seconds",
)


def stats_families(stats: RecorderStats) -> list[MetricFamily]:
    """``stats`` as families, in :data:`STATS_FAMILY_NAMES` order."""
    families = [
        _family(name, kind, description, [Sample("", (), float(getattr(stats, field)))])
        for name, kind, description, field in _SINGLE
    ]
    dropped = dict.fromkeys(DROP_REASONS, 0) | dict(stats.dropped)
    families.append(
        _family(
            "mvx_recorder_events_dropped",
            "counter",
            "Events not accepted, by reason.",
            [Sample("", (("reason", reason),), float(n)) for reason, n in dropped.items()],
        )
    )
    families.append(
        _family(
            "mvx_recorder_metric_errors",
            "counter",
            "Exceptions raised by a metric (handle_event or snapshot), by metric.",
            [
                Sample("", (("metric", name),), float(n))
                for name, n in sorted(stats.metric_errors.items())
            ],
        )
    )
    families.append(_delay_family(stats.processing_delay))
    return families


def _delay_family(delay: ProcessingDelay) -> MetricFamily:
    # The samples of one histogram series, as snapshots.py makes them: cumulative buckets
    # (``le`` as prometheus_client writes it), then _count, then _sum.
    samples = [
        Sample("_bucket", (("le", go_float(bound)),), float(count))
        for bound, count in zip((*delay.bounds, math.inf), accumulate(delay.counts), strict=True)
    ]
    samples.append(Sample("_count", (), float(delay.count)))
    samples.append(Sample("_sum", (), delay.sum))
    return _family(
        "mvx_recorder_processing_delay_seconds",
        "histogram",
        "How long events waited between register_event and their processing, at most: "
        "one observation per slice of processing.",
        samples,
    )


def with_stats(families: list[MetricFamily], stats: RecorderStats | None) -> list[MetricFamily]:
    """``families`` followed by the stats families (none when ``stats`` is None). The
    metrics come first, so that a consumer resolving a name clash keeps the metric."""
    return families if stats is None else [*families, *stats_families(stats)]


def recorder_stats(recorder: object) -> RecorderStats | None:
    """``recorder.get_stats()``; None for a recorder that implements only
    ``MetricsRecorderProto`` and keeps no stats."""
    get_stats = getattr(recorder, "get_stats", None)
    if get_stats is None:
        return None
    stats = get_stats()
    return stats if isinstance(stats, RecorderStats) else None


def _family(name: str, kind: str, description: str, samples: list[Sample]) -> MetricFamily:
    return MetricFamily(
        name=name, kind=kind, description=description, unit="", samples=tuple(samples)
    )
