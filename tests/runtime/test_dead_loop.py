"""A runtime whose loop thread dies says so at once, with the cause, and shuts down
cleanly; a thread that reuses the dead owner's id is not taken for it (issue 9, item 5)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mvx_metrics import (
    MetricsRecorder,
    MetricsRecorderError,
    MetricsRecorderLoopUnavailableError,
    MetricsRuntime,
    MetricsRuntimeInvalidStateError,
    RecorderState,
    RuntimeState,
)

from .._support import TIMEOUT, CountingMetric, Saved, wait_until


def _exit() -> None:
    raise SystemExit(3)


def _crash() -> None:
    raise KeyboardInterrupt  # what asyncio lets out of run_forever, as SystemExit


@pytest.mark.parametrize("kill", [_exit, _crash], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_dead_loop_thread_fails_the_runtime_and_every_call_says_why(kill: object) -> None:
    runtime = MetricsRuntime(namespace="dying")
    runtime.start()
    recorder = runtime.create_recorder("r")
    recorder.register_metric(CountingMetric())
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)
    assert runtime._loop_thread is not None
    runtime._loop_thread.hop.call_soon(kill)  # type: ignore[arg-type]
    wait_until(lambda: runtime.state is RuntimeState.FAILURE)

    for call in (
        lambda: runtime.create_recorder("after"),
        lambda: runtime.serve_http(),
    ):
        with pytest.raises(MetricsRuntimeInvalidStateError) as info:
            call()
        assert info.value.reason == "loop_died"
        assert isinstance(info.value.cause, SystemExit | KeyboardInterrupt)
    # The recorder was told by its loop's end: its events were applied, its reads direct.
    wait_until(lambda: recorder.state is RecorderState.CANCELLED)
    assert recorder.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}
    assert runtime.get_metric_snapshots(timeout=TIMEOUT) == {"r": {"count": {"count": 1}}}
    with pytest.raises(MetricsRecorderError):
        recorder.register_event(event=Saved())
    runtime.shutdown(timeout=TIMEOUT)  # completes, without waiting for the dead thread
    assert runtime.state is RuntimeState.CLOSED


def test_a_new_thread_with_the_dead_owners_id_is_not_the_owner() -> None:
    runtime = MetricsRuntime(namespace="reused-id")
    runtime.start()
    assert runtime._loop_thread is not None
    hop = runtime._loop_thread.hop
    runtime.shutdown(timeout=TIMEOUT)
    seen: list[tuple[bool, bool]] = []  # (has the owner's id, passes for the owner)

    # Thread ids are reused once a thread ended, from a cache of stacks. Workers started
    # together, each holding its stack until all have started, take many cached stacks
    # at once: the owner's among them, even if other threads (a test server's, say)
    # ended since and sit above it in the cache.
    def work(release: threading.Event) -> None:
        seen.append((threading.get_ident() == hop.thread_id, hop.is_owner()))
        release.wait(TIMEOUT)

    for _ in range(10):
        release = threading.Event()
        workers = [threading.Thread(target=work, args=(release,)) for _ in range(32)]
        for worker in workers:
            worker.start()
        release.set()
        for worker in workers:
            worker.join(TIMEOUT)
        if any(reused for reused, _ in seen):
            break
    assert any(reused for reused, _ in seen), "no thread id was reused: nothing was tested"
    assert not any(owner for _, owner in seen)


def test_a_recorder_whose_loop_was_closed_under_it_fails_reads_at_once() -> None:
    loop = asyncio.new_event_loop()
    recorder = loop.run_until_complete(_started_recorder())
    loop.close()  # closed without cancelling its tasks: no sentinel ran
    assert recorder.state is RecorderState.RUNNING
    recorder.register_event(event=Saved())  # accepted, pending: counted, never lost silently
    errors: list[BaseException] = []

    def from_another_thread() -> None:  # on the dead loop's own thread reads apply inline
        for read in (
            lambda: recorder.get_metric_snapshots(timeout=60),
            lambda: recorder.flush(timeout=60),
        ):
            try:
                read()  # at once: it would have waited 60 s before
            except MetricsRecorderLoopUnavailableError as exc:
                errors.append(exc)
        result = recorder.stop().wait(60)
        assert not result.success and result.error is not None
        errors.append(result.error)

    reader = threading.Thread(target=from_another_thread)
    reader.start()
    reader.join(TIMEOUT)
    assert [e.reason for e in errors] == ["loop_closed"] * 3  # type: ignore[attr-defined]
    assert recorder.get_stats().pending == 1


async def _started_recorder() -> MetricsRecorder:
    recorder = MetricsRecorder("closed-under-it")
    recorder.register_metric(CountingMetric())
    await recorder.start()
    return recorder
