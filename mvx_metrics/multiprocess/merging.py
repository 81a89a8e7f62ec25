"""Merging one recorder's snapshots from several processes into one, kind by kind.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.multiprocess`.

- counters and up-down counters: the values summed, series by series;
- histograms: bucket counts, ``count`` and ``sum`` summed, ``min`` and ``max`` kept
  (the bucket layouts must agree);
- distributions: the sketches merged bucket for bucket
  (:meth:`~mvx_metrics.metrics._sketch.QuantileSketch.merge`), and the quantiles
  answered from the merge, so they keep the sketch's relative-error bound across
  processes;
- gauges: by their ``multiprocess_mode`` (:data:`~mvx_metrics.multiprocess.GAUGE_MULTIPROCESS_MODES`),
  over live processes only (a process that exited has no current value).

A metric whose kind or layout differs between processes cannot be merged faithfully:
the first one seen is kept and the others are counted in ``conflicts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..metrics._sketch import QuantileSketch
from ..recorder.stats import PROCESSING_DELAY_BOUNDS, ProcessingDelay

__all__ = [
    "CUMULATIVE_KINDS",
    "Part",
    "delay_from_dict",
    "delay_to_dict",
    "merge_delays",
    "merge_snapshots",
    "merge_stats",
]

#: Kinds whose totals outlive the process that counted them.
CUMULATIVE_KINDS = frozenset({"counter", "updown_counter", "histogram", "distribution"})

#: The label a per-process gauge series gets.
INSTANCE_LABEL = "instance"

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One process's snapshots of one recorder."""

    instance: str
    written_ns: int
    live: bool
    snapshots: Mapping[str, Mapping[str, Any]]


@dataclass(slots=True)
class _Merged:
    snapshot: dict[str, Any]
    series: dict[LabelKey, dict[str, Any]] = field(default_factory=dict)
    #: For most_recent gauges: when each series' value was published.
    written: dict[LabelKey, int] = field(default_factory=dict)


def merge_snapshots(parts: Iterable[Part]) -> tuple[dict[str, dict[str, Any]], int]:
    """``({metric_name: snapshot}, conflicts)``: the parts merged, metric by metric, in
    the order metrics first appear."""
    merged: dict[str, _Merged] = {}
    conflicts = 0
    for part in parts:
        for name, snapshot in part.snapshots.items():
            kind = snapshot.get("kind")
            if kind not in CUMULATIVE_KINDS and kind != "gauge":
                continue  # a user-written metric: nothing says how to merge it
            if kind == "gauge" and not part.live:
                continue
            into = merged.get(name)
            if into is None:
                into = merged[name] = _Merged(_frame(snapshot))
            elif not _compatible(into.snapshot, snapshot):
                conflicts += 1
                continue
            into.snapshot["overflow_events"] += int(snapshot.get("overflow_events", 0))
            for one in snapshot.get("series", ()):
                _add_series(into, kind, one, part)
    return {name: _finish(m) for name, m in merged.items()}, conflicts


