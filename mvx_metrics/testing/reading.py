"""Reading one value out of snapshots, diffs between two, and assertions that say why.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.testing`.

Every function takes what ``get_metric_snapshots()`` returns: a recorder's
``{metric_name: snapshot}``, or a runtime's ``{recorder_id: {metric_name: snapshot}}``
(then give the recorder id as ``recorder=``). A series is chosen by its labels, given as
keyword arguments (``outcome="SUCCESS"``), all of them: a metric without labels is read
with none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Capture",
    "MetricNotFoundError",
    "SeriesNotFoundError",
    "assert_value",
    "capture",
    "diff",
    "series",
    "value",
]

Snapshots = Mapping[str, Mapping[str, Any]]
#: ``(metric_name, labels as sorted (name, value) pairs)``: one series.
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


_MISSING: Any = object()


class MetricNotFoundError(LookupError):
    """No metric of that name (or no recorder of that recorder id); the message lists those
    that exist."""


class SeriesNotFoundError(LookupError):
    """The metric has no series with those labels; the message lists those it has."""


def series(
    snapshots: Mapping[str, Any], metric: str, *, recorder: str | None = None
) -> list[Mapping[str, Any]]:
    """Every series of ``metric`` (its snapshot's ``series`` list)."""
    return list(_metric(snapshots, metric, recorder).get("series", ()))


def value(
    snapshots: Mapping[str, Any],
    metric: str,
    *,
    recorder: str | None = None,
    field: str | None = None,
    default: Any = _MISSING,
    **labels: object,
) -> Any:
    """The value of the one series of ``metric`` whose labels are exactly ``labels``.

    ``recorder``: the recorder id to read, when ``snapshots`` are a runtime's.
    ``default``: returned when the metric has no such series (a labelled series exists
    only once an event made it); without it, that is a :class:`SeriesNotFoundError`.

    For counters and gauges that is ``value``; for histograms and distributions, the
    ``count`` unless ``field`` names another (``"sum"``, ``"buckets"``, ``"quantiles"``,
    ``"max"``). Label values are compared as text (``outcome=SaveOutcome.OK`` matches
    ``"SaveOutcome.OK"``, as the recorder stored it). Raises
    :class:`MetricNotFoundError` or :class:`SeriesNotFoundError`, listing what exists.
    """
    snapshot = _metric(snapshots, metric, recorder)
    wanted = {name: str(label) for name, label in labels.items()}
    found = [s for s in snapshot.get("series", ()) if s.get("labels") == wanted]
    if not found:
        if default is not _MISSING:
            return default
        have = [dict(s.get("labels", {})) for s in snapshot.get("series", ())]
        raise SeriesNotFoundError(
            f"metric {metric!r} has no series with labels {wanted}; it has: {have or 'none'}"
        )
    chosen = found[0]
    key = _field_of(chosen, field)
    try:
        return chosen[key]
    except KeyError:
        fields = sorted(k for k in chosen if k != "labels")
        raise KeyError(f"series of {metric!r} has no field {key!r}; it has {fields}") from None


def assert_value(
    snapshots: Mapping[str, Any],
    metric: str,
    expected: object,
    *,
    recorder: str | None = None,
    field: str | None = None,
    rel: float = 0.0,
    **labels: object,
) -> None:
    """Assert that :func:`value` equals ``expected`` (numbers within ``rel``, relative);
    the failure message shows the series' labels, the expected and the actual value,
    and every series of the metric."""
    actual = value(snapshots, metric, recorder=recorder, field=field, **labels)
    if _equal(actual, expected, rel):
        return
    where = f"{metric}{{{', '.join(f'{k}={v!s}' for k, v in labels.items())}}}"
    others = "\n".join(
        f"  {dict(s.get('labels', {}))}: {_shown(s, field)}"
        for s in series(snapshots, metric, recorder=recorder)
    )
    raise AssertionError(
        f"{where}: expected {expected!r}, got {actual!r}\nevery series of {metric!r}:\n{others}"
    )


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[SeriesKey, float]:
    """What changed between two snapshots of one recorder: ``{(metric, labels): delta}``
    of each counter, up-down counter and gauge value and each histogram or distribution
    count that moved (a series new in ``after`` counts from zero). Series that did not
    change are left out. For a runtime's snapshots, diff one recorder's."""
    old = numbers_by_series(before)
    return {
        key: now - old.get(key, 0)
        for key, now in numbers_by_series(after).items()
        if now != old.get(key, 0)
    }


class _Readable(Protocol):
    def get_metric_snapshots(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass(slots=True)
class Capture:
    """What a ``with capture(recorder)`` block changed: :attr:`changes` (a :func:`diff`)
    once the block has ended, and :meth:`delta` for one series."""

    before: Snapshots
    after: Snapshots = field(default_factory=dict)
    changes: dict[SeriesKey, float] = field(default_factory=dict)

    def delta(self, metric: str, **labels: object) -> float:
        """How much the series of ``metric`` with ``labels`` moved in the block (0 when
        it did not)."""
        key = (metric, tuple(sorted((k, str(v)) for k, v in labels.items())))
        return self.changes.get(key, 0)


@contextmanager
def capture(recorder: _Readable) -> Iterator[Capture]:
    """Snapshots ``recorder`` before and after the block (read-your-writes, so every
    event registered inside is in ``after``); the :class:`Capture` then says what the
    block alone changed."""
    result = Capture(before=recorder.get_metric_snapshots())
    yield result
    result.after = recorder.get_metric_snapshots()
    result.changes = diff(result.before, result.after)


# --- helpers ------------------------------------------------------------------------------


def _metric(snapshots: Mapping[str, Any], metric: str, recorder: str | None) -> Mapping[str, Any]:
    if recorder is not None:
        if recorder not in snapshots:
            raise MetricNotFoundError(
                f"no recorder {recorder!r}; the snapshots have: {sorted(snapshots)}"
            )
        snapshots = snapshots[recorder]
    found = snapshots.get(metric)
    runtime_wide = recorder is None and _looks_like_runtime(snapshots)
    if not isinstance(found, Mapping) or runtime_wide:
        hint = (
            " (a runtime's snapshots: give the recorder id as recorder=...)" if runtime_wide else ""
        )
        raise MetricNotFoundError(
            f"no metric {metric!r}; the snapshots have: {sorted(snapshots)}{hint}"
        )
    return found


def _looks_like_runtime(snapshots: Mapping[str, Any]) -> bool:
    return bool(snapshots) and all(
        isinstance(inner, Mapping) and "series" not in inner for inner in snapshots.values()
    )


def numbers_by_series(snapshots: Mapping[str, Any]) -> dict[SeriesKey, float]:
    """Each series' number (value, or count), keyed as :func:`diff` keys them."""
    numbers: dict[SeriesKey, float] = {}
    for name, snapshot in snapshots.items():
        if not isinstance(snapshot, Mapping):
            continue
        for one in snapshot.get("series", ()):
            number = one.get(_field_of(one, None))
            if isinstance(number, int | float) and not isinstance(number, bool):
                labels = tuple(sorted((str(k), str(v)) for k, v in one.get("labels", {}).items()))
                numbers[name, labels] = number
    return numbers


def _equal(actual: object, expected: object, rel: float) -> bool:
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        if math.isnan(actual) and math.isnan(expected):
            return True
        return math.isclose(actual, expected, rel_tol=rel, abs_tol=0.0) or actual == expected
    return actual == expected


def _shown(one: Mapping[str, Any], field: str | None) -> object:
    return one.get(_field_of(one, field))


def _field_of(one: Mapping[str, Any], field: str | None) -> str:
    """The field read from a series: ``field``, else ``value`` (counters, gauges) or
    ``count`` (histograms, distributions)."""
    return field or ("value" if "value" in one else "count")
