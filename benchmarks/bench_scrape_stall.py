"""How long a scrape stalls the loop that serves it: mvx_metrics' ASGI app against
prometheus_client's ``make_asgi_app``, and ``serve_http`` against the runtime's loop.

Run: ``python benchmarks/bench_scrape_stall.py [--quick]``.

The data: 10 labelled counters with 2,000 series each (about 1 MB of text, gzip asked
for as Prometheus asks). On the serving loop (asyncio, uvloop, trio) a monitor task
sleeps 1 ms at a time and records how late it wakes up; the figure is the worst lag seen
while the app answers a scrape, the median over repeats. A stall is time the server's
other requests wait. The app is called in-process, as an ASGI server would call it, so
that the figure is the app's and not the server's.

For ``serve_http``, the monitor runs on the runtime's own loop (the loop that also
processes every recorder's events) while a client scrapes over HTTP.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from _harness import Row, Sample, load_peer, parse_quick, print_missing_peers, print_table

from mvx_metrics import Counter, MetricEvent, MetricsRuntime
from mvx_metrics.export.asgi import metrics_asgi_app
from mvx_metrics.hops.waiting import spawn_on_owner

COUNTERS = 10
TICK_S = 0.001

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass(slots=True)
class Request(MetricEvent):
    route: str


@dataclass(frozen=True, slots=True)
class Sizes:
    series: int
    repeats: int


FULL = Sizes(series=2_000, repeats=7)
QUICK = Sizes(series=100, repeats=2)


class LagMonitor:
    """Sleeps ``TICK_S`` at a time on the loop it runs in; keeps its worst late wake-up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.running = True

    async def run(self) -> None:
        while self.running:
            t0 = time.perf_counter()
            await anyio.sleep(TICK_S)
            self.worst = max(self.worst, time.perf_counter() - t0 - TICK_S)


async def call_asgi(app: ASGIApp) -> int:
    """One GET /metrics through ``app``; the response body's size."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "query_string": b"",
        "headers": [(b"accept", b"text/plain"), (b"accept-encoding", b"gzip")],
    }
    sizes: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sizes.append(len(message["body"]))

    await app(scope, receive, send)
    return sum(sizes)


async def worst_stall(app: ASGIApp) -> tuple[float, int]:
    """(worst lag of this loop while ``app`` answers one scrape, body size)."""
    monitor = LagMonitor()
    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor.run)
        await anyio.sleep(0.01)  # the monitor's first ticks, before the scrape
        monitor.worst = 0.0
        size = await call_asgi(app)
        await anyio.sleep(0.005)  # a tick after the scrape sees its tail
        monitor.running = False
    return monitor.worst, size


def loaded_runtime(series: int) -> MetricsRuntime:
    runtime = MetricsRuntime(namespace="bench-stall")
    runtime.start()
    recorder = runtime.create_recorder("web")
    for i in range(COUNTERS):
        recorder.register_metric(
            Counter(f"requests_{i}", event=Request, labels=("route",), max_series=series)
        )
    for j in range(series):
        recorder.register_event(event=Request(f"/api/v1/resource/{j:06d}"))
    recorder.flush()
    return runtime


def prometheus_registry(pc: Any, series: int) -> Any:
    registry = pc.CollectorRegistry()
    for i in range(COUNTERS):
        counter = pc.Counter(f"requests_{i}", "requests", ["route"], registry=registry)
        for j in range(series):
            counter.labels(f"/api/v1/resource/{j:06d}").inc()
    return registry


def run_on(backend: str, fn: Callable[[], Awaitable[tuple[float, int]]]) -> tuple[float, int]:
    if backend == "uvloop":
        import uvloop

        return anyio.run(
            fn, backend="asyncio", backend_options={"loop_factory": uvloop.new_event_loop}
        )
    return anyio.run(fn, backend=backend)


def measure(apps: dict[str, ASGIApp], sizes: Sizes) -> None:
    for backend in ("asyncio", "uvloop", "trio"):
        rows: list[Row] = []
        for name, app in apps.items():
            stalls, body = [], 0
            for _ in range(sizes.repeats):
                stall, body = run_on(backend, lambda app=app: worst_stall(app))
                stalls.append(stall * 1e3)
            sample = Sample(statistics.median(stalls), min(stalls), max(stalls), len(stalls))
            rows.append(Row(name, sample, "ms", f"gzip body {body / 1e3:,.0f} kB"))
        baseline = "prometheus_client make_asgi_app" if len(rows) > 1 else None
        print_table(
            f"worst stall of the serving loop ({backend}) during one scrape", rows, baseline
        )


def measure_serve_http(runtime: MetricsRuntime, sizes: Sizes) -> None:
    assert runtime._loop_thread is not None
    hop = runtime._loop_thread.hop
    host, port = runtime.serve_http()
    stalls = []
    for _ in range(sizes.repeats):
        monitor = LagMonitor()
        done = spawn_on_owner(hop, monitor.run, name="bench-lag-monitor")
        time.sleep(0.02)
        monitor.worst = 0.0
        request = urllib.request.Request(f"http://{host}:{port}/metrics")
        request.add_header("Accept-Encoding", "gzip")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        time.sleep(0.01)
        monitor.running = False
        done.result(timeout=10)
        stalls.append(monitor.worst * 1e3)
    sample = Sample(statistics.median(stalls), min(stalls), max(stalls), len(stalls))
    print_table(
        "worst stall of the runtime's loop (it processes every recorder) during a serve_http scrape",
        [Row("mvx serve_http", sample, "ms")],
    )


def main() -> None:
    quick = parse_quick(__doc__ or "")
    sizes = QUICK if quick else FULL
    missing: list[str] = []
    pc = load_peer("prometheus_client", "prometheus_client", missing)
    print(
        f"bench_scrape_stall ({'quick' if quick else 'full'}): Python {sys.version.split()[0]}, "
        f"{COUNTERS} counters x {sizes.series:,} series, medians of {sizes.repeats}"
    )
    runtime = loaded_runtime(sizes.series)
    try:
        apps: dict[str, ASGIApp] = {"mvx metrics_asgi_app (runtime)": metrics_asgi_app(runtime)}
        if pc is not None:
            apps["prometheus_client make_asgi_app"] = pc.make_asgi_app(
                prometheus_registry(pc, sizes.series)
            )
        measure(apps, sizes)
        measure_serve_http(runtime, sizes)
    finally:
        runtime.shutdown()
    print_missing_peers(missing, quick)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
