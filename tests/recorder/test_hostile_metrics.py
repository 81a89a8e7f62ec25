"""Whatever metric code raises, and whatever event classes it meets, the recorder ends in a
defined state with everything counted, never stuck (issue 9, items 4, 10 and 11)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from mvx_metrics import (
    Counter,
    Metric,
    MetricErrorPolicy,
    MetricEvent,
    MetricsRecorder,
    MetricsRecorderUnexpectedError,
    MetricsRuntime,
    MetricsRuntimeTimeoutError,
    RecorderState,
)
from mvx_metrics.metrics._builtin import known_event_types
from mvx_metrics.recorder.processing import ROUTING_ERRORS
from mvx_metrics.recorder.routing import MAX_CACHED_CLASSES

from .._support import TIMEOUT, CountingMetric, Saved, loop_held, run_host

pytestmark = pytest.mark.anyio


class Custom(BaseException):
    """A BaseException that is not an Exception, as some libraries define."""


class Raising(Metric):
    """Raises ``exc_type`` on every event."""

    event_types = (Saved,)

    def __init__(self, exc_type: type[BaseException]) -> None:
        self._exc_type = exc_type

    @property
    def metric_name(self) -> str:
        return "raising"

    def handle_event(self, event: MetricEvent) -> bool:
        raise self._exc_type("from handle_event")

    def snapshot(self) -> dict[str, Any]:
        return {}


ISOLATED = [Custom, asyncio.CancelledError, GeneratorExit, ValueError]


@pytest.mark.parametrize("exc_type", ISOLATED, ids=lambda t: t.__name__)
async def test_any_other_exception_from_handle_event_is_isolated(
    exc_type: type[BaseException],
) -> None:
    recorder = MetricsRecorder("isolating")
    recorder.register_metric(Raising(exc_type))
    recorder.register_metric(CountingMetric())
    async with recorder:
        for _ in range(3):
            recorder.register_event(event=Saved())
        await recorder.aflush(timeout=TIMEOUT)
        assert recorder.state is RecorderState.RUNNING
        stats = recorder.get_stats()
        assert (stats.processed, stats.pending, dict(stats.metric_errors)) == (3, 0, {"raising": 3})
        assert (await recorder.aget_metric_snapshots())["count"] == {"count": 3}
    assert recorder.state is RecorderState.STOPPED


@pytest.mark.parametrize("exc_type", ISOLATED, ids=lambda t: t.__name__)
def test_under_policy_fail_any_exception_fails_the_recorder_and_answers_waiters(
    runtime: MetricsRuntime, exc_type: type[BaseException]
) -> None:
    recorder = runtime.create_recorder(
        f"failing-{exc_type.__name__}", metric_error_policy=MetricErrorPolicy.FAIL
    )
    recorder.register_metric(Raising(exc_type))
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)  # answered at once, not at its timeout
    assert recorder.state is RecorderState.FAILURE
    assert recorder.last_error is not None and recorder.last_error.reason == "metric_failed"


FATAL = pytest.mark.parametrize(
    "exc_type", [KeyboardInterrupt, SystemExit], ids=lambda t: t.__name__
)


async def interrupted_recorder(name: str, exc_type: type[BaseException]) -> MetricsRecorder:
    """A started direct-mode recorder with two events whose metric raises ``exc_type``."""
    recorder = MetricsRecorder(name)
    recorder.register_metric(Raising(exc_type))
    await recorder.start()
    recorder.register_event(event=Saved())
    recorder.register_event(event=Saved())
    return recorder


def check_failed_by(recorder: MetricsRecorder, exc_type: type[BaseException]) -> None:
    assert recorder.state is RecorderState.FAILURE
    assert isinstance(recorder.last_error, MetricsRecorderUnexpectedError)
    assert isinstance(recorder.last_error.cause, exc_type)
    stats = recorder.get_stats()
    assert stats.accepted == stats.processed + stats.pending == 2  # nothing lost silently


@FATAL
@pytest.mark.parametrize("host", ["asyncio", "uvloop", "trio"])
def test_ctrl_c_and_exit_in_loop_processing_fail_the_recorder(
    exc_type: type[BaseException], host: str
) -> None:
    recorders: list[MetricsRecorder] = []

    async def main() -> None:
        recorder = await interrupted_recorder("interrupted", exc_type)
        recorders.append(recorder)
        with anyio.fail_after(TIMEOUT):
            while recorder.state is RecorderState.RUNNING:  # no read: the loop applies
                await anyio.sleep(0.001)

    if host != "trio":  # asyncio lets them end the loop, as Python means them to
        with pytest.raises(exc_type):
            run_host(host, main)
    else:  # trio would turn them into TrioInternalError: the recorder keeps them
        run_host(host, main)
    check_failed_by(recorders[0], exc_type)


@FATAL
@pytest.mark.parametrize("host", ["asyncio", "uvloop", "trio"])
def test_ctrl_c_and_exit_in_a_read_applying_inline_reach_the_reader(
    exc_type: type[BaseException], host: str
) -> None:
    recorders: list[MetricsRecorder] = []

    async def main() -> None:
        recorder = await interrupted_recorder("interrupted-read", exc_type)
        recorders.append(recorder)
        with pytest.raises(exc_type):
            await recorder.aflush(timeout=TIMEOUT)  # on the owner: applies inline
        check_failed_by(recorder, exc_type)

    run_host(host, main)
    assert recorders[0].state is RecorderState.FAILURE


class _NoHash(type):
    def __hash__(cls) -> int:
        raise RuntimeError("this class cannot be hashed")

    def __eq__(cls, other: object) -> bool:
        return cls is other


class Unroutable(MetricEvent, metaclass=_NoHash):
    pass


@pytest.mark.parametrize("policy", list(MetricErrorPolicy))
def test_an_event_whose_class_cannot_be_routed_is_counted_not_stuck(
    runtime: MetricsRuntime, policy: MetricErrorPolicy
) -> None:
    recorder = runtime.create_recorder(f"routing-{policy}", metric_error_policy=policy)
    recorder.register_metric(CountingMetric())
    for _ in range(3):
        recorder.register_event(event=Saved())
        recorder.register_event(event=Unroutable())
    recorder.flush(timeout=TIMEOUT)
    stats = recorder.get_stats()
    if policy is MetricErrorPolicy.ISOLATE:
        assert recorder.state is RecorderState.RUNNING
        assert (stats.processed, stats.pending) == (6, 0)
        assert dict(stats.metric_errors) == {ROUTING_ERRORS: 3}
        assert recorder.get_metric_snapshots()["count"] == {"count": 3}
    else:
        assert recorder.state is RecorderState.FAILURE
        assert dict(stats.metric_errors) == {ROUTING_ERRORS: 1}
        assert stats.accepted == stats.processed + stats.pending == 6


@pytest.mark.parametrize(
    "event_types",
    ["Saved", [Saved], (), (int,), (Saved, "Loaded"), Saved],
    ids=["str", "list", "empty", "not-an-event", "mixed", "bare-class"],
)
def test_register_metric_checks_event_types(event_types: object) -> None:
    recorder = MetricsRecorder.__new__(MetricsRecorder)  # no loop needed to refuse
    metric = CountingMetric()
    metric.event_types = event_types  # type: ignore[assignment]
    with pytest.raises(TypeError, match="event_types"):
        MetricsRecorder.register_metric(recorder, metric)


def test_stop_recorder_times_out_with_the_runtime_error(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("slow-stop")
    recorder.register_metric(CountingMetric())
    with loop_held(runtime):
        recorder.register_event(event=Saved())
        with pytest.raises(MetricsRuntimeTimeoutError) as info:
            runtime.stop_recorder("slow-stop", timeout=0.05)
    assert info.value.details["operation"] == "stop_recorder"
    assert recorder.stop().wait(TIMEOUT).success


def test_event_classes_made_on_the_fly_are_not_kept_alive(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("on-the-fly")
    recorder.register_metric(CountingMetric())
    first: weakref.ref[type] | None = None
    for i in range(MAX_CACHED_CLASSES + 50):
        cls = dataclass(slots=True)(type(f"Made{i}", (MetricEvent,), {}))
        if first is None:
            first = weakref.ref(cls)
        recorder.register_event(event=cls())
        if i % 200 == 0:
            recorder.flush(timeout=TIMEOUT)
    recorder.flush(timeout=TIMEOUT)
    del cls
    routes = recorder._processor.routes
    assert len(routes.table) <= MAX_CACHED_CLASSES and len(routes.plans) <= MAX_CACHED_CLASSES
    gc.collect()
    assert first is not None and first() is None
    assert recorder.get_metric_snapshots()["count"] == {"count": MAX_CACHED_CLASSES + 50}


@FATAL
def test_ctrl_c_and_exit_from_a_metric_fail_only_its_runtime_recorder(
    runtime: MetricsRuntime, exc_type: type[BaseException]
) -> None:
    bystander = runtime.create_recorder("bystander")
    bystander.register_metric(CountingMetric())
    recorder = runtime.create_recorder(f"interrupted-{exc_type.__name__}")
    recorder.register_metric(Raising(exc_type))
    recorder.register_event(event=Saved())
    recorder.register_event(event=Saved())
    recorder.flush(timeout=TIMEOUT)  # answered at once: the recorder failed
    check_failed_by(recorder, exc_type)
    # The runtime's thread keeps running for every other recorder.
    assert runtime.state.value == "RUNNING"
    bystander.register_event(event=Saved())
    assert bystander.get_metric_snapshots(timeout=TIMEOUT) == {"count": {"count": 1}}


def test_only_a_kept_event_types_tuple_skips_the_check() -> None:
    # register_metric skips its check only for the very tuple a built-in metric was given
    # by check_event_types; an equal tuple of a user's metric, or anything else, is checked.
    kept = Counter("kept", event=Saved).event_types
    assert kept is not None and known_event_types(kept)
    assert not known_event_types(tuple(list(kept)))
    assert not known_event_types([Saved]) and not known_event_types(None)
