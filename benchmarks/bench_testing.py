"""What a hypothesis property test costs with the testing toolkit, against doing it by hand.

Run: ``python benchmarks/bench_testing.py [--quick]``.

The property: 200 examples, each emitting 100 events from a component into a recorder
and reading one value back. Written three ways:

0. hypothesis alone, generating the same examples (what no metrics library can remove);
1. ``CapturingRecorder`` per example (``mvx_metrics.testing``): no loop, no thread;
2. one runtime for the whole test, a new runtime recorder per example;
3. by hand, a fresh ``MetricsRuntime`` per example (start, create, emit, read, shut down).

Each figure is the whole test's wall time, median of repeats.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from _harness import Row, Sample, parse_quick, print_table
from hypothesis import given, settings
from hypothesis import strategies as st

from mvx_metrics import Counter, MetricEvent, MetricsRecorderProto, MetricsRuntime
from mvx_metrics.testing import CapturingRecorder, value


@dataclass(slots=True)
class Saved(MetricEvent):
    outcome: str


def emit(recorder: MetricsRecorderProto, outcomes: list[str]) -> None:
    for outcome in outcomes:
        recorder.register_event(event=Saved(outcome))


def metric() -> Counter:
    return Counter("saves", event=Saved, labels=("outcome",))


# 100 outcomes from one drawn number: a list strategy of 100 elements would cost
# hypothesis itself about 9 ms per example here, and hide what the recorders cost.
# (The second number only keeps 200 examples distinct: hypothesis stops early once it
# has tried every value of a small space.)
OUTCOMES = st.tuples(st.integers(0, 100), st.integers()).map(
    lambda drawn: ["ok"] * drawn[0] + ["failed"] * (100 - drawn[0])
)


def hypothesis_alone(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None)
    @given(OUTCOMES)
    def test(outcomes: list[str]) -> None:
        assert len(outcomes) == 100

    test()


def with_capturing(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None)
    @given(OUTCOMES)
    def test(outcomes: list[str]) -> None:
        recorder = CapturingRecorder.with_metrics([metric()])
        emit(recorder, outcomes)
        snapshots = recorder.get_metric_snapshots()
        assert value(snapshots, "saves", outcome="ok", default=0) == outcomes.count("ok")

    test()


def with_shared_runtime(examples: int) -> None:
    with MetricsRuntime(namespace="bench-testing") as runtime:
        counter = iter(range(10**9))

        @settings(max_examples=examples, deadline=None, database=None)
        @given(OUTCOMES)
        def test(outcomes: list[str]) -> None:
            recorder = runtime.create_recorder(f"r{next(counter)}")
            recorder.register_metric(metric())
            emit(recorder, outcomes)
            snapshots = recorder.get_metric_snapshots()
            assert value(snapshots, "saves", outcome="ok", default=0) == outcomes.count("ok")

        test()


def with_fresh_runtime(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None)
    @given(OUTCOMES)
    def test(outcomes: list[str]) -> None:
        with MetricsRuntime(namespace="bench-testing") as runtime:
            recorder = runtime.create_recorder("r")
            recorder.register_metric(metric())
            emit(recorder, outcomes)
            snapshots = recorder.get_metric_snapshots()
            series = snapshots["saves"]["series"]
            ok = sum(s["value"] for s in series if s["labels"] == {"outcome": "ok"})
            assert ok == outcomes.count("ok")

    test()


def timed(fn: Callable[[int], None], examples: int, repeats: int) -> Sample:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(examples)
        times.append((time.perf_counter() - t0) * 1e3)
    return Sample(statistics.median(times), min(times), max(times), repeats)


def main() -> None:
    quick = parse_quick(__doc__ or "")
    examples, repeats = (20, 1) if quick else (200, 5)
    print(f"bench_testing ({'quick' if quick else 'full'}): {examples} examples x 100 events")
    rows = [
        Row(
            "hypothesis alone (the examples, no metrics)",
            timed(hypothesis_alone, examples, repeats),
            "ms",
        ),
        Row("CapturingRecorder per example", timed(with_capturing, examples, repeats), "ms"),
        Row(
            "one runtime, a recorder per example",
            timed(with_shared_runtime, examples, repeats),
            "ms",
        ),
        Row(
            "a fresh MetricsRuntime per example", timed(with_fresh_runtime, examples, repeats), "ms"
        ),
    ]
    print_table(
        f"a hypothesis property, {examples} examples (lower is better)",
        rows,
        baseline="a fresh MetricsRuntime per example",
    )


if __name__ == "__main__":
    main()
