"""A recorder costs what it holds: no task while idle, no round trip to create, little memory."""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from dataclasses import dataclass

import pytest

from mvx_metrics import (
    AsyncioMetricsRecorder,
    Counter,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    MetricsRuntime,
    MetricsRuntimeShutdownError,
    RecorderState,
)
from mvx_metrics.hops.waiting import run_on_owner
from mvx_metrics.recorder.handoff import Intake

from .._support import TIMEOUT, CountingMetric, Saved, loop_held, run_host, wait_until


@dataclass(slots=True)
class Stored(MetricEvent):
    outcome: str
    seconds: float = 0.0


def two_metrics(recorder: MetricsRecorder) -> None:
    recorder.register_metric(Counter("saves", event=Stored, labels=("outcome",)))
    recorder.register_metric(
        Histogram("save_seconds", event=Stored, value="seconds", buckets=(0.1, 1.0))
    )


def recorder_tasks(runtime: MetricsRuntime) -> list[str]:
    """Names of the recorder tasks on the runtime's loop."""
    assert runtime._loop_thread is not None
    names = run_on_owner(
        runtime._loop_thread.hop, lambda: [t.get_name() for t in asyncio.all_tasks()]
    ).result(TIMEOUT)
    return [name for name in names if name.startswith("mvx-recorder-")]


def test_create_recorder_does_not_wait_for_the_loop(runtime: MetricsRuntime) -> None:
    with loop_held(runtime):  # nothing runs on the loop: a round trip would time out
        recorder = runtime.create_recorder("unwaited", timeout=0.5)
        assert recorder.state is RecorderState.RUNNING
        recorder.register_metric(CountingMetric())
        recorder.register_event(event=Saved())
        assert recorder.get_stats().pending == 1
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}


def test_a_new_recorder_is_parked_without_a_call_to_its_loop(runtime: MetricsRuntime) -> None:
    # Parked while the loop runs nothing: creating it scheduled nothing there, so that
    # creating thousands of recorders costs their loop nothing (and the creating thread
    # no wake-up of it). The first event wakes it, as it wakes any parked recorder.
    with loop_held(runtime):
        recorders = [runtime.create_recorder(f"parked-{i}") for i in range(3)]
        assert [r._handoff.mode for r in recorders] == [Intake.PARKED] * 3
        assert [r.state for r in recorders] == [RecorderState.RUNNING] * 3
        recorders[0].register_metric(CountingMetric())
        recorders[0].register_event(event=Saved())
        assert recorders[0].get_stats().pending == 1
    assert recorders[0].get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}
    assert [r.get_stats().processed for r in recorders] == [1, 0, 0]


def test_a_duplicate_id_is_refused_without_the_loop(runtime: MetricsRuntime) -> None:
    runtime.create_recorder("twice")
    with loop_held(runtime), pytest.raises(Exception, match="already exists"):
        runtime.create_recorder("twice")
    assert runtime.list_recorder_ids() == ("twice",)


def test_a_start_hook_is_still_waited_for(runtime: MetricsRuntime) -> None:
    class Hooked(AsyncioMetricsRecorder):
        async def _on_starting(self) -> None:
            await asyncio.sleep(0)

    with loop_held(runtime), pytest.raises(Exception, match="did not complete"):
        runtime.create_recorder("hooked", recorder_class=Hooked, timeout=0.05)
    assert "hooked" not in runtime.list_recorder_ids()
    assert runtime.create_recorder("hooked-2", recorder_class=Hooked).state is RecorderState.RUNNING


def test_busy_and_idle_recorders_run_no_task_of_their_own(runtime: MetricsRuntime) -> None:
    recorders = [runtime.create_recorder(f"taskless-{i}") for i in range(20)]
    for recorder in recorders:
        two_metrics(recorder)
        for _ in range(3_000):  # more than a batch: applied over several loop callbacks
            recorder.register_event(event=Stored("ok"))
    assert recorder_tasks(runtime) == []
    for recorder in recorders:
        recorder.flush(timeout=TIMEOUT)
        assert recorder.get_stats().processed == 3_000
    wait_until(lambda: all(r._handoff.mode is Intake.PARKED for r in recorders))
    assert recorder_tasks(runtime) == []


def test_a_change_hook_gets_a_task_for_its_busy_spell_only(runtime: MetricsRuntime) -> None:
    seen: list[str] = []

    class Watching(AsyncioMetricsRecorder):
        async def _on_metric_changed(self, *, metric: object, event: MetricEvent) -> None:
            seen.append(type(event).__name__)

    recorder = runtime.create_recorder("watching", recorder_class=Watching)
    recorder.register_metric(CountingMetric())
    for _ in range(5):
        recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    assert seen == ["Saved"] * 5
    wait_until(lambda: recorder._handoff.mode is Intake.PARKED)
    assert recorder_tasks(runtime) == []


