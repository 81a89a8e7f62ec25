"""Serving /metrics: the runtime's HTTP endpoint and the ASGI app."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from mvx_metrics import Counter, MetricsRecorder, MetricsRuntime, MetricsRuntimeInvalidStateError
from mvx_metrics.export import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from mvx_metrics.export.asgi import metrics_asgi_app

from .._support import TIMEOUT, Saved
from ._support import call_asgi

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _counting_runtime_recorder(runtime: MetricsRuntime, rid: str = "web") -> Any:
    recorder = runtime.create_recorder(rid)
    recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
    return recorder


def _get(url: str, *, method: str = "GET", accept: str | None = None) -> Any:
    request = urllib.request.Request(url, method=method)
    if accept:
        request.add_header("Accept", accept)
    return urllib.request.urlopen(request, timeout=TIMEOUT)


def test_serve_http_exposes_every_recorder_in_the_negotiated_format(
    runtime: MetricsRuntime,
) -> None:
    recorder = _counting_runtime_recorder(runtime)
    host, port = runtime.serve_http(port=0)
    assert host == "127.0.0.1" and port > 0
    recorder.register_event(event=Saved(outcome="SUCCESS"))  # read-your-writes over HTTP too

    with _get(f"http://{host}:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == TEXT_CONTENT_TYPE
        text = response.read().decode()
    assert 'saves_total{outcome="SUCCESS",recorder="web"} 1.0\n' in text

    with _get(f"http://{host}:{port}/metrics", accept=OPENMETRICS_ACCEPT) as response:
        assert response.headers["Content-Type"] == OPENMETRICS_CONTENT_TYPE
        text = response.read().decode()
    assert text.endswith("# EOF\n")

    with _get(f"http://{host}:{port}/metrics", method="HEAD") as response:
        assert response.status == 200 and response.read() == b""
        assert int(response.headers["Content-Length"]) > 0


def test_serve_http_refuses_other_paths_and_methods(runtime: MetricsRuntime) -> None:
    host, port = runtime.serve_http()
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(f"http://{host}:{port}/")
    assert info.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(f"http://{host}:{port}/metrics", method="POST")
    assert info.value.code == 405 and info.value.headers["Allow"] == "GET, HEAD"
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")


def test_serve_http_stops_with_the_runtime() -> None:
    runtime = MetricsRuntime(namespace="http-stop")
    runtime.start()
    host, port = runtime.serve_http()
    runtime.shutdown()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=TIMEOUT)
    with pytest.raises(MetricsRuntimeInvalidStateError):
        runtime.serve_http()


def test_serve_http_argument_checks_and_a_busy_port(runtime: MetricsRuntime) -> None:
    with pytest.raises(ValueError):
        runtime.serve_http(port=70_000)
    with pytest.raises(TypeError):
        runtime.serve_http(port="80")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        runtime.serve_http(host="")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            runtime.serve_http(port=taken.getsockname()[1])


@pytest.mark.anyio
async def test_asgi_app_serves_a_direct_mode_recorder_on_any_backend() -> None:
    recorder = MetricsRecorder("asgi")
    recorder.register_metric(Counter("saves", event=Saved))
    app = metrics_asgi_app(recorder)
    async with recorder:
        recorder.register_event(event=Saved())
        response = await call_asgi(app)
        assert response["status"] == 200
        assert response["headers"][b"content-type"] == TEXT_CONTENT_TYPE.encode()
        assert b"saves_total 1.0\n" in response["body"]
        response = await call_asgi(app, headers={b"accept": OPENMETRICS_ACCEPT.encode()})
        assert response["body"].endswith(b"# EOF\n")
        head = await call_asgi(app, method="HEAD")
        assert head["body"] == b"" and int(head["headers"][b"content-length"]) > 0
        refused = await call_asgi(app, method="DELETE")
        assert refused["status"] == 405 and refused["headers"][b"allow"] == b"GET, HEAD"


@pytest.mark.anyio
async def test_asgi_app_serves_a_runtime_from_another_loop(runtime: MetricsRuntime) -> None:
    recorder = _counting_runtime_recorder(runtime)
    recorder.register_event(event=Saved(outcome="FAILURE"))
    response = await call_asgi(metrics_asgi_app(runtime))
    assert b'saves_total{outcome="FAILURE",recorder="web"} 1.0\n' in response["body"]


@pytest.mark.anyio
async def test_asgi_lifespan_is_acknowledged() -> None:
    app = metrics_asgi_app(MetricsRecorder("life"))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
