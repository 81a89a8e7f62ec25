"""A recorder for unit tests: no loop, no thread, every event kept in order.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.testing`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import MetricsRecorderMetricFailedError
from ..events import MetricEvent
from ..metrics._builtin import can_reset, reset_metric
from ..metrics.base import Metric

__all__ = ["CapturingRecorder"]


class CapturingRecorder:
    """A ``MetricsRecorderProto`` test double: needs no event loop and no thread.

    ``register_event`` keeps each event (from any thread, in the order the calls were
    made) and, unless ``apply=False``, applies it at once to the registered metrics whose
    ``event_types`` match, as a recorder would, so that a component and its metric
    definitions are tested together without a runtime. A metric that raises is not
    isolated here: the error reaches the test (as
    :class:`~mvx_metrics.MetricsRecorderMetricFailedError`, the original as its cause),
    since a unit test wants to see it. ``get_metric_snapshots`` reads the metrics as they
    are: everything registered so far is applied.

    Thread-safe: one lock serialises registering, applying and reading.
    """

    def __init__(self, *, apply: bool = True) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}
        self._events: list[MetricEvent] = []

    def __repr__(self) -> str:
        return f"<CapturingRecorder {len(self._metrics)} metrics, {len(self._events)} events>"

    # --- MetricsRecorderProto -------------------------------------------------------------

    def register_metric(self, metric: Metric) -> None:
        """Add a metric; it receives the events registered after this call."""
        if not isinstance(metric, Metric):
            raise TypeError(f"argument 'metric' must be a Metric, got {type(metric).__name__}")
        name = metric.metric_name
        with self._lock:
            if name in self._metrics:
                raise ValueError(f"a metric named {name!r} is already registered")
            self._metrics[name] = metric

    def register_event(self, event: MetricEvent) -> None:
        """Keep ``event``, and apply it to the matching metrics unless ``apply=False``."""
        if not isinstance(event, MetricEvent):
            raise TypeError(f"argument 'event' must be a MetricEvent, got {type(event).__name__}")
        with self._lock:
            self._events.append(event)
            if not self._apply:
                return
            for metric in self._metrics.values():
                types = metric.event_types
                if types is not None and not isinstance(event, types):
                    continue
                try:
                    metric.handle_event(event)
                except Exception as exc:
                    raise MetricsRecorderMetricFailedError(
                        f"metric {metric.metric_name!r} failed on {type(event).__name__}: {exc}",
                        details={"metric": metric.metric_name},
                        cause=exc,
                    ) from exc

    def get_metric_snapshots(self) -> dict[str, Mapping[str, Any]]:
        """``{metric_name: snapshot}`` of every registered metric, now."""
        with self._lock:
            return {name: metric.snapshot() for name, metric in self._metrics.items()}

    def iter_metrics(self) -> Iterator[Metric]:
        """The registered metrics, in registration order."""
        with self._lock:
            return iter(list(self._metrics.values()))

    # --- for the test ---------------------------------------------------------------------

    @property
    def events(self) -> list[MetricEvent]:
        """Every event registered so far, in order (a copy)."""
        with self._lock:
            return list(self._events)

    def events_of(self, event_type: type[MetricEvent]) -> list[MetricEvent]:
        """The events that are instances of ``event_type``, in order."""
        return [event for event in self.events if isinstance(event, event_type)]

    def clear_events(self) -> None:
        """Forget the events kept so far (the metrics keep what they applied)."""
        with self._lock:
            self._events.clear()

    def reset(self) -> None:
        """Forget every event and start every metric from zero, keeping the registrations:
        one recorder reused across the examples of a property test.

        Built-in metrics are cleared. A user-written :class:`~mvx_metrics.Metric` must
        have a ``reset()`` method of its own; if one lacks it, TypeError names it and
        nothing is reset."""
        with self._lock:
            for metric in self._metrics.values():
                if not can_reset(metric):
                    raise TypeError(
                        f"metric {metric.metric_name!r} ({type(metric).__qualname__}) has no "
                        "reset() method: give it one, or build a CapturingRecorder per example"
                    )
            self._events.clear()
            for metric in self._metrics.values():
                reset_metric(metric)

    def metric(self, name: str) -> Metric:
        """The registered metric ``name`` (KeyError listing the others)."""
        with self._lock:
            try:
                return self._metrics[name]
            except KeyError:
                raise KeyError(f"no metric {name!r}; registered: {sorted(self._metrics)}") from None

    @classmethod
    def with_metrics(cls, metrics: Iterable[Metric], *, apply: bool = True) -> CapturingRecorder:
        """A capturing recorder with ``metrics`` registered."""
        recorder = cls(apply=apply)
        for metric in metrics:
            recorder.register_metric(metric)
        return recorder
