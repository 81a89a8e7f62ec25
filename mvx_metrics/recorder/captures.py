"""A recorder's metrics as one read found them, and the snapshots built from that.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.

A read holds the recorder (its guard, or its owning loop) only while it copies what
the built-in metrics hold (:meth:`~mvx_metrics.metrics._builtin.BuiltinMetric.capture`:
keys and numbers); the snapshot dicts, most of a read's cost, are built afterwards in
the reader's own thread, where they delay no event and no other reader.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeAlias

from .._steps import Steps, run_to_end
from ..metrics._builtin import BuiltinMetric, Captured
from ..metrics.base import Metric

__all__ = ["Captures", "capture_of", "snapshot_steps_of", "snapshots_of"]

logger = logging.getLogger("mvx_metrics.recorder")

#: ``{metric_name: capture}``: a built-in metric's copy, or a user metric's snapshot.
Captures: TypeAlias = Mapping[str, Captured | Mapping[str, Any]]


def capture_of(metric: Metric) -> Captured | Mapping[str, Any]:
    """A built-in metric's copy of its series; any other metric's (or a built-in one
    whose ``snapshot`` a subclass replaced) snapshot, taken whole."""
    if isinstance(metric, BuiltinMetric) and type(metric).snapshot is BuiltinMetric.snapshot:
        return metric.capture()
    return metric.snapshot()


def snapshots_of(captures: Captures) -> dict[str, Mapping[str, Any]]:
    """``{metric_name: snapshot}`` from one read's captures."""
    return run_to_end(snapshot_steps_of(captures))


def snapshot_steps_of(captures: Captures) -> Steps[dict[str, Mapping[str, Any]]]:
    """:func:`snapshots_of`, pausing between slices of series (see :mod:`.._steps`)."""
    result: dict[str, Mapping[str, Any]] = {}
    for name, capture in captures.items():
        if not isinstance(capture, Captured):
            result[name] = capture
            continue
        try:
            result[name] = yield from capture.snapshot_steps()
        except Exception:  # a bug of ours: the other metrics are still served
            logger.exception("metric %r: building its snapshot failed; left out", name)
    return result
