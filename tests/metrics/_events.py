"""Events and helpers for the built-in metric tests."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from mvx_metrics import Metric, MetricEvent, MetricValueError


@dataclass(slots=True, frozen=True)
class Request(MetricEvent):
    route: str = "/"
    status: int = 200
    duration_s: float = 0.01
    size: Any = 1


@dataclass(slots=True, frozen=True)
class Other(MetricEvent):
    size: Any = 1


@dataclass(slots=True)
class Anything(MetricEvent):
    """A mutable event whose value can be anything, to feed bad values."""

    value: Any = 1
    tags: dict[str, Any] = field(default_factory=dict)


def roundtrip(snapshot: Any) -> Any:
    """The snapshot after a JSON round trip (fails if it is not JSON-serialisable)."""
    return json.loads(json.dumps(snapshot))


def assert_rejected(metric: Metric, event: MetricEvent, reason: str) -> MetricValueError:
    """``event`` is refused with ``reason`` and leaves the metric's snapshot unchanged."""
    before = copy.deepcopy(metric.snapshot())
    with pytest.raises(MetricValueError) as info:
        metric.handle_event(event)
    assert info.value.reason == reason, info.value
    assert info.value.details["metric"] == metric.metric_name
    assert info.value.details["event_type"] == type(event).__qualname__
    assert metric.snapshot() == before
    return info.value
