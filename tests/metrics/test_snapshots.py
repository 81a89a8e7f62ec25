"""families_from_snapshots: built-in snapshots as frozen Prometheus-model families."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mvx_metrics import (
    Counter,
    Distribution,
    Gauge,
    Histogram,
    Metric,
    MetricFamily,
    Sample,
    UpDownCounter,
    families_from_snapshots,
)

from ._events import Request, roundtrip


def test_every_kind_becomes_a_family_with_its_samples() -> None:
    metrics: list[Metric] = [
        Counter("requests", event=Request, labels=("route",), description="Requests."),
        UpDownCounter("in_flight", event=Request, value="size"),
        Gauge("last_size", event=Request, value="size", unit="bytes"),
        Histogram("latency", event=Request, value="duration_s", buckets=(0.1, 1)),
        Distribution("spread", event=Request, value="duration_s", quantiles=(0.5, 1)),
    ]
    for event in [Request("/a", duration_s=0.05), Request("/b", duration_s=2.0, size=3)]:
        for metric in metrics:
            metric.handle_event(event)
    # Families are built from JSON data as exporters receive it.
    snapshots = roundtrip({m.metric_name: m.snapshot() for m in metrics})
    families = {f.name: f for f in families_from_snapshots(snapshots)}
    assert list(families) == ["requests", "in_flight", "last_size", "latency", "spread"]

    assert families["requests"] == MetricFamily(
        name="requests",
        kind="counter",
        description="Requests.",
        unit="",
        samples=(
            Sample("", (("route", "/a"),), 1.0),
            Sample("", (("route", "/b"),), 1.0),
        ),
    )
    assert families["in_flight"].samples == (Sample("", (), 4.0),)
    assert families["last_size"].samples == (Sample("", (), 3.0),)
    assert families["last_size"].unit == "bytes"
    assert families["latency"].samples == (
        Sample("_bucket", (("le", "0.1"),), 1.0),
        Sample("_bucket", (("le", "1.0"),), 1.0),
        Sample("_bucket", (("le", "+Inf"),), 2.0),
        Sample("_count", (), 2.0),
        Sample("_sum", (), 2.05),
    )
    spread = families["spread"].samples
    assert [(s.suffix, s.labels) for s in spread] == [
        ("", (("quantile", "0.5"),)),
        ("", (("quantile", "1.0"),)),
        ("_count", ()),
        ("_sum", ()),
    ]
    assert spread[0].value == pytest.approx(0.05, rel=0.01) and spread[1].value == 2.0


def test_series_labels_come_first_then_le() -> None:
    histogram = Histogram("h", event=Request, value="duration_s", labels=("route",), buckets=[1])
    histogram.handle_event(Request("/x"))
    [family] = families_from_snapshots({"h": histogram.snapshot()})
    assert family.samples[0].labels == (("route", "/x"), ("le", "1.0"))
    assert family.samples[-1] == Sample("_sum", (("route", "/x"),), 0.01)


def test_empty_distribution_quantiles_are_nan() -> None:
    [family] = families_from_snapshots(
        {"d": Distribution("d", event=Request, value="duration_s").snapshot()}
    )
    quantile_samples = [s for s in family.samples if s.suffix == ""]
    assert len(quantile_samples) == 3 and all(math.isnan(s.value) for s in quantile_samples)
    assert [s.value for s in family.samples if s.suffix] == [0.0, 0.0]


def test_user_written_snapshots_are_skipped() -> None:
    counter = Counter("c", event=Request, max_series=1, labels=("route",))
    counter.handle_event(Request("/a"))
    counter.handle_event(Request("/b"))
    families = families_from_snapshots(
        {"mine": {"count": 3}, "odd": {"kind": "weird"}, "c": counter.snapshot()}
    )
    assert [f.name for f in families] == ["c"]
    assert families[0].overflow_events == 1
    assert families[0].samples[-1].labels == (("route", "__overflow__"),)


def test_families_and_samples_are_frozen_and_slotted() -> None:
    sample = Sample("", (), 1.0)
    family = MetricFamily("f", "gauge", "", "", (sample,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.value = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.name = "g"  # type: ignore[misc]
    assert not hasattr(sample, "__dict__") and not hasattr(family, "__dict__")


def test_an_exact_int_total_beyond_the_float_range_exports_as_infinity() -> None:
    from mvx_metrics import families_from_snapshots

    snapshot = {
        "name": "huge",
        "kind": "counter",
        "description": "",
        "unit": "",
        "series": [{"labels": {}, "value": 10**400}],
        "overflow_events": 0,
    }
    (family,) = families_from_snapshots({"huge": snapshot})
    assert family.samples[0].value == float("inf")
