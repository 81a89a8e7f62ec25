"""MetricsRuntime: lifecycle, registry, cross-recorder snapshots, deadlock guard, exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from mvx_metrics import (
    AsyncioMetricsRecorder,
    MetricsRecorderInvalidStateError,
    MetricsRuntime,
    MetricsRuntimeDeadlockError,
    MetricsRuntimeInvalidStateError,
    MetricsRuntimeRecorderAlreadyExistsError,
    MetricsRuntimeRecorderNotFoundError,
    MetricsRuntimeRecorderStartupError,
    MetricsRuntimeRecorderStopError,
    MetricsRuntimeStartupError,
    MetricsRuntimeUnexpectedError,
    OverflowPolicy,
    RecorderState,
    RuntimeState,
)
from mvx_metrics.export import render_prometheus
from mvx_metrics.hops.waiting import run_on_owner, spawn_on_owner

from .._support import TIMEOUT, CountingMetric, Saved, run_threads


def test_start_and_shutdown_are_idempotent_and_join_concurrent_callers() -> None:
    runtime = MetricsRuntime(namespace="idem")
    assert runtime.state is RuntimeState.VIRGIN
    run_threads(4, lambda _: runtime.start())
    assert runtime.state is RuntimeState.RUNNING
    runtime.start()
    threads = [t for t in threading.enumerate() if t.name == "mvx-metrics-runtime[idem]"]
    assert len(threads) == 1 and threads[0].daemon
    run_threads(4, lambda _: runtime.shutdown())
    assert runtime.state is RuntimeState.CLOSED
    assert not threads[0].is_alive()
    runtime.shutdown()
    with pytest.raises(MetricsRuntimeInvalidStateError):
        runtime.start()


def test_the_loop_is_uvloop_by_default() -> None:
    uvloop = pytest.importorskip("uvloop")
    with MetricsRuntime(namespace="uv") as runtime:
        recorder = runtime.create_recorder("r")
        assert runtime._loop_thread is not None
        assert isinstance(runtime._loop_thread.hop.loop, uvloop.Loop)
        assert recorder.owner_library == "asyncio"


def test_a_custom_loop_factory_is_used() -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        loop = asyncio.SelectorEventLoop()
        made.append(loop)
        return loop

    with MetricsRuntime(namespace="custom", loop_factory=factory) as runtime:
        runtime.create_recorder("r").register_event(event=Saved())
    assert len(made) == 1 and made[0].is_closed()


def test_a_failing_loop_factory_is_a_startup_error() -> None:
    def factory() -> asyncio.AbstractEventLoop:
        raise OSError("no loop for you")

    runtime = MetricsRuntime(namespace="bad-factory", loop_factory=factory)
    with pytest.raises(MetricsRuntimeStartupError) as info:
        runtime.start()
    assert isinstance(info.value.cause, OSError)
    assert runtime.state is RuntimeState.FAILURE
    runtime.shutdown()
    assert runtime.state is RuntimeState.CLOSED


def test_registry_operations(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("  docs  ", queue_max_size=123)
    assert isinstance(recorder, AsyncioMetricsRecorder)
    assert recorder.state is RecorderState.RUNNING
    assert recorder.entity_id == "docs" and recorder.namespace == "tests"
    assert recorder.queue_max_size == 123
    assert recorder.queue_overflow_policy is OverflowPolicy.DROP  # the runtime's default
    assert runtime.get_recorder("docs") is recorder
    assert runtime.try_get_recorder(" docs") is recorder
    assert runtime.try_get_recorder("missing") is None
    assert runtime.list_recorder_ids() == ("docs",)
    with pytest.raises(MetricsRuntimeRecorderAlreadyExistsError):
        runtime.create_recorder("docs")
    with pytest.raises(MetricsRuntimeRecorderNotFoundError) as info:
        runtime.get_recorder("missing")
    assert isinstance(info.value, LookupError) and info.value.details == {"recorder_id": "missing"}

    runtime.stop_recorder("docs")
    assert recorder.state is RecorderState.STOPPED
    assert runtime.list_recorder_ids() == ("docs",)
    removed = runtime.stop_and_remove_recorder("docs")
    assert removed is recorder and runtime.list_recorder_ids() == ()
    with pytest.raises(MetricsRuntimeRecorderNotFoundError):
        runtime.stop_recorder("docs")


def test_the_recorder_id_is_the_runtimes_key_and_the_entity_id_the_recorders_own_name(
    runtime: MetricsRuntime,
) -> None:
    # The two differ only when create_recorder is given entity_id=; each part of the API
    # then names the recorder by the one it knows (docs/reference.md, Terms).
    recorder = runtime.create_recorder(" key ", entity_id="own")
    recorder.register_metric(CountingMetric())
    recorder.register_event(event=Saved())
    assert recorder.entity_id == "own" and "/own " in repr(recorder)
    assert runtime.get_recorder("key") is recorder and runtime.list_recorder_ids() == ("key",)
    assert list(runtime.get_metric_snapshots(timeout=TIMEOUT)) == ["key"]
    assert list(runtime.get_stats()) == ["key"]
    exposition = render_prometheus(runtime)
    assert 'recorder="key"' in exposition and "own" not in exposition
    assert runtime.create_recorder("plain").entity_id == "plain"  # by default, the same

    class FailsToStop(AsyncioMetricsRecorder):
        async def _on_stopped(self) -> None:
            raise RuntimeError("stop hook")

    runtime.create_recorder("stopper", entity_id="stopper-own", recorder_class=FailsToStop)
    with pytest.raises(MetricsRuntimeRecorderStopError) as stop_failed:
        runtime.stop_recorder(" stopper ")
    assert stop_failed.value.details == {"recorder_id": "stopper"}
    assert stop_failed.value.recorder_id == "stopper"
    assert str(stop_failed.value).startswith("recorder 'stopper' failed to stop")

    runtime.stop_recorder("key")
    with pytest.raises(MetricsRecorderInvalidStateError) as refused:
        recorder.register_event(event=Saved())
    assert refused.value.details["entity_id"] == "own"
    assert "recorder 'own'" in str(refused.value)


def test_bad_arguments_are_refused(runtime: MetricsRuntime) -> None:
    with pytest.raises(ValueError):
        runtime.create_recorder("   ")
    with pytest.raises(ValueError):
        runtime.create_recorder(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        runtime.create_recorder(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        runtime.create_recorder("x", recorder_class=dict)  # type: ignore[type-var]
    for bad_size in (-1, 0):
        with pytest.raises(ValueError):
            runtime.create_recorder("x", queue_max_size=bad_size)
    with pytest.raises(TypeError):
        MetricsRuntime(default_recorder_queue_overflow_policy="DROP")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MetricsRuntime(default_recorder_queue_max_size=0)
    with pytest.raises(ValueError, match="at most"):
        MetricsRuntime(default_recorder_queue_max_size=10**9)
    with pytest.raises(TypeError):
        MetricsRuntime(loop_factory=42)  # type: ignore[arg-type]
    assert runtime.list_recorder_ids() == ()  # nothing half-created


def test_recorder_subclass_runs_its_hooks_on_the_runtime_thread(runtime: MetricsRuntime) -> None:
    class Audited(AsyncioMetricsRecorder):
        started_in: str | None = None

        async def _on_starting(self) -> None:
            type(self).started_in = threading.current_thread().name

    recorder = runtime.create_recorder("audited", recorder_class=Audited)
    assert isinstance(recorder, Audited)
    assert Audited.started_in == "mvx-metrics-runtime[tests]"


def test_recorder_that_fails_to_start_is_not_registered(runtime: MetricsRuntime) -> None:
    class Broken(AsyncioMetricsRecorder):
        async def _on_starting(self) -> None:
            raise RuntimeError("nope")

    with pytest.raises(MetricsRuntimeRecorderStartupError):
        runtime.create_recorder("broken", recorder_class=Broken)
    assert runtime.list_recorder_ids() == ()


def test_a_foreign_error_in_a_recorder_class_is_wrapped_with_its_cause(
    runtime: MetricsRuntime,
) -> None:
    class Exploding(AsyncioMetricsRecorder):
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("constructor bug")

    with pytest.raises(MetricsRuntimeUnexpectedError) as info:
        runtime.create_recorder("exploding", recorder_class=Exploding)
    assert isinstance(info.value.cause, RuntimeError)
    assert info.value.details == {"operation": "create_recorder"}
    assert runtime.list_recorder_ids() == ()


def test_runtime_recorders_take_block_and_wait_timeouts(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder(
        "tuned",
        queue_block_timeout=0.5,
        recorder_timeout=2.0,
        queue_overflow_policy=OverflowPolicy.BLOCK,
    )
    assert recorder._block_timeout == 0.5 and recorder._timeout == 2.0


def test_snapshots_across_recorders(runtime: MetricsRuntime) -> None:
    for rid in ("a", "b"):
        recorder = runtime.create_recorder(rid)
        recorder.register_metric(CountingMetric())
    for _ in range(3):
        runtime.get_recorder("a").register_event(event=Saved())
    runtime.get_recorder("b").register_event(event=Saved())
    assert runtime.get_metric_snapshots(timeout=TIMEOUT) == {
        "a": {"count": {"count": 3}},
        "b": {"count": {"count": 1}},
    }


def test_shutdown_flushes_every_recorder_and_keeps_final_values() -> None:
    runtime = MetricsRuntime(namespace="final", default_recorder_queue_max_size=100_000)
    runtime.start()
    recorder = runtime.create_recorder("r")
    recorder.register_metric(CountingMetric())
    for _ in range(50_000):
        recorder.register_event(event=Saved())
    runtime.shutdown()
    assert recorder.state is RecorderState.STOPPED
    assert runtime.get_metric_snapshots() == {"r": {"count": {"count": 50_000}}}
    with pytest.raises(MetricsRuntimeInvalidStateError):
        runtime.create_recorder("late")


def test_blocking_calls_from_the_runtime_thread_raise_deadlock(runtime: MetricsRuntime) -> None:
    assert runtime._loop_thread is not None
    fut = run_on_owner(runtime._loop_thread.hop, lambda: runtime.create_recorder("inner"))
    with pytest.raises(MetricsRuntimeDeadlockError):
        fut.result(TIMEOUT)
    fut = run_on_owner(runtime._loop_thread.hop, runtime.shutdown)
    with pytest.raises(MetricsRuntimeDeadlockError):
        fut.result(TIMEOUT)
    # Non-blocking reads are fine there.
    assert run_on_owner(runtime._loop_thread.hop, runtime.list_recorder_ids).result(TIMEOUT) == ()


def test_not_running_runtime_refuses_recorder_operations() -> None:
    runtime = MetricsRuntime(namespace="idle")
    with pytest.raises(MetricsRuntimeInvalidStateError):
        runtime.create_recorder("x")
    assert runtime.get_metric_snapshots() == {}
    runtime.shutdown()
    assert runtime.state is RuntimeState.CLOSED


def test_forgotten_shutdown_exits_promptly_after_processing_accepted_events() -> None:
    script = textwrap.dedent(
        """
        from dataclasses import dataclass
        from mvx_metrics import AsyncioMetricsRecorder, Metric, MetricEvent, MetricsRuntime

        @dataclass(slots=True)
        class Ev(MetricEvent):
            pass

        class Count(Metric):
            count = 0
            metric_name = "count"
            def handle_event(self, event):
                self.count += 1
                return True
            def snapshot(self):
                return {"count": self.count}

        class Reporting(AsyncioMetricsRecorder):
            async def _on_stopped(self):
                print("final", self.get_stats().processed, flush=True)

        runtime = MetricsRuntime(namespace="forgotten", default_recorder_queue_max_size=200_000)
        runtime.start()
        recorder = runtime.create_recorder("r", recorder_class=Reporting)
        recorder.register_metric(Count())
        for _ in range(100_000):
            recorder.register_event(event=Ev())
        print("main done", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["main done", "final 100000"]


def test_async_snapshots_of_the_runtime_from_any_loop(runtime: MetricsRuntime) -> None:
    import trio

    recorder = runtime.create_recorder("a")
    recorder.register_metric(CountingMetric())
    expected = {"a": {"count": {"count": 1}}}

    async def read() -> dict[str, object]:
        recorder.register_event(event=Saved())
        return dict(await runtime.aget_metric_snapshots(timeout=TIMEOUT))

    assert asyncio.run(read()) == expected
    expected["a"]["count"]["count"] = 2
    assert trio.run(read) == expected
    assert runtime._loop_thread is not None
    on_loop = spawn_on_owner(runtime._loop_thread.hop, read, name="test")
    expected["a"]["count"]["count"] = 3
    assert on_loop.result(TIMEOUT) == expected
    runtime.shutdown()
    assert asyncio.run(runtime.aget_metric_snapshots()) == {"a": {"count": {"count": 3}}}
