"""Lifecycle: handles, joining, restart, hooks on the owning loop, stop flushes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import pytest
import trio

from mvx_metrics import (
    AsyncioMetricsRecorder,
    Metric,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderDeadlockError,
    MetricsRecorderInvalidStateError,
    MetricsRecorderLoopUnavailableError,
    MetricsRecorderOnStartingHookFailedError,
    MetricsRecorderOnStoppedHookFailedError,
    MetricsRecorderTimeoutError,
    MetricsRuntime,
    Operation,
    OpResult,
    OverflowPolicy,
    RecorderState,
)

from .._support import TIMEOUT, CountingMetric, Saved, loop_held, run_host, wait_until

pytestmark = pytest.mark.anyio


class HookRecorder(MetricsRecorder):
    """Records where and in which order its hooks ran."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, int]] = []

    async def _on_starting(self) -> None:
        self.calls.append(("starting", threading.get_ident()))

    async def _on_stopped(self) -> None:
        processed = self.get_stats().processed
        self.calls.append((f"stopped after {processed}", threading.get_ident()))

    async def _on_metric_changed(self, *, metric: Metric, event: MetricEvent) -> None:
        self.calls.append((f"changed {metric.metric_name}", threading.get_ident()))


async def test_start_and_stop_return_awaitable_handles() -> None:
    recorder = MetricsRecorder("rec")
    handle = recorder.start()
    result = await handle
    assert result == OpResult(Operation.START, True, None)
    assert handle.done() and recorder.state is RecorderState.RUNNING
    assert (await recorder.stop()) == OpResult(Operation.STOP, True, None)
    assert recorder.state is RecorderState.STOPPED


async def test_concurrent_starts_and_stops_join_the_one_in_flight() -> None:
    recorder = MetricsRecorder("join")
    first, second = recorder.start(), recorder.start()
    assert recorder.state is RecorderState.STARTING
    assert (await first).success and (await second).success
    assert recorder.start().done()  # RUNNING: already done
    stop_a, stop_b = recorder.stop(), recorder.stop()
    assert (await stop_a).success and (await stop_b).success
    assert recorder.stop().done()


async def test_restart_after_stop_keeps_metrics_and_values() -> None:
    recorder = MetricsRecorder("restart")
    recorder.register_metric(CountingMetric())
    async with recorder:
        recorder.register_event(event=Saved())
    async with recorder:
        recorder.register_event(event=Saved())
        assert (await recorder.aget_metric_snapshots())["count"] == {"count": 2}
    assert [m.metric_name for m in recorder.iter_metrics()] == ["count"]


async def test_hooks_run_on_the_owning_loop_in_order() -> None:
    recorder = HookRecorder("hooks")
    recorder.register_metric(CountingMetric())
    owner = threading.get_ident()

    def produce() -> None:
        recorder.register_event(event=Saved())
        recorder.register_event(event=Saved())

    async with recorder:
        await anyio.to_thread.run_sync(produce)
    assert recorder.calls == [
        ("starting", owner),
        ("changed count", owner),
        ("changed count", owner),
        ("stopped after 2", owner),
    ]


async def test_stop_processes_every_accepted_event_first() -> None:
    recorder = MetricsRecorder("drain", queue_max_size=50_000)
    recorder.register_metric(CountingMetric())
    await recorder.start()
    for _ in range(30_000):
        recorder.register_event(event=Saved())
    assert recorder.get_stats().pending == 30_000
    assert (await recorder.stop()).success
    stats = recorder.get_stats()
    assert (stats.processed, stats.pending) == (30_000, 0)
    assert recorder.get_metric_snapshots()["count"] == {"count": 30_000}


async def test_failing_on_starting_hook_puts_the_recorder_in_failure() -> None:
    class Broken(MetricsRecorder):
        async def _on_starting(self) -> None:
            raise OSError("disk gone")

    recorder = Broken("broken")
    result = await recorder.start()
    assert not result.success
    assert isinstance(result.error, MetricsRecorderOnStartingHookFailedError)
    assert isinstance(result.error.cause, OSError)
    assert recorder.state is RecorderState.FAILURE
    with pytest.raises(MetricsRecorderInvalidStateError):
        recorder.register_event(event=Saved())
    restart = await recorder.start()
    assert isinstance(restart.error, MetricsRecorderInvalidStateError)
    assert "FAILURE" in str(restart.error)


