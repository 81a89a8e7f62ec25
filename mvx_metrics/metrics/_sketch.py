"""QuantileSketch: a mergeable quantile sketch with a relative-error bound (DDSketch-style)."""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

from ._deferred import sum_in_order, totals
from ._format import go_float

__all__ = [
    "IN_PLACE",
    "MAX_SCALE",
    "QuantileSketch",
    "check_quantile",
    "downscale",
    "nearest_rank",
    "scale_for",
]

_LOG2 = math.log2
_CEIL = math.ceil
_INF = math.inf
_NEG_INF = -math.inf  # one object (``-_INF`` in place makes a new float each time)
_exp2 = math.exp2
_nextafter = math.nextafter
_MAX_FLOAT = sys.float_info.max
#: Below this many deferred values, adding each costs less than sorting and bisecting.
_FEW = 4
#: Counting sorted values pays while buckets are few beside values: the sort costs about
#: what counting a value one by one saves, and a bucket a logarithm, a lookup and a
#: bisection in Python. Measured in instructions, the two ways cost the same at about a
#: bucket per two or three values (lognormal latencies: 2,874 instructions per event
#: counted one by one at 1 bucket per 3 values, 2,935 sorted). Above one bucket per
#: _DENSE values, count one by one.
_DENSE = 4
#: How many settles count one by one before a sorted count measures the density again.
_RECOUNT = 8

# How much of the value line is merged into one bucket (see QuantileSketch, "Memory").
_NO_CUT = 0
_NEG_LIMIT = 1  # negatives more negative than bucket -limit are counted in that bucket
_NEG_TO_ZERO = 2  # every negative is counted as zero
_POS_FLOOR = 3  # negatives, zeros and positives below bucket floor are counted there

_NO_LIMIT = sys.maxsize
_NO_FLOOR = -sys.maxsize


# A finite float added in place by a batch plan (see metrics/_fragment.py): inlined when
# it is positive and its bucket exists (so no collapse, and no floor below it: buckets
# below a floor are merged away), else through _add. ``{sf}`` is the sketch's scale
# factor, ``2**scale``; ``{t}`` a scratch local. A test compares it with _add.
IN_PLACE = (
    "if {v} > 0.0 and ({t} := CEIL(LOG2({v}) * {sf})) in {s}._pos:",
    "    {s}._pos[{t}] += 1",
    "    {s}._sum += {v}",
    "    if {v} < {s}._min: {s}._min = {v}",
    "    if {v} > {s}._max: {s}._max = {v}",
    "else:",
    "    {s}._add({v})",
)


def nearest_rank(q: float, count: int) -> int:
    """The 1-based rank the sketch answers for quantile ``q`` of ``count`` values.

    ``max(1, ceil(q * count))`` with ``q * count`` computed in floating point: the lower
    "nearest rank" definition, so quantile 0 is the minimum and quantile 1 the maximum.
    """
    return max(1, _CEIL(q * count))


