"""Reads of an idle recorder are served in the caller's thread, with no hop to its loop.

The proof used throughout: the owning loop is kept busy (``loop_held`` for a runtime, or
a test loop blocked in a synchronous join for direct mode), so a read that needed the loop
could only time out. Reads that must go to the loop (events pending, a metric or a hook
that asks for it) are checked to do so.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import trio
import uvloop

from mvx_metrics import (
    AsyncioMetricsRecorder,
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderTimeoutError,
    MetricsRuntime,
    MetricsRuntimeTimeoutError,
    OverflowPolicy,
)

from .._support import TIMEOUT, CountingMetric, Saved, loop_held, run_threads

FOREIGN_CALLERS = ["thread", "asyncio-thread", "uvloop-thread", "trio-thread"]


class ThreadNoting(CountingMetric):
    """Counts events; notes the thread of every snapshot()."""

    def __init__(self, name: str = "count") -> None:
        super().__init__(name)
        self.snapshot_threads: list[int] = []

    def snapshot(self) -> dict[str, Any]:
        self.snapshot_threads.append(threading.get_ident())
        return super().snapshot()


class OwnerLoopOnly(ThreadNoting):
    snapshot_on_owner_loop = True


def read_and_flush_in(caller: str, recorder: MetricsRecorder) -> dict[str, Any]:
    """In a new thread of kind ``caller``: flush, then read the snapshots (sync calls in a
    plain thread, the async twins in a fresh asyncio, uvloop or trio loop)."""
    result: dict[str, Any] = {}
    errors: list[BaseException] = []

    async def read_async() -> None:
        await recorder.aflush(timeout=TIMEOUT)
        result.update(await recorder.aget_metric_snapshots(timeout=TIMEOUT))

    def body() -> None:
        try:
            if caller == "thread":
                recorder.flush(timeout=TIMEOUT)
                result.update(recorder.get_metric_snapshots(timeout=TIMEOUT))
            elif caller == "asyncio-thread":
                asyncio.run(read_async())
            elif caller == "uvloop-thread":
                uvloop.run(read_async())
            else:
                trio.run(read_async)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the read hung"
    if errors:
        raise errors[0]
    return result


@pytest.fixture
def fine_switching() -> Iterator[None]:
    """Switch threads every 10 µs rather than 5 ms, so that thread interleavings that are
    rare at the default interval happen many times in one test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("caller", FOREIGN_CALLERS)
def test_an_idle_runtime_recorder_is_read_while_its_loop_is_busy(
    runtime: MetricsRuntime, caller: str
) -> None:
    recorder = runtime.create_recorder("idle")
    metric = ThreadNoting()
    recorder.register_metric(metric)
    for _ in range(3):
        recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    with loop_held(runtime):
        assert read_and_flush_in(caller, recorder) == {"count": {"count": 3}}
    assert metric.snapshot_threads and runtime._loop_thread is not None
    assert runtime._loop_thread.hop.thread_id not in metric.snapshot_threads


@pytest.mark.anyio
@pytest.mark.parametrize("caller", FOREIGN_CALLERS)
async def test_an_idle_direct_mode_recorder_is_read_while_its_loop_is_blocked(
    caller: str,
) -> None:
    recorder = MetricsRecorder("direct")
    recorder.register_metric(CountingMetric())
    async with recorder:
        recorder.register_event(event=Saved())
        recorder.register_event(event=Saved())
        await recorder.aflush(timeout=TIMEOUT)
        # Synchronous on purpose: this loop, the owner, cannot run until the read is done.
        assert read_and_flush_in(caller, recorder) == {"count": {"count": 2}}