async def test_failing_on_stopped_hook_is_reported_after_events_are_processed() -> None:
    class Broken(MetricsRecorder):
        async def _on_stopped(self) -> None:
            raise ValueError("cannot close")

    recorder = Broken("broken-stop")
    recorder.register_metric(CountingMetric())
    await recorder.start()
    recorder.register_event(event=Saved())
    result = await recorder.stop()
    assert isinstance(result.error, MetricsRecorderOnStoppedHookFailedError)
    assert recorder.state is RecorderState.FAILURE
    assert recorder.get_metric_snapshots()["count"] == {"count": 1}


async def test_async_with_stops_even_when_the_body_raises() -> None:
    recorder = MetricsRecorder("body-raises")
    recorder.register_metric(CountingMetric())
    with pytest.raises(KeyError):
        async with recorder:
            recorder.register_event(event=Saved())
            raise KeyError("boom")
    assert recorder.state is RecorderState.STOPPED
    assert recorder.get_metric_snapshots()["count"] == {"count": 1}


async def test_async_with_stops_even_when_the_body_is_cancelled() -> None:
    recorder = MetricsRecorder("body-cancelled")
    recorder.register_metric(CountingMetric())
    with anyio.CancelScope() as scope:
        async with recorder:
            recorder.register_event(event=Saved())
            scope.cancel()
            await anyio.sleep_forever()
    assert recorder.state is RecorderState.STOPPED
    assert recorder.get_metric_snapshots()["count"] == {"count": 1}


async def test_blocking_waits_on_the_owning_thread_raise_deadlock_at_once() -> None:
    recorder = MetricsRecorder("deadlock")
    handle = recorder.start()
    with pytest.raises(MetricsRecorderDeadlockError) as info:
        handle.wait(timeout=TIMEOUT)
    assert info.value.reason == "deadlock"
    assert (await handle).success
    await recorder.stop()


async def test_stop_of_a_virgin_recorder_succeeds() -> None:
    recorder = MetricsRecorder("virgin")
    assert (await recorder.stop()).success
    assert recorder.state is RecorderState.STOPPED


