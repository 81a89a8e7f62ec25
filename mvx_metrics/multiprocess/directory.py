"""The shared directory: one file per process life, an archive of exited ones, a merge.

Internal: not part of the public API; import public names from
:mod:`mvx_metrics.multiprocess`.

Files (JSON, each written whole to a temporary name and renamed, so a reader never sees
half a file):

- ``mvx-<instance>.json``: one per process life (``instance`` is the process's random
  id, new in a forked child: pids are reused, ids are not), rewritten at each publish,
  and a last time at exit with ``"exited": true``; a process whose runtime has
  ``process_metrics=True`` adds its own families (CPU, memory, GC...) under
  ``"process"`` (:mod:`.per_process`; optional, so files without it still read, and
  left out of the exit publication: an exited process's are never shown);
- ``archive.json``: the totals of every process that exited (or died: its pid is gone,
  or now belongs to a process started later), folded in by the first read that finds
  it, whose file is then removed. So a read costs the live processes plus one file,
  however many workers came and went. The archive names the files its latest fold
  removes (``"folded"``), written before they are removed: a reader that dies between
  the two leaves files the next reader removes without counting them twice.

Readers and the folding hold an exclusive ``flock`` on ``.lock`` (POSIX), so that two
scrapes never fold the same file twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._process import instance_id, read_proc_file
from ..errors import MetricsRuntimeTimeoutError
from ..recorder.stats import RecorderStats
from ..snapshots import MetricFamily
from .merging import Part, delay_from_dict, delay_to_dict, merge_snapshots, merge_stats
from .per_process import PROCESS_KEY, families_from_json, families_to_json, label_per_process

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no fork, and no concurrent folding
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_WAIT_S", "GroupRead", "MultiprocessDirectory"]

FORMAT = 1
#: Longest a read waits for another process's read (or fold) to let go of the directory.
LOCK_WAIT_S = 10.0
# How often a waiting read tries the lock again: reads take milliseconds.
_LOCK_POLL_S = 0.005
ARCHIVE = "archive.json"
#: The archive's list of the instances whose files the latest fold removed.
FOLDED = "folded"
PREFIX = "mvx-"

Read = list[tuple[str | None, Mapping[str, Mapping[str, Any]], RecorderStats | None]]


@dataclass(frozen=True, slots=True)
class GroupRead:
    """One read of the directory: the group's recorders merged, and each live
    process's own families."""

    #: ``[(recorder_id, snapshots, stats)]``, as :meth:`MultiprocessDirectory.read` gives.
    recorders: Read
    #: The process families of every live process that published them, one family per
    #: name, each sample labelled ``instance="<its instance id>"`` (:mod:`.per_process`).
    process: list[MetricFamily]


