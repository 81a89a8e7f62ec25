"""How long events wait between register_event and processing: an upper bound per slice
of processing, counted in RecorderStats.processing_delay without a clock read on the
hot path (issue 12, item 3)."""

from __future__ import annotations

import time

import anyio
import pytest

from mvx_metrics import MetricsRecorder, MetricsRuntime, ProcessingDelay
from mvx_metrics.multiprocess.merging import delay_from_dict, delay_to_dict, merge_delays
from mvx_metrics.recorder.handoff import Intake
from mvx_metrics.recorder.stats import PROCESSING_DELAY_BOUNDS

from .._support import TIMEOUT, CountingMetric, Saved, loop_held, wait_until

HELD_S = 0.05


def _consistent(delay: ProcessingDelay) -> None:
    assert delay.bounds == PROCESSING_DELAY_BOUNDS
    assert len(delay.counts) == len(delay.bounds) + 1
    assert delay.count == sum(delay.counts) > 0
    assert delay.min is not None and delay.max is not None
    assert 0.0 <= delay.min <= delay.max and delay.min * delay.count <= delay.sum + 1e-12
    assert delay.sum <= delay.max * delay.count + 1e-12


def test_a_new_recorder_has_waited_for_nothing(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("fresh")
    assert recorder.get_stats().processing_delay == ProcessingDelay()
    assert ProcessingDelay().count == 0


def test_the_delay_is_never_less_than_how_long_an_event_waited(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("held")
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    with loop_held(runtime):  # nothing is processed until the block ends
        recorder.register_event(event=Saved())
        registered = time.perf_counter()
        time.sleep(HELD_S)  # the wait being measured, not a synchronisation
        held_for = time.perf_counter() - registered
    recorder.flush(timeout=TIMEOUT)
    delay = recorder.get_stats().processing_delay
    _consistent(delay)
    assert delay.max >= held_for  # type: ignore[operator]


def test_a_parked_recorder_measures_from_the_event_that_woke_it(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("parked")
    recorder.register_metric(CountingMetric())
    recorder.flush(timeout=TIMEOUT)
    wait_until(lambda: recorder._handoff.mode is Intake.PARKED)
    before = recorder.get_stats().processing_delay
    started = time.perf_counter()
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    elapsed = time.perf_counter() - started
    after = recorder.get_stats().processing_delay
    _consistent(after)
    assert after.count > before.count
    # The wait was counted from the wake-up, not from when the recorder parked (which
    # was longer ago than this whole exchange).
    assert after.sum - before.sum <= elapsed * (after.count - before.count)


@pytest.mark.anyio
async def test_direct_mode_counts_it_too() -> None:
    recorder = MetricsRecorder("direct")
    recorder.register_metric(CountingMetric())
    async with recorder:
        for _ in range(3):
            recorder.register_event(event=Saved())
            await recorder.aflush(timeout=TIMEOUT)
            await anyio.lowlevel.checkpoint()
        _consistent(recorder.get_stats().processing_delay)


def test_delays_of_several_processes_merge_into_one_histogram() -> None:
    n = len(PROCESSING_DELAY_BOUNDS) + 1
    a = ProcessingDelay(counts=(1, *(0,) * (n - 1)), sum=0.0001, min=0.0001, max=0.0001)
    b = ProcessingDelay(counts=(*(0,) * (n - 1), 2), sum=40.0, min=15.0, max=25.0)
    merged = merge_delays([a, b, ProcessingDelay()])
    assert merged.counts == (1, *(0,) * (n - 2), 2)
    assert (merged.sum, merged.min, merged.max) == (40.0001, 0.0001, 25.0)
    assert delay_from_dict(delay_to_dict(merged)) == merged
    for unreadable in (None, {}, {"bounds": [1.0], "counts": [1], "sum": 1, "min": 0, "max": 1}):
        assert delay_from_dict(unreadable) == ProcessingDelay()
    other_bounds = ProcessingDelay(bounds=(1.0,), counts=(1, 0), sum=0.5, min=0.5, max=0.5)
    assert merge_delays([other_bounds]) == ProcessingDelay()
