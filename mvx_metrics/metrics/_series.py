"""A bounded table of label series with one counted overflow series."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, Protocol, TypeVar

__all__ = ["DEFAULT_MAX_SERIES", "OVERFLOW_LABEL_VALUE", "NumberCell", "SeriesTable"]

#: Label sets a metric keeps by default before routing events to its overflow series.
DEFAULT_MAX_SERIES = 2000

#: The value of every label of the overflow series, as exporters will show it.
OVERFLOW_LABEL_VALUE = "__overflow__"

S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)


class StateSource(Protocol[S_co]):
    """Makes a fresh per-series state (the metric that owns the table)."""

    def _new_state(self) -> S_co: ...


class NumberCell:
    """One series' number; slotted so that ``cell.value += x`` is one attribute store."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | float = 0


class SeriesTable(Generic[S]):
    """Per-series state keyed by label values, holding at most ``max_series`` label sets.

    Past the bound, a new label set does not get a series: its events are applied to a
    single overflow series (every label set to ``"__overflow__"``) and counted in
    :attr:`overflow_events`. Nothing is dropped, and memory stays bounded whatever the
    cardinality of the labels. Series are never evicted: a label set once admitted keeps
    its series, so counters stay monotonic.

    Hot path, used by ``handle_event``: ``state = table.series.get(key)``, then
    :meth:`admit` on a miss. Only the owning loop touches a table.
    """

    __slots__ = ("max_series", "overflow", "overflow_events", "series", "source")

    def __init__(self, source: StateSource[S], max_series: int) -> None:
        # The metric itself rather than its bound method: one object fewer per metric.
        self.source = source
        self.max_series = max_series
        #: Admitted series, in order of first appearance.
        self.series: dict[Hashable, S] = {}
        #: The overflow series; created by the first event that finds the table full.
        self.overflow: S | None = None
        #: Events applied to the overflow series.
        self.overflow_events = 0

    def admit(self, key: Hashable) -> S:
        """Return the state for a key not in :attr:`series`: a new series, or the overflow one.

        Call it only once the event is known to be valid, so that ``overflow_events``
        counts only events that were applied.
        """
        if len(self.series) < self.max_series:
            state = self.series[key] = self.source._new_state()
            return state
        self.overflow_events += 1
        if self.overflow is None:
            self.overflow = self.source._new_state()
        return self.overflow

    def items(self) -> Iterator[tuple[Hashable, S]]:
        """The admitted series, in order of first appearance (the overflow one excluded)."""
        return iter(self.series.items())
