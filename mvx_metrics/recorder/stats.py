"""``RecorderStats``: the recorder's exact accounting, as a frozen value.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["RecorderStats"]


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

    @property
    def dropped_total(self) -> int:
        """All events not accepted, whatever the reason."""
        return sum(self.dropped.values())

    @property
    def metric_errors_total(self) -> int:
        """All exceptions raised by metrics."""
        return sum(self.metric_errors.values())
