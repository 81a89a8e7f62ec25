"""What the bridges read: a runtime (every recorder) or a recorder, one snapshot at a time."""

from __future__ import annotations

from typing import TypeAlias

from ..recorder.protocol import MetricsRecorderProto
from ..recorder.recorder import MetricsRecorder
from ..runtime.runtime import MetricsRuntime
from ..snapshots import MetricFamily, families_from_snapshots

__all__ = ["Source", "check_source", "read_source"]

#: A runtime (every recorder, each labelled with its id) or a single recorder.
Source: TypeAlias = MetricsRuntime | MetricsRecorderProto


def read_source(
    source: Source, timeout: float | None
) -> list[tuple[str | None, list[MetricFamily]]]:
    """One snapshot of ``source`` as ``[(recorder_id, families)]``.

    ``recorder_id`` is None for a recorder, the runtime's id for each of its recorders.
    Exactly one ``get_metric_snapshots`` call on ``source``: a runtime snapshots all its
    recorders in one go, so the families of different recorders are from the same moment.
    """
    if isinstance(source, MetricsRuntime):
        nested = source.get_metric_snapshots(timeout=timeout)
        return [(rid, families_from_snapshots(snaps)) for rid, snaps in nested.items()]
    if isinstance(source, MetricsRecorder):
        return [(None, families_from_snapshots(source.get_metric_snapshots(timeout=timeout)))]
    # Another MetricsRecorderProto: the protocol's get_metric_snapshots takes no timeout.
    return [(None, families_from_snapshots(source.get_metric_snapshots()))]


def check_source(source: object) -> Source:
    """``source`` itself if it is a runtime or a recorder, else TypeError."""
    if isinstance(source, MetricsRuntime | MetricsRecorderProto):
        return source
    raise TypeError(
        "source must be a MetricsRuntime or a recorder (MetricsRecorderProto), "
        f"got {type(source).__name__}"
    )
