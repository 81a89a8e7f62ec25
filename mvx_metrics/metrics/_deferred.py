"""Adding a run of deferred values at once, as adding them one at a time would.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

A batch plan (``recorder/plans.py``) may only collect a run's values for a histogram or
sketch series and add them in one go (``Fragment.add_values``), with C loops over the
list: sorted, the values of a bucket are one slice. What else depends on the order is
kept as the per-event path has it: the sum is added in arrival order, and the extremes
are the first of equal values (``0.0`` and ``-0.0``, or ``1`` and ``1.0``, are equal and
differ).
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections import deque
from itertools import accumulate
from typing import Any

__all__ = ["sum_in_order", "totals"]

if sys.version_info < (3, 12):
    # Plain double additions in order, in C: what adding one value at a time gives.
    sum_in_order = sum
else:  # sum() compensates rounding since 3.12, which adding one at a time does not

    def sum_in_order(values: list[float], start: float) -> float:
        """``start`` plus each value in turn, rounded at each step: the last running
        total (``accumulate`` adds in C, at about half the cost of ``reduce(add)``)."""
        return deque(accumulate(values, initial=start), maxlen=1)[0]


def totals(
    values: list[Any], ordered: list[Any], total: float, low: Any, high: Any
) -> tuple[float, Any, Any]:
    """The sum, minimum and maximum after adding ``values`` (no NaN) one at a time to a
    series holding ``total``, ``low`` and ``high``, given the values sorted by a stable
    sort (``ordered``: equal values keep their order, so the first of them is found)."""
    smallest, largest = ordered[0], ordered[bisect_left(ordered, ordered[-1])]
    return (
        sum_in_order(values, total),
        smallest if smallest < low else low,
        largest if largest > high else high,
    )
