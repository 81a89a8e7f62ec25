"""A stateful model of a runtime-hosted recorder, driven by hypothesis.

The model predicts every counter and snapshot; after each step the recorder must agree,
and ``accepted == processed + pending`` must hold.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mvx_metrics import (
    MetricsRecorderInvalidStateError,
    MetricsRuntime,
    OverflowPolicy,
    RecorderState,
)

from .._support import TIMEOUT, CountingMetric, Loaded, Saved, loop_held

CAPACITY = 16


class RecorderModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runtime = MetricsRuntime(namespace="model", operation_timeout=TIMEOUT)
        self.runtime.start()
        self.recorder = self.runtime.create_recorder(
            "model", queue_max_size=CAPACITY, queue_overflow_policy=OverflowPolicy.DROP
        )
        self.running = True
        self.accepted = 0
        self.dropped: Counter[str] = Counter()
        # metric name -> (declared class or None, expected count)
        self.metrics: dict[str, tuple[type | None, int]] = {}

    def teardown(self) -> None:
        self.runtime.shutdown()

    def _deliver(self, event: Saved | Loaded) -> None:
        self.accepted += 1
        for name, (declared, count) in self.metrics.items():
            if declared is None or isinstance(event, declared):
                self.metrics[name] = (declared, count + 1)

    @rule(
        kind=st.sampled_from(["saved", "loaded"]),
        declared=st.sampled_from([None, Saved, Loaded]),
    )
    def register_metric(self, kind: str, declared: type | None) -> None:
        name = f"{kind}-{len(self.metrics)}"
        types = None if declared is None else (declared,)
        self.recorder.register_metric(CountingMetric(name, event_types=types))
        self.metrics[name] = (declared, 0)

    @rule(events=st.lists(st.sampled_from([Saved(), Loaded()]), max_size=CAPACITY))
    def register_events(self, events: list[Saved | Loaded]) -> None:
        for event in events:
            if self.running:
                self.recorder.register_event(event=event)
                self._deliver(event)
            else:
                with pytest.raises(MetricsRecorderInvalidStateError):
                    self.recorder.register_event(event=event)
                self.dropped["invalid_state"] += 1
        if self.running:  # each rule starts with an empty queue: overflow only where intended
            self.recorder.flush(timeout=TIMEOUT)

    @precondition(lambda self: self.running)
    @rule(extra=st.integers(min_value=0, max_value=5))
    def overflow_while_the_loop_is_busy(self, extra: int) -> None:
        self.recorder.flush(timeout=TIMEOUT)
        with loop_held(self.runtime):
            for _ in range(CAPACITY + extra):
                self.recorder.register_event(event=Saved())
            assert self.recorder.get_stats().pending == CAPACITY
        self.recorder.flush(timeout=TIMEOUT)
        for _ in range(CAPACITY):
            self._deliver(Saved())
        self.dropped["overflow_dropped"] += extra

    @rule()
    def snapshot(self) -> None:
        snapshots = self.recorder.get_metric_snapshots(timeout=TIMEOUT)
        assert snapshots == {name: {"count": c} for name, (_, c) in self.metrics.items()}

    @precondition(lambda self: self.running)
    @rule(events=st.lists(st.sampled_from([Saved(), Loaded()]), min_size=1, max_size=CAPACITY))
    def read_right_after_writing(self, events: list[Saved | Loaded]) -> None:
        for event in events:
            self.recorder.register_event(event=event)
            self._deliver(event)
        self.snapshot()  # events pending or not, the read includes them all

    @precondition(lambda self: self.running)
    @rule()
    def read_while_the_loop_is_busy(self) -> None:
        self.recorder.flush(timeout=TIMEOUT)
        with loop_held(self.runtime):
            self.snapshot()  # idle: served in this thread, the loop is not needed

    @precondition(lambda self: self.running)
    @rule()
    def stop(self) -> None:
        assert self.recorder.stop().wait(TIMEOUT).success
        assert self.recorder.get_stats().pending == 0
        self.running = False

    @precondition(lambda self: not self.running)
    @rule()
    def restart(self) -> None:
        assert self.recorder.start().wait(TIMEOUT).success
        self.running = True

    @invariant()
    def accounting_is_exact(self) -> None:
        stats = self.recorder.get_stats()
        assert stats.accepted == stats.processed + stats.pending == self.accepted
        assert dict(stats.dropped) == {k: v for k, v in self.dropped.items() if v}
        expected = RecorderState.RUNNING if self.running else RecorderState.STOPPED
        assert self.recorder.state is expected


RecorderModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRecorderModel = RecorderModel.TestCase
