"""``MetricsRecorderProto``: the one thing production components depend on.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..events import MetricEvent
from ..metrics.base import Metric

__all__ = ["MetricsRecorderProto"]


@runtime_checkable
class MetricsRecorderProto(Protocol):
    """The recorder-facing contract. Call it with keyword arguments:
    ``recorder.register_event(event=...)``."""

    def register_metric(self, metric: Metric) -> None:
        """Add a metric; it receives events registered after this call."""
        ...

    def register_event(self, event: MetricEvent) -> None:
        """Hand an event over without blocking."""
        ...

    def get_metric_snapshots(self) -> Mapping[str, Mapping[str, Any]]:
        """``{metric_name: snapshot}``."""
        ...

    def iter_metrics(self) -> Iterable[Metric]:
        """The registered metrics."""
        ...
