"""The hand-off: exact totals from many threads, read-your-writes, overflow policies."""

from __future__ import annotations

import sys
import threading

import anyio
import pytest

from mvx_metrics import (
    MetricsRecorder,
    MetricsRecorderInvalidStateError,
    MetricsRecorderOverflowError,
    MetricsRuntime,
    OverflowPolicy,
    RecorderState,
)

from .._support import TIMEOUT, CountingMetric, Saved, SumMetric, loop_held, run_threads, wait_until

pytestmark = pytest.mark.anyio


def test_eight_threads_times_ten_thousand_events_give_exact_totals(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("exact", queue_max_size=100_000)
    counter = CountingMetric()
    recorder.register_metric(counter)
    recorder.register_metric(SumMetric())

    def produce(_: int) -> None:
        event = Saved(duration_s=0.5)
        for _ in range(10_000):
            recorder.register_event(event=event)

    run_threads(8, produce)
    snapshots = recorder.get_metric_snapshots(timeout=TIMEOUT)
    assert snapshots["count"] == {"count": 80_000}
    assert snapshots["sum"] == {"total": 40_000.0}
    stats = recorder.get_stats()
    assert (stats.accepted, stats.processed, stats.pending, stats.dropped_total) == (
        80_000,
        80_000,
        0,
        0,
    )


def test_block_policy_with_a_small_queue_loses_nothing(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder(
        "blocking", queue_max_size=64, queue_overflow_policy=OverflowPolicy.BLOCK
    )
    recorder.register_metric(CountingMetric())
    run_threads(8, lambda _: [recorder.register_event(event=Saved()) for _ in range(10_000)])
    assert recorder.get_metric_snapshots(timeout=TIMEOUT)["count"] == {"count": 80_000}
    assert recorder.get_stats().dropped_total == 0


def test_snapshot_right_after_register_event_includes_it_from_any_thread(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("ryw")
    recorder.register_metric(CountingMetric(event_types=(Saved,)))
    per_thread: dict[int, list[int]] = {}

    def produce_and_read(i: int) -> None:
        seen = per_thread.setdefault(i, [])
        for _ in range(200):
            before = recorder.get_metric_snapshots(timeout=TIMEOUT)["count"]["count"]
            recorder.register_event(event=Saved())
            after = recorder.get_metric_snapshots(timeout=TIMEOUT)["count"]["count"]
            # This thread's event is in; other threads can only have added more.
            assert after >= before + 1
            seen.append(after)

    run_threads(4, produce_and_read)
    assert recorder.get_metric_snapshots()["count"] == {"count": 800}


def test_flush_returns_after_every_earlier_event_is_processed(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("flush", queue_max_size=50_000)
    counter = CountingMetric()
    recorder.register_metric(counter)
    for _ in range(20_000):
        recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    stats = recorder.get_stats()
    assert stats.processed == 20_000 and stats.pending == 0


def test_stats_right_after_flush_count_the_flushed_events(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("flush-stats")
    recorder.register_metric(CountingMetric())
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose a lag
    try:
        for i in range(1, 2_001):
            recorder.register_event(event=Saved())
            recorder.flush(timeout=TIMEOUT)
            stats = recorder.get_stats()
            assert (stats.processed, stats.pending) == (i, 0)
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.parametrize("policy", [OverflowPolicy.DROP, OverflowPolicy.RAISE_ERROR])
def test_overflow_counts_every_rejected_event_exactly(
    runtime: MetricsRuntime, policy: OverflowPolicy
) -> None:
    recorder = runtime.create_recorder("overflow", queue_max_size=100, queue_overflow_policy=policy)
    recorder.register_metric(CountingMetric())
    raised = 0
    with loop_held(runtime):
        for _ in range(130):
            try:
                recorder.register_event(event=Saved())
            except MetricsRecorderOverflowError as exc:
                assert exc.reason == "queue_overflow"
                raised += 1
        stats = recorder.get_stats()
        assert (stats.accepted, stats.pending, stats.processed) == (100, 100, 0)
    recorder.flush(timeout=TIMEOUT)
    stats = recorder.get_stats()
    assert stats.processed == 100
    if policy is OverflowPolicy.DROP:
        assert raised == 0 and dict(stats.dropped) == {"overflow_dropped": 30}
    else:
        assert raised == 30 and dict(stats.dropped) == {"overflow_rejected": 30}
    assert recorder.get_metric_snapshots()["count"] == {"count": 100}


def test_block_policy_waits_for_room_in_a_foreign_thread(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder(
        "block", queue_max_size=2, queue_overflow_policy=OverflowPolicy.BLOCK
    )
    recorder.register_metric(CountingMetric())
    producer = threading.Thread(
        target=lambda: [recorder.register_event(event=Saved()) for _ in range(3)]
    )
    with loop_held(runtime):
        producer.start()
        wait_until(lambda: recorder._handoff.blocked_producers == 1)
        assert recorder.get_stats().accepted == 2
    producer.join(TIMEOUT)
    assert not producer.is_alive()
    assert recorder.get_metric_snapshots(timeout=TIMEOUT)["count"] == {"count": 3}
    assert recorder.get_stats().dropped_total == 0


async def test_block_policy_times_out_with_an_error_and_counts_it() -> None:
    recorder = MetricsRecorder(
        "block-timeout",
        queue_max_size=1,
        queue_overflow_policy=OverflowPolicy.BLOCK,
        queue_block_timeout=0.05,
    )
    errors: list[BaseException] = []

    def produce() -> None:
        for _ in range(2):
            try:
                recorder.register_event(event=Saved())
            except MetricsRecorderOverflowError as exc:
                errors.append(exc)

    async with recorder:
        producer = threading.Thread(target=produce)
        producer.start()
        producer.join(TIMEOUT)  # blocks the owning loop on purpose: no room can be made
        assert len(errors) == 1
        assert dict(recorder.get_stats().dropped) == {"overflow_rejected": 1}


async def test_block_policy_on_the_owning_loop_thread_fails_at_once() -> None:
    recorder = MetricsRecorder(
        "block-owner", queue_max_size=1, queue_overflow_policy=OverflowPolicy.BLOCK
    )
    async with recorder:
        recorder.register_event(event=Saved())
        with anyio.fail_after(1), pytest.raises(MetricsRecorderOverflowError):
            recorder.register_event(event=Saved())
        await recorder.aflush()
    assert recorder.get_stats().processed == 1


async def test_events_registered_on_the_owning_loop_are_processed_without_threads() -> None:
    recorder = MetricsRecorder("owner", queue_max_size=5, queue_overflow_policy=OverflowPolicy.DROP)
    counter = CountingMetric()
    recorder.register_metric(counter)
    async with recorder:
        for _ in range(8):  # the loop cannot run in between: exactly 3 do not fit
            recorder.register_event(event=Saved())
        assert dict(recorder.get_stats().dropped) == {"overflow_dropped": 3}
        snapshots = await recorder.aget_metric_snapshots()
    assert snapshots["count"] == {"count": 5}
    assert counter.threads == {threading.get_ident()}


async def test_a_recorder_makes_its_buffer_with_its_first_event_or_control_item() -> None:
    """Until then its buffer is no object (UNUSED_BUFFER): idle recorders cost less to
    every full collection. Reads, a flush and a stop work all the same."""
    from collections import deque

    from mvx_metrics.recorder.handoff import UNUSED_BUFFER

    unused = MetricsRecorder("unused")
    unused.register_metric(CountingMetric())
    used = MetricsRecorder("used")
    used.register_metric(CountingMetric())
    async with unused, used:
        assert unused._handoff.buffer is UNUSED_BUFFER
        assert (await unused.aget_metric_snapshots())["count"] == {"count": 0}
        await unused.aflush()
        assert unused.get_stats().accepted == 0
        used.register_event(event=Saved())
        assert isinstance(used._handoff.buffer, deque)
        assert (await used.aget_metric_snapshots())["count"] == {"count": 1}
        # A control item, which takes no credit, makes it too.
        unused._push_control(lambda: None)
        assert isinstance(unused._handoff.buffer, deque)
        await unused.aflush()
    assert unused.state is RecorderState.STOPPED and used.state is RecorderState.STOPPED
    assert used.get_stats().processed == 1


async def test_first_event_starts_a_virgin_recorder() -> None:
    recorder = MetricsRecorder("lazy")
    recorder.register_metric(CountingMetric())
    assert recorder.state is RecorderState.VIRGIN
    recorder.register_event(event=Saved())
    assert recorder.state is RecorderState.STARTING
    assert (await recorder.aget_metric_snapshots())["count"] == {"count": 1}
    assert recorder.state is RecorderState.RUNNING
    await recorder.stop()


@pytest.mark.parametrize("bad", [None, object(), "event", 3])
async def test_register_event_rejects_non_events(bad: object) -> None:
    recorder = MetricsRecorder("bad")
    with pytest.raises(ValueError if bad is None else TypeError):
        recorder.register_event(event=bad)  # type: ignore[arg-type]
    assert recorder.state is RecorderState.VIRGIN  # a bad call does not start it


async def test_events_after_stop_are_refused_and_counted() -> None:
    recorder = MetricsRecorder("stopped")
    async with recorder:
        recorder.register_event(event=Saved())
    for _ in range(2):
        with pytest.raises(MetricsRecorderInvalidStateError) as info:
            recorder.register_event(event=Saved())
        assert info.value.reason == "invalid_state"
        assert info.value.details["state"] == "STOPPED"
    stats = recorder.get_stats()
    assert (stats.accepted, stats.processed) == (1, 1)
    assert dict(stats.dropped) == {"invalid_state": 2}
