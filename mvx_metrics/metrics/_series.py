"""A bounded table of label series with one counted overflow series."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from .._tables import EMPTY, own

__all__ = ["DEFAULT_MAX_SERIES", "OVERFLOW_LABEL_VALUE", "NumberCell", "SeriesTable"]

#: Label sets a metric keeps by default before routing events to its overflow series.
DEFAULT_MAX_SERIES = 2000

#: The value of every label of the overflow series, as exporters will show it.
OVERFLOW_LABEL_VALUE = "__overflow__"

S = TypeVar("S")


class NumberCell:
    """One series' number; slotted so that ``cell.value += x`` is one attribute store."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | float = 0


class SeriesTable(Generic[S]):
    """Per-series state keyed by label values, holding at most ``max_series`` label sets:
    a base of every built-in metric (its fields are the metric's own, so that a metric
    is one object for the garbage collector to traverse, not two).

    Past the bound, a new label set does not get a series: its events are applied to a
    single overflow series (every label set to ``"__overflow__"``) and counted in
    ``_overflow_events``. Nothing is dropped, and memory stays bounded whatever the
    cardinality of the labels. Series are never evicted: a label set once admitted keeps
    its series, so counters stay monotonic.

    Hot path, used by ``handle_event``: ``state = self._series.get(key)``, then
    :meth:`_admit` on a miss. Only the owning loop touches a table.
    """

    __slots__ = ("_max_series", "_overflow", "_overflow_events", "_series")

    def _init_series(self, max_series: int) -> None:
        self._max_series = max_series
        #: Admitted series, in order of first appearance. The shared empty table
        #: (``.._tables``) until a lookup is built (:meth:`_own_series`): a runtime may
        #: hold thousands of metrics that never see an event.
        self._series: dict[Hashable, S] = EMPTY
        #: The overflow series; created by the first event that finds the table full.
        self._overflow: S | None = None
        #: Events applied to the overflow series.
        self._overflow_events = 0

    def _new_state(self) -> S:
        """A fresh per-series state (each metric kind makes its own)."""
        raise NotImplementedError

    def _own_series(self) -> dict[Hashable, S]:
        """The table of series, made the metric's own first: call before keeping its
        ``get``, which then sees every series admitted later (``_admit`` writes to it)."""
        series = self._series = own(self._series)
        return series

    def _admit(self, key: Hashable) -> S:
        """Return the state for a key not in ``_series``: a new series, or the overflow one.

        Call it only once the event is known to be valid, so that ``_overflow_events``
        counts only events that were applied.
        """
        if len(self._series) < self._max_series:
            state = self._series[key] = self._new_state()
            return state
        self._overflow_events += 1
        if self._overflow is None:
            self._overflow = self._new_state()
        return self._overflow

    def _clear_series(self) -> None:
        """Forget every series and the overflow count."""
        if self._series is not EMPTY:
            self._series.clear()  # in place: lookups built on it keep it
        self._overflow = None
        self._overflow_events = 0
