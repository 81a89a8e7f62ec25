"""Histogram: counts of values per explicit bucket, cumulative by Prometheus ``le``.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import accumulate, pairwise
from typing import Any, ClassVar

from ..events import MetricEvent
from ..snapshots import Exemplar
from ._builtin import MAX_FLOAT, BuiltinMetric
from ._deferred import totals
from ._format import go_float
from ._fragment import FINITE, Fragment
from ._series import DEFAULT_MAX_SERIES

__all__ = ["DEFAULT_BUCKETS", "Histogram", "bucket_index", "check_buckets"]

_INF = math.inf
# One object: ``-_INF`` written in place makes a new float each time, one more object per
# series for a full collection to touch.
_NEG_INF = -math.inf

#: prometheus_client's default upper bounds (seconds-scale latencies); +Inf is implied.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


#: Up to this many bounds, a plan finds the bucket by inlined comparisons (bucket_index).
_UNROLLED_BOUNDS = 64


def bucket_index(bounds: tuple[float, ...], value: str) -> str:
    """An expression equal to ``bisect_left(bounds, value)`` for a finite ``value``.

    For up to :data:`_UNROLLED_BOUNDS` bounds, a tree of comparisons with the bounds as
    float literals (``repr`` round-trips a float exactly): ``value <= b`` is
    ``not b < value`` for any value that is not NaN, so each branch halves the range
    exactly as bisection does, without the call. Above that, ``bisect_left`` itself.
    """
    if len(bounds) > _UNROLLED_BOUNDS:
        return f"bisect_left({bounds!r}, {value})"

    def within(low: int, high: int) -> str:  # the index, known to be in [low, high]
        if low == high:
            return str(low)
        middle = (low + high) // 2
        return (
            f"({within(low, middle)} if {value} <= {bounds[middle]!r} "
            f"else {within(middle + 1, high)})"
        )

    return within(0, len(bounds))


def check_buckets(buckets: object) -> tuple[float, ...]:
    """Finite, strictly increasing upper bounds; a trailing +inf is dropped (it is implied)."""
    if buckets is None:
        return DEFAULT_BUCKETS
    if isinstance(buckets, str | bytes) or not isinstance(buckets, Iterable):
        raise TypeError(
            f"argument 'buckets' must be a sequence of numbers, got {type(buckets).__name__}"
        )
    bounds: list[float] = []
    for bound in buckets:
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise TypeError(
                f"argument 'buckets' must hold numbers, got {type(bound).__name__} {bound!r}"
            )
        bounds.append(float(bound))
    if bounds and bounds[-1] == _INF:
        bounds.pop()
    if not bounds:
        raise ValueError("argument 'buckets' needs at least one finite upper bound")
    for bound in bounds:
        if not math.isfinite(bound):
            raise ValueError(
                f"argument 'buckets' must hold finite bounds (+inf only last), got {bound}"
            )
    for low, high in pairwise(bounds):
        if not low < high:
            raise ValueError(
                f"argument 'buckets' must be strictly increasing, got {low} then {high}"
            )
    return tuple(bounds)


#: Each bucket layout's bounds and ``le`` texts, shared by the histograms that have it: a
#: runtime may hold thousands of histograms with the same buckets (one per recorder),
#: and each would otherwise keep its own tuples and texts. Bounded, so that code making
#: layouts on the fly does not grow it for good.
_LAYOUTS: dict[tuple[float, ...], tuple[tuple[float, ...], tuple[str, ...]]] = {}
_MAX_LAYOUTS = 256
_FLOATS = {float}


def _layout(buckets: object) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """The checked bounds of ``buckets`` and their ``le`` texts, "+Inf" last."""
    if type(buckets) is tuple and set(map(type, buckets)) == _FLOATS:
        # Floats equal to a kept layout's bounds were checked when it was kept: a
        # runtime's thousands of histograms usually share a few.
        layout = _LAYOUTS.get(buckets)
        if layout is not None:
            return layout
    bounds = check_buckets(buckets)
    layout = _LAYOUTS.get(bounds)
    if layout is None:
        layout = (bounds, (*map(go_float, bounds), "+Inf"))
        # Not kept with a zero: 0.0 and -0.0 are equal keys with different texts.
        if len(_LAYOUTS) < _MAX_LAYOUTS and 0.0 not in bounds:
            _LAYOUTS[bounds] = layout
    return layout


class _Buckets:
    """One series: non-cumulative counts per bucket (the last one is +Inf), the sum, and
    the smallest and largest values (±inf while empty), which OpenTelemetry's histogram
    data points carry.

    The counts are a plain list, not this object's own items (a list subclass would be
    one collector object fewer per series): CPython specialises indexing for exact lists
    only, and a subclass cost about 380 instructions more per event of a histogram."""

    __slots__ = ("counts", "max", "min", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.sum = 0.0
        self.min = _INF
        self.max = _NEG_INF

    def copy(self) -> _Buckets:
        """A copy that later events leave alone (see ``BuiltinMetric.capture``)."""
        copied = object.__new__(type(self))
        copied.counts = self.counts.copy()
        copied.sum = self.sum
        copied.min = self.min
        copied.max = self.max
        return copied


class _ExemplarBuckets(_Buckets):
    """A series that also keeps each bucket's latest exemplar."""

    __slots__ = ("exemplars",)

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.exemplars: list[Exemplar | None] = [None] * size

    def copy(self) -> _ExemplarBuckets:
        copied = super().copy()
        assert isinstance(copied, _ExemplarBuckets)
        copied.exemplars = self.exemplars.copy()  # each exemplar is replaced, never changed
        return copied


