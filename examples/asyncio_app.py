"""Direct mode: the application's own asyncio loop owns the recorder (no MetricsRuntime).

The recorder is created inside ``asyncio.run(main())``: that running loop becomes its
owner, and metric state changes only there. Events come from the loop itself and from a
worker thread; both use the same synchronous ``register_event`` call.

Run it: ``python examples/asyncio_app.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvx_metrics import Metric, MetricEvent, MetricsRecorder


@dataclass(slots=True, frozen=True)
class RequestHandled(MetricEvent):
    route: str


class RequestsByRoute(Metric):
    event_types = (RequestHandled,)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    @property
    def metric_name(self) -> str:
        return "requests_by_route"

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, RequestHandled)
        self._counts[event.route] = self._counts.get(event.route, 0) + 1
        return True

    def snapshot(self) -> Mapping[str, Any]:
        return {"counts": dict(self._counts)}


def blocking_work(recorder: MetricsRecorder, n: int) -> str:
    """Runs in a worker thread: register_event needs no loop of its own."""
    for _ in range(n):
        recorder.register_event(event=RequestHandled(route="/report"))
    return threading.current_thread().name


async def main() -> None:
    recorder = MetricsRecorder("asyncio_app")  # needs the running loop: create it in here
    recorder.register_metric(RequestsByRoute())
    async with recorder:  # start() ... stop(), which processes every accepted event
        for _ in range(3):
            recorder.register_event(event=RequestHandled(route="/"))  # from the loop
            await asyncio.sleep(0)
        worker = await asyncio.to_thread(blocking_work, recorder, 5)  # from a thread

        # Read-your-writes, without blocking the loop: all 8 events are counted.
        snapshots = await recorder.aget_metric_snapshots()
        print(f"events from the loop and from {worker}:")
        print(json.dumps(snapshots, indent=2))
    print(recorder.state, recorder.get_stats().processed, "events processed")


if __name__ == "__main__":
    asyncio.run(main())
