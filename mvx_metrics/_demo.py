"""``python -m mvx_metrics demo``: many producers, one runtime-owned recorder, exact stats.

A compact copy of ``examples/document_storage.py`` (examples/ is not installed): the
component, its event and its built-in metrics (a counter, a histogram, a quantile
sketch). Producers are plain threads plus one asyncio task running in its own thread;
all of them call the same synchronous ``register_event`` hand-off. It shows a live
progress line (redrawn in place on a terminal), then a final table in human units, the
histogram's buckets and the recorder's stats; Ctrl-C ends it early with that table.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from .errors import MetricsError
from .events import MetricEvent
from .metrics import Counter, Distribution, Histogram, Metric
from .recorder.protocol import MetricsRecorderProto
from .recorder.stats import RecorderStats
from .runtime.runtime import MetricsRuntime

__all__ = ["bucket_lines", "heavy_tail_note", "human_seconds", "run_demo"]

PROGRESS_INTERVAL = 0.5
#: What each successful save checksums: 16 KiB.
DOCUMENT = bytes(range(256)) * 64
JOIN_TIMEOUT = 5.0


class SaveOutcome(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@dataclass(slots=True, frozen=True)
class DocumentSaveFinished(MetricEvent):
    outcome: SaveOutcome
    duration_s: float


class DocumentStorage:
    """In-memory storage that checksums what it saves; empty content fails (and is measured)."""

    def __init__(self, *, metrics_recorder: MetricsRecorderProto | None = None) -> None:
        self._metrics_recorder = metrics_recorder
        self._documents: dict[str, str] = {}

    def save_document(self, document_id: str, content: bytes) -> bool:
        started = time.perf_counter()
        ok = bool(content)
        if ok:
            # Stands in for real work (I/O, encoding): hashlib releases the GIL on large
            # inputs, as file and socket I/O do.
            self._documents[document_id] = hashlib.sha256(content).hexdigest()
        if self._metrics_recorder is not None:
            outcome = SaveOutcome.SUCCESS if ok else SaveOutcome.FAILURE
            event = DocumentSaveFinished(outcome, time.perf_counter() - started)
            self._metrics_recorder.register_event(event=event)
        return ok


def document_metrics() -> list[Metric]:
    """A counter by outcome, a duration histogram, and a quantile sketch of durations."""
    return [
        Counter("document_save_attempts", event=DocumentSaveFinished, labels=("outcome",)),
        Histogram(
            "document_save_duration_seconds",
            event=DocumentSaveFinished,
            value="duration_s",
            buckets=(0.000_01, 0.000_1, 0.001, 0.01),
            unit="seconds",
        ),
        Distribution(
            "document_save_duration_quantiles",
            event=DocumentSaveFinished,
            value="duration_s",
            unit="seconds",
        ),
    ]


# --- producers ------------------------------------------------------------------------------


def _save_loop(
    storage: DocumentStorage, name: str, stop: threading.Event, calls: list[int]
) -> None:
    """Save until ``stop`` is set; 1000 document ids, every 10th save is empty and fails."""
    i = 0
    try:
        while not stop.is_set():
            for _ in range(100):
                storage.save_document(f"{name}-{i % 1000}", b"" if i % 10 == 9 else DOCUMENT)
                i += 1
    except MetricsError:
        pass  # the recorder stopped under us (only if the join below timed out)
    finally:
        calls.append(i)


async def _async_producer(
    storage: DocumentStorage, stop: threading.Event, calls: list[int]
) -> None:
    """The same sync hand-off, from a coroutine: it never awaits the recorder."""
    i = 0
    try:
        while not stop.is_set():
            for _ in range(100):
                storage.save_document(f"async-{i % 1000}", b"" if i % 10 == 9 else DOCUMENT)
                i += 1
            await asyncio.sleep(0)  # let other tasks of this loop run
    except MetricsError:
        pass
    finally:
        calls.append(i)


def _run_async_producer(storage: DocumentStorage, stop: threading.Event, calls: list[int]) -> None:
    """A thread with its own asyncio loop, as an async application would have."""
    asyncio.run(_async_producer(storage, stop, calls))


# --- output ---------------------------------------------------------------------------------


def human_seconds(seconds: float) -> str:
    """A duration as people read it: ``14.1 µs``, ``1.34 ms``, ``2.5 s`` (3 digits)."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _series_values(kind: str, series: Mapping[str, Any]) -> str:
    if kind == "histogram":
        count = series["count"]
        mean = series["sum"] / count if count else 0.0
        return f"count={count:,}  mean={human_seconds(mean)}"
    if kind == "distribution":
        quantiles = "  ".join(
            f"p{float(q) * 100:g}={human_seconds(v) if v is not None else '-'}"
            for q, v in series["quantiles"].items()
        )
        return f"count={series['count']:,}  {quantiles}"
    return f"value={series['value']:,}"


