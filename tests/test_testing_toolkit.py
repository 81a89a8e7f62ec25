"""mvx_metrics.testing: the capturing recorder, exact reads, diffs and assertions."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import (
    Counter,
    Histogram,
    MetricEvent,
    MetricsRecorderMetricFailedError,
    MetricsRecorderProto,
    MetricsRuntime,
)
from mvx_metrics.testing import (
    CapturingRecorder,
    MetricNotFoundError,
    SeriesNotFoundError,
    assert_value,
    capture,
    diff,
    series,
    value,
)

from ._support import TIMEOUT, FailingEveryNth, Saved


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(slots=True)
class SaveFinished(MetricEvent):
    outcome: Outcome
    duration_s: float


class DocumentStorage:
    """The component under test: it only knows MetricsRecorderProto."""

    def __init__(self, recorder: MetricsRecorderProto) -> None:
        self._recorder = recorder

    def save(self, ok: bool, seconds: float) -> None:
        outcome = Outcome.SUCCESS if ok else Outcome.FAILURE
        self._recorder.register_event(event=SaveFinished(outcome=outcome, duration_s=seconds))


def storage_metrics() -> list[Counter | Histogram]:
    return [
        Counter("saves", event=SaveFinished, labels=("outcome",)),
        Histogram("save_seconds", event=SaveFinished, value="duration_s", buckets=(0.1, 1.0)),
    ]


def test_a_capturing_recorder_keeps_events_and_applies_metrics_without_a_loop() -> None:
    recorder = CapturingRecorder.with_metrics(storage_metrics())
    assert isinstance(recorder, MetricsRecorderProto)
    storage = DocumentStorage(recorder)
    storage.save(True, 0.05)
    storage.save(False, 0.5)
    storage.save(True, 2.0)
    assert [e.outcome for e in recorder.events_of(SaveFinished)] == [  # type: ignore[attr-defined]
        Outcome.SUCCESS,
        Outcome.FAILURE,
        Outcome.SUCCESS,
    ]
    snapshots = recorder.get_metric_snapshots()
    assert value(snapshots, "saves", outcome=Outcome.SUCCESS) == 2
    assert value(snapshots, "saves", outcome="Outcome.FAILURE") == 1
    assert value(snapshots, "save_seconds") == 3
    assert value(snapshots, "save_seconds", field="sum") == pytest.approx(2.55)
    assert [m.metric_name for m in recorder.iter_metrics()] == ["saves", "save_seconds"]


def test_events_from_many_threads_are_all_kept() -> None:
    recorder = CapturingRecorder.with_metrics([Counter("saves", event=Saved)])

    def produce() -> None:
        for _ in range(1_000):
            recorder.register_event(event=Saved())

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert len(recorder.events) == 4_000
    assert value(recorder.get_metric_snapshots(), "saves") == 4_000


def test_capture_only_or_refuse_what_a_recorder_would() -> None:
    recorder = CapturingRecorder.with_metrics(storage_metrics(), apply=False)
    DocumentStorage(recorder).save(True, 0.1)
    assert len(recorder.events) == 1
    assert value(recorder.get_metric_snapshots(), "saves", outcome=Outcome.SUCCESS, default=0) == 0
    recorder.clear_events()
    assert recorder.events == []
    with pytest.raises(ValueError, match="already registered"):
        recorder.register_metric(Counter("saves", event=SaveFinished))
    with pytest.raises(TypeError, match="MetricEvent"):
        recorder.register_event(event="saved")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="registered: \\['save_seconds', 'saves'\\]"):
        recorder.metric("loads")


def test_a_failing_metric_reaches_the_test() -> None:
    recorder = CapturingRecorder.with_metrics([FailingEveryNth(1)])
    with pytest.raises(MetricsRecorderMetricFailedError) as info:
        recorder.register_event(event=Saved())
    assert info.value.__cause__ is not None


def test_lookups_say_what_exists() -> None:
    recorder = CapturingRecorder.with_metrics(storage_metrics())
    DocumentStorage(recorder).save(True, 0.05)
    snapshots = recorder.get_metric_snapshots()
    with pytest.raises(MetricNotFoundError, match=r"no metric 'loads'.*'save_seconds', 'saves'"):
        value(snapshots, "loads")
    with pytest.raises(SeriesNotFoundError, match=r"outcome.*'Outcome\.SUCCESS'"):
        value(snapshots, "saves", outcome="nope")
    with pytest.raises(SeriesNotFoundError, match="no series with labels \\{\\}"):
        value(snapshots, "saves")  # labelled: name every label
    with pytest.raises(KeyError, match="no field 'p99'"):
        value(snapshots, "save_seconds", field="p99")
    assert len(series(snapshots, "saves")) == 1


def test_assert_value_shows_expected_actual_and_every_series() -> None:
    recorder = CapturingRecorder.with_metrics(storage_metrics())
    storage = DocumentStorage(recorder)
    storage.save(True, 0.05)
    storage.save(False, 0.05)
    snapshots = recorder.get_metric_snapshots()
    assert_value(snapshots, "saves", 1, outcome=Outcome.SUCCESS)
    assert_value(snapshots, "save_seconds", 0.1, field="sum", rel=1e-9)
    with pytest.raises(AssertionError) as info:
        assert_value(snapshots, "saves", 5, outcome=Outcome.SUCCESS)
    message = str(info.value)
    assert "expected 5, got 1" in message
    assert "{'outcome': 'Outcome.FAILURE'}: 1" in message


def test_runtime_snapshots_are_read_by_recorder(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("storage")
    for metric in storage_metrics():
        recorder.register_metric(metric)
    DocumentStorage(recorder).save(True, 0.05)
    snapshots = runtime.get_metric_snapshots(timeout=TIMEOUT)
    assert value(snapshots, "saves", recorder="storage", outcome=Outcome.SUCCESS) == 1
    with pytest.raises(MetricNotFoundError, match="give the recorder id as recorder="):
        value(snapshots, "saves", outcome=Outcome.SUCCESS)
    with pytest.raises(MetricNotFoundError, match="no recorder 'other'"):
        value(snapshots, "saves", recorder="other")


def test_capture_gives_only_what_the_block_changed(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("storage")
    for metric in storage_metrics():
        recorder.register_metric(metric)
    storage = DocumentStorage(recorder)
    storage.save(True, 0.05)  # before the block: not in its changes
    with capture(recorder) as block:
        storage.save(True, 0.05)
        storage.save(False, 2.0)
    assert block.delta("saves", outcome=Outcome.SUCCESS) == 1
    assert block.delta("saves", outcome=Outcome.FAILURE) == 1  # a new series counts from 0
    assert block.delta("save_seconds") == 2
    assert block.delta("saves", outcome="never") == 0
    assert block.changes == diff(block.before, block.after)
    assert diff(block.after, block.after) == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.0, 5.0)), max_size=100))
def test_a_property_runs_on_a_capturing_recorder_per_example(
    saves: list[tuple[bool, float]],
) -> None:
    # No loop, no thread: a recorder per example costs microseconds.
    recorder = CapturingRecorder.with_metrics(storage_metrics())
    storage = DocumentStorage(recorder)
    for ok, seconds in saves:
        storage.save(ok, seconds)
    snapshots = recorder.get_metric_snapshots()
    successes = sum(1 for ok, _ in saves if ok)
    assert value(snapshots, "saves", outcome=Outcome.SUCCESS, default=0) == successes
    assert value(snapshots, "saves", outcome=Outcome.FAILURE, default=0) == len(saves) - successes
    assert value(snapshots, "save_seconds") == len(saves)


# --- one recorder reused across examples ---------------------------------------------------

RESET_RECORDER = CapturingRecorder.with_metrics(storage_metrics())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.0, 5.0)), max_size=20))
def test_a_recorder_reset_per_example_starts_each_from_zero(
    saves: list[tuple[bool, float]],
) -> None:
    RESET_RECORDER.reset()
    storage = DocumentStorage(RESET_RECORDER)
    for ok, seconds in saves:
        storage.save(ok, seconds)
    snapshots = RESET_RECORDER.get_metric_snapshots()
    assert len(RESET_RECORDER.events) == len(saves)
    assert value(snapshots, "save_seconds") == len(saves)
    assert value(snapshots, "save_seconds", field="sum") == pytest.approx(sum(s for _, s in saves))
    successes = sum(1 for ok, _ in saves if ok)
    assert value(snapshots, "saves", outcome=Outcome.SUCCESS, default=0) == successes


def test_reset_clears_overflow_and_keeps_label_less_series_at_zero() -> None:
    recorder = CapturingRecorder.with_metrics(
        [
            Counter("saves", event=SaveFinished, labels=("outcome",), max_series=1),
            Counter("all_saves", event=SaveFinished),
        ]
    )
    storage = DocumentStorage(recorder)
    storage.save(True, 0.1)
    storage.save(False, 0.1)  # past max_series: the overflow series
    assert value(recorder.get_metric_snapshots(), "saves", outcome="__overflow__") == 1
    recorder.reset()
    snapshots = recorder.get_metric_snapshots()
    assert series(snapshots, "saves") == []
    assert snapshots["saves"]["overflow_events"] == 0
    assert value(snapshots, "all_saves") == 0
    storage.save(False, 0.1)  # admitted again: the table is empty
    assert value(recorder.get_metric_snapshots(), "saves", outcome=Outcome.FAILURE) == 1


def test_reset_needs_a_reset_method_on_a_user_metric() -> None:
    class Resettable(FailingEveryNth):
        def reset(self) -> None:
            self.resets = getattr(self, "resets", 0) + 1

    plain = CapturingRecorder.with_metrics([FailingEveryNth(1000, "plain"), *storage_metrics()])
    plain.register_event(SaveFinished(Outcome.SUCCESS, 0.1))
    with pytest.raises(TypeError, match=r"'plain'.*no reset"):
        plain.reset()
    assert len(plain.events) == 1  # nothing was reset
    resettable = Resettable(1000, "resettable")
    CapturingRecorder.with_metrics([resettable]).reset()
    assert resettable.resets == 1


# --- the library's own families in golden comparisons ----------------------------------------


def test_golden_comparisons_leave_out_self_metrics_unless_asked(runtime: MetricsRuntime) -> None:
    from mvx_metrics.export import render_prometheus
    from mvx_metrics.testing.exposition import assert_exposition_equal, is_self_metric

    recorder = runtime.create_recorder("golden")
    recorder.register_metric(Counter("saves", event=SaveFinished))
    recorder.register_event(event=SaveFinished(Outcome.SUCCESS, 0.1))
    text = render_prometheus(recorder)
    assert "mvx_recorder_events_accepted_total" in text
    golden = "# HELP saves_total \n# TYPE saves_total counter\nsaves_total 1.0\n"
    assert_exposition_equal(text, golden)
    with pytest.raises(AssertionError, match="unexpected family 'mvx_recorder_events_accepted'"):
        assert_exposition_equal(text, golden, self_metrics=True)
    assert is_self_metric("mvx_exposition_problems") and not is_self_metric("saves")
