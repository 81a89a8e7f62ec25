"""``RecorderStats``: the recorder's exact accounting, as a frozen value.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["PROCESSING_DELAY_BOUNDS", "ProcessingDelay", "RecorderStats"]

#: Upper bounds (seconds) of the processing-delay buckets, then +Inf.
PROCESSING_DELAY_BOUNDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True, slots=True)
class ProcessingDelay:
    """How long events waited between ``register_event`` and the start of their
    processing: one observation per slice of processing, the longest wait of the events
    pending then (an upper bound, see ``recorder/delay.py``), counted in buckets."""

    #: Upper bounds of the buckets, in seconds; the last bucket (+Inf) has none.
    bounds: tuple[float, ...] = PROCESSING_DELAY_BOUNDS
    #: Observations per bucket (not cumulative): ``len(bounds) + 1`` of them.
    counts: tuple[int, ...] = (0,) * (len(PROCESSING_DELAY_BOUNDS) + 1)
    #: The observations' sum, in seconds.
    sum: float = 0.0
    #: The shortest and the longest observation; None before the first.
    min: float | None = None
    max: float | None = None

    @property
    def count(self) -> int:
        """Observations: slices of processing."""
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """Counters of one recorder, read at one instant.

    Invariant: ``accepted == processed + pending``. Every event handed to
    ``register_event`` is either accepted or counted in ``dropped``.
    """

    #: Events taken in by ``register_event`` since the recorder was created.
    accepted: int
    #: Accepted events that have been applied to every metric they route to (including the
    #: events on which some metric raised: those are in ``metric_errors`` as well).
    processed: int
    #: Accepted events not yet processed.
    pending: int
    #: The pending-event limit (``queue_max_size``).
    capacity: int
    #: Events not accepted, by reason: ``overflow_dropped`` (policy DROP),
    #: ``overflow_rejected`` (RAISE_ERROR, or BLOCK that could not wait or timed out),
    #: ``invalid_state`` (the recorder was not accepting events), ``fork_discarded``
    #: (pending in the parent when this process was forked from it: the parent
    #: processes them, this process does not).
    dropped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: Exceptions raised by a metric's ``handle_event``, by metric name.
    metric_errors: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: Exceptions raised by the ``_on_metric_changed`` hook.
    hook_errors: int = 0
    #: How long events waited to be processed (see :class:`ProcessingDelay`).
    processing_delay: ProcessingDelay = field(default_factory=ProcessingDelay)

    @property
    def dropped_total(self) -> int:
        """All events not accepted, whatever the reason."""
        return sum(self.dropped.values())

    @property
    def metric_errors_total(self) -> int:
        """All exceptions raised by metrics."""
        return sum(self.metric_errors.values())