class QuantileSketch:
    """Approximate quantiles of a stream of finite floats, in bounded memory, mergeable.

    Values are counted in logarithmically spaced buckets of growth ``gamma = 2**(2**-scale)``,
    the base-2 exponential layout that Prometheus native histograms (``schema``) and
    OpenTelemetry exponential histograms (``scale``) use, so that both can be exported
    bucket for bucket (:meth:`buckets`). ``scale`` is the coarsest whose error bound
    ``(gamma - 1) / (gamma + 1)`` is at most ``a = relative_accuracy`` (6 for the default
    0.01, a bound of 0.54%); see :func:`scale_for`. A positive ``x`` goes to bucket
    ``k = ceil(log_gamma(x))``, which covers ``(gamma**(k-1), gamma**k]`` (a Prometheus
    native histogram's bucket ``k``; OpenTelemetry's index ``k - 1``); negative values
    go to a separate store by ``|x|``, and zeros to a zero count. A quantile is answered
    with the bucket's midpoint ``2 * gamma**k / (gamma + 1)`` (sign restored), clamped to
    the observed ``[min, max]``; the lowest and highest ranks return ``min`` and ``max``.

    Guarantee: for any ``q`` in [0, 1], ``quantile(q)`` returns ``v`` with
    ``|v - x_q| <= a * |x_q|``, where ``x_q`` is the exact quantile of rank
    :func:`nearest_rank` ``= max(1, ceil(q * n))`` among the ``n`` values sorted ascending
    (so ``q = 0`` is the minimum and ``q = 1`` the maximum, both exact). Floating-point
    rounding of the bucket index can add a few ulps to the bound.

    Memory: at most ``max_bins`` buckets are kept. When a new bucket would exceed that,
    the buckets holding the *lowest* values are merged into their upper neighbour (first
    the most negative ones, then all negatives into zero, then negatives and zeros into
    the lowest positive bucket, then the lowest positive buckets). The :attr:`collapsed`
    values are then the lowest values of the stream, reported too high; the bound still
    holds for every ``q`` whose rank exceeds :attr:`collapsed` -- the upper quantiles,
    those latency metrics care about. With ``a = 0.01`` and 2048 buckets that takes a
    value range wider than 10**9 (for one sign), so ordinary latencies (a microsecond to a
    quarter of an hour) never collapse.

    :meth:`merge` adds another sketch of the same ``relative_accuracy``; merging keeps the
    guarantee (the merged sketch answers as a sketch of the concatenated streams would).
    Not thread-safe: one owner at a time, as for every metric.
    """

    __slots__ = (
        "_collapsed",
        "_counting_settles",
        "_floor",
        "_gamma",
        "_level",
        "_limit",
        "_log_gamma",
        "_max",
        "_max_bins",
        "_min",
        "_neg",
        "_pos",
        "_relative_accuracy",
        "_scale",
        "_scale_factor",
        "_sum",
        "_zero",
    )

    def __init__(self, relative_accuracy: float = 0.01, *, max_bins: int = 2048) -> None:
        if isinstance(relative_accuracy, bool) or not isinstance(relative_accuracy, int | float):
            raise TypeError(
                "argument 'relative_accuracy' must be a number, got "
                f"{type(relative_accuracy).__name__}"
            )
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(
                f"argument 'relative_accuracy' must be in (0, 1), got {relative_accuracy}"
            )
        if isinstance(max_bins, bool) or not isinstance(max_bins, int):
            raise TypeError(f"argument 'max_bins' must be an int, got {type(max_bins).__name__}")
        if max_bins < 1:
            raise ValueError(f"argument 'max_bins' must be positive, got {max_bins}")
        a = float(relative_accuracy)
        self._relative_accuracy = a
        self._max_bins = max_bins
        scale = self._scale = scale_for(a)
        self._log_gamma = _LN2 * 2.0**-scale
        self._gamma = math.exp(self._log_gamma)
        # log_gamma(x) = log2(x) * 2**scale: a product by a power of two is exact, and
        # math.log2 takes one argument (math.log's optional base makes it dearer to call).
        self._scale_factor = 2.0**scale
        self._pos: dict[int, int] = {}
        self._neg: dict[int, int] = {}
        self._zero = 0
        self._sum = 0.0
        self._min = _INF
        self._max = _NEG_INF
        self._level = _NO_CUT
        self._limit = _NO_LIMIT
        self._floor = _NO_FLOOR
        self._collapsed = 0
        # Not state: how many coming _add_floats count one by one (see there).
        self._counting_settles = 0

    @classmethod
    def from_buckets(
        cls,
        relative_accuracy: float,
        *,
        zero_count: int,
        positive: Iterable[tuple[int, int]],
        negative: Iterable[tuple[int, int]],
        sum: float,
        min: float | None,
        max: float | None,
        max_bins: int = 2048,
    ) -> QuantileSketch:
        """A sketch holding the buckets of a snapshot (:meth:`to_dict`), to merge
        sketches published by other processes. A collapse the original went through is
        not known here: its merged values sit in their bucket, as they did there."""
        sketch = cls(relative_accuracy, max_bins=max_bins)
        sketch._zero = int(zero_count)
        sketch._pos = {int(k): int(n) for k, n in positive}
        sketch._neg = {int(k): int(n) for k, n in negative}
        sketch._sum = float(sum)
        if not sketch._empty():
            sketch._min = _INF if min is None else float(min)
            sketch._max = _NEG_INF if max is None else float(max)
        if len(sketch._pos) + len(sketch._neg) > max_bins:
            sketch._collapse()
        return sketch

    # --- reading ------------------------------------------------------------------------

    @property
    def relative_accuracy(self) -> float:
        """The relative-error bound ``a`` of every quantile."""
        return self._relative_accuracy

    @property
    def scale(self) -> int:
        """The bucket layout: buckets grow by ``2**(2**-scale)`` (see the class docs)."""
        return self._scale

    def buckets(self) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """``(zero_count, positive, negative)``: the counts per bucket, as ``(k, count)``
        pairs in ascending ``k``, where bucket ``k`` holds the values whose magnitude is
        in ``(gamma**(k-1), gamma**k]``. After a collapse (see "Memory") the merged
        values sit in the bucket they were merged into."""
        return self._zero, sorted(self._pos.items()), sorted(self._neg.items())

    @property
    def max_bins(self) -> int:
        """The most buckets this sketch keeps."""
        return self._max_bins

    @property
    def bins(self) -> int:
        """Buckets in use now (never more than :attr:`max_bins`)."""
        return len(self._pos) + len(self._neg)

    @property
    def count(self) -> int:
        """How many values were added (merged ones included): what the buckets hold, every
        value being counted in exactly one (so adding one need not count it twice)."""
        return self._zero + sum(self._pos.values()) + sum(self._neg.values())

    def _empty(self) -> bool:
        return not (self._zero or self._pos or self._neg)

    @property
    def sum(self) -> float:
        """The sum of the values (exact float addition, not an estimate)."""
        return self._sum

    @property
    def min(self) -> float | None:
        """The smallest value, exactly; None when empty."""
        return None if self._empty() else self._min

    @property
    def max(self) -> float | None:
        """The largest value, exactly; None when empty."""
        return None if self._empty() else self._max

    @property
    def collapsed(self) -> int:
        """How many (lowest) values sit in a merged bucket; 0 unless memory ran short."""
        return self._collapsed

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile within the relative-error bound; None when empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles at once (the buckets are ordered once); None when empty."""
        qs = list(qs)
        for q in qs:
            check_quantile(q)
        if self._empty():
            return [None] * len(qs)
        # Buckets in value order: most negative first, then zero, then positives.
        cumulative: list[int] = []
        values: list[float] = []
        total = 0
        for k in sorted(self._neg, reverse=True):
            total += self._neg[k]
            cumulative.append(total)
            values.append(-self._midpoint(k))
        if self._zero:
            total += self._zero
            cumulative.append(total)
            values.append(0.0)
        for k in sorted(self._pos):
            total += self._pos[k]
            cumulative.append(total)
            values.append(self._midpoint(k))
        low, high, count = self._min, self._max, total
        result: list[float | None] = []
        for q in qs:
            rank = nearest_rank(q, count)
            # The extremes are known exactly, even inside a collapsed bucket.
            if rank == 1:
                result.append(low)
            elif rank == count:
                result.append(high)
            else:
                value = values[bisect_left(cumulative, rank)]
                result.append(min(max(value, low), high))
        return result

    def _midpoint(self, k: int) -> float:
        try:
            return 2.0 * math.exp(k * self._log_gamma) / (self._gamma + 1.0)
        except OverflowError:
            return _INF  # clamped to the observed max by the caller

    # --- adding -------------------------------------------------------------------------

    def add(self, value: float) -> None:
        """Add one finite value (an int or float). NaN and ±inf raise ValueError."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"a sketch value must be a number, got {type(value).__name__}")
        try:
            x = float(value)
        except OverflowError:
            raise ValueError(f"a sketch value must be finite, got {value}") from None
        if not math.isfinite(x):
            raise ValueError(f"a sketch value must be finite, got {x}")
        self._add(x)

    def _add(self, x: float) -> None:
        """Add a finite float (checked by the caller): the per-event path of Distribution."""
        if x > 0.0:
            k = _CEIL(_LOG2(x) * self._scale_factor)
            if k < self._floor:
                k = self._floor
                self._collapsed += 1
            self._bump(self._pos, k, 1)
        elif x < 0.0:
            self._add_below(self._neg, _CEIL(_LOG2(-x) * self._scale_factor))
        elif self._level == _POS_FLOOR:
            self._collapsed += 1
            self._bump(self._pos, self._floor, 1)
        else:
            self._zero += 1
        self._sum += x
        if x < self._min:
            self._min = x
        if x > self._max:
            self._max = x

    def _add_floats(self, values: list[float]) -> None:
        """Add finite floats in their order, then empty ``values``: the state is the one
        ``_add`` would leave, value by value (a test compares the two).

        Values are counted at once only when no cut is in place and no collapse can
        happen on the way; then only the sum (added in arrival order) and the extremes
        (the first of equals: ``0.0`` and ``-0.0`` differ) depend on the order.
        Otherwise, or for a few values, each goes through ``_add``, in order.

        Counting at once takes one of two ways, chosen by how many buckets the values
        fill. Sorted (:meth:`_count_sorted`), the values of a bucket are one slice, so
        the counts take a logarithm per bucket: that pays when values repeat or crowd
        a few buckets (a timer's resolution, a handful of typical latencies). Values
        spread over about as many buckets as there are values (continuous latencies at
        1% accuracy) are counted one by one in a local loop (:meth:`_count_each`). A
        sorted count measures the density and picks the way of the next settles."""
        size = len(values)
        if size >= _FEW and self._level == _NO_CUT:
            if self._counting_settles and len(self._pos) + len(self._neg) + size <= self._max_bins:
                self._counting_settles -= 1  # no collapse: even a bucket per value fits
                self._count_each(values)
                return
            if self._count_sorted(values):
                return
        for x in values:
            self._add(x)
        values.clear()

    def _count_sorted(self, values: list[float]) -> bool:
        """Count ``values`` bucket by bucket in sorted order and empty the list; False,
        with nothing added, when the new buckets would not fit in ``max_bins``."""
        size = len(values)
        ordered = sorted(values)
        zeros_at = bisect_left(ordered, 0.0)
        positive_at = bisect_right(ordered, 0.0, zeros_at)
        sf = self._scale_factor
        pos, neg = self._pos, self._neg
        positives = _bucket_counts(ordered, positive_at, sf)
        negatives = (
            _bucket_counts([-x for x in reversed(ordered[:zeros_at])], 0, sf) if zeros_at else {}
        )
        if (len(positives) + len(negatives)) * _DENSE > size:
            self._counting_settles = _RECOUNT
        fresh = len(positives.keys() - pos.keys()) + len(negatives.keys() - neg.keys())
        if len(pos) + len(neg) + fresh > self._max_bins:
            return False
        for store, counts in ((pos, positives), (neg, negatives)):
            get = store.get
            for k, count in counts.items():
                store[k] = get(k, 0) + count
        self._zero += positive_at - zeros_at
        self._sum, self._min, self._max = totals(values, ordered, self._sum, self._min, self._max)
        values.clear()
        return True

    def _count_each(self, values: list[float]) -> None:
        """``_add_floats`` one value at a time, for values that fill many buckets: the
        counting of ``_add`` without its call, cut checks and collapses (the caller
        made sure none can happen), then the sum and extremes in C."""
        sf = self._scale_factor
        pos, neg = self._pos, self._neg
        pos_get, neg_get = pos.get, neg.get
        zeros = 0
        for x in values:
            if x > 0.0:
                k = _CEIL(_LOG2(x) * sf)
                pos[k] = pos_get(k, 0) + 1
            elif x < 0.0:
                k = _CEIL(_LOG2(-x) * sf)
                neg[k] = neg_get(k, 0) + 1
            else:
                zeros += 1
        self._zero += zeros
        self._sum = sum_in_order(values, self._sum)
        low, high = min(values), max(values)  # each the first of equals, as _add keeps
        if low < self._min:
            self._min = low
        if high > self._max:
            self._max = high
        values.clear()

    def _add_below(self, neg: dict[int, int], k: int) -> None:
        level = self._level
        if level == _NO_CUT or (level == _NEG_LIMIT and k <= self._limit):
            self._bump(neg, k, 1)
            return
        self._collapsed += 1
        if level == _NEG_LIMIT:
            self._bump(neg, self._limit, 1)
        elif level == _NEG_TO_ZERO:
            self._zero += 1
        else:
            self._bump(self._pos, self._floor, 1)

    def _bump(self, store: dict[int, int], k: int, n: int) -> None:
        count = store.get(k)
        if count is not None:
            store[k] = count + n
            return
        store[k] = n
        if len(self._pos) + len(self._neg) > self._max_bins:
            self._collapse()

    # --- memory bound -------------------------------------------------------------------

    def _collapse(self) -> None:
        """Merge the lowest buckets upward until at most ``max_bins`` remain.

        Invariant: the values not in their own bucket are exactly the lowest ``collapsed``
        values, and all of them sit in the bucket at the cut. So each step's merged
        content (which includes the earlier collapsed values) is the new ``collapsed``.
        """
        pos, neg = self._pos, self._neg
        while len(pos) + len(neg) > self._max_bins:
            if neg:
                n = neg.pop(max(neg))
                if neg:
                    self._limit = max(neg)
                    neg[self._limit] += n
                    self._level = _NEG_LIMIT
                else:
                    self._zero += n
                    self._level = _NEG_TO_ZERO
                    self._limit = _NO_LIMIT
                self._collapsed = n
            else:
                # Zeros (and negatives counted as zero) are below every positive bucket.
                n = pos.pop(min(pos)) + self._zero
                self._zero = 0
                self._floor = min(pos)
                pos[self._floor] += n
                self._level = _POS_FLOOR
                self._limit = _NO_LIMIT
                self._collapsed = n

    def _raise_cut(self, level: int, limit: int, floor: int) -> None:
        """Move this sketch's cut up to (level, limit, floor), merging what falls below."""
        if level == _NEG_LIMIT and (self._level < _NEG_LIMIT or limit < self._limit):
            moved = 0
            for k in [k for k in self._neg if k > limit]:
                moved += self._neg.pop(k)
            if moved:
                self._neg[limit] = self._neg.get(limit, 0) + moved
                self._collapsed = moved
            self._level, self._limit = _NEG_LIMIT, limit
        elif level == _NEG_TO_ZERO and self._level < _NEG_TO_ZERO:
            moved = sum(self._neg.values())
            self._neg.clear()
            self._zero += moved
            self._collapsed = moved
            self._level, self._limit = _NEG_TO_ZERO, _NO_LIMIT
        elif level == _POS_FLOOR and (self._level < _POS_FLOOR or floor > self._floor):
            moved = sum(self._neg.values()) + self._zero
            self._neg.clear()
            self._zero = 0
            for k in [k for k in self._pos if k < floor]:
                moved += self._pos.pop(k)
            if moved:
                self._pos[floor] = self._pos.get(floor, 0) + moved
                self._collapsed = moved
            self._level, self._limit, self._floor = _POS_FLOOR, _NO_LIMIT, floor

    def copy(self) -> QuantileSketch:
        """An equal sketch that later adds to this one leave alone."""
        copied = object.__new__(QuantileSketch)
        for name in self.__slots__:
            setattr(copied, name, getattr(self, name))
        copied._pos = self._pos.copy()
        copied._neg = self._neg.copy()
        return copied

    def merge(self, other: QuantileSketch) -> None:
        """Add every value of ``other`` (same ``relative_accuracy``) to this sketch.

        ``other`` is unchanged. The result answers within the bound for the concatenated
        streams, except for ranks at or below :attr:`collapsed` (the higher of the two
        cuts applies).
        """
        if not isinstance(other, QuantileSketch):
            raise TypeError(f"can only merge a QuantileSketch, got {type(other).__name__}")
        if other._relative_accuracy != self._relative_accuracy:
            raise ValueError(
                "can only merge sketches of the same relative_accuracy, got "
                f"{self._relative_accuracy} and {other._relative_accuracy}"
            )
        if other._empty():
            return
        level = max(self._level, other._level)
        limit = min(self._limit, other._limit) if level == _NEG_LIMIT else _NO_LIMIT
        floor = max(self._floor, other._floor) if level == _POS_FLOOR else _NO_FLOOR
        self._raise_cut(level, limit, floor)
        same_cut = other._level == level and other._limit == limit and other._floor == floor
        # Values of other that land in a bucket other than their own; other's own collapsed
        # values are in a routed bucket unless both sketches cut at the same place.
        routed = other._collapsed if same_cut else 0
        for k, n in other._neg.items():
            if level == _NO_CUT or (level == _NEG_LIMIT and k <= limit):
                self._neg[k] = self._neg.get(k, 0) + n
            elif level == _NEG_LIMIT:
                self._neg[limit] = self._neg.get(limit, 0) + n
                routed += n
            elif level == _NEG_TO_ZERO:
                self._zero += n
                routed += n
            else:
                self._pos[floor] = self._pos.get(floor, 0) + n
                routed += n
        if other._zero:
            if level == _POS_FLOOR:
                self._pos[floor] = self._pos.get(floor, 0) + other._zero
                if not same_cut:
                    routed += other._zero
            else:
                self._zero += other._zero
        for k, n in other._pos.items():
            if k < floor:
                self._pos[floor] = self._pos.get(floor, 0) + n
                routed += n
            else:
                self._pos[k] = self._pos.get(k, 0) + n
        self._collapsed += routed
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        if len(self._pos) + len(self._neg) > self._max_bins:
            self._collapse()

    def to_dict(self, quantiles: Iterable[float]) -> dict[str, Any]:
        """``count``, ``sum``, ``min``, ``max``, ``quantiles`` and the buckets as a
        JSON-friendly dict: ``zero_count``, and ``positive_buckets`` and
        ``negative_buckets`` as ``[k, count]`` pairs in ascending ``k`` (see
        :meth:`buckets`), from which exporters build native histograms."""
        qs = list(quantiles)
        zero, positive, negative = self.buckets()
        return {
            "count": zero + sum(n for _, n in positive) + sum(n for _, n in negative),
            "sum": self._sum,
            "min": self.min,
            "max": self.max,
            "quantiles": dict(zip(map(go_float, qs), self.quantiles(qs), strict=True)),
            "zero_count": zero,
            "positive_buckets": [list(pair) for pair in positive],
            "negative_buckets": [list(pair) for pair in negative],
        }

    def __repr__(self) -> str:
        return (
            f"QuantileSketch(relative_accuracy={self._relative_accuracy}, "
            f"count={self.count}, bins={self.bins})"
        )


