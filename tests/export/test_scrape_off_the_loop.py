"""A scrape gives its serving loop a turn while it renders, answers 503 at its deadline, and honours
Accept-Encoding: gzip (issue 10, items 1 and 2)."""

from __future__ import annotations

import gzip
import urllib.request
from dataclasses import dataclass

import anyio
import anyio.lowlevel
import pytest

from mvx_metrics import Counter, Histogram, MetricEvent, MetricsRecorder, MetricsRuntime
from mvx_metrics._steps import SERIES_PER_STEP, Steps, run_to_end
from mvx_metrics.export import scrape
from mvx_metrics.export.asgi import metrics_asgi_app
from mvx_metrics.exposition import prometheus_protobuf, prometheus_text

from .._support import TIMEOUT, Saved, loop_held
from ._support import call_asgi

pytestmark = pytest.mark.anyio


@dataclass(slots=True)
class Route(MetricEvent):
    route: str


def len_of_route(event: Route) -> float:
    return float(len(event.route))


async def test_a_large_scrape_gives_the_serving_loop_a_turn_at_every_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scrape, "SLICE_S", 0.0)  # a turn at every pause, not after 1 ms
    recorder = MetricsRecorder("paced")
    recorder.register_metric(Counter("saves", event=Route, labels=("route",), max_series=2_000))
    turns = 0
    done = anyio.Event()

    async def other_request() -> None:
        nonlocal turns
        while not done.is_set():
            await anyio.lowlevel.checkpoint()
            turns += 1

    async with recorder, anyio.create_task_group() as tg:
        for i in range(2_000):
            recorder.register_event(event=Route(f"/r/{i}"))
        await recorder.aflush(timeout=TIMEOUT)
        tg.start_soon(other_request)
        response = await call_asgi(metrics_asgi_app(recorder, include_stats=False))
        done.set()
    assert response["status"] == 200
    assert response["body"].count(b"saves_total{") == 2_000
    # A pause every SERIES_PER_STEP series, while the family is made and while rendered.
    assert turns >= 2 * (2_000 // SERIES_PER_STEP) - 2


async def test_run_paced_gives_the_result_of_the_steps() -> None:
    def steps() -> Steps[str]:
        for _ in range(3):
            yield
        return "done"

    assert await scrape.run_paced(steps(), slice_s=0.0) == "done"
    assert run_to_end(steps()) == "done"


async def test_the_paced_render_is_the_one_in_one_go() -> None:
    recorder = MetricsRecorder("same")
    recorder.register_metric(Counter("saves", event=Route, labels=("route",)))
    recorder.register_metric(Histogram("sizes", event=Route, value=len_of_route))
    async with recorder:
        for i in range(300):
            recorder.register_event(event=Route(f"/r/{i % 150}"))
        read = [(None, await recorder.aget_metric_snapshots(timeout=TIMEOUT), None)]
    for openmetrics in (False, True):
        paced = await scrape.run_paced(
            prometheus_text.render_read_steps(read, openmetrics=openmetrics), slice_s=0.0
        )
        assert paced == prometheus_text.render_read(read, openmetrics=openmetrics)
    protobuf = await scrape.run_paced(
        prometheus_protobuf.render_protobuf_read_steps(read), slice_s=0.0
    )
    assert protobuf == prometheus_protobuf.render_protobuf_read(read)


async def test_gzip_is_sent_when_the_scraper_accepts_it() -> None:
    recorder = MetricsRecorder("gzip")
    recorder.register_metric(Counter("saves", event=Saved))
    app = metrics_asgi_app(recorder)
    async with recorder:
        recorder.register_event(event=Saved())
        zipped = await call_asgi(app, headers={b"accept-encoding": b"gzip, deflate"})
        refused = await call_asgi(app, headers={b"accept-encoding": b"gzip;q=0, identity"})
    assert zipped["headers"][b"content-encoding"] == b"gzip"
    assert b"saves_total 1.0\n" in gzip.decompress(zipped["body"])
    assert int(zipped["headers"][b"content-length"]) == len(zipped["body"])
    assert b"content-encoding" not in refused["headers"]
    assert b"saves_total 1.0\n" in refused["body"]


async def test_a_scrape_past_its_deadline_answers_503(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("late")
    recorder.register_metric(Counter("saves", event=Saved))
    app = metrics_asgi_app(runtime, timeout=0.2)
    with loop_held(runtime):  # the runtime cannot answer: the pending event must go first
        recorder.register_event(event=Saved())
        response = await call_asgi(app)
    assert response["status"] == 503
    assert response["body"].startswith(b"metrics not available")
    assert (await call_asgi(app))["status"] == 200  # and the next scrape is served


def test_serve_http_sends_gzip_too(runtime: MetricsRuntime) -> None:
    recorder = runtime.create_recorder("web")
    recorder.register_metric(Counter("saves", event=Saved))
    recorder.register_event(event=Saved())
    host, port = runtime.serve_http()
    request = urllib.request.Request(f"http://{host}:{port}/metrics")
    request.add_header("Accept-Encoding", "gzip")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        text = gzip.decompress(response.read()).decode()
    assert 'saves_total{recorder="web"} 1.0\n' in text
