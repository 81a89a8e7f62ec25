"""An ASGI application serving the exposition of a recorder or a runtime.

Mount it where the metrics should be (``/metrics`` usually) in any ASGI server or
framework. It answers GET and HEAD on every path it is given; the Accept header picks
Prometheus text 0.0.4 or OpenMetrics, Accept-Encoding gzip. The scrape runs on the
server's loop in slices (see ``scrape``), so the server's other requests go on
meanwhile, whichever thread or loop owns the recorders; a scrape that cannot finish
within its ``timeout`` answers 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._source import Source
from .scrape import scrape_response

__all__ = ["metrics_asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_asgi_app(
    source: Source, *, timeout: float | None = None, include_stats: bool = True
) -> ASGIApp:
    """An ASGI 3 app exposing ``source`` (a recorder or a ``MetricsRuntime``), with the
    recorders' stats after the metrics unless ``include_stats`` is False."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"metrics_asgi_app serves HTTP only, not {scope['type']!r}")
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(
                send,
                405,
                b"use GET or HEAD\n",
                {"Content-Type": "text/plain; charset=utf-8", "Allow": "GET, HEAD"},
            )
            return
        scrape = await scrape_response(
            source,
            _header(scope, b"accept"),
            accept_encoding=_header(scope, b"accept-encoding"),
            timeout=timeout,
            include_stats=include_stats,
        )
        body = scrape.body
        await _respond(
            send, scrape.status, b"" if method == "HEAD" else body, scrape.headers, len(body)
        )

    return app


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _respond(
    send: Send, status: int, body: bytes, headers: dict[str, str], length: int | None = None
) -> None:
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
    raw.append((b"content-length", str(len(body) if length is None else length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up or tear down: the source's owner manages its own lifecycle.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