def _table_rows(snapshots: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, snap in snapshots.items():
        for series in snap["series"]:
            labels = ",".join(f"{k}={v}" for k, v in series["labels"].items()) or "(all)"
            rows.append((name, labels, _series_values(snap["kind"], series)))
    return rows


def _print_table(snapshots: Mapping[str, Mapping[str, Any]], out: TextIO) -> None:
    rows = [("metric", "series", "values"), *_table_rows(snapshots)]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for i, (metric, series, values) in enumerate(rows):
        print(f"{metric:<{w0}}  {series:<{w1}}  {values}", file=out)
        if i == 0:
            print(f"{'-' * w0}  {'-' * w1}  {'-' * 6}", file=out)
    for name, snap in snapshots.items():
        if snap["kind"] == "histogram":
            for series in snap["series"]:
                print(f"\n{name} buckets:", file=out)
                for line in bucket_lines(series["buckets"]):
                    print(line, file=out)
    note = heavy_tail_note(snapshots)
    if note:
        print(f"\n{note}", file=out)


#: The widest bar of the bucket chart, in characters.
_BAR_WIDTH = 30


def bucket_lines(buckets: Mapping[str, int]) -> list[str]:
    """One line per histogram bucket, from its cumulative counts: the range, how many
    values fell in it, their share, and a bar."""
    counts: list[tuple[str, int]] = []
    below, lower = 0, "0"
    for le, cumulative in buckets.items():
        upper = "" if le == "+Inf" else human_seconds(float(le))
        span = f"over {lower}" if le == "+Inf" else f"{lower} - {upper}"
        counts.append((span, cumulative - below))
        below, lower = cumulative, upper
    total = max(below, 1)
    most = max((n for _, n in counts), default=0) or 1
    width = max(len(span) for span, _ in counts)
    return [
        f"  {span:<{width}}  {n:>10,}  {100 * n / total:5.1f}%  {'#' * round(_BAR_WIDTH * n / most)}"
        for span, n in counts
    ]


def heavy_tail_note(snapshots: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A sentence when a distribution's mean lies above its p90: a few slow values pull
    the mean up, and the quantiles describe the typical case better."""
    for name, snap in snapshots.items():
        if snap["kind"] != "distribution":
            continue
        for series in snap["series"]:
            p90 = series["quantiles"].get("0.9")
            count = series["count"]
            if p90 is None or not count:
                continue
            mean = series["sum"] / count
            if mean > p90:
                return (
                    f"note: the mean ({human_seconds(mean)}) is above p90 "
                    f"({human_seconds(p90)}) in {name}: a few slow values (a heavy tail) "
                    "pull the mean up, so the quantiles describe a typical one better."
                )
    return None


def _print_stats(stats: RecorderStats, calls: int | None, out: TextIO) -> None:
    dropped = ", ".join(f"{k}={v}" for k, v in sorted(stats.dropped.items())) or "none"
    lines = [
        ("accepted", f"{stats.accepted:,}"),
        ("processed", f"{stats.processed:,}"),
        ("pending", f"{stats.pending:,}"),
        ("capacity", f"{stats.capacity:,}"),
        ("dropped", f"{stats.dropped_total:,} ({dropped})"),
        ("metric_errors", f"{stats.metric_errors_total:,}"),
        ("hook_errors", f"{stats.hook_errors:,}"),
    ]
    delay = stats.processing_delay
    if delay.count and delay.max is not None:
        lines.append(
            (
                "waited",
                f"at most {human_seconds(delay.max)} before processing, "
                f"{human_seconds(delay.sum / delay.count)} on average",
            )
        )
    for key, value in lines:
        print(f"  {key:<14}{value}", file=out)
    ok = stats.accepted == stats.processed + stats.pending
    print(f"  accepted == processed + pending: {'yes' if ok else 'NO'}", file=out)
    if calls is not None:
        ok = calls == stats.accepted + stats.dropped_total
        print(f"  save calls {calls:,} == accepted + dropped: {'yes' if ok else 'NO'}", file=out)


# --- the demo -------------------------------------------------------------------------------

#: Erases the rest of a terminal line: a shorter progress line leaves nothing behind.
_ERASE_TO_END = "\033[K"


def _show_progress(recorder: Any, seconds: float, tty: bool, out: TextIO) -> None:
    """A progress line every PROGRESS_INTERVAL: redrawn in place on a terminal, one
    line each otherwise."""
    started = last_t = tick = time.monotonic()
    end = started + seconds
    last_accepted = 0
    while tick < end:
        tick = min(tick + PROGRESS_INTERVAL, end)  # fixed ticks: no drift
        time.sleep(max(0.0, tick - time.monotonic()))
        now = time.monotonic()
        stats = recorder.get_stats()
        rate = (stats.accepted - last_accepted) / max(now - last_t, 1e-9)
        last_accepted, last_t = stats.accepted, now
        line = (
            f"[{now - started:5.1f}s] accepted={stats.accepted:,}  rate={rate:,.0f}/s  "
            f"pending={stats.pending:,}  dropped={stats.dropped_total:,}"
        )
        if tty:
            print(f"\r{line}{_ERASE_TO_END}", end="", file=out, flush=True)
        else:
            print(line, file=out, flush=True)
    if tty:
        print(file=out)


def run_demo(seconds: float, threads: int, out: TextIO) -> int:
    """Run the demo; return the process exit code."""
    tty = out.isatty()
    stop = threading.Event()
    calls: list[int] = []  # one entry per finished producer (list.append is thread-safe)
    producers: list[threading.Thread] = []

    runtime = MetricsRuntime(namespace="mvx_metrics.demo")
    runtime.start()
    try:
        recorder = runtime.create_recorder("document_storage")
        for metric in document_metrics():
            recorder.register_metric(metric)
        storage = DocumentStorage(metrics_recorder=recorder)

        producers = [
            threading.Thread(
                target=_save_loop,
                args=(storage, f"t{n}", stop, calls),
                name=f"producer-{n}",
                daemon=True,
            )
            for n in range(threads)
        ]
        producers.append(
            threading.Thread(
                target=_run_async_producer,
                args=(storage, stop, calls),
                name="asyncio-producer",
                daemon=True,
            )
        )
        print(
            f"demo: {threads} thread(s) + 1 asyncio task -> recorder "
            f"{recorder.entity_id!r} (capacity {recorder.queue_max_size}, "
            f"policy {recorder.queue_overflow_policy}) for {seconds:g}s",
            file=out,
        )
        for producer in producers:
            producer.start()

        try:
            _show_progress(recorder, seconds, tty, out)
        except KeyboardInterrupt:  # Ctrl-C ends the run early, with the final table
            print("\ninterrupted: stopping the producers", file=out, flush=True)
    finally:
        stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for producer in producers:
            producer.join(max(0.0, deadline - time.monotonic()))
        runtime.shutdown()

    stuck = [p.name for p in producers if p.is_alive()]
    if stuck:
        print(f"warning: producers still running after {JOIN_TIMEOUT}s: {stuck}", file=out)
    # Readable after shutdown: the recorder was stopped (and flushed) by the runtime.
    print("\nfinal snapshots:", file=out)
    _print_table(recorder.get_metric_snapshots(), out)
    print("\nfinal RecorderStats:", file=out)
    _print_stats(recorder.get_stats(), None if stuck else sum(calls), out)
    return 0
