"""The ``Metric`` abstract base class.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from ..events import MetricEvent

__all__ = ["Metric"]


class Metric(ABC):
    """One measured value (or group of values) fed by events.

    The recorder calls :meth:`handle_event` only on its owning event loop, one event at a
    time, so a metric needs no locks of its own. :meth:`snapshot` never runs while
    :meth:`handle_event` does: it is called on the owning loop, or, when the recorder is
    idle, in the reading thread while the recorder holds processing back. Set
    ``snapshot_on_owner_loop = True`` on a metric whose snapshot must run on the owning
    loop (one that reads the loop's clock, say); reads of its recorder then always go there.

    Set ``event_types`` (class or instance attribute) to a tuple of event classes to receive
    only those classes and their subclasses; leave it ``None`` to see every event.
    """

    event_types: tuple[type[MetricEvent], ...] | None = None
    #: True: take :meth:`snapshot` on the owning loop only, never in a reader's thread.
    snapshot_on_owner_loop: ClassVar[bool] = False

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
