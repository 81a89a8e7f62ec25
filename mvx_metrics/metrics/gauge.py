"""Gauge: the last value seen, per label set.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..events import MetricEvent
from ._builtin import MAX_FLOAT, BuiltinMetric, NumberSeries
from ._fragment import Fragment
from ._series import DEFAULT_MAX_SERIES, NumberCell

__all__ = ["GAUGE_MULTIPROCESS_MODES", "Gauge"]

#: How a multiprocess scrape (``mvx_metrics.multiprocess``) joins a gauge's series
#: across processes: the sum, largest or smallest of the live processes' values, the
#: most recently published value, or one series per process (an ``instance`` label).
GAUGE_MULTIPROCESS_MODES = ("live_sum", "live_max", "live_min", "most_recent", "per_process")


class Gauge(NumberSeries, BuiltinMetric[NumberCell]):
    """The last value wins: each event sets its series to the event's value.

    ``+inf`` and ``-inf`` are accepted (Prometheus gauges may hold them; ``json.dumps``
    writes them as ``Infinity``); NaN and non-numbers (bools included) are refused with
    :class:`~mvx_metrics.MetricValueError`, leaving the previous value in place.
    Without labels the single series starts at 0, as in prometheus_client; labelled series
    appear with their first event. Labels and overflow work as for :class:`Counter`.
    Snapshot series carry ``value``.

    ``multiprocess_mode`` (one of :data:`GAUGE_MULTIPROCESS_MODES`, default
    ``"per_process"``) says how a scrape of several processes joins this gauge's series.
    """

    kind = "gauge"

    def __init__(
        self,
        name: str,
        *,
        event: type[MetricEvent] | tuple[type[MetricEvent], ...],
        value: str | Callable[[Any], object],
        labels: tuple[str, ...] | Callable[[Any], Mapping[str, object]] = (),
        description: str = "",
        unit: str = "",
        max_series: int = DEFAULT_MAX_SERIES,
        multiprocess_mode: str = "per_process",
    ) -> None:
        super().__init__(
            name,
            event=event,
            value=value,
            labels=labels,
            description=description,
            unit=unit,
            max_series=max_series,
        )
        if multiprocess_mode not in GAUGE_MULTIPROCESS_MODES:
            raise ValueError(
                f"argument 'multiprocess_mode' must be one of {GAUGE_MULTIPROCESS_MODES}, "
                f"got {multiprocess_mode!r}"
            )
        self._multiprocess_mode = multiprocess_mode

    @property
    def multiprocess_mode(self) -> str:
        """How a multiprocess scrape joins this gauge across processes."""
        return self._multiprocess_mode

    def _extra_snapshot(self) -> dict[str, Any]:
        return {"multiprocess_mode": self._multiprocess_mode}

    def handle_event(self, event: MetricEvent) -> bool:
        """Set the event's series to its value; True when applied."""
        get = self._get
        assert get is not None
        try:
            value = get(event)
        except AttributeError as exc:
            self._value_missing(event, exc)
        cls = value.__class__
        # `value == value` is False only for NaN.
        if not (
            (cls is float and value == value) or (cls is int and -MAX_FLOAT <= value <= MAX_FLOAT)  # type: ignore[operator]
        ):
            value = self._number(event, value, negative=True, infinite=True)
        cell = self._single or self._series_for(event)
        cell.value = value  # type: ignore[assignment]
        return True

    def fragment(self) -> Fragment | None:
        """Set the value; ``{v} == {v}`` is False only for NaN."""
        check = (
            "(({v}.__class__ is float and {v} == {v}) "
            "or ({v}.__class__ is int and -MAXF <= {v} <= MAXF))"
        )
        return self._fragment(Gauge, check, ("{s}.value = {v}",))

    def _new_state(self) -> NumberCell:
        return NumberCell()

    def _state_snapshot(self, state: NumberCell) -> dict[str, Any]:
        return {"value": state.value}
