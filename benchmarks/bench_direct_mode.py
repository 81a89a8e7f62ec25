"""Direct mode: register_event called on the owning loop itself, per backend.

The caller runs on the loop that owns the recorder (asyncio, uvloop, trio), so no thread
is crossed: this is the cost an async application pays per event. Events are pre-built;
only the calls are timed. The drain afterwards is timed separately (processing cost).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import anyio
from _harness import Row, Sample, parse_quick, print_table

from mvx_metrics import Metric, MetricEvent, MetricsRecorder


@dataclass(slots=True, frozen=True)
class Hit(MetricEvent):
    route: str


class CountHits(Metric):
    event_types = (Hit,)

    def __init__(self) -> None:
        self.count = 0

    @property
    def metric_name(self) -> str:
        return "hits"

    def handle_event(self, event: MetricEvent) -> bool:
        self.count += 1
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count}


async def _one_run(n: int) -> tuple[float, float]:
    recorder = MetricsRecorder("bench", queue_max_size=n + 10)
    recorder.register_metric(CountHits())
    event = Hit("/")
    register = recorder.register_event
    async with recorder:
        await recorder.aflush()
        start = time.perf_counter_ns()
        for _ in range(n):
            register(event=event)
        called = time.perf_counter_ns()
        await recorder.aflush()
        drained = time.perf_counter_ns()
        stats = recorder.get_stats()
        assert stats.processed == n and stats.dropped_total == 0, stats
    return (called - start) / n, (drained - called) / n


def measure(label: str, backend: str, options: dict[str, Any], n: int, repeats: int) -> list[Row]:
    runs = [
        anyio.run(_one_run, n, backend=backend, backend_options=options) for _ in range(repeats)
    ]
    calls, drains = (sorted(column) for column in zip(*runs, strict=True))
    return [
        Row(f"{label}: register_event on the owning loop", _sample(calls), "ns/event"),
        Row(f"{label}: processing (drain) per event", _sample(drains), "ns/event"),
    ]


def _sample(values: list[float]) -> Sample:
    return Sample(statistics.median(values), min(values), max(values), len(values))


def main() -> None:
    quick = parse_quick(__doc__ or "")
    n, repeats = (20_000, 3) if quick else (500_000, 7)
    backends: list[tuple[str, str, dict[str, Any]]] = [("asyncio", "asyncio", {})]
    try:
        import uvloop

        backends.append(("uvloop", "asyncio", {"loop_factory": uvloop.new_event_loop}))
    except ImportError:
        print("uvloop not installed: skipped")
    backends.append(("trio", "trio", {}))
    rows: list[Row] = []
    for label, backend, options in backends:
        rows.extend(measure(label, backend, options, n, repeats))
    print_table(f"direct mode, {n:,} pre-built events x {repeats} repeats", rows)


if __name__ == "__main__":
    main()
