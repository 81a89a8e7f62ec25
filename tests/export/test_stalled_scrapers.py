"""A scraper that stops reading a large response neither holds the connection past the
write deadline nor delays shutdown or exit (issue 9, item 3)."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from mvx_metrics import Counter, MetricEvent, MetricsRuntime
from mvx_metrics.export import http

from .._support import TIMEOUT, wait_until

#: Series enough for a response of several MB: more than the sockets' buffers hold.
SERIES = 60_000


@dataclass(slots=True)
class Hit(MetricEvent):
    path: str


def large_runtime(name: str) -> MetricsRuntime:
    runtime = MetricsRuntime(namespace=name)
    runtime.start()
    recorder = runtime.create_recorder("big")
    recorder.register_metric(Counter("hits", event=Hit, labels=("path",), max_series=SERIES))
    for i in range(SERIES):
        recorder.register_event(event=Hit(f"/a/rather/long/path/to/page/number/{i:08d}"))
    recorder.flush(timeout=TIMEOUT)
    return runtime


@contextmanager
def stalled_scrape(host: str, port: int) -> Iterator[socket.socket]:
    """A client that asks for /metrics and never reads the answer."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(TIMEOUT)
    client.connect((host, port))
    client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        yield client
    finally:
        client.close()


def test_shutdown_aborts_a_stalled_scrape_and_serves_others_meanwhile() -> None:
    runtime = large_runtime("stalled")
    host, port = runtime.serve_http()
    (server,) = runtime._http_servers
    with stalled_scrape(host, port):
        wait_until(lambda: bool(server._connections))
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=TIMEOUT) as r:
            assert len(r.read()) > 4_000_000  # another scraper is served all the same
        runtime.shutdown(timeout=5)  # raised MetricsRuntimeShutdownError before
    assert runtime.state.value == "CLOSED"


def test_a_client_that_does_not_read_is_cut_off_at_the_write_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http, "WRITE_TIMEOUT", 0.2)
    runtime = large_runtime("deadline")
    try:
        host, port = runtime.serve_http()
        (server,) = runtime._http_servers
        with stalled_scrape(host, port):
            wait_until(lambda: bool(server._connections))
            wait_until(lambda: not server._connections)  # cut off, though never read
    finally:
        runtime.shutdown(timeout=5)


def test_a_forgotten_shutdown_with_a_stalled_scrape_still_exits_promptly() -> None:
    code = f"""
import socket, sys
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parents[2])!r})
from tests.export.test_stalled_scrapers import large_runtime
runtime = large_runtime("exit")
host, port = runtime.serve_http()
client = socket.socket()
client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
client.connect((host, port))
client.sendall(b"GET /metrics HTTP/1.1\\r\\n\\r\\n")
print("scraping", flush=True)
"""  # exits without shutdown(): the atexit hook must not wait for the client
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert "scraping" in done.stdout and "Shutdown" not in done.stderr
