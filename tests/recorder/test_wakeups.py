"""Wake-ups bounded in time, reads that never wait for a tick, bursts and back-pressure,
and a recorder that costs what it holds."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
import tracemalloc

import anyio
import anyio.to_thread
import pytest

from mvx_metrics import MetricsRecorder, MetricsRuntime, OverflowPolicy
from mvx_metrics.recorder import handoff as handoff_module
from mvx_metrics.recorder.driving import PARK_AFTER_S
from mvx_metrics.recorder.handoff import CREDIT_CHUNK, CollectorTime, Intake

from .._support import (
    TIMEOUT,
    CountingMetric,
    Saved,
    count_wakes,
    loop_held,
    run_threads,
    wait_until,
)

PAYLOAD = bytes(4096)


def test_events_spaced_by_work_wake_the_owner_about_once_per_quiet_spell(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("spaced")
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    wakes = count_wakes(recorder)
    n = 5_000
    started = time.monotonic()
    for _ in range(n):
        hashlib.sha256(PAYLOAD).digest()  # real work: the owner goes idle between events
        recorder.register_event(event=Saved())
    elapsed = time.monotonic() - started
    recorder.flush(timeout=TIMEOUT)
    assert recorder.get_metric_snapshots() == {"count": {"count": n}}
    # A producer never wakes a polling owner; only one that parked after PARK_AFTER_S of
    # quiet, and the flush above. (One wake-up per batch would be hundreds.)
    assert wakes.count <= 2 + elapsed / PARK_AFTER_S


def test_a_read_right_after_register_event_does_not_wait_for_the_tick(
    runtime: MetricsRuntime,
) -> None:
    # With a tick of a full second, any read that waited for it would time out.
    recorder = runtime.create_recorder("slow-tick", max_processing_delay=1.0)
    recorder.register_metric(CountingMetric())
    for expected in range(1, 4):
        recorder.flush(timeout=TIMEOUT)  # the recorder rests polling between rounds
        recorder.register_event(event=Saved())
        assert recorder.get_metric_snapshots(timeout=0.5) == {"count": {"count": expected}}
    recorder.register_event(event=Saved())
    recorder.flush(timeout=0.5)
    stats = recorder.get_stats()
    assert (stats.processed, stats.pending) == (4, 0)


def test_events_are_processed_without_a_read_within_the_delay(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("by-itself", max_processing_delay=0.002)
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    for _ in range(3):
        recorder.register_event(event=Saved())
    wait_until(lambda: recorder.get_stats().processed == 3)


@pytest.mark.anyio
async def test_direct_mode_polls_and_parks_on_every_backend() -> None:
    recorder = MetricsRecorder("direct-ticks", max_processing_delay=0.001)
    recorder.register_metric(CountingMetric())
    async with recorder:
        await recorder.aflush()

        def produce_spaced() -> None:
            for _ in range(200):
                hashlib.sha256(PAYLOAD).digest()
                recorder.register_event(event=Saved())

        await anyio.to_thread.run_sync(produce_spaced)
        # Processed by the ticks alone, with no read to wake the loop.
        with anyio.fail_after(TIMEOUT):
            while recorder.get_stats().processed < 200:
                await anyio.sleep(0.001)
        # Then quiet: the recorder parks, and one append wakes it again.
        with anyio.fail_after(TIMEOUT):
            while recorder._handoff.mode is not Intake.PARKED:
                await anyio.sleep(0.01)
        await anyio.to_thread.run_sync(lambda: recorder.register_event(event=Saved()))
        with anyio.fail_after(TIMEOUT):
            while recorder.get_stats().processed < 201:
                await anyio.sleep(0.001)
    assert recorder.get_metric_snapshots() == {"count": {"count": 201}}


def test_a_burst_of_tight_producers_is_absorbed_by_a_default_recorder(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("burst")  # the defaults: 10,000 pending, DROP
    recorder.register_metric(CountingMetric())
    per_thread, threads = 20_000, 8

    def produce(_: int) -> None:
        for _ in range(per_thread):
            recorder.register_event(event=Saved())

    # The suite's own heap (hundreds of thousands of objects by now) is not this
    # scenario's: a full collection of it, which holds the GIL for every thread, could
    # outlast a press and count as a stalled loop. Frozen, the collector skips it.
    gc.collect()
    gc.freeze()
    try:
        run_threads(threads, produce)
    finally:
        gc.unfreeze()
    recorder.flush(timeout=TIMEOUT)
    stats = recorder.get_stats()
    total = per_thread * threads
    assert stats.accepted + stats.dropped_total == total
    assert stats.processed == stats.accepted and stats.pending == 0
    assert recorder.get_metric_snapshots() == {"count": {"count": stats.processed}}
    # Back-pressure gives the consumer its share of the GIL; without it, about half
    # of such a burst was dropped. (Not 0 here: a loaded CI machine may stall the loop
    # past a press, and then the limit is genuinely exceeded.)
    assert stats.dropped_total <= total // 100, stats.dropped


def test_producers_facing_a_stalled_loop_press_once_then_drop(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder(
        "stalled", queue_max_size=1_000, queue_overflow_policy=OverflowPolicy.DROP
    )
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    with loop_held(runtime):
        started = time.monotonic()
        for _ in range(20_000):
            recorder.register_event(event=Saved())
        elapsed = time.monotonic() - started
        stats = recorder.get_stats()
        # Nothing is processed while the loop is held: exactly the limit is accepted.
        assert (stats.accepted, stats.pending) == (1_000, 1_000)
        assert stats.dropped == {"overflow_dropped": 19_000}
    # One timed-out press marks the loop stalled; 19,000 presses would take minutes.
    assert elapsed < TIMEOUT
    recorder.flush(timeout=TIMEOUT)
    assert recorder.get_metric_snapshots() == {"count": {"count": 1_000}}


def test_a_blocked_producer_wakes_a_resting_owner() -> None:
    done = threading.Event()

    async def main() -> None:
        recorder = MetricsRecorder(
            "block",
            queue_max_size=CREDIT_CHUNK,
            queue_overflow_policy=OverflowPolicy.BLOCK,
            max_processing_delay=1.0,
        )
        recorder.register_metric(CountingMetric())
        async with recorder:

            def produce() -> None:
                for _ in range(10 * CREDIT_CHUNK):
                    recorder.register_event(event=Saved())
                done.set()

            await anyio.to_thread.run_sync(produce)
            await recorder.aflush()
            assert recorder.get_stats().processed == 10 * CREDIT_CHUNK

    anyio.run(main)
    assert done.is_set()


def test_an_idle_recorder_holds_no_slot_for_its_pending_limit(runtime: MetricsRuntime) -> None:
    def size_of_recorder(queue_max_size: int) -> int:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            recorder = runtime.create_recorder(f"q{queue_max_size}", queue_max_size=queue_max_size)
            recorder.register_metric(CountingMetric())
            for _ in range(1_000):
                recorder.register_event(event=Saved())
            recorder.flush(timeout=TIMEOUT)
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    small, large = size_of_recorder(2_000), size_of_recorder(10_000_000)
    # One slot each would be 80 MB; what differs is noise from the loop's own allocations.
    assert large - small < 16_384


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        ("0.01", TypeError),
        (0, ValueError),
        (float("nan"), ValueError),
        (2.0, ValueError),
        (0.0001, ValueError),
    ],
)
def test_max_processing_delay_is_checked(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_processing_delay"):
        MetricsRuntime(default_recorder_max_processing_delay=value)  # type: ignore[arg-type]


def test_the_runtime_default_delay_reaches_its_recorders() -> None:
    with MetricsRuntime(namespace="delay", default_recorder_max_processing_delay=0.02) as rt:
        assert rt.create_recorder("a").max_processing_delay == 0.02
        assert rt.create_recorder("b", max_processing_delay=0.001).max_processing_delay == 0.001


def test_a_press_does_not_count_the_collector_s_time_as_a_stall(
    runtime: MetricsRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full collection holds the GIL, so the loop cannot progress during it: a press
    # waiting through one must not mark the loop as stalled (the burst behind it would
    # then be dropped). The collection is simulated by calling the press's own
    # gc callback: a real one long enough would need a heap of millions of objects.
    # A longer press than the default, so that a slow machine cannot end it before the
    # simulated collection starts.
    press_wait = 0.5
    monkeypatch.setattr(handoff_module, "PRESS_WAIT_S", press_wait)
    recorder = runtime.create_recorder(
        "collected", queue_max_size=1_000, queue_overflow_policy=OverflowPolicy.DROP
    )
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    handoff = recorder._handoff
    with loop_held(runtime):
        producer = threading.Thread(
            target=lambda: [recorder.register_event(event=Saved()) for _ in range(900)]
        )
        producer.start()
        wait_until(lambda: handoff.pressing > 0)  # the producer waits for the loop
        [collector_time] = [cb for cb in gc.callbacks if isinstance(cb, CollectorTime)]
        collector_time("start", {})
        time.sleep(3 * press_wait)  # the simulated collection outlasts a press
        assert handoff.pressing  # still waiting: the collection does not count
        collector_time("stop", {"generation": 2})
    producer.join(TIMEOUT)
    assert not producer.is_alive()
    assert handoff._stalled_at == -1  # never marked stalled
    recorder.flush(timeout=TIMEOUT)
    stats = recorder.get_stats()
    assert (stats.accepted, stats.dropped_total) == (900, 0)
    assert not [cb for cb in gc.callbacks if isinstance(cb, CollectorTime)]