def _bucket_counts(ascending: list[float], start: int, sf: float) -> dict[int, int]:
    """``{k: count}`` for the positive magnitudes ``ascending[start:]``, in ascending ``k``.

    The bucket index ``ceil(log2(x) * sf)`` never decreases as ``x`` grows, so each
    bucket is one slice, which ends after the bucket's upper edge: one logarithm, a dict
    lookup and a bisection per bucket."""
    counts: dict[int, int] = {}
    n = len(ascending)
    edges = _UPPER_EDGES.get(sf)
    if edges is None or len(edges) >= _EDGES_KEPT:
        edges = _UPPER_EDGES[sf] = {}  # a scale's first use, or a fresh start
    edge_of = edges.get
    i = start
    while i < n:
        k = _CEIL(_LOG2(ascending[i]) * sf)
        edge = edge_of(k)
        if edge is None:
            edge = edges[k] = _upper_edge(k, sf)
        j = bisect_right(ascending, edge, i + 1)
        counts[k] = j - i
        i = j
    return counts


def _upper_edge(k: int, sf: float) -> float:
    """The largest finite float in bucket ``k`` at scale factor ``sf``: ``2**(k / sf)``
    give or take the few ulps by which it and the logarithms round, settled by stepping
    an ulp at a time (the index is monotonic, so the steps end at the edge)."""
    try:
        x = min(_exp2(k / sf), _MAX_FLOAT)
    except OverflowError:
        x = _MAX_FLOAT
    while x > 0.0 and _CEIL(_LOG2(x) * sf) > k:
        x = _nextafter(x, 0.0)
    while x < _MAX_FLOAT and _CEIL(_LOG2(up := _nextafter(x, _INF)) * sf) <= k:
        x = up
    return x