class Histogram(BuiltinMetric[_Buckets]):
    """Counts each event's value into explicit buckets, as a Prometheus histogram.

    ``buckets`` are the finite upper bounds, strictly increasing (default
    :attr:`Histogram.DEFAULT_BUCKETS`, those of prometheus_client); the ``+Inf`` bucket is always
    added (a trailing ``math.inf`` given by the caller is accepted and not repeated).
    A value ``v`` lands in the first bucket whose bound is ``>= v``. Values must be finite
    real numbers: NaN, ±inf and non-numbers are refused with
    :class:`~mvx_metrics.MetricValueError` (an infinite value would make ``sum`` infinite
    for good), leaving the state unchanged.

    Snapshot series carry ``count``, ``sum``, ``min`` and ``max`` (None while empty) and
    ``buckets``: cumulative counts keyed by the ``le`` text prometheus_client writes
    ("0.005", "1.0", "+Inf"), ending in "+Inf", and ``count == buckets["+Inf"]`` always.
    With ``exemplar`` (as for :class:`~mvx_metrics.Counter`), each bucket keeps its latest
    exemplar: series carry ``exemplars`` keyed by ``le``. The label name ``le`` is reserved. Labels and
    overflow work as for :class:`~mvx_metrics.Counter`.
    """

    kind = "histogram"
    reserved_labels: ClassVar[tuple[str, ...]] = ("le",)
    #: The bounds used when ``buckets`` is not given, on the class because that is their
    #: public home (the module constant lives in an internal module).
    DEFAULT_BUCKETS: ClassVar[tuple[float, ...]] = DEFAULT_BUCKETS
    takes_exemplars = True

    def __init__(
        self,
        name: str,
        *,
        event: type[MetricEvent] | tuple[type[MetricEvent], ...],
        value: str | Callable[[Any], object],
        buckets: Iterable[float] | None = None,
        labels: tuple[str, ...] | Callable[[Any], Mapping[str, object]] = (),
        description: str = "",
        unit: str = "",
        max_series: int = DEFAULT_MAX_SERIES,
        exemplar: str | Callable[[Any], Mapping[str, object] | None] | None = None,
    ) -> None:
        # Set before the base constructor, which creates the label-less series.
        self._bounds, self._le = _layout(buckets)
        super().__init__(
            name,
            event=event,
            value=value,
            labels=labels,
            description=description,
            unit=unit,
            max_series=max_series,
            exemplar=exemplar,
        )

    @property
    def buckets(self) -> tuple[float, ...]:
        """The finite upper bounds, in increasing order (+Inf is implied)."""
        return self._bounds

    def handle_event(self, event: MetricEvent) -> bool:
        """Count the event's value into its bucket and add it to the sum; True when applied."""
        get = self._get
        assert get is not None
        try:
            value = get(event)
        except AttributeError as exc:
            self._value_missing(event, exc)
        cls = value.__class__
        if not (
            (cls is float and -_INF < value < _INF)  # type: ignore[operator]
            or (cls is int and -MAX_FLOAT <= value <= MAX_FLOAT)  # type: ignore[operator]
        ):
            value = self._number(event, value, negative=True, infinite=False)
        state = self._single or self._series_for(event)
        index = bisect_left(self._bounds, value)  # type: ignore[call-overload]
        state.counts[index] += 1
        state.sum += value  # type: ignore[operator]
        if self._exemplar is not None:
            exemplar = self._exemplar.read(event, value)  # type: ignore[arg-type]
            if exemplar is not None:
                state.exemplars[index] = exemplar  # type: ignore[attr-defined]
        if value < state.min:  # type: ignore[operator]
            state.min = value  # type: ignore[assignment]
        if value > state.max:  # type: ignore[operator]
            state.max = value  # type: ignore[assignment]
        return True

    def fragment(self) -> Fragment | None:
        """Count into the value's bucket, add to the sum, keep min and max: in place for
        a series' first value of a run, after that deferred and added at once (see
        :meth:`_add_values`). Other values take the per-event path."""
        apply = (
            f"{{s}}.counts[{bucket_index(self._bounds, '{v}')}] += 1",
            "{s}.sum += {v}",
            "if {v} < {s}.min: {s}.min = {v}",
            "if {v} > {s}.max: {s}.max = {v}",
        )
        return self._fragment(Histogram, FINITE, apply, add_values=self._add_values)

    def _add_values(self, state: _Buckets, values: list[float]) -> None:
        """Add finite values (floats and ints) to ``state`` as ``handle_event`` would, one
        by one in order, then empty ``values`` (a test compares the two).

        Sorted, each bucket's values are one slice, found by bisection at its bound; a
        few values are counted one by one, which costs less than a bisection per
        bound."""
        bounds = self._bounds
        counts = state.counts
        if len(values) < len(bounds):
            for value in values:
                counts[bisect_left(bounds, value)] += 1
            ordered = sorted(values)
        else:
            ordered = sorted(values)
            below, size = 0, len(ordered)
            for index, bound in enumerate(bounds):
                upto = bisect_right(ordered, bound, below)
                counts[index] += upto - below
                below = upto
                if below == size:
                    break
            else:
                counts[-1] += size - below
        state.sum, state.min, state.max = totals(values, ordered, state.sum, state.min, state.max)
        values.clear()

    def _new_state(self) -> _Buckets:
        size = len(self._bounds) + 1
        return _Buckets(size) if self._exemplar is None else _ExemplarBuckets(size)

    def _copy_state(self, state: _Buckets) -> _Buckets:
        return state.copy()

    def _state_snapshot(self, state: _Buckets) -> dict[str, Any]:
        cumulative = list(accumulate(state.counts))
        count = cumulative[-1]
        return {
            "count": count,
            "sum": state.sum,
            "min": float(state.min) if count else None,
            "max": float(state.max) if count else None,
            "buckets": dict(zip(self._le, cumulative, strict=True)),
            **self._exemplars_snapshot(state),
        }

    def _exemplars_snapshot(self, state: _Buckets) -> dict[str, Any]:
        if not isinstance(state, _ExemplarBuckets):
            return {}
        return {
            "exemplars": {
                le: exemplar.to_dict()
                for le, exemplar in zip(self._le, state.exemplars, strict=True)
                if exemplar is not None
            }
        }
