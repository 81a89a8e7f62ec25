"""The metrics of the small apps tests/multiprocess/test_real_servers.py serves, imported
by the apps (in gunicorn's processes) and by the test (its single-process reference),
so that both count the same events into the same metrics."""

from __future__ import annotations

from dataclasses import dataclass

from mvx_metrics import (
    Counter,
    Distribution,
    Histogram,
    MetricEvent,
    MetricsRecorder,
    MetricsRuntime,
)

BUCKETS = (0.25, 0.5, 1.0, 2.0)
QUANTILES = (0.5, 0.9)


@dataclass(slots=True)
class Served(MetricEvent):
    seconds: float


def seconds_of(i: int) -> float:
    """The value request ``i`` carries: spread over every bucket, and a multiple of 1/64,
    so that sums are exact in binary whatever order processes add them in."""
    return (i * 37 % 160) / 64


def served_runtime(multiprocess_dir: str | None) -> tuple[MetricsRuntime, MetricsRecorder]:
    """A started runtime with the ``app`` recorder: in multiprocess mode if given a
    directory, publishing often so that tests settle fast."""
    runtime = MetricsRuntime(
        namespace="served",
        multiprocess_dir=multiprocess_dir,
        publish_interval=0.25 if multiprocess_dir is not None else None,
    )
    runtime.start()
    recorder = runtime.create_recorder("app")
    recorder.register_metric(Counter("served", event=Served))
    recorder.register_metric(
        Histogram("served_seconds", event=Served, value="seconds", buckets=BUCKETS)
    )
    recorder.register_metric(
        Distribution("served_spread_seconds", event=Served, value="seconds", quantiles=QUANTILES)
    )
    return runtime, recorder
