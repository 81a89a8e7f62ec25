"""Which metrics see which event class.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from itertools import islice

from .._tables import EMPTY, own
from ..events import MetricEvent
from ..metrics.base import Metric
from .handoff import Handoff, Waker
from .plans import Plan

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

    The active metrics are not a list of their own: they are the first :attr:`active`
    of the recorder's registered metrics (``registered``, its dict, in registration
    order), since each registration is applied in its turn, in buffer order. Only a
    metric added out of that order (metric code registering one in place during a batch
    that holds an earlier registration still to apply) makes the routes keep a tuple.
    """

    __slots__ = ("_out_of_order", "active", "plans", "readable_in_place", "registered", "table")

    def __init__(self, capacity: int, waker: Waker, registered: dict[str, Metric]) -> None:
        super().__init__(capacity, waker)
        #: The recorder's registered metrics by name, in registration order: its own
        #: dict, which other threads add to under its lifecycle lock.
        self.registered = registered
        #: How many of them are active (see the class docstring).
        self.active = 0
        # The active metrics once one was added out of order, else None.
        self._out_of_order: tuple[Metric, ...] | None = None
        # Both start as the shared empty table (``.._tables``): most of a runtime's
        # recorders may never see an event.
        self.table: dict[type, tuple[Metric, ...]] = EMPTY
        #: Batch plans by event class (``plans.py``), built by the processor on first use.
        self.plans: dict[type, Plan] = EMPTY
        #: False once a metric asks for its snapshots to be taken on the owning loop.
        self.readable_in_place = True

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The active metrics, in the order they were added."""
        if self._out_of_order is not None:
            return self._out_of_order
        # One C call, which no other thread interrupts: a registration in another thread
        # may be adding to the dict meanwhile, past the active ones.
        return tuple(islice(self.registered.values(), self.active))

    def add(self, metric: Metric) -> None:
        if self._out_of_order is not None:
            self._out_of_order = (*self._out_of_order, metric)
        elif next(islice(self.registered.values(), self.active, None), None) is metric:
            self.active += 1
        else:
            self._out_of_order = (*self.metrics, metric)
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
