"""Counter and UpDownCounter: sums of event values (or counts of events), per label set.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..events import MetricEvent
from ._builtin import MAX_FLOAT, BuiltinMetric, NumberSeries
from ._exemplars import ExemplarCell
from ._fragment import FINITE, Fragment
from ._series import NumberCell

__all__ = ["Counter", "UpDownCounter"]

_INF = math.inf


class Counter(NumberSeries, BuiltinMetric[NumberCell]):
    """A total that only goes up: counts events, or adds up one of their fields.

    Without ``value`` each event adds 1; with ``value`` (an attribute name or a callable
    taking the event) each event adds that number. An increment that is negative, NaN,
    infinite or not a real number (bools included) is refused with
    :class:`~mvx_metrics.MetricValueError` and the counter is left unchanged.
    Integer increments keep the total an exact ``int``.

    ``labels`` names event attributes whose values (as ``str``) select the series; at most
    ``max_series`` label sets get their own series, later ones share one overflow series
    whose labels all read ``"__overflow__"`` (counted in the snapshot's
    ``overflow_events``). Snapshot series carry ``value``.

    ``exemplar`` (an attribute name such as ``"trace_id"``, or a callable returning a
    mapping of labels) keeps each series' latest exemplar, shown in OpenMetrics, the
    protobuf format and OTLP; snapshot series then carry ``exemplar`` (``labels``,
    ``value``, ``timestamp``) once they have one, and the snapshot
    ``exemplars_dropped``. Events of such a counter are applied one at a time.
    """

    kind = "counter"
    value_required = False
    takes_exemplars = True

    def handle_event(self, event: MetricEvent) -> bool:
        """Add the event's increment (or 1) to its series; True when applied."""
        get = self._get
        if get is None:
            increment: object = 1
        else:
            try:
                increment = get(event)
            except AttributeError as exc:
                self._value_missing(event, exc)
            cls = increment.__class__
            if not (
                (cls is float and 0.0 <= increment < _INF)  # type: ignore[operator]
                or (cls is int and 0 <= increment <= MAX_FLOAT)  # type: ignore[operator]
            ):
                increment = self._number(event, increment, negative=False, infinite=False)
        # A series object is always truthy, so `or` falls through only when there is no
        # cached label-less series.
        cell = self._single or self._series_for(event)
        cell.value += increment  # type: ignore[operator]
        if self._exemplar is not None:
            exemplar = self._exemplar.read(event, increment)  # type: ignore[arg-type]
            if exemplar is not None:
                cell.exemplar = exemplar  # type: ignore[attr-defined]
        return True

    def fragment(self) -> Fragment | None:
        """Count or add; without value or labels, a run-length count added once per run."""
        if self._get is None and self._single is not None:
            finish = ("{s}.value += {k}",)
            return self._fragment(
                Counter, "", ("{k} += 1",), run=("{k} += {r}",), init=("{k} = 0",), finish=finish
            )
        if self._get is None:
            # Beside a metric that defers its values, counted by their number.
            return self._fragment(Counter, "", ("{s}.value += 1",), add_values=_add_count)
        check = (
            "(({v}.__class__ is float and ISFINITE({v}) and {v} >= 0.0) "
            "or ({v}.__class__ is int and 0 <= {v} <= MAXF))"
        )
        return self._fragment(Counter, check, ("{s}.value += {v}",))

    def _new_state(self) -> NumberCell:
        return NumberCell() if self._exemplar is None else ExemplarCell()

    def _state_snapshot(self, state: NumberCell) -> dict[str, Any]:
        if isinstance(state, ExemplarCell) and state.exemplar is not None:
            return {"value": state.value, "exemplar": state.exemplar.to_dict()}
        return {"value": state.value}

    def _copy_states(self, states: Iterable[NumberCell]) -> list[Any]:
        if self._exemplar is None:
            return super()._copy_states(states)  # the values alone (NumberSeries)
        return BuiltinMetric._copy_states(self, states)  # with each one's exemplar

    def _copy_state(self, state: NumberCell) -> NumberCell:
        assert isinstance(state, ExemplarCell)
        copied = ExemplarCell()
        copied.value = state.value
        copied.exemplar = state.exemplar  # replaced by a later exemplar, never changed
        return copied

    def _rows(self, labels: list[dict[str, str]], states: Iterable[Any]) -> list[dict[str, Any]]:
        if self._exemplar is None:
            return super()._rows(labels, states)
        return BuiltinMetric._rows(self, labels, states)


class UpDownCounter(NumberSeries, BuiltinMetric[NumberCell]):
    """A total that goes up and down: adds each event's value, which may be negative.

    Any finite real number is accepted; NaN, ±inf and non-numbers (bools included) are
    refused with :class:`~mvx_metrics.MetricValueError`, leaving the state unchanged
    (an infinite step would pin the total at ±inf for good). Labels and overflow work as
    for :class:`Counter`. Snapshot series carry ``value``.
    """

    kind = "updown_counter"

    def handle_event(self, event: MetricEvent) -> bool:
        """Add the event's value to its series; True when applied."""
        get = self._get
        assert get is not None
        try:
            step = get(event)
        except AttributeError as exc:
            self._value_missing(event, exc)
        cls = step.__class__
        if not (
            (cls is float and -_INF < step < _INF)  # type: ignore[operator]
            or (cls is int and -MAX_FLOAT <= step <= MAX_FLOAT)  # type: ignore[operator]
        ):
            step = self._number(event, step, negative=True, infinite=False)
        cell = self._single or self._series_for(event)
        cell.value += step  # type: ignore[operator]
        return True

    def fragment(self) -> Fragment | None:
        """Add any finite step."""
        return self._fragment(UpDownCounter, FINITE, ("{s}.value += {v}",))

    def _new_state(self) -> NumberCell:
        return NumberCell()

    def _state_snapshot(self, state: NumberCell) -> dict[str, Any]:
        return {"value": state.value}


def _add_count(state: NumberCell, values: list[Any]) -> None:
    """Count one event per deferred value (a plan's deferred count, see Fragment)."""
    state.value += len(values)
