"""Crossing threads and loops: every caller context against every owner context.

Owners: the test's own loop (asyncio, uvloop or trio: the anyio backend) and a runtime
thread. Callers: the owning loop itself (sync and async calls), a plain thread, an asyncio
loop, a uvloop loop and a trio run, each in its own thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import trio
import uvloop

from mvx_metrics import (
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderDeadlockError,
    MetricsRuntime,
    RecorderState,
)
from mvx_metrics.hops import owner_asyncio

from .._support import TIMEOUT, CountingMetric, Saved, count_wakes, run_threads

pytestmark = pytest.mark.anyio

FOREIGN_CALLERS = ["thread", "asyncio-thread", "uvloop-thread", "trio-thread"]


def _exercise_sync(recorder: MetricsRecorder) -> None:
    recorder.register_event(event=Saved())
    assert recorder.get_metric_snapshots(timeout=TIMEOUT)["count"]["count"] == 1
    recorder.register_metric(CountingMetric("later"))
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    assert recorder.get_stats().pending == 0
    assert [m.metric_name for m in recorder.iter_metrics()] == ["count", "later"]
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {
        "count": {"count": 2},
        "later": {"count": 1},
    }


async def _exercise_async(recorder: MetricsRecorder) -> None:
    recorder.register_event(event=Saved())
    assert (await recorder.aget_metric_snapshots(timeout=TIMEOUT))["count"]["count"] == 1
    recorder.register_metric(CountingMetric("later"))
    recorder.register_event(event=Saved())
    await recorder.aflush(timeout=TIMEOUT)
    assert recorder.get_stats().pending == 0
    assert await recorder.aget_metric_snapshots() == {
        "count": {"count": 2},
        "later": {"count": 1},
    }


def _in_foreign_context(caller: str, fn: Callable[[], Any]) -> Callable[[], None]:
    """Wrap an async ``fn`` to run in a fresh loop of kind ``caller`` (or call it, for
    'thread')."""

    def run() -> None:
        if caller == "thread":
            fn()
        elif caller == "asyncio-thread":
            asyncio.run(fn())
        elif caller == "uvloop-thread":
            uvloop.run(fn())
        elif caller == "trio-thread":
            trio.run(fn)
        else:  # pragma: no cover
            raise AssertionError(caller)

    return run


@pytest.mark.parametrize("caller", FOREIGN_CALLERS)
async def test_foreign_callers_read_their_writes_on_a_direct_mode_owner(caller: str) -> None:
    recorder = MetricsRecorder("direct")
    recorder.register_metric(CountingMetric())
    async with recorder:
        work = (
            (lambda: _exercise_sync(recorder))
            if caller == "thread"
            else (lambda: _exercise_async(recorder))
        )
        with anyio.fail_after(TIMEOUT):
            await anyio.to_thread.run_sync(_in_foreign_context(caller, work))


@pytest.mark.parametrize("caller", FOREIGN_CALLERS)
def test_foreign_callers_read_their_writes_on_a_runtime_owner(
    runtime: MetricsRuntime, caller: str
) -> None:
    recorder = runtime.create_recorder("hosted")
    recorder.register_metric(CountingMetric())
    work = (
        (lambda: _exercise_sync(recorder))
        if caller == "thread"
        else (lambda: _exercise_async(recorder))
    )
    thread = threading.Thread(target=_in_foreign_context(caller, work))
    errors: list[BaseException] = []
    thread.run = _capturing(thread.run, errors)  # type: ignore[method-assign]
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def _capturing(fn: Callable[[], None], errors: list[BaseException]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    return run


async def test_the_owning_loop_is_served_inline_sync_and_async() -> None:
    recorder = MetricsRecorder("inline")
    recorder.register_metric(CountingMetric())
    async with recorder:
        _exercise_sync(recorder)  # sync reads on the owner drain inline: no wait, no deadlock
    recorder2 = MetricsRecorder("inline-async")
    recorder2.register_metric(CountingMetric())
    async with recorder2:
        await _exercise_async(recorder2)


async def test_sync_read_on_the_owner_that_needs_an_async_hook_raises_deadlock() -> None:
    class Hooked(MetricsRecorder):
        async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
            await anyio.lowlevel.checkpoint()

    recorder = Hooked("hooked")
    recorder.register_metric(CountingMetric())
    async with recorder:
        recorder.register_event(event=Saved())
        with pytest.raises(MetricsRecorderDeadlockError):
            recorder.get_metric_snapshots(timeout=TIMEOUT)
        assert (await recorder.aget_metric_snapshots())["count"] == {"count": 1}


@pytest.mark.parametrize("caller", ["asyncio-thread", "trio-thread"])
async def test_start_and_stop_handles_are_awaitable_from_other_loops(caller: str) -> None:
    recorder = MetricsRecorder("handles")
    recorder.register_metric(CountingMetric())

    async def drive() -> None:
        assert (await recorder.start()).success
        recorder.register_event(event=Saved())
        assert (await recorder.stop()).success

    with anyio.fail_after(TIMEOUT):
        await anyio.to_thread.run_sync(_in_foreign_context(caller, drive))
    assert recorder.state is RecorderState.STOPPED
    assert recorder.get_metric_snapshots() == {"count": {"count": 1}}


async def test_a_stop_waiter_cancelled_on_the_owner_leaves_the_stop_running() -> None:
    recorder = MetricsRecorder("cancel-stop")
    recorder.register_metric(CountingMetric())
    await recorder.start()
    recorder.register_event(event=Saved())
    handle = recorder.stop()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await handle
    assert scope.cancelled_caught
    assert (await handle).success
    assert recorder.get_metric_snapshots() == {"count": {"count": 1}}


def test_trio_asyncio_and_plain_threads_produce_into_one_recorder_at_once(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("mixed", queue_max_size=200_000)
    recorder.register_metric(CountingMetric())
    per_producer = 10_000

    async def produce_async() -> None:
        for i in range(per_producer):
            recorder.register_event(event=Saved())
            if i % 1000 == 0:
                await anyio.lowlevel.checkpoint()  # let other tasks of that loop run

    def producer(i: int) -> None:
        if i == 0:
            trio.run(produce_async)
        elif i == 1:
            asyncio.run(produce_async())
        else:
            for _ in range(per_producer):
                recorder.register_event(event=Saved())

    run_threads(5, producer)
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 5 * per_producer}}
    stats = recorder.get_stats()
    assert (stats.accepted, stats.dropped_total) == (5 * per_producer, 0)


async def test_wake_ups_are_batched_not_per_event() -> None:
    recorder = MetricsRecorder("batched", queue_max_size=100_000)
    recorder.register_metric(CountingMetric())
    wakes = count_wakes(recorder)
    async with recorder:
        await recorder.aflush()

        def produce() -> None:
            for _ in range(50_000):
                recorder.register_event(event=Saved())

        await anyio.to_thread.run_sync(produce)
        await recorder.aflush()
    assert recorder.get_metric_snapshots() == {"count": {"count": 50_000}}
    assert wakes.count < 5_000  # one per batch at most; far fewer than one per event


async def test_runtime_operations_called_from_any_loop_stay_asyncio_on_the_runtime(
    runtime: MetricsRuntime,
) -> None:
    # The caller's context variables (sniffio's marker of the caller's library among
    # them) must not leak into callbacks and tasks run on the runtime's asyncio loop.
    recorder = runtime.create_recorder("made-in-a-loop")
    recorder.register_metric(CountingMetric())
    recorder.register_event(event=Saved())
    assert (await recorder.aget_metric_snapshots()) == {"count": {"count": 1}}
    assert recorder.owner_library == "asyncio"


def test_a_poller_that_rests_again_during_a_tick_leaves_one_timer() -> None:
    loop = asyncio.new_event_loop()
    try:
        ticker = owner_asyncio._Ticker(loop, 0.005)
        ticks = 0

        def poller() -> bool:  # as a recorder that applies, then rests POLLING again
            nonlocal ticks
            ticks += 1
            ticker.add(poller)
            return True

        ticker.add(poller)
        loop.run_until_complete(asyncio.sleep(0.05))  # about ten ticks of the loop's ticker
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        # One timer whatever happened during the ticks: a second per tick would double them.
        assert ticks >= 2 and len(live) == 1
    finally:
        loop.close()
