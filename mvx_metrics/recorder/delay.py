"""How long events wait between ``register_event`` and processing, without a clock read
on the hot path.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

A time stamp per event would cost more than the append itself, so producers take none.
The owning loop knows instead *since when* every pending event has been waiting at
most (``delay_since``):

- a tick that finds the buffer empty sets it to that tick's time;
- a slice that applied everything pending at its start sets it to that start: what is
  left came after;
- the producer that wakes a parked recorder sets it (its event is the first one since
  the buffer was empty). That is one clock read per wake-up, never one per event.

At the start of each slice of processing the owner counts ``now - delay_since`` into
a histogram: the longest any pending event has waited for the loop, an upper bound.
A polling recorder's events are looked at once a tick, so while it polls the bound is
about ``max_processing_delay``; a parked one's is exact; a backlog the loop cannot
clear makes it grow, as the events' wait does.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from .._tables import EMPTY, own
from .stats import PROCESSING_DELAY_BOUNDS, ProcessingDelay

__all__ = ["DelayCounts"]


class DelayCounts:
    """The hand-off's part that counts processing delays (see the module docstring).

    A base of ``Handoff`` (slotted, holding numbers and a dict of numbers, which the
    garbage collector does not track), so that it costs a recorder no object.
    Written by the owning loop; ``delay_since`` also by a producer that wakes it.
    """

    __slots__ = ("_delay_counts", "_delay_max", "_delay_min", "_delay_sum", "delay_since")

    def _init_delay(self) -> None:
        #: Every pending event was registered at or after this ``perf_counter()`` time:
        #: set when processing is to begin (``start()``) or a parked owner is woken. A
        #: constant until then, not a clock reading: a float of its own per recorder is
        #: one more object for a full collection to touch.
        self.delay_since = 0.0
        # Non-cumulative counts by bucket index (PROCESSING_DELAY_BOUNDS, then +Inf). A
        # dict of ints, which the garbage collector does not track (an array it does);
        # the shared empty one until the first count (``.._tables``).
        self._delay_counts: dict[int, int] = EMPTY
        self._delay_sum = 0.0
        self._delay_min = math.inf
        self._delay_max = 0.0

    def count_delay(self, now: float) -> None:
        """Owner, as a slice of processing starts at ``now``: count the longest wait."""
        delay = now - self.delay_since
        if delay < 0.0:  # a producer stamped a wake-up between our clock read and this
            delay = 0.0
        index = bisect_left(PROCESSING_DELAY_BOUNDS, delay)
        counts = self._delay_counts = own(self._delay_counts)
        counts[index] = counts.get(index, 0) + 1
        self._delay_sum += delay
        if delay < self._delay_min:
            self._delay_min = delay
        if delay > self._delay_max:
            self._delay_max = delay

    def processing_delay(self) -> ProcessingDelay:
        """The counts so far, from any thread."""
        # A copy first: the owner may add a bucket meanwhile (a dict must not change size
        # while it is iterated; copying it is one C call, atomic under the GIL).
        got = self._delay_counts.copy()
        if not got:  # most of a runtime's recorders, idle: no tuple to build
            return ProcessingDelay()
        counts = tuple(got.get(i, 0) for i in range(len(PROCESSING_DELAY_BOUNDS) + 1))
        return ProcessingDelay(
            PROCESSING_DELAY_BOUNDS, counts, self._delay_sum, self._delay_min, self._delay_max
        )
