"""The ASGI app under real servers (uvicorn on asyncio and uvloop, hypercorn on trio),
scraped over loopback with httpx: read-your-writes, negotiation, gzip, HEAD, methods."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from mvx_metrics import Counter, MetricsRuntime
from mvx_metrics.export import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from mvx_metrics.export.asgi import metrics_asgi_app

from .._support import TIMEOUT, Saved, wait_until

OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@contextmanager
def uvicorn_serving(app: Any, loop: str) -> Iterator[str]:
    import uvicorn

    sock = listening_socket()
    config = uvicorn.Config(app, loop=loop, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()
    assert not thread.is_alive()


@contextmanager
def hypercorn_trio_serving(app: Any) -> Iterator[str]:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    sock = listening_socket()
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) it from here
    config.loglevel = "WARNING"
    stop = threading.Event()
    started = threading.Event()

    async def shutdown_trigger() -> None:
        started.set()
        while not stop.is_set():
            await trio.sleep(0.01)

    thread = threading.Thread(
        target=trio.run,
        args=(lambda: serve(app, config, shutdown_trigger=shutdown_trigger),),
        daemon=True,
    )
    thread.start()
    try:
        assert started.wait(TIMEOUT)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(TIMEOUT)
    assert not thread.is_alive()


SERVERS = ["uvicorn-asyncio", "uvicorn-uvloop", "hypercorn-trio"]


@contextmanager
def serving(server: str, app: Any) -> Iterator[str]:
    if server == "hypercorn-trio":
        with hypercorn_trio_serving(app) as url:
            yield url
    else:
        with uvicorn_serving(app, server.removeprefix("uvicorn-")) as url:
            yield url


@pytest.mark.parametrize("server", SERVERS)
def test_a_real_server_serves_the_runtime_in_each_format_with_gzip(
    runtime: MetricsRuntime, server: str
) -> None:
    recorder = runtime.create_recorder("web")
    recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
    with serving(server, metrics_asgi_app(runtime)) as url, httpx.Client(timeout=TIMEOUT) as client:
        recorder.register_event(event=Saved(outcome="SUCCESS"))  # read-your-writes over HTTP
        response = client.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-type"] == TEXT_CONTENT_TYPE
        assert response.headers["content-encoding"] == "gzip"
        assert 'saves_total{outcome="SUCCESS",recorder="web"} 1.0\n' in response.text
        response = client.get(f"{url}/metrics", headers={"Accept": OPENMETRICS_ACCEPT})
        assert response.headers["content-type"] == OPENMETRICS_CONTENT_TYPE
        assert response.text.endswith("# EOF\n")
        head = client.head(f"{url}/metrics")
        assert head.status_code == 200 and int(head.headers["content-length"]) > 0
        assert client.post(f"{url}/metrics").status_code == 405
