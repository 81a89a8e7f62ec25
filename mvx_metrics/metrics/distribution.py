"""Distribution: per-series quantile sketches with a stated relative-error bound.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from ..events import MetricEvent
from ._builtin import MAX_FLOAT, BuiltinMetric
from ._format import go_float
from ._fragment import FINITE_FLOAT, Fragment
from ._series import DEFAULT_MAX_SERIES
from ._sketch import IN_PLACE, QuantileSketch, check_quantile

__all__ = ["Distribution"]

_INF = math.inf


class Distribution(BuiltinMetric[QuantileSketch]):
    """Quantiles of each event's value, from a mergeable sketch with a relative-error bound.

    Each series keeps a :class:`~mvx_metrics.QuantileSketch`: every reported quantile ``v``
    satisfies ``|v - x_q| <= relative_accuracy * |x_q|``, ``x_q`` being the exact value of
    rank ``max(1, ceil(q * count))`` (see the sketch for the memory bound ``max_bins``,
    past which only the upper quantiles keep the bound). Values must be finite real
    numbers: NaN, ±inf and non-numbers are refused with
    :class:`~mvx_metrics.MetricValueError`, leaving the state unchanged.

    Snapshot series carry ``count``, ``sum``, ``min``, ``max`` and ``quantiles`` keyed by
    the Prometheus text of each ``q`` ("0.5", "0.99"), and the sketch's buckets
    (``zero_count``, ``positive_buckets``, ``negative_buckets``) in the base-2 layout of
    the snapshot's ``scale``, which exporters send as a Prometheus native histogram or an
    OpenTelemetry exponential histogram. An empty series (the label-less one
    before its first event) reports ``min``, ``max`` and every quantile as ``None``
    (JSON ``null``); exporters write NaN, as Prometheus client libraries do for empty
    summaries. The label name ``quantile`` is reserved. Labels and overflow work as for
    :class:`~mvx_metrics.Counter`.
    """

    kind = "distribution"
    reserved_labels: ClassVar[tuple[str, ...]] = ("quantile",)

    def __init__(
        self,
        name: str,
        *,
        event: type[MetricEvent] | tuple[type[MetricEvent], ...],
        value: str | Callable[[Any], object],
        relative_accuracy: float = 0.01,
        quantiles: Iterable[float] = (0.5, 0.9, 0.99),
        labels: tuple[str, ...] | Callable[[Any], Mapping[str, object]] = (),
        description: str = "",
        unit: str = "",
        max_series: int = DEFAULT_MAX_SERIES,
        max_bins: int = 2048,
    ) -> None:
        # Checked by building a throw-away sketch, before any series exists.
        probe = QuantileSketch(relative_accuracy, max_bins=max_bins)
        self._scale_factor = probe._scale_factor
        self._scale = probe.scale
        self._relative_accuracy = float(relative_accuracy)
        self._max_bins = max_bins
        self._quantiles = check_quantiles(quantiles)
        super().__init__(
            name,
            event=event,
            value=value,
            labels=labels,
            description=description,
            unit=unit,
            max_series=max_series,
        )

    @property
    def relative_accuracy(self) -> float:
        """The relative-error bound of every reported quantile."""
        return self._relative_accuracy

    @property
    def scale(self) -> int:
        """The sketch's base-2 bucket layout (see :class:`~mvx_metrics.QuantileSketch`)."""
        return self._scale

    @property
    def quantiles(self) -> tuple[float, ...]:
        """The quantiles reported in snapshots."""
        return self._quantiles

    def handle_event(self, event: MetricEvent) -> bool:
        """Add the event's value to its series' sketch; True when applied."""
        get = self._get
        assert get is not None
        try:
            value = get(event)
        except AttributeError as exc:
            self._value_missing(event, exc)
        cls = value.__class__
        if cls is not float:
            if cls is int and -MAX_FLOAT <= value <= MAX_FLOAT:  # type: ignore[operator]
                value = float(value)  # type: ignore[arg-type]
            else:
                value = float(self._number(event, value, negative=True, infinite=False))
        elif not -_INF < value < _INF:  # type: ignore[operator]
            self._number(event, value, negative=True, infinite=False)
        (self._single or self._series_for(event))._add(value)  # type: ignore[arg-type]
        return True

    def fragment(self) -> Fragment | None:
        """Floats: added in place for a series' first value of a run, after that deferred
        and added at once (see :meth:`QuantileSketch._add_floats`). Other values take
        the per-event path."""
        add = QuantileSketch._add_floats
        bindings: dict[str, object] = {"sf": self._scale_factor}
        return self._fragment(
            Distribution, FINITE_FLOAT, IN_PLACE, add_values=add, bindings=bindings
        )

    def _new_state(self) -> QuantileSketch:
        return QuantileSketch(self._relative_accuracy, max_bins=self._max_bins)

    def _copy_state(self, state: QuantileSketch) -> QuantileSketch:
        return state.copy()

    def _state_snapshot(self, state: QuantileSketch) -> dict[str, Any]:
        return state.to_dict(self._quantiles)

    def _extra_snapshot(self) -> dict[str, Any]:
        return {"relative_accuracy": self._relative_accuracy, "scale": self._scale}


def check_quantiles(quantiles: object) -> tuple[float, ...]:
    if isinstance(quantiles, str | bytes) or not isinstance(quantiles, Iterable):
        raise TypeError(
            f"argument 'quantiles' must be a sequence of numbers in [0, 1], "
            f"got {type(quantiles).__name__}"
        )
    result = []
    for q in quantiles:
        check_quantile(q)
        result.append(float(q))
    keys = [go_float(q) for q in result]
    if len(set(keys)) != len(keys):
        raise ValueError(f"argument 'quantiles' repeats a value: {tuple(result)}")
    return tuple(result)
