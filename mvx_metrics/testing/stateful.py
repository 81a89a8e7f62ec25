"""A base class for stateful tests of code that emits metrics (needs ``hypothesis``).

Subclass :class:`MetricsStateMachine`, write hypothesis ``@rule``\\ s that drive your
component, and in each rule tell the model what the metrics should now say
(:meth:`~MetricsStateMachine.expect` for counts and sums,
:meth:`~MetricsStateMachine.expect_value` for gauges). After every step, an invariant
reads the recorder's snapshots and checks each metric the model knows, series by
series: the values expected, and no series the model did not expect.

The recorder is a :class:`~mvx_metrics.testing.CapturingRecorder` unless
:meth:`~MetricsStateMachine.make_recorder` returns another (a runtime's recorder, say:
reads see every event registered before them, so the same model holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine, invariant

from ..recorder.protocol import MetricsRecorderProto
from .capturing import CapturingRecorder
from .reading import SeriesKey, numbers_by_series

__all__ = ["MetricsStateMachine"]


class MetricsStateMachine(RuleBasedStateMachine):
    """A hypothesis state machine whose model is the metrics a component should show.

    Attributes for subclasses: :attr:`recorder` (give it to the component under test),
    :attr:`expected` (the model: ``{(metric, labels): number}``, the number being a
    counter's or gauge's ``value``, or a histogram's or distribution's ``count``).
    Override :meth:`make_recorder` and :meth:`close_recorder` to use another recorder.
    """

    def __init__(self) -> None:
        super().__init__()
        self.recorder: MetricsRecorderProto = self.make_recorder()
        self.expected: dict[SeriesKey, float] = {}
        #: Metrics the model covers: every series of them must be expected.
        self.modelled: set[str] = set()

    # --- hooks --------------------------------------------------------------------------

    def make_recorder(self) -> MetricsRecorderProto:
        """The recorder of one run (one example): a fresh :class:`CapturingRecorder`."""
        return CapturingRecorder()

    def close_recorder(self) -> None:
        """Called at the end of each run; a runtime's recorder would be stopped here."""

    def teardown(self) -> None:
        self.close_recorder()

    # --- the model ----------------------------------------------------------------------

    def expect(self, metric: str, delta: float = 1, /, **labels: object) -> None:
        """The series of ``metric`` with ``labels`` moves by ``delta``: a counter's value,
        or one more observation of a histogram or distribution (its ``count``)."""
        key = _key(metric, labels)
        self.modelled.add(metric)
        self.expected[key] = self.expected.get(key, 0) + delta

    def expect_value(self, metric: str, value: float, /, **labels: object) -> None:
        """The series of ``metric`` with ``labels`` now holds ``value`` (a gauge)."""
        self.modelled.add(metric)
        self.expected[_key(metric, labels)] = value

    def expect_metric(self, metric: str) -> None:
        """``metric`` is covered by the model before any event: it must show no series
        but expected ones (a labelled metric with none yet; a label-less one at 0)."""
        self.modelled.add(metric)

    # --- the check ----------------------------------------------------------------------

    def snapshots(self) -> Mapping[str, Mapping[str, Any]]:
        """The recorder's snapshots (read-your-writes: every event registered so far)."""
        return self.recorder.get_metric_snapshots()

    @invariant()
    def metrics_agree_with_the_model(self) -> None:
        """Every modelled metric shows exactly the expected series (0 stands for absent)."""
        actual = {
            key: number
            for key, number in numbers_by_series(self.snapshots()).items()
            if number != 0
        }
        problems = []
        for key in sorted(set(self.expected) | set(actual)):
            metric, labels = key
            if metric not in self.modelled:
                continue
            want, got = self.expected.get(key, 0), actual.get(key, 0)
            if want != got:
                problems.append(f"  {metric}{dict(labels)}: expected {want!r}, got {got!r}")
        if problems:
            raise AssertionError("metrics differ from the model:\n" + "\n".join(problems))


def _key(metric: str, labels: Mapping[str, object]) -> SeriesKey:
    return metric, tuple(sorted((str(name), str(value)) for name, value in labels.items()))
