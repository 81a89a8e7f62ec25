"""What the bridges read: a runtime (every recorder) or a recorder, one snapshot at a time."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import anyio
import anyio.to_thread

from ..exposition.process import process_families
from ..exposition.recorder_stats import recorder_stats, with_stats
from ..multiprocess.directory import LOCK_WAIT_S, GroupRead, MultiprocessDirectory
from ..recorder.captures import Captures
from ..recorder.protocol import MetricsRecorderProto
from ..recorder.recorder import MetricsRecorder
from ..recorder.stats import RecorderStats
from ..runtime.runtime import MetricsRuntime
from ..snapshots import MetricFamily, families_from_snapshots

__all__ = [
    "Source",
    "aread_exposition",
    "check_source",
    "process_families_of",
    "read_exposition",
    "read_snapshots",
    "read_source",
]

#: A runtime (every recorder, each labelled with its recorder id) or a single recorder.
Source: TypeAlias = MetricsRuntime | MetricsRecorderProto

#: One read: per recorder, its id (None for a lone recorder), snapshots and stats.
ReadList: TypeAlias = list[tuple[str | None, Mapping[str, Mapping[str, Any]], RecorderStats | None]]


def read_source(
    source: Source, timeout: float | None, *, include_stats: bool = True
) -> list[tuple[str | None, list[MetricFamily]]]:
    """One snapshot of ``source`` as ``[(recorder_id, families)]``, each recorder's stats
    families after its metrics unless ``include_stats`` is False (see
    :func:`read_snapshots`)."""
    return [
        (rid, with_stats(families_from_snapshots(snapshots), stats))
        for rid, snapshots, stats in read_snapshots(source, timeout, include_stats=include_stats)
    ]


def read_exposition(
    source: Source, timeout: float | None, *, include_stats: bool = True
) -> tuple[ReadList, list[MetricFamily]]:
    """What an exposition of ``source`` shows: ``(read, process)``, the read of
    :func:`read_snapshots` and the process families to end with.

    In multiprocess mode both come from one read of the directory: the process
    families are then every live process's, each labelled with its ``instance``
    (this process's among them, as it just published), never this process's
    unlabelled as well (see :mod:`mvx_metrics.multiprocess.per_process`)."""
    if isinstance(source, MetricsRuntime) and source.multiprocess_dir is not None:
        group = _read_group(source, source.multiprocess_dir, timeout)
        return _stats_if(group.recorders, include_stats), group.process
    read = read_snapshots(source, timeout, include_stats=include_stats)
    return read, process_families_of(source)


def read_snapshots(
    source: Source, timeout: float | None, *, include_stats: bool = True
) -> ReadList:
    """One snapshot of ``source`` as ``[(recorder_id, {metric_name: snapshot}, stats)]``;
    ``stats`` is None when not asked for (or the recorder has none).

    ``recorder_id`` is None for a recorder, and each recorder's recorder id for a runtime.
    Exactly one ``get_metric_snapshots`` call on ``source``: a runtime snapshots all its
    recorders in one go, so the snapshots of different recorders are from the same
    moment. Stats are read after it, so that they account for every event in the snapshot.
    """
    if isinstance(source, MetricsRuntime) and source.multiprocess_dir is not None:
        group = _read_group(source, source.multiprocess_dir, timeout)
        return _stats_if(group.recorders, include_stats)
    if isinstance(source, MetricsRuntime):
        nested = source.get_metric_snapshots(timeout=timeout)
        stats = source.get_stats() if include_stats else {}
        return [(rid, snaps, stats.get(rid)) for rid, snaps in nested.items()]
    snapshots: Mapping[str, Mapping[str, Any]]
    if isinstance(source, MetricsRecorder):
        snapshots = source.get_metric_snapshots(timeout=timeout)
    else:  # another MetricsRecorderProto: its get_metric_snapshots takes no timeout
        snapshots = source.get_metric_snapshots()
    return [(None, snapshots, recorder_stats(source) if include_stats else None)]


async def aread_exposition(
    source: Source, timeout: float | None, *, include_stats: bool = True
) -> tuple[Sequence[tuple[str | None, Captures, RecorderStats | None]], list[MetricFamily]]:
    """:func:`read_exposition` for asyncio or trio code in any thread, the recorders'
    part as captures (see ``recorder/captures.py``), from which the caller builds the
    snapshots in steps.

    The owning loop's part is awaited, and a multiprocess read (files read, parsed and
    merged) runs in a worker thread, so the caller's loop is held only while idle
    recorders are copied in place."""
    if isinstance(source, MetricsRuntime) and source.multiprocess_dir is not None:
        return await anyio.to_thread.run_sync(
            lambda: read_exposition(source, timeout, include_stats=include_stats),
            abandon_on_cancel=True,
        )
    captured: list[tuple[str | None, Captures, RecorderStats | None]]
    if isinstance(source, MetricsRuntime):
        nested = await source._acapture_snapshots(timeout)
        stats = source.get_stats() if include_stats else {}
        captured = [(rid, captures, stats.get(rid)) for rid, captures in nested.items()]
    elif isinstance(source, MetricsRecorder):
        captures = await source._acapture_snapshots(timeout)
        captured = [(None, captures, recorder_stats(source) if include_stats else None)]
    else:  # another MetricsRecorderProto: its get_metric_snapshots is synchronous
        snapshots = source.get_metric_snapshots()
        captured = [(None, snapshots, recorder_stats(source) if include_stats else None)]
    return captured, process_families_of(source)


def _read_group(
    runtime: MetricsRuntime, directory: MultiprocessDirectory, timeout: float | None
) -> GroupRead:
    """Multiprocess mode: publish this process as of now, then read every process's
    merge, both within ``timeout`` (None: each its own bound); the read waits for the
    directory's lock only what the publication left of it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    runtime.publish(timeout=timeout)
    if deadline is None:
        return directory.read_group()
    return directory.read_group(wait=min(LOCK_WAIT_S, max(0.0, deadline - time.monotonic())))


def _stats_if(read: ReadList, include_stats: bool) -> ReadList:
    # A directory read always carries the merged stats: left out here when not asked for.
    return read if include_stats else [(rid, snapshots, None) for rid, snapshots, _ in read]


def process_families_of(source: Source) -> list[MetricFamily]:
    """The process's metrics for a runtime's exposition (unless it was made with
    ``process_metrics=False``); none for a lone recorder, which is not the process.
    Multiprocess expositions show the group's instead (:func:`read_exposition`)."""
    if isinstance(source, MetricsRuntime) and source.process_metrics:
        return process_families(source.loop_lag)
    return []


def check_source(source: object) -> Source:
    """``source`` itself if it is a runtime or a recorder, else TypeError."""
    if isinstance(source, MetricsRuntime | MetricsRecorderProto):
        return source
    raise TypeError(
        "source must be a MetricsRuntime or a recorder (MetricsRecorderProto), "
        f"got {type(source).__name__}"
    )