def test_pending_events_send_the_read_to_the_owning_loop(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("pending")
    metric = ThreadNoting()
    recorder.register_metric(metric)
    result: list[dict[str, Any]] = []
    with loop_held(runtime):
        recorder.register_event(event=Saved())
        reader = threading.Thread(
            target=lambda: result.append(recorder.get_metric_snapshots(timeout=TIMEOUT))
        )
        reader.start()
        with pytest.raises(MetricsRecorderTimeoutError):
            recorder.flush(timeout=0.01)  # the pending event needs the held loop
    reader.join(TIMEOUT)
    assert result == [{"count": {"count": 1}}]
    assert runtime._loop_thread is not None
    assert metric.snapshot_threads == [runtime._loop_thread.hop.thread_id]


def test_a_metric_can_keep_its_snapshots_on_the_owning_loop(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("owner-only")
    recorder.register_metric(CountingMetric())  # readable in place...
    metric = OwnerLoopOnly("owner-only")
    recorder.register_metric(metric)  # ...but this one is not, so the recorder is not
    recorder.flush(timeout=TIMEOUT)
    with loop_held(runtime), pytest.raises(MetricsRecorderTimeoutError):
        recorder.get_metric_snapshots(timeout=0.01)
    assert recorder.get_metric_snapshots(timeout=TIMEOUT)["owner-only"] == {"count": 0}
    assert runtime._loop_thread is not None
    assert set(metric.snapshot_threads) == {runtime._loop_thread.hop.thread_id}


def test_an_opting_out_metric_registered_during_a_read_is_honoured(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("late-opt-out")
    metric = OwnerLoopOnly("owner-only")
    real_check = recorder._processor.can_read_in_place
    calls = 0

    def racing_check() -> bool:
        # The read's first look says "in place"; right after it, the metric arrives.
        nonlocal calls
        calls += 1
        if calls == 1:
            recorder.register_metric(metric)
            recorder.flush(timeout=TIMEOUT)
            return True
        return real_check()

    recorder._processor.can_read_in_place = racing_check  # type: ignore[method-assign]
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"owner-only": {"count": 0}}
    assert runtime._loop_thread is not None
    assert metric.snapshot_threads == [runtime._loop_thread.hop.thread_id]


def test_a_recorder_with_a_change_hook_is_read_on_its_loop(runtime: MetricsRuntime) -> None:
    class Hooked(AsyncioMetricsRecorder):
        async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
            pass

    recorder = runtime.create_recorder("hooked", recorder_class=Hooked)
    metric = ThreadNoting()
    recorder.register_metric(metric)
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    with loop_held(runtime), pytest.raises(MetricsRecorderTimeoutError):
        recorder.get_metric_snapshots(timeout=0.01)
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}
    assert runtime._loop_thread is not None
    assert set(metric.snapshot_threads) == {runtime._loop_thread.hop.thread_id}


def test_a_trio_caller_served_in_place_still_passes_a_checkpoint(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("trio-checkpoint")
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)

    async def read_cancelled() -> bool:
        with trio.CancelScope() as scope:
            scope.cancel()
            await recorder.aget_metric_snapshots(timeout=TIMEOUT)
        return scope.cancelled_caught

    assert trio.run(read_cancelled)


def test_the_runtime_reads_idle_recorders_in_place(runtime: MetricsRuntime) -> None:
    for rid in ("a", "b"):
        recorder = runtime.create_recorder(rid)
        recorder.register_metric(CountingMetric())
        recorder.register_event(event=Saved())
        recorder.flush(timeout=TIMEOUT)
    expected = {"a": {"count": {"count": 1}}, "b": {"count": {"count": 1}}}
    with loop_held(runtime):
        assert runtime.get_metric_snapshots(timeout=TIMEOUT) == expected
        assert trio.run(runtime.aget_metric_snapshots) == expected


def test_the_runtime_hops_once_any_recorder_is_busy(runtime: MetricsRuntime) -> None:
    for rid in ("idle", "busy"):
        runtime.create_recorder(rid).register_metric(CountingMetric())
    with loop_held(runtime):
        runtime.get_recorder("busy").register_event(event=Saved())
        with pytest.raises(MetricsRuntimeTimeoutError):
            runtime.get_metric_snapshots(timeout=0.01)
    assert runtime.get_metric_snapshots(timeout=TIMEOUT) == {
        "idle": {"count": {"count": 0}},
        "busy": {"count": {"count": 1}},
    }


class Guarded(Metric):
    """Counts events; notes any snapshot taken while an event is being applied to it."""

    def __init__(self, name: str, overlaps: list[str]) -> None:
        self._name = name
        self._overlaps = overlaps
        self._applying = False
        self.count = 0

    @property
    def metric_name(self) -> str:
        return self._name

    def handle_event(self, event: MetricEvent) -> bool:
        self._applying = True
        self.count += 1
        time.sleep(0)  # let other threads run: a reader in place would slip in here
        self._applying = False
        return True

    def snapshot(self) -> dict[str, Any]:
        if self._applying:
            self._overlaps.append(self._name)
        return {"count": self.count}


class GuardNoting(CountingMetric):
    """Counts events; notes whether the hand-off guard was held at each handle_event."""

    def __init__(self) -> None:
        super().__init__()
        self.recorder: MetricsRecorder | None = None
        self.guarded: list[bool] = []

    def handle_event(self, event: MetricEvent) -> bool:
        assert self.recorder is not None
        self.guarded.append(self.recorder._handoff.guard._is_owned())  # type: ignore[attr-defined]
        return super().handle_event(event)


@pytest.mark.anyio
@pytest.mark.parametrize("hooked", [False, True])
async def test_every_change_to_a_metric_is_made_under_the_guard(hooked: bool) -> None:
    class Hooked(MetricsRecorder):
        async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
            await anyio.lowlevel.checkpoint()

    recorder = (Hooked if hooked else MetricsRecorder)("guarded")
    metric = GuardNoting()
    metric.recorder = recorder
    recorder.register_metric(metric)
    async with recorder:
        for _ in range(3):
            recorder.register_event(event=Saved())
        await recorder.aflush()
        recorder.register_event(event=Saved())
        if not hooked:
            recorder.flush()  # inline on the owning loop: drained here
    assert metric.guarded == [True] * 4


class Stalling(CountingMetric):
    """Counts events; stalls inside handle_event until released, to hold a batch open."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def handle_event(self, event: MetricEvent) -> bool:
        self.entered.set()
        assert self.release.wait(TIMEOUT)
        return super().handle_event(event)


def _read_while_a_batch_is_open(
    recorder: MetricsRecorder, metric: Stalling
) -> tuple[threading.Thread, list[object]]:
    """In a thread, once the owner is inside handle_event (buffer already empty): try a
    short read, note what it gave, then let the owner go on."""
    outcome: list[object] = []

    def read() -> None:
        try:
            assert metric.entered.wait(TIMEOUT)
            assert not recorder._handoff.buffer  # the event was popped, not yet counted
            outcome.append(recorder.get_metric_snapshots(timeout=0.05))
        except MetricsRecorderTimeoutError as exc:
            outcome.append(exc)
        finally:
            metric.release.set()

    thread = threading.Thread(target=read)
    thread.start()
    return thread, outcome


def test_a_read_never_goes_in_place_while_a_batch_is_applied(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("stalled")
    metric = Stalling()
    recorder.register_metric(metric)
    reader, outcome = _read_while_a_batch_is_open(recorder, metric)
    recorder.register_event(event=Saved())
    reader.join(TIMEOUT)
    assert len(outcome) == 1 and isinstance(outcome[0], MetricsRecorderTimeoutError)
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}


@pytest.mark.anyio
async def test_a_read_never_goes_in_place_while_a_direct_mode_batch_is_applied() -> None:
    recorder = MetricsRecorder("stalled-direct")
    metric = Stalling()
    recorder.register_metric(metric)
    async with recorder:
        reader, outcome = _read_while_a_batch_is_open(recorder, metric)
        recorder.register_event(event=Saved())
        # The batch stalls this loop in its wake-up callback until the reader is done.
        await anyio.to_thread.run_sync(reader.join, TIMEOUT)
        assert len(outcome) == 1 and isinstance(outcome[0], MetricsRecorderTimeoutError)
        assert await recorder.aget_metric_snapshots() == {"count": {"count": 1}}


def test_reads_in_place_never_overlap_processing(
    runtime: MetricsRuntime, fine_switching: None
) -> None:
    overlaps: list[str] = []
    recorder = runtime.create_recorder(
        "stress", queue_max_size=50_000, queue_overflow_policy=OverflowPolicy.BLOCK
    )
    recorder.register_metric(Guarded("first", overlaps))
    recorder.register_metric(Guarded("second", overlaps))
    producers, per_producer, readers = 2, 2_000, 2
    producing = threading.Event()
    producing.set()
    seen: list[list[int]] = [[] for _ in range(readers)]

    def work(i: int) -> None:
        if i < producers:
            for _ in range(per_producer):
                recorder.register_event(event=Saved())
                time.sleep(0)  # a trickle: the buffer empties often, readers go in place
            return
        reads = seen[i - producers]
        while producing.is_set() or len(reads) < 100:
            snap = recorder.get_metric_snapshots(timeout=TIMEOUT)
            # One consistent instant: every event applied to both metrics or to neither.
            assert snap["first"] == snap["second"], snap
            reads.append(snap["first"]["count"])

    def run(i: int) -> None:
        try:
            work(i)
        finally:
            if i == 0:
                producing.clear()  # readers stop soon after the first producer ends

    run_threads(producers + readers, run)
    total = producers * per_producer
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {
        "first": {"count": total},
        "second": {"count": total},
    }
    assert overlaps == []
    for reads in seen:
        assert reads == sorted(reads)  # each reader's view only moves forward


async def _owner_reads_while_foreign_threads_read(recorder: MetricsRecorder) -> None:
    """Producers and readers in threads; the owning loop also reads, sync and async."""

    def foreign(i: int) -> None:
        for _ in range(2_000):
            if i == 0:
                recorder.register_event(event=Saved())
                time.sleep(0)
            else:
                snap = recorder.get_metric_snapshots(timeout=TIMEOUT)
                assert snap["first"] == snap["second"], snap

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, run_threads, 3, foreign)
        for _ in range(50):
            snap = recorder.get_metric_snapshots(timeout=TIMEOUT)
            assert snap["first"] == snap["second"], snap
            snap = await recorder.aget_metric_snapshots(timeout=TIMEOUT)
            assert snap["first"] == snap["second"], snap
            await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_owner_and_foreign_reads_mix_with_processing(fine_switching: None) -> None:
    overlaps: list[str] = []
    recorder = MetricsRecorder("mixed-reads", queue_max_size=10_000)
    recorder.register_metric(Guarded("first", overlaps))
    recorder.register_metric(Guarded("second", overlaps))
    async with recorder:
        with anyio.fail_after(TIMEOUT * 3):
            await _owner_reads_while_foreign_threads_read(recorder)
    assert recorder.get_metric_snapshots() == {
        "first": {"count": 2_000},
        "second": {"count": 2_000},
    }
    assert overlaps == []
