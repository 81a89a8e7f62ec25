"""The event and the counting metric that the hand-off and snapshot benchmarks share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvx_metrics import Metric, MetricEvent

__all__ = ["CountingMetric", "Ev"]


@dataclass(slots=True, frozen=True)
class Ev(MetricEvent):
    value: int


class CountingMetric(Metric):
    """The cheapest useful metric: what is measured is the recorder, not the metric."""

    def __init__(self) -> None:
        self.count = 0

    @property
    def metric_name(self) -> str:
        return "count"

    def handle_event(self, event: MetricEvent) -> bool:
        self.count += 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"count": self.count}
