"""A minimal HTTP/1.1 server for ``GET /metrics``, run on an asyncio loop (the runtime's).

Internal: not part of the public API; start the server with
``MetricsRuntime.serve_http()``.

It answers one request per connection and closes it, which is all a Prometheus scraper
needs, and keeps the server small enough to read in one sitting. Every read and write is
bounded in size and time, so a slow or broken client cannot hold a connection forever:
a client that stops reading a large response is cut off after ``WRITE_TIMEOUT``, and
:meth:`MetricsHTTPServer.close` (the runtime's shutdown) aborts every connection still
open rather than wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from .scrape import Scrape

__all__ = ["MetricsHTTPServer", "Renderer", "check_address"]

logger = logging.getLogger("mvx_metrics.export")

#: Produces the response to a scrape, for its Accept and Accept-Encoding headers.
Renderer = Callable[[str | None, str | None], Awaitable[Scrape]]

#: The longest request head accepted (request line and headers).
MAX_REQUEST_HEAD = 16 * 1024
#: Seconds a client has to send its request head.
REQUEST_TIMEOUT = 10.0
#: Seconds a client has to take the whole response (it is in the socket's buffers).
WRITE_TIMEOUT = 10.0
#: Seconds a connection may take to close once the response is written.
CLOSE_TIMEOUT = 1.0
METRICS_PATH = "/metrics"


def check_address(host: object, port: object) -> tuple[str, int]:
    """``(host, port)`` if they can be listened on, else TypeError or ValueError."""
    if not isinstance(host, str) or not host:
        raise TypeError("argument 'host' must be a non-empty str")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"argument 'port' must be an int, got {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"argument 'port' must be in 0..65535, got {port}")
    return host, port


class MetricsHTTPServer:
    """Serves ``render``'s output at ``/metrics``; everything else is 404 or 405."""

    def __init__(self, render: Renderer) -> None:
        self._render = render
        self._server: asyncio.Server | None = None
        #: Connections being served, aborted by close().
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0: any free port); return the bound address."""
        self._server = await asyncio.start_server(
            self._serve_connection, host, port, limit=MAX_REQUEST_HEAD
        )
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        """Stop listening and abort the connections still open: a scraper that does not
        read must not hold up the shutdown."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await server.wait_closed()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(writer)
        try:
            status, headers, body, head_only = await self._respond(reader)
            _write_response(writer, status, headers, body, head_only)
            async with asyncio.timeout(WRITE_TIMEOUT):
                await writer.drain()
        except TimeoutError:
            logger.warning(
                "GET %s: the client did not take the response within %ss; cut off",
                METRICS_PATH,
                WRITE_TIMEOUT,
            )
            writer.transport.abort()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nobody to answer
        finally:
            self._connections.discard(writer)
            writer.close()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await writer.wait_closed()
            except (ConnectionError, TimeoutError):
                writer.transport.abort()

    async def _respond(
        self, reader: asyncio.StreamReader
    ) -> tuple[HTTPStatus, dict[str, str], bytes, bool]:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path, headers = _parse_head(head)
        except (asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            return _plain(HTTPStatus.BAD_REQUEST, f"bad request: {type(exc).__name__}\n")
        if path != METRICS_PATH:
            return _plain(HTTPStatus.NOT_FOUND, f"not found; metrics are at {METRICS_PATH}\n")
        if method not in ("GET", "HEAD"):
            status, response_headers, body, _ = _plain(
                HTTPStatus.METHOD_NOT_ALLOWED, "use GET or HEAD\n"
            )
            response_headers["Allow"] = "GET, HEAD"
            return status, response_headers, body, False
        try:
            scrape = await self._render(headers.get("accept"), headers.get("accept-encoding"))
        except Exception as exc:
            logger.exception("GET %s failed", METRICS_PATH)
            return _plain(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}\n")
        return HTTPStatus(scrape.status), dict(scrape.headers), scrape.body, method == "HEAD"


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """``(method, path, headers)`` of a request head; ValueError when malformed."""
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, version = request_line.split(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported protocol {version!r}")
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, target.split("?", 1)[0], headers


def _plain(status: HTTPStatus, text: str) -> tuple[HTTPStatus, dict[str, str], bytes, bool]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode(), False


def _write_response(
    writer: asyncio.StreamWriter,
    status: HTTPStatus,
    headers: dict[str, str],
    body: bytes,
    head_only: bool,
) -> None:
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1"))
    if not head_only:
        writer.write(body)
