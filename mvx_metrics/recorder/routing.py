"""Which metrics see which event class.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from ..events import MetricEvent
from ..metrics.base import Metric
from .handoff import Handoff, Waker
from .plans import Plan
from .tables import EMPTY, own

__all__ = ["MAX_CACHED_CLASSES", "Routes"]

#: Event classes whose routes and plans are kept at most. Past it both caches start over,
#: so that code making event classes on the fly does not keep every one alive.
MAX_CACHED_CLASSES = 1024


class Routes(Handoff):
    """The owner-side list of active metrics and a cache from event class to its metrics
    (the processor's base class: see ``processing.py``). Built on the hand-off, so that a
    recorder's hand-off, routes, processor and driver are one object (see
    ``driving.Driver``).

    Lookups cost one dict access per event whatever the number of metrics that ignore the
    event's class. The cache is rebuilt lazily, per class, after each registration.
    Changed only on the recorder's loop, under the hand-off's guard; read there, or by a
    reader in place holding that guard.
    """

    __slots__ = ("metrics", "plans", "readable_in_place", "table")

    def __init__(self, capacity: int, waker: Waker) -> None:
        super().__init__(capacity, waker)
        self.metrics: tuple[Metric, ...] = ()
        # Both start as the shared empty table (``tables.py``): most of a runtime's
        # recorders may never see an event.
        self.table: dict[type, tuple[Metric, ...]] = EMPTY
        #: Batch plans by event class (``plans.py``), built by the processor on first use.
        self.plans: dict[type, Plan] = EMPTY
        #: False once a metric asks for its snapshots to be taken on the owning loop.
        self.readable_in_place = True

    def add(self, metric: Metric) -> None:
        self.metrics = (*self.metrics, metric)
        if metric.snapshot_on_owner_loop:
            self.readable_in_place = False
        # New tables rather than clear(): a batch holding the old ones keeps valid ones.
        self.table = EMPTY
        self.plans = EMPTY

    def resolve(self, event_class: type[MetricEvent]) -> tuple[Metric, ...]:
        """Compute and cache the metrics for ``event_class`` (follows subclassing)."""
        if len(self.table) >= MAX_CACHED_CLASSES or len(self.plans) >= MAX_CACHED_CLASSES:
            # New tables, as in add(): a batch holding the old ones keeps valid ones.
            self.table = EMPTY
            self.plans = EMPTY
        targets = tuple(
            m
            for m in self.metrics
            if m.event_types is None or issubclass(event_class, m.event_types)
        )
        table = self.table = own(self.table)
        table[event_class] = targets
        return targets

    def keep_plan(self, event_class: type[MetricEvent], plan: Plan) -> dict[type, Plan]:
        """Cache ``plan`` for ``event_class``; the plans table, to read the next ones from."""
        plans = self.plans = own(self.plans)
        plans[event_class] = plan
        return plans