class MultiprocessDirectory:
    """A directory the processes of a group publish to, and any of them reads merged."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"argument 'path' must be a path, got {type(path).__name__}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        #: Files that could not be read or merged faithfully, across reads.
        self.problems = 0

    def __repr__(self) -> str:
        return f"MultiprocessDirectory({str(self.path)!r})"

    # --- publishing (each process) ------------------------------------------------------

    def publish(
        self,
        recorders: Mapping[str, Mapping[str, Mapping[str, Any]]],
        stats: Mapping[str, RecorderStats],
        *,
        exited: bool = False,
        process: Iterable[MetricFamily] | None = None,
    ) -> Path:
        """Write this process's file: ``{recorder_id: {metric: snapshot}}`` and stats,
        and ``process`` (this process's own families, as of now) unless it is None."""
        document = {
            "format": FORMAT,
            "instance": instance_id(),
            "pid": os.getpid(),
            "pid_start": _start_ticks(os.getpid()),
            "written_ns": time.time_ns(),
            "exited": exited,
            "recorders": {
                rid: {"metrics": dict(snapshots), "stats": _stats_dict(stats.get(rid))}
                for rid, snapshots in recorders.items()
            },
        }
        if process is not None:
            document[PROCESS_KEY] = families_to_json(process)
        path = self.path / f"{PREFIX}{document['instance']}.json"
        _write_atomically(path, document)
        return path

    # --- reading (any process) ----------------------------------------------------------

    def read(self, *, wait: float | None = None) -> Read:
        """Every process's recorders merged: ``[(recorder_id, snapshots, stats)]``, in
        the order recorders first appear. Folds exited processes into the archive first.
        Waits at most ``wait`` seconds (None: :data:`LOCK_WAIT_S`) for another
        process's hold of the directory's lock, then raises ``MetricsRuntimeTimeoutError``."""
        return self.read_group(wait=wait).recorders

    def read_group(self, *, wait: float | None = None) -> GroupRead:
        """As :meth:`read`, with the live processes' own families from the same files
        (:attr:`GroupRead.process`): what a multiprocess exposition shows."""
        with self._locked(wait):
            archive = self._load(self.path / ARCHIVE) or {"recorders": {}}
            live: list[dict[str, Any]] = []
            exited: list[tuple[Path, dict[str, Any]]] = []
            for path in sorted(self.path.glob(f"{PREFIX}*.json")):
                document = self._load(path)
                if document is None:
                    continue
                if _is_live(document):
                    live.append(document)
                else:
                    exited.append((path, document))
            if exited:
                # A reader that died between writing the archive and removing the files
                # it folded (a worker SIGKILLed while it served a scrape) left them here,
                # already counted: removed now, not added again.
                counted = {one for one in archive.get(FOLDED, ()) if isinstance(one, str)}
                new = [doc for _, doc in exited if _instance(doc) not in counted]
                archive = self._fold(archive, new)
                # Every file removed below is named in the archive first, so that a death
                # before the removals finish leaves only files the next reader skips.
                archive[FOLDED] = sorted(
                    {one for _, doc in exited if (one := _instance(doc)) is not None}
                )
                _write_atomically(self.path / ARCHIVE, archive)
                for path, _ in exited:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        return GroupRead(self._merge(archive, live), self._process_families(live))

    def _fold(self, archive: dict[str, Any], exited: list[dict[str, Any]]) -> dict[str, Any]:
        """The archive with the cumulative totals of ``exited`` added (none of them live:
        their gauges go)."""
        recorders = {
            rid: {"metrics": metrics, "stats": stats}
            for rid, metrics, stats in self._by_recorder([archive, *exited], live=())
        }
        return {"format": FORMAT, "recorders": recorders}

    def _merge(self, archive: dict[str, Any], live: list[dict[str, Any]]) -> Read:
        return [
            (rid, metrics, _recorder_stats(stats))
            for rid, metrics, stats in self._by_recorder([archive, *live], live=live)
        ]

    def _process_families(self, live: list[dict[str, Any]]) -> list[MetricFamily]:
        """The live processes' own families, labelled by process; a file whose section
        is unreadable is counted, and shows none of it."""
        processes = []
        for document in live:
            instance = document.get("instance")
            if PROCESS_KEY not in document or not isinstance(instance, str):
                continue  # published without them (process_metrics=False, an older file)
            try:
                processes.append((instance, families_from_json(document[PROCESS_KEY])))
            except ValueError:
                self.problems += 1
        families, conflicts = label_per_process(processes)
        self.problems += conflicts
        return families

    def _by_recorder(
        self, documents: list[dict[str, Any]], live: list[dict[str, Any]] | tuple[()]
    ) -> Iterator[tuple[str, dict[str, dict[str, Any]], dict[str, Any]]]:
        """Per recorder id, in order of first appearance: the documents' snapshots and
        stats merged; only the documents in ``live`` count as live processes."""
        for rid in _recorder_ids(documents):
            having = [doc for doc in documents if rid in doc["recorders"]]
            parts = [
                Part(
                    doc.get("instance", ""),
                    int(doc.get("written_ns", 0)),
                    any(doc is one for one in live),
                    doc["recorders"][rid]["metrics"],
                )
                for doc in having
            ]
            metrics, conflicts = merge_snapshots(parts)
            self.problems += conflicts
            yield rid, metrics, merge_stats(doc["recorders"][rid]["stats"] for doc in having)

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self.problems += 1
            return None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            self.problems += 1
            return None
        return document

    @contextlib.contextmanager
    def _locked(self, wait: float | None = None) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        wait = LOCK_WAIT_S if wait is None else wait
        with open(self.path / ".lock", "a+") as lock:
            # Not a blocking flock: a process that hangs while it holds the lock must
            # not hang every scrape of the group with it.
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MetricsRuntimeTimeoutError(
                            f"{self.path}: another process held the directory's lock "
                            f"for over {round(wait, 3)}s",
                            details={"operation": "multiprocess read"},
                        ) from None
                    time.sleep(_LOCK_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _recorder_ids(documents: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(rid for doc in documents for rid in doc.get("recorders", {})))


def _instance(document: Mapping[str, Any]) -> str | None:
    instance = document.get("instance")
    return instance if isinstance(instance, str) else None


def _is_live(document: Mapping[str, Any]) -> bool:
    """Not exited, and its pid still runs the process that wrote it (pids are reused)."""
    if document.get("exited"):
        return False
    pid = document.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return document.get("instance") == instance_id()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    recorded = document.get("pid_start")
    return recorded is None or _start_ticks(pid) in (None, recorded)


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux); None where unknown."""
    stat = read_proc_file(f"/proc/{pid}/stat")
    try:
        return None if stat is None else int(stat.rpartition(")")[2].split()[19])
    except (ValueError, IndexError):
        return None


def _write_atomically(path: Path, document: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(tmp, path)


def _stats_dict(stats: RecorderStats | None) -> dict[str, Any]:
    if stats is None:
        return {}
    return {
        "accepted": stats.accepted,
        "processed": stats.processed,
        "pending": stats.pending,
        "capacity": stats.capacity,
        "dropped": dict(stats.dropped),
        "metric_errors": dict(stats.metric_errors),
        "hook_errors": stats.hook_errors,
        "processing_delay": delay_to_dict(stats.processing_delay),
    }


def _recorder_stats(total: Mapping[str, Any]) -> RecorderStats:
    return RecorderStats(
        accepted=total["accepted"],
        processed=total["processed"],
        pending=total["pending"],
        capacity=total["capacity"],
        dropped=MappingProxyType(dict(total["dropped"])),
        metric_errors=MappingProxyType(dict(total["metric_errors"])),
        hook_errors=total["hook_errors"],
        processing_delay=delay_from_dict(total["processing_delay"]),
    )
