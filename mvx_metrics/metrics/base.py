"""The ``Metric`` abstract base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ..events import MetricEvent

__all__ = ["Metric"]


class Metric(ABC):
    """One measured value (or group of values) fed by events.

    The recorder calls :meth:`handle_event` only on its owning event loop, one event at a
    time, so a metric needs no locks of its own. :meth:`snapshot` is also called there.

    Set ``event_types`` (class or instance attribute) to a tuple of event classes to receive
    only those classes and their subclasses; leave it ``None`` to see every event.
    """

    event_types: tuple[type[MetricEvent], ...] | None = None

    @property
    @abstractmethod
    def metric_name(self) -> str:
        """The stable name of this metric inside its recorder."""

    @abstractmethod
    def handle_event(self, event: MetricEvent) -> bool:
        """Apply ``event``; return True when the metric's state changed."""

    @abstractmethod
    def snapshot(self) -> Mapping[str, Any]:
        """Return a new, JSON-friendly mapping describing the current state."""