def test_an_idle_recorder_with_two_metrics_holds_at_most_8_kib(runtime: MetricsRuntime) -> None:
    count = 200
    for i in range(count):  # warm up: classes, plans and caches are made once per process
        two_metrics(runtime.create_recorder(f"warm-{i}"))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            two_metrics(runtime.create_recorder(f"idle-{i}"))
        runtime.get_stats()
        for i in range(count):
            runtime.get_recorder(f"idle-{i}").flush(timeout=TIMEOUT)
        gc.collect()
        per_recorder = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert per_recorder <= 8 * 1024


def test_an_idle_recorder_is_a_bounded_number_of_collector_objects(
    runtime: MetricsRuntime,
) -> None:
    # What a full garbage collection traverses per recorder: 9 today (10 once it has had
    # an event: its buffer), the label-less histogram's one series (its state and counts
    # list, in no series dict) included, and no list of active metrics besides the
    # registered ones; prometheus_client: 14 for the two label children of this workload. The runtime ends its recorders itself
    # when its loop ends, so none of them is watched by a sentinel either.
    for i in range(50):  # warm up: classes, plans and caches
        two_metrics(runtime.create_recorder(f"warm-{i}"))
    runtime.get_stats()
    gc.collect()
    before = len(gc.get_objects())
    count = 200
    for i in range(count):
        two_metrics(runtime.create_recorder(f"counted-{i}"))
    for i in range(count):
        runtime.get_recorder(f"counted-{i}").flush(timeout=TIMEOUT)
    # Idle means parked: a recorder still polling holds a place on the loop's ticker,
    # and how many still poll at this instant would depend on the machine's speed.
    hosted = runtime._recorders.by_id
    wait_until(lambda: all(r._handoff.mode is Intake.PARKED for r in hosted.values()))
    gc.collect()
    per_recorder = (len(gc.get_objects()) - before) / count
    # CPython 3.13 makes 2 more: both metrics' instance dicts (built-in metrics have no
    # __slots__), which 3.11 and 3.12 keep inline. (The recorder and its core have
    # slots: an instance dict, one more each on 3.13, is made only if something sets one.)
    bound = 9 if sys.version_info < (3, 13) else 11
    assert per_recorder <= bound, per_recorder
    assert runtime._loop_thread is not None
    assert runtime._loop_thread.hop._watchers(create=False) is None


def test_a_runtime_ending_with_recorders_still_running_cancels_them() -> None:
    runtime = MetricsRuntime(namespace="ending")
    runtime.start()
    recorder = runtime.create_recorder("left")
    recorder.register_metric(CountingMetric())
    recorder.register_event(event=Saved())
    assert runtime._loop_thread is not None
    runtime._loop_thread.stop(TIMEOUT)  # the loop ends without stopping its recorders
    assert recorder.state is RecorderState.CANCELLED
    assert recorder.get_metric_snapshots() == {"count": {"count": 1}}  # applied first
    with pytest.raises(MetricsRuntimeShutdownError):  # its loop was gone: it says so
        runtime.shutdown(timeout=TIMEOUT)


@pytest.mark.parametrize("host", ["asyncio", "trio"])
def test_the_loop_sentinel_cancels_every_resting_recorder_when_the_host_ends(host: str) -> None:
    recorders: list[MetricsRecorder] = []

    async def main() -> None:
        for i in range(3):
            recorder = MetricsRecorder(f"resting-{i}")
            recorder.register_metric(CountingMetric())
            await recorder.start()
            recorder.register_event(event=Saved())
            await recorder.aflush()
            recorders.append(recorder)
        # One stops by itself: the sentinel must leave it alone.
        await recorders[0].stop()

    run_host(host, main)
    states = [recorder.state for recorder in recorders]
    assert states == [RecorderState.STOPPED, RecorderState.CANCELLED, RecorderState.CANCELLED]
    assert all(r.get_stats().processed == 1 for r in recorders)


@pytest.mark.parametrize("host", ["asyncio", "trio"])
def test_a_restarted_recorder_is_watched_again(host: str) -> None:
    recorders: list[MetricsRecorder] = []

    async def main() -> None:
        recorder = MetricsRecorder("again")
        recorder.register_metric(CountingMetric())
        recorders.append(recorder)
        async with recorder:  # stopped: no longer watched
            recorder.register_event(event=Saved())
        await recorder.start()  # watched again
        recorder.register_event(event=Saved())

    run_host(host, main)
    (recorder,) = recorders
    assert recorder.state is RecorderState.CANCELLED
    assert recorder.get_metric_snapshots() == {"count": {"count": 2}}


def test_a_recorder_s_own_state_is_in_slots_and_it_still_takes_other_attributes(
    runtime: MetricsRuntime,
) -> None:
    """Slots keep an idle recorder small for the collector; a test may still patch it."""
    from unittest import mock

    recorder = runtime.create_recorder("patched")
    assert "_handoff" in type(recorder).__mro__[1].__slots__  # MetricsRecorder's
    with mock.patch.object(recorder, "get_metric_snapshots", return_value={"x": {}}):
        assert recorder.get_metric_snapshots() == {"x": {}}
    recorder.note = "kept"  # type: ignore[attr-defined]
    assert vars(recorder) == {"note": "kept"}
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {}
