"""An ASGI application serving the exposition of a recorder or a runtime.

Mount it where the metrics should be (``/metrics`` usually) in any ASGI server or
framework. It answers GET and HEAD on every path it is given; the Accept header picks
Prometheus text 0.0.4 or OpenMetrics. Snapshots are awaited with the async twins, so the
server's loop is never blocked, whichever thread or loop owns the recorders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .scrape import ScrapeSource, scrape_response

__all__ = ["metrics_asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_asgi_app(
    source: ScrapeSource, *, timeout: float | None = None, include_stats: bool = True
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
            await _respond(send, 405, b"use GET or HEAD\n", "text/plain; charset=utf-8", allow=True)
            return
        accept = _header(scope, b"accept")
        body, content_type = await scrape_response(
            source, accept, timeout=timeout, include_stats=include_stats
        )
        await _respond(send, 200, b"" if method == "HEAD" else body, content_type, length=len(body))

    return app


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    *,
    length: int | None = None,
    allow: bool = False,
) -> None:
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body) if length is None else length).encode()),
    ]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
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