def merge_stats(stats: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Recorder stats of several processes, summed (as :func:`_stats_dict` writes them)."""
    total: dict[str, Any] = {
        "accepted": 0,
        "processed": 0,
        "pending": 0,
        "capacity": 0,
        "dropped": {},
        "metric_errors": {},
        "hook_errors": 0,
    }
    delays = []
    for one in stats:
        for key in ("accepted", "processed", "pending", "capacity", "hook_errors"):
            total[key] += int(one.get(key, 0))
        for key in ("dropped", "metric_errors"):
            for reason, n in one.get(key, {}).items():
                total[key][reason] = total[key].get(reason, 0) + int(n)
        delays.append(delay_from_dict(one.get("processing_delay")))
    total["processing_delay"] = delay_to_dict(merge_delays(delays))
    return total


def merge_delays(delays: Iterable[ProcessingDelay]) -> ProcessingDelay:
    """Processing delays of several processes as one histogram: counts and sums added,
    the least minimum and the greatest maximum. Those with other bucket bounds (a file of
    another version) are left out."""
    counts = [0] * (len(PROCESSING_DELAY_BOUNDS) + 1)
    total = 0.0
    least: float | None = None
    most: float | None = None
    for delay in delays:
        if delay.bounds != PROCESSING_DELAY_BOUNDS or delay.min is None or delay.max is None:
            continue
        counts = [a + b for a, b in zip(counts, delay.counts, strict=True)]
        total += delay.sum
        least = delay.min if least is None else min(least, delay.min)
        most = delay.max if most is None else max(most, delay.max)
    if least is None:
        return ProcessingDelay()
    return ProcessingDelay(PROCESSING_DELAY_BOUNDS, tuple(counts), total, least, most)


def delay_to_dict(delay: ProcessingDelay) -> dict[str, Any]:
    """A processing delay as a process file holds it."""
    return {
        "bounds": list(delay.bounds),
        "counts": list(delay.counts),
        "sum": delay.sum,
        "min": delay.min,
        "max": delay.max,
    }


def delay_from_dict(data: object) -> ProcessingDelay:
    """What :func:`delay_to_dict` wrote; an empty delay for a file without it (an older
    version) or with one of another shape."""
    if not isinstance(data, Mapping):
        return ProcessingDelay()
    try:
        bounds = tuple(float(b) for b in data["bounds"])
        counts = tuple(int(n) for n in data["counts"])
        low, high = data["min"], data["max"]
        if len(counts) != len(bounds) + 1 or low is None or high is None:
            return ProcessingDelay()
        return ProcessingDelay(bounds, counts, float(data["sum"]), float(low), float(high))
    except (KeyError, TypeError, ValueError):
        return ProcessingDelay()


# --- helpers ------------------------------------------------------------------------------


def _frame(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot's metric-level fields, with no series yet."""
    frame = {k: v for k, v in snapshot.items() if k not in ("series", "overflow_events")}
    frame["overflow_events"] = 0
    return frame


def _compatible(into: Mapping[str, Any], snapshot: Mapping[str, Any]) -> bool:
    if into.get("kind") != snapshot.get("kind"):
        return False
    if into.get("kind") == "distribution":
        return bool(into.get("relative_accuracy") == snapshot.get("relative_accuracy"))
    if into.get("kind") == "gauge":
        return bool(into.get("multiprocess_mode") == snapshot.get("multiprocess_mode"))
    return True


def _key(labels: Mapping[str, Any]) -> LabelKey:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def _add_series(into: _Merged, kind: str, one: Mapping[str, Any], part: Part) -> None:
    labels = dict(one.get("labels", {}))
    if kind == "gauge":
        mode = into.snapshot.get("multiprocess_mode", "per_process")
        if mode == "per_process":
            labels[INSTANCE_LABEL] = part.instance
        key = _key(labels)
        have = into.series.get(key)
        value = one["value"]
        if have is None:
            into.series[key] = {"labels": labels, "value": value}
            into.written[key] = part.written_ns
        elif mode == "live_sum":
            have["value"] += value
        elif mode == "live_max":
            have["value"] = max(have["value"], value)
        elif mode == "live_min":
            have["value"] = min(have["value"], value)
        elif mode == "most_recent" and part.written_ns >= into.written[key]:
            have["value"] = value
            into.written[key] = part.written_ns
        return
    key = _key(labels)
    have = into.series.get(key)
    if kind in ("counter", "updown_counter"):
        if have is None:
            into.series[key] = {"labels": labels, "value": one["value"]}
        else:
            have["value"] += one["value"]
    elif kind == "histogram":
        if have is None:
            into.series[key] = {k: v for k, v in one.items() if k != "exemplars"}
            into.series[key]["buckets"] = dict(one["buckets"])
            into.series[key]["labels"] = labels
        elif list(have["buckets"]) == list(one["buckets"]):
            for le, n in one["buckets"].items():
                have["buckets"][le] += n
            have["count"] += one["count"]
            have["sum"] += one["sum"]
            have["min"] = _least(have.get("min"), one.get("min"))
            have["max"] = _most(have.get("max"), one.get("max"))
    else:  # distribution
        sketch = _sketch(into.snapshot, one)
        if have is None:
            levels = [float(q) for q in one.get("quantiles", {})]
            into.series[key] = {"labels": labels, "_sketch": sketch, "_levels": levels}
        else:
            have["_sketch"].merge(sketch)


def _sketch(snapshot: Mapping[str, Any], one: Mapping[str, Any]) -> QuantileSketch:
    return QuantileSketch.from_buckets(
        float(snapshot["relative_accuracy"]),
        zero_count=one.get("zero_count", 0),
        positive=one.get("positive_buckets", ()),
        negative=one.get("negative_buckets", ()),
        sum=one.get("sum", 0.0),
        min=one.get("min"),
        max=one.get("max"),
    )


def _least(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _finish(merged: _Merged) -> dict[str, Any]:
    snapshot = dict(merged.snapshot)
    series = []
    for one in merged.series.values():
        sketch = one.pop("_sketch", None)
        if sketch is not None:
            one.update(sketch.to_dict(one.pop("_levels")))
        series.append(one)
    snapshot["series"] = series
    return snapshot
