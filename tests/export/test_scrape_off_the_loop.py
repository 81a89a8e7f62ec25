"""A scrape is rendered off the serving loop, answers 503 at its deadline, and honours
Accept-Encoding: gzip (issue 10, items 1 and 2)."""

from __future__ import annotations

import gzip
import threading
import urllib.request
from typing import Any

import pytest

from mvx_metrics import Counter, MetricsRecorder, MetricsRuntime
from mvx_metrics.export import scrape
from mvx_metrics.export.asgi import metrics_asgi_app
from mvx_metrics.exposition import prometheus_text

from .._support import TIMEOUT, Saved, loop_held
from ._support import call_asgi

pytestmark = pytest.mark.anyio


async def test_the_serving_loop_only_awaits_the_rendering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered_in: list[int] = []
    render = prometheus_text.render_read

    def recording(*args: Any, **kwargs: Any) -> str:
        rendered_in.append(threading.get_ident())
        return render(*args, **kwargs)

    monkeypatch.setattr(scrape, "render_read", recording)
    recorder = MetricsRecorder("off-loop")
    recorder.register_metric(Counter("saves", event=Saved))
    async with recorder:
        recorder.register_event(event=Saved())
        response = await call_asgi(metrics_asgi_app(recorder))
    assert response["status"] == 200 and b"saves_total 1.0\n" in response["body"]
    assert rendered_in and threading.get_ident() not in rendered_in


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