#: The upper edges of the buckets seen, per scale factor, computed once: a dict lookup
#: costs less than the exponential and two logarithms that would find the edge each time.
#: Shared by every sketch of the process (the values depend on the scale alone), and
#: started over past ``_EDGES_KEPT`` entries per scale, which bounds the memory.
_UPPER_EDGES: dict[float, dict[int, float]] = {}
_EDGES_KEPT = 4096


#: The finest layout offered: OpenTelemetry allows scales up to 20; Prometheus native
#: histograms go to 8, and an exporter merges finer buckets down (see ``downscale``).
MAX_SCALE = 20
_LN2 = math.log(2.0)


def scale_for(relative_accuracy: float) -> int:
    """The coarsest base-2 scale whose error bound is at most ``relative_accuracy``.

    Bucket growth at scale ``s`` is ``gamma = 2**(2**-s)``, and answering a bucket's
    midpoint errs by at most ``(gamma - 1) / (gamma + 1)``. Scales below -4 (buckets
    growing 65,536-fold) are not offered: no error bound needs them.
    """
    for scale in range(-4, MAX_SCALE + 1):
        if _bound(scale) <= relative_accuracy:
            return scale
    raise ValueError(
        f"argument 'relative_accuracy' must be at least that of scale {MAX_SCALE}, "
        f"{_bound(MAX_SCALE):.3g}; got {relative_accuracy}"
    )


def _bound(scale: int) -> float:
    """The error bound of scale ``scale``: ``(gamma - 1) / (gamma + 1)``."""
    gamma = math.pow(2.0, math.ldexp(1.0, -scale))
    return (gamma - 1.0) / (gamma + 1.0)


def downscale(pairs: Iterable[tuple[int, int]], by: int) -> list[tuple[int, int]]:
    """Buckets ``(k, count)`` of scale ``s`` merged into those of scale ``s - by``.

    Bucket ``k`` covers ``(gamma**(k-1), gamma**k]``; ``2**by`` neighbours make one
    bucket of the coarser scale, whose index is ``ceil(k / 2**by)``.
    """
    merged: dict[int, int] = {}
    step = 1 << by
    for k, count in pairs:
        coarse = -((-k) // step)
        merged[coarse] = merged.get(coarse, 0) + count
    return sorted(merged.items())


def check_quantile(q: object) -> None:
    """A number in [0, 1], else TypeError or ValueError."""
    if isinstance(q, bool) or not isinstance(q, int | float):
        raise TypeError(f"a quantile must be a number, got {type(q).__name__}")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile must be in [0, 1], got {q}")
