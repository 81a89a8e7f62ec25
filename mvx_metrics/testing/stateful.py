"""A base class for stateful tests of code that emits metrics (needs ``hypothesis``).

Subclass :class:`MetricsStateMachine`, write hypothesis ``@rule``\\ s that drive your
component, and in each rule tell the model what the metrics should now say
(:meth:`~MetricsStateMachine.expect` for counts and sums,
:meth:`~MetricsStateMachine.expect_value` for gauges). Define
:meth:`~MetricsStateMachine.emit_one` (one action of the component, with its model
update) and the base's own rules run it from several threads at once and from asyncio
and trio loops, interleaved with flushes and a stop and restart of the recorder.

After every step one invariant reads the recorder's snapshots and checks:

- each metric the model knows, series by series: the values expected, and no series
  the model did not expect;
- the library's guarantees, for every metric: counters and event counts never go
  down; a histogram's cumulative buckets never go down and end at its count; no metric
  holds more series than its ``max_series`` plus one overflow series; and, for a
  recorder with stats, ``accepted == processed + pending`` and the drops are the
  refusals the model expected (:meth:`~MetricsStateMachine.expect_dropped`).

The recorder is a :class:`~mvx_metrics.testing.CapturingRecorder` unless
:meth:`~MetricsStateMachine.make_recorder` returns another (a runtime's recorder, say:
reads see every event registered before them, so the same model holds).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import anyio
import anyio.lowlevel
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ..metrics._series import OVERFLOW_LABEL_VALUE
from ..recorder.protocol import MetricsRecorderProto
from .capturing import CapturingRecorder
from .reading import SeriesKey, numbers_by_series

#: Seconds any wait of the base's rules may take (a thread to finish, a flush, a stop).
TIMEOUT = 30.0

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
        #: Events the model expects the recorder to have refused, in all.
        self.expected_drops = 0
        # expect() may be called from the base's emitting threads at once.
        self._model_lock = threading.Lock()
        # Each series' last count seen: counts never go down.
        self._seen: dict[SeriesKey, float] = {}

    # --- hooks --------------------------------------------------------------------------

    def make_recorder(self) -> MetricsRecorderProto:
        """The recorder of one run (one example): a fresh :class:`CapturingRecorder`."""
        return CapturingRecorder()

    def close_recorder(self) -> None:
        """Called at the end of each run; a runtime's recorder would be stopped here."""

    def teardown(self) -> None:
        self.close_recorder()

    def emit_one(self) -> None:
        """One action of the component under test, and its :meth:`expect` calls; the
        base's rules call it from several threads and loops. Not defined: those rules
        are left out."""
        raise NotImplementedError

    def _emits(self) -> bool:
        return type(self).emit_one is not MetricsStateMachine.emit_one

    # --- the model ----------------------------------------------------------------------

    def expect(self, metric: str, delta: float = 1, /, **labels: object) -> None:
        """The series of ``metric`` with ``labels`` moves by ``delta``: a counter's value,
        or one more observation of a histogram or distribution (its ``count``)."""
        key = _key(metric, labels)
        with self._model_lock:
            self.modelled.add(metric)
            self.expected[key] = self.expected.get(key, 0) + delta

    def expect_value(self, metric: str, value: float, /, **labels: object) -> None:
        """The series of ``metric`` with ``labels`` now holds ``value`` (a gauge)."""
        with self._model_lock:
            self.modelled.add(metric)
            self.expected[_key(metric, labels)] = value

    def expect_dropped(self, events: int = 1) -> None:
        """The recorder refused ``events`` more (its stats' ``dropped_total``)."""
        with self._model_lock:
            self.expected_drops += events

    def expect_metric(self, metric: str) -> None:
        """``metric`` is covered by the model before any event: it must show no series
        but expected ones (a labelled metric with none yet; a label-less one at 0)."""
        self.modelled.add(metric)

    # --- the check ----------------------------------------------------------------------

    def snapshots(self) -> Mapping[str, Mapping[str, Any]]:
        """The recorder's snapshots (read-your-writes: every event registered so far)."""
        return self.recorder.get_metric_snapshots()

    # --- the base's rules -----------------------------------------------------------------

    @precondition(lambda self: self._emits())
    @rule(threads=st.integers(2, 4), each=st.integers(1, 20))
    def emit_from_threads_at_once(self, threads: int, each: int) -> None:
        """``emit_one`` from several threads started together."""
        start = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                start.wait(TIMEOUT)
                for _ in range(each):
                    self.emit_one()
            except BaseException as exc:  # reported in the test's thread
                errors.append(exc)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(TIMEOUT)
        assert not any(w.is_alive() for w in workers), "an emitting thread did not finish"
        if errors:
            raise errors[0]

    @precondition(lambda self: self._emits())
    @rule(backend=st.sampled_from(["asyncio", "trio"]), each=st.integers(1, 20))
    def emit_from_an_event_loop(self, backend: str, each: int) -> None:
        """``emit_one`` from a task of an asyncio or trio loop."""

        async def task() -> None:
            for _ in range(each):
                self.emit_one()
                await anyio.lowlevel.checkpoint()

        anyio.run(task, backend=backend)

    @precondition(lambda self: callable(getattr(self.recorder, "flush", None)))
    @rule()
    def flush(self) -> None:
        """A flush: everything registered so far is applied."""
        self.recorder.flush(timeout=TIMEOUT)  # type: ignore[attr-defined]

    @precondition(lambda self: callable(getattr(self.recorder, "stop", None)))
    @rule()
    def stop_and_restart(self) -> None:
        """Stop the recorder (it applies what it holds), then start it again."""
        stopped = self.recorder.stop().wait(TIMEOUT)  # type: ignore[attr-defined]
        assert stopped.success, stopped
        started = self.recorder.start().wait(TIMEOUT)  # type: ignore[attr-defined]
        assert started.success, started

    # --- the check ----------------------------------------------------------------------

    @invariant()
    def metrics_agree_with_the_model(self) -> None:
        """The model's series, and the library's guarantees (see the module docs)."""
        snapshots = self.snapshots()
        problems = self._guarantees_broken(snapshots)
        with self._model_lock:
            problems += self._model_differs(snapshots)
        if problems:
            raise AssertionError("metrics differ from the model:\n" + "\n".join(problems))

    def _model_differs(self, snapshots: Mapping[str, Mapping[str, Any]]) -> list[str]:
        actual = {
            key: number for key, number in numbers_by_series(snapshots).items() if number != 0
        }
        problems = []
        for key in sorted(set(self.expected) | set(actual)):
            metric, labels = key
            if metric not in self.modelled:
                continue
            want, got = self.expected.get(key, 0), actual.get(key, 0)
            if want != got:
                problems.append(f"  {metric}{dict(labels)}: expected {want!r}, got {got!r}")
        get_stats = getattr(self.recorder, "get_stats", None)
        if callable(get_stats):
            stats = get_stats()
            if stats.dropped_total != self.expected_drops:
                problems.append(
                    f"  dropped {dict(stats.dropped)}: expected {self.expected_drops} in all"
                )
        return problems

    def _guarantees_broken(self, snapshots: Mapping[str, Mapping[str, Any]]) -> list[str]:
        problems = []
        bounds = _max_series(self.recorder)
        for name, snapshot in snapshots.items():
            kind = snapshot.get("kind")
            series = list(snapshot.get("series", ()))
            own = [s for s in series if OVERFLOW_LABEL_VALUE not in s.get("labels", {}).values()]
            bound = bounds.get(name)
            if bound is not None and (len(own) > bound or len(series) > bound + 1):
                problems.append(f"  {name}: {len(series)} series, more than {bound} + overflow")
            for one in series:
                key = _key(name, one.get("labels", {}))
                count = one.get("value") if kind == "counter" else one.get("count")
                if kind in ("counter", "histogram", "distribution") and count is not None:
                    if count < self._seen.get(key, 0):
                        problems.append(f"  {name}{dict(key[1])}: went down to {count}")
                    self._seen[key] = count
                if kind == "histogram":
                    buckets = list(one.get("buckets", {}).values())
                    if any(b < a for a, b in pairwise(buckets)):
                        problems.append(f"  {name}{dict(key[1])}: buckets go down {buckets}")
                    if buckets and buckets[-1] != one.get("count"):
                        problems.append(f"  {name}{dict(key[1])}: +Inf bucket != count")
        stats_of = getattr(self.recorder, "get_stats", None)
        if callable(stats_of):
            stats = stats_of()
            if stats.accepted != stats.processed + stats.pending:
                problems.append(f"  stats: accepted != processed + pending ({stats})")
        return problems


def _max_series(recorder: object) -> dict[str, int]:
    """``{metric_name: max_series}`` of the recorder's built-in metrics, where it lists
    them (``iter_metrics``)."""
    iter_metrics = getattr(recorder, "iter_metrics", None)
    if not callable(iter_metrics):
        return {}
    return {
        m.metric_name: m.max_series
        for m in iter_metrics()
        if isinstance(getattr(m, "max_series", None), int)
    }


def _key(metric: str, labels: Mapping[str, object]) -> SeriesKey:
    return metric, tuple(sorted((str(name), str(value)) for name, value in labels.items()))
