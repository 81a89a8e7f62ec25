"""A real OTLP/HTTP receiver on a loopback port: decodes each export with opentelemetry-proto.

What an OpenTelemetry Collector's ``otlphttp`` receiver does with ``POST /v1/metrics``
(protobuf, gzip or not), minus the pipeline: every decoded
``ExportMetricsServiceRequest`` is queued for the test to read.
"""

from __future__ import annotations

import gzip
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from .._support import TIMEOUT


class OtlpReceiver:
    """The received requests, and the status the next ones get."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.requests: queue.Queue[ExportMetricsServiceRequest] = queue.Queue()
        #: HTTP status answered to each request; 200 unless a test fails them.
        self.status = 200

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1/metrics"

    def next_request(self, timeout: float = TIMEOUT) -> ExportMetricsServiceRequest:
        return self.requests.get(timeout=timeout)

    def received(self) -> int:
        return self.requests.qsize()


def _handler(receiver_box: list[OtlpReceiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/metrics":
                self._answer(404, b"")
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if receiver.status != 200:
                self._answer(receiver.status, b"refused by the test")
                return
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)  # a malformed body fails the test's wait
            receiver.requests.put(request)
            self._answer(200, ExportMetricsServiceResponse().SerializeToString())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests assert on what was received

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Start a receiver on 127.0.0.1 (a free port), stop it after."""
    box: list[OtlpReceiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    box.append(OtlpReceiver(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
