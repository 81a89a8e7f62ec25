"""mvx_metrics.testing.stateful: a hypothesis state machine whose model is the metrics."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import rule, run_state_machine_as_test

from mvx_metrics import MetricsRecorderProto, MetricsRuntime
from mvx_metrics.testing.stateful import MetricsStateMachine

from ._support import TIMEOUT
from .test_testing_toolkit import DocumentStorage, Outcome, storage_metrics

SETTINGS = settings(max_examples=30, stateful_step_count=20, deadline=None)


class StorageModel(MetricsStateMachine):
    """The component's metrics, modelled: what a user of the toolkit writes."""

    def __init__(self) -> None:
        super().__init__()
        for metric in storage_metrics():
            self.recorder.register_metric(metric)
        self.storage = DocumentStorage(self.recorder)
        self.expect_metric("saves")

    @rule(ok=st.booleans(), seconds=st.floats(0.0, 5.0))
    def save(self, ok: bool, seconds: float) -> None:
        self.storage.save(ok, seconds)
        self.expect("saves", outcome=Outcome.SUCCESS if ok else Outcome.FAILURE)
        self.expect("save_seconds")

    def emit_one(self) -> None:
        # What the base's rules run from threads and event loops.
        self.save(True, 0.5)


def test_a_model_of_a_component_holds_on_a_capturing_recorder() -> None:
    run_state_machine_as_test(StorageModel, settings=SETTINGS)


class StorageOnARuntime(StorageModel):
    """The same model, on a real runtime's recorder (read-your-writes keeps it exact)."""

    def make_recorder(self) -> MetricsRecorderProto:
        self.runtime = MetricsRuntime(namespace="stateful", operation_timeout=TIMEOUT)
        self.runtime.start()
        return self.runtime.create_recorder("storage")

    def close_recorder(self) -> None:
        self.runtime.shutdown(timeout=TIMEOUT)


def test_the_same_model_holds_on_a_runtime_recorder() -> None:
    run_state_machine_as_test(
        StorageOnARuntime,
        settings=settings(SETTINGS, max_examples=5, suppress_health_check=[HealthCheck.too_slow]),
    )


class WrongModel(StorageModel):
    """Forgets that failed saves are counted too: the invariant must catch it."""

    @rule(seconds=st.floats(0.0, 5.0))
    def fail(self, seconds: float) -> None:
        self.storage.save(False, seconds)
        self.expect("save_seconds")


class Lying:
    """A recorder whose counter goes down and whose histogram's buckets do not add up."""

    def __init__(self) -> None:
        self.reads = 0

    def register_metric(self, metric: object) -> None:
        pass

    def register_event(self, event: object) -> None:
        pass

    def get_metric_snapshots(self) -> dict[str, object]:
        self.reads += 1
        value = 5 if self.reads == 1 else 3
        return {
            "hits": {"kind": "counter", "series": [{"labels": {}, "value": value}]},
            "seconds": {
                "kind": "histogram",
                "series": [{"labels": {}, "buckets": {"1.0": 2, "+Inf": 1}, "count": 2}],
            },
        }


class OnALyingRecorder(MetricsStateMachine):
    def make_recorder(self) -> MetricsRecorderProto:
        return Lying()  # type: ignore[return-value]

    @rule()
    def nothing(self) -> None:
        pass


def test_the_library_s_guarantees_are_checked_whatever_the_model() -> None:
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(OnALyingRecorder, settings=SETTINGS)
    message = str(caught.value)
    assert "hits{}: went down to 3" in message or "buckets go down" in message


def test_the_base_rules_run_only_when_they_can() -> None:
    class NoEmit(MetricsStateMachine):
        @rule()
        def nothing(self) -> None:
            pass

    machine = NoEmit()
    assert not machine._emits()  # emit_one not defined: the emitting rules stay out
    assert not callable(getattr(machine.recorder, "flush", None))  # capturing: no flush
    machine.teardown()


def test_a_wrong_model_fails_with_the_series_that_differ() -> None:
    with pytest.raises((AssertionError, Flaky)) as caught:
        run_state_machine_as_test(WrongModel, settings=SETTINGS)
    assert "saves{'outcome': 'Outcome.FAILURE'}: expected 0, got 1" in str(caught.value)
