"""Frozen, typed views of built-in metric snapshots, for exporters.

Internal: not part of the public API; import these names from :mod:`mvx_metrics`.

A snapshot dict (``Metric.snapshot()``) is what the recorder hands out; exporters want
flat samples instead. :func:`families_from_snapshots` turns the snapshots of the
built-in metrics into :class:`MetricFamily` values in the Prometheus data model:

- ``counter``, ``updown_counter``, ``gauge``: one sample per series (suffix ``""``);
- ``histogram``: per series, ``_bucket`` samples with an ``le`` label (cumulative, ending
  with ``le="+Inf"``), then ``_count`` and ``_sum``;
- ``distribution``: per series, summary-like samples with a ``quantile`` label, then
  ``_count`` and ``_sum``; a quantile of an empty series is NaN.

Exporters add their own naming on top (``_total`` for counters, unit suffixes).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._steps import SERIES_PER_STEP, Steps

__all__ = [
    "KINDS",
    "Exemplar",
    "MetricFamily",
    "NativeHistogram",
    "Sample",
    "families_from_snapshots",
    "iter_families",
]

logger = logging.getLogger("mvx_metrics.export")

#: The ``kind`` values the built-in metrics write in their snapshots.
KINDS = frozenset({"counter", "updown_counter", "gauge", "histogram", "distribution"})

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One event's exemplar: its labels (a trace id, say), the value it added or
    observed, and when (see ``metrics/_exemplars.py``)."""

    labels: Labels
    value: float
    #: Unix time in seconds.
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """The snapshot form: ``{"labels": {...}, "value": ..., "timestamp": ...}``."""
        return {"labels": dict(self.labels), "value": self.value, "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Exemplar:
        labels = tuple((str(k), str(v)) for k, v in data["labels"].items())
        return cls(labels, _number(data["value"]), _number(data["timestamp"]))


@dataclass(frozen=True, slots=True)
class Sample:
    """One exposed number: ``family.name + suffix``, its labels (in order) and its value."""

    #: Appended to the family name: "", "_bucket", "_count" or "_sum".
    suffix: str
    #: ``(name, value)`` pairs: the series labels, then ``le`` or ``quantile`` if any.
    labels: Labels
    #: The value as a float (NaN for an empty distribution's quantiles).
    value: float
    #: A counter's or histogram bucket's latest exemplar, if it keeps them and has one.
    exemplar: Exemplar | None = None


@dataclass(frozen=True, slots=True)
class NativeHistogram:
    """One distribution series' sketch buckets, for formats with exponential histograms
    (Prometheus native histograms): bucket ``k`` holds magnitudes in
    ``(2**(2**-schema))**(k-1)`` to ``(2**(2**-schema))**k``, upper bound included."""

    #: The series labels, as in :attr:`Sample.labels` (without ``quantile``).
    labels: Labels
    count: int
    sum: float
    #: The base-2 layout (the sketch's ``scale``).
    schema: int
    #: Values that are exactly zero.
    zero_count: int
    #: ``(k, count)`` in ascending ``k``, for positive values and for negative ones by
    #: magnitude.
    positive: tuple[tuple[int, int], ...]
    negative: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """All the samples of one metric, with what exporters need to write its header."""

    #: The metric's name, as registered.
    name: str
    #: One of :data:`KINDS`.
    kind: str
    #: The metric's description ("" when none).
    description: str
    #: The metric's unit ("" when none).
    unit: str
    #: Series after series, each series' samples together.
    samples: tuple[Sample, ...]
    #: Events applied to the overflow series (labels all ``"__overflow__"``).
    overflow_events: int = 0
    #: For a ``distribution`` whose snapshot has its buckets: one per series, in the
    #: order of the samples' series.
    histograms: tuple[NativeHistogram, ...] = ()


def families_from_snapshots(snapshots: Mapping[str, Mapping[str, Any]]) -> list[MetricFamily]:
    """One family per built-in metric snapshot, in the mapping's order (see
    :func:`iter_families`)."""
    return list(iter_families(snapshots))


def iter_families(snapshots: Mapping[str, Mapping[str, Any]]) -> Iterator[MetricFamily]:
    """One family per built-in metric snapshot, in the mapping's order.

    ``snapshots`` is what ``recorder.get_metric_snapshots()`` returns. Snapshots of
    user-written metrics (no ``kind``, or one not in :data:`KINDS`) are skipped.
    """
    return (family for family in iter_family_steps(snapshots) if family is not None)


def iter_family_steps(
    snapshots: Mapping[str, Mapping[str, Any]],
) -> Iterator[MetricFamily | None]:
    """:func:`iter_families` with a ``None`` between slices of a large family's series,
    where a scrape's loop may give its other tasks a turn (see :mod:`mvx_metrics._steps`)."""
    for name, snapshot in snapshots.items():
        if not isinstance(snapshot, Mapping) or snapshot.get("kind") not in KINDS:
            continue
        try:
            family = yield from _family_steps(snapshot)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A user-written metric borrowing a built-in kind with another shape: skipping it
            # keeps every other metric exported; the log says why this one is missing.
            logger.warning(
                "metric %r: snapshot of kind %r not exportable (%r); skipped",
                name,
                snapshot.get("kind"),
                exc,
            )
            continue
        # One at a time: an exporter that renders each family before the next is made
        # holds one family's samples at once, not every family's (fewer objects that
        # survive long enough to set off a full garbage collection in the middle).
        yield family


def _family_steps(snapshot: Mapping[str, Any]) -> Steps[MetricFamily]:
    kind = snapshot["kind"]
    samples: list[Sample] = []
    histograms: list[NativeHistogram] = []
    # A distribution snapshot of a user's metric may lack the buckets: quantiles only.
    native = kind == "distribution" and "scale" in snapshot
    for index, series in enumerate(snapshot["series"], 1):
        if not index % SERIES_PER_STEP:
            yield
        labels: Labels = tuple((str(k), str(v)) for k, v in series["labels"].items())
        if kind == "histogram":
            samples.extend(_histogram_samples(labels, series))
        elif kind == "distribution":
            samples.extend(_distribution_samples(labels, series))
            if native:
                histograms.append(_native(labels, int(snapshot["scale"]), series))
        else:
            exemplar = series.get("exemplar")
            samples.append(
                Sample(
                    "",
                    labels,
                    _number(series["value"]),
                    None if exemplar is None else Exemplar.from_dict(exemplar),
                )
            )
    return MetricFamily(
        name=str(snapshot["name"]),
        kind=kind,
        description=str(snapshot.get("description", "")),
        unit=str(snapshot.get("unit", "")),
        samples=tuple(samples),
        overflow_events=int(snapshot.get("overflow_events", 0)),
        histograms=tuple(histograms),
    )


def _native(labels: Labels, schema: int, series: Mapping[str, Any]) -> NativeHistogram:
    return NativeHistogram(
        labels=labels,
        count=int(series["count"]),
        sum=_number(series["sum"]),
        schema=schema,
        zero_count=int(series["zero_count"]),
        positive=tuple((int(k), int(c)) for k, c in series["positive_buckets"]),
        negative=tuple((int(k), int(c)) for k, c in series["negative_buckets"]),
    )


def _histogram_samples(labels: Labels, series: Mapping[str, Any]) -> Iterable[Sample]:
    exemplars = series.get("exemplars", {})
    for le, count in series["buckets"].items():
        exemplar = exemplars.get(le)
        yield Sample(
            "_bucket",
            (*labels, ("le", le)),
            _number(count),
            None if exemplar is None else Exemplar.from_dict(exemplar),
        )
    yield Sample("_count", labels, _number(series["count"]))
    yield Sample("_sum", labels, _number(series["sum"]))


def _distribution_samples(labels: Labels, series: Mapping[str, Any]) -> Iterable[Sample]:
    for q, value in series["quantiles"].items():
        yield Sample("", (*labels, ("quantile", q)), _number(value))
    yield Sample("_count", labels, _number(series["count"]))
    yield Sample("_sum", labels, _number(series["sum"]))


def _number(value: object) -> float:
    if value is None:
        return math.nan
    if not isinstance(value, int | float):
        raise TypeError(f"snapshot value must be a number or None, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an exact int total past the float range: as large as a float gets
        return math.inf if value > 0 else -math.inf
