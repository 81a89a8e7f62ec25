"""Direct mode on trio: the application's own trio run owns the recorder.

The recorder is created inside ``trio.run(main)``: that run becomes its owner and its
processing task runs there (as a trio system task). Events come from trio tasks and from a
worker thread, through the same synchronous ``register_event`` call.

Run it: ``python examples/trio_app.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from mvx_metrics import Metric, MetricEvent, MetricsRecorder


@dataclass(slots=True, frozen=True)
class JobFinished(MetricEvent):
    queue: str
    duration_s: float


class JobTimeByQueue(Metric):
    event_types = (JobFinished,)

    def __init__(self) -> None:
        self._totals: dict[str, dict[str, float]] = {}

    @property
    def metric_name(self) -> str:
        return "job_time_by_queue"

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, JobFinished)
        total = self._totals.setdefault(event.queue, {"count": 0, "seconds": 0.0})
        total["count"] += 1
        total["seconds"] += event.duration_s
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {queue: dict(total) for queue, total in self._totals.items()}


async def worker(recorder: MetricsRecorder, queue: str, jobs: int) -> None:
    for i in range(jobs):
        recorder.register_event(event=JobFinished(queue=queue, duration_s=0.25 * (i + 1)))
        await trio.lowlevel.checkpoint()


def blocking_worker(recorder: MetricsRecorder) -> None:
    """Runs in a thread: no trio token, no loop, the same call."""
    recorder.register_event(event=JobFinished(queue="reports", duration_s=2.0))


async def main() -> None:
    recorder = MetricsRecorder("trio_app")  # needs the running trio run: create it in here
    recorder.register_metric(JobTimeByQueue())
    async with recorder:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(worker, recorder, "emails", 3)
            nursery.start_soon(worker, recorder, "images", 2)
        await trio.to_thread.run_sync(blocking_worker, recorder)
        snapshots = await recorder.aget_metric_snapshots()  # read-your-writes
    print(json.dumps(snapshots, indent=2, sort_keys=True))
    print(recorder.state, recorder.get_stats().processed, "events processed")


if __name__ == "__main__":
    trio.run(main)