def test_wait_from_a_plain_thread_with_timeout(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("waits")
    with loop_held(runtime):
        handle = recorder.stop()
        with pytest.raises(MetricsRecorderTimeoutError):
            handle.wait(timeout=0.01)
    assert handle.wait(timeout=TIMEOUT).success


def test_snapshot_timeout_is_an_error_not_a_hang(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("slow")
    with loop_held(runtime), pytest.raises(MetricsRecorderTimeoutError) as info:
        # An idle recorder is read in place; a pending event sends the read to the loop.
        recorder.register_event(event=Saved())
        recorder.get_metric_snapshots(timeout=0.01)
    assert isinstance(info.value, TimeoutError)
    assert info.value.details["operation"] == "snapshot"


def test_recorder_needs_a_running_loop() -> None:
    with pytest.raises(MetricsRecorderLoopUnavailableError) as info:
        MetricsRecorder("no-loop")
    assert info.value.reason == "loop_unavailable"


async def test_asyncio_recorder_refuses_trio(anyio_backend: Any) -> None:
    if anyio_backend[0] == "trio":
        with pytest.raises(MetricsRecorderLoopUnavailableError):
            AsyncioMetricsRecorder("x")
    else:
        recorder = AsyncioMetricsRecorder("x")
        assert recorder.owner_library == "asyncio"


async def test_constructor_argument_checks() -> None:
    with pytest.raises(ValueError):
        MetricsRecorder(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MetricsRecorder(42)  # type: ignore[arg-type]
    assert MetricsRecorder("  padded  ").entity_id == "padded"
    blank = MetricsRecorder("   ").entity_id
    assert blank and blank != MetricsRecorder("").entity_id
    for bad_size, error in [
        (True, TypeError),
        (1.5, TypeError),
        ("9", TypeError),
        (0, ValueError),
        (-1, ValueError),
    ]:
        with pytest.raises(error):
            MetricsRecorder("x", queue_max_size=bad_size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 10,000,000"):
        MetricsRecorder("x", queue_max_size=10_000_001)
    with pytest.raises(TypeError):
        MetricsRecorder("x", queue_overflow_policy="DROP")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MetricsRecorder("x", timeout=0)
    with pytest.raises(TypeError):
        MetricsRecorder("x", namespace=3)  # type: ignore[arg-type]
    recorder = MetricsRecorder("x")
    assert recorder.queue_max_size == 10_000
    assert recorder.queue_overflow_policy is OverflowPolicy.RAISE_ERROR


async def test_register_metric_checks() -> None:
    recorder = MetricsRecorder("metrics")
    with pytest.raises(ValueError):
        recorder.register_metric(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        recorder.register_metric(object())  # type: ignore[arg-type]
    recorder.register_metric(CountingMetric("a"))
    with pytest.raises(ValueError, match="already has a metric named 'a'"):
        recorder.register_metric(CountingMetric("a"))
    with pytest.raises(ValueError):
        recorder.register_metric(CountingMetric("  "))


async def test_metric_registered_while_running_sees_later_events() -> None:
    recorder = MetricsRecorder("late-metric")
    async with recorder:
        recorder.register_event(event=Saved())
        recorder.register_metric(CountingMetric())
        recorder.register_event(event=Saved())
        assert (await recorder.aget_metric_snapshots())["count"] == {"count": 1}


def test_cancelled_waiters_in_other_loops_do_not_disturb_the_recorder(
    runtime: MetricsRuntime,
) -> None:
    recorder = runtime.create_recorder("cancel-waiter")
    recorder.register_metric(CountingMetric())

    async def asyncio_caller() -> None:
        task = asyncio.ensure_future(recorder.aget_metric_snapshots())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with loop_held(runtime):
        # A pending event: the read must wait for the (held) owning loop, not go in place.
        recorder.register_event(event=Saved())
        asyncio.run(asyncio_caller())
    assert recorder.get_metric_snapshots()["count"] == {"count": 1}

    async def trio_caller() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            await recorder.stop()  # the wait is cancelled, the stop is not
        assert scope.cancelled_caught
        assert (await recorder.stop()).success

    assert recorder.state is RecorderState.RUNNING
    trio.run(trio_caller)
    assert recorder.state is RecorderState.STOPPED
    assert recorder.get_metric_snapshots()["count"] == {"count": 1}


@pytest.mark.parametrize("host", ["asyncio", "trio"])
def test_a_host_loop_that_ends_without_stop_cancels_the_recorder_keeping_its_events(
    host: str,
) -> None:
    recorders: list[MetricsRecorder] = []

    async def main() -> None:
        recorder = MetricsRecorder("abandoned")
        recorder.register_metric(CountingMetric())
        await recorder.start()
        for _ in range(5):
            recorder.register_event(event=Saved())
        recorders.append(recorder)  # returns without stop(): the host cancels the task

    run_host(host, main)
    (recorder,) = recorders
    assert recorder.state is RecorderState.CANCELLED
    assert recorder.last_error is not None and recorder.last_error.reason == "cancelled"
    assert recorder.get_metric_snapshots() == {"count": {"count": 5}}
    stats = recorder.get_stats()
    assert (stats.processed, stats.pending) == (5, 0)
    with pytest.raises(MetricsRecorderInvalidStateError):
        recorder.register_event(event=Saved())


def test_an_event_that_raced_with_stop_is_still_applied(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("straggler")
    recorder.register_metric(CountingMetric())
    assert recorder.stop().wait(TIMEOUT).success
    # What a producer that passed the RUNNING check just before stop() does next:
    handoff = recorder._handoff
    try:
        handoff.credits.pop()
    except IndexError:
        assert handoff.issue_credits(may_press=False)
    handoff.buffer.append(Saved())
    if handoff.wake_on_append:
        handoff.claim_wake()
    wait_until(lambda: recorder.get_stats().pending == 0)
    assert recorder.get_metric_snapshots() == {"count": {"count": 1}}
    assert recorder.state is RecorderState.STOPPED


def test_producers_racing_stop_and_restart_lose_nothing(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("churn", queue_max_size=1_000_000)
    counter = CountingMetric()
    recorder.register_metric(counter)
    accepted = [0] * 4
    refused = [0] * 4
    done = threading.Event()

    def produce(i: int) -> None:
        while not done.is_set():
            try:
                recorder.register_event(event=Saved())
            except MetricsRecorderInvalidStateError:
                refused[i] += 1
            else:
                accepted[i] += 1

    producers = [threading.Thread(target=produce, args=(i,)) for i in range(4)]
    for producer in producers:
        producer.start()
    try:
        for _ in range(20):
            assert recorder.stop().wait(TIMEOUT).success
            assert recorder.start().wait(TIMEOUT).success
    finally:
        done.set()
        for producer in producers:
            producer.join(TIMEOUT)
    assert recorder.stop().wait(TIMEOUT).success
    wait_until(lambda: recorder.get_stats().pending == 0)  # stragglers of the last stop
    stats = recorder.get_stats()
    assert stats.accepted == stats.processed == sum(accepted) > 0
    assert stats.dropped.get("invalid_state", 0) == sum(refused)
    assert recorder.get_metric_snapshots() == {"count": {"count": sum(accepted)}}
