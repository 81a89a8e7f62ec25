"""One scrape: snapshots of a recorder or runtime, rendered in the negotiated format, off
the serving loop, within a deadline.

Internal: not part of the public API; ``MetricsRuntime.serve_http()`` and
:mod:`mvx_metrics.export.asgi` serve scrapes through it.

The snapshot, the rendering and the compression of a large exposition take tens of
milliseconds: done on the loop that serves the scrape, they would stall every other
request of that server (and, for ``serve_http``, the runtime loop that processes
events). So the whole scrape runs in a worker thread (``anyio.to_thread``), where a
blocking snapshot is as cheap as an awaited one (in place for an idle recorder, one
round trip otherwise), and the serving loop only awaits it.

A scrape that cannot finish within its deadline answers 503 with a short reason, never
a hang and never a half-written body. ``Accept-Encoding: gzip``, which Prometheus
sends, gets a gzip body, as prometheus_client does.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from ..errors import MetricsRecorderTimeoutError, MetricsRuntimeTimeoutError
from ..exposition.negotiation import choose_format
from ..exposition.problems import problems_of
from ..exposition.prometheus_protobuf import render_protobuf_read
from ..exposition.prometheus_text import render_read
from ._collections import collections_deferred
from ._source import Source, process_families_of, read_snapshots

__all__ = ["DEFAULT_SCRAPE_TIMEOUT", "Scrape", "scrape_response"]

#: Seconds a scrape may take when the caller gives no timeout.
DEFAULT_SCRAPE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Scrape:
    """The answer to one scrape."""

    #: 200, or 503 when the scrape could not complete within its deadline.
    status: int
    body: bytes
    #: ``Content-Type``, and ``Content-Encoding`` for a gzip body.
    headers: dict[str, str] = field(default_factory=dict)


async def scrape_response(
    source: Source,
    accept: str | None,
    *,
    accept_encoding: str | None = None,
    timeout: float | None = None,
    include_stats: bool = True,
) -> Scrape:
    """Answer a scrape with these Accept and Accept-Encoding headers: the metrics, then
    the recorders' stats unless ``include_stats`` is False, within ``timeout`` seconds.

    Works from any asyncio (uvloop included) or trio loop; the serving loop only awaits
    the worker thread that does the work (see the module docstring).
    """
    deadline = DEFAULT_SCRAPE_TIMEOUT if timeout is None else timeout
    compress = _wants_gzip(accept_encoding)

    def work() -> Scrape:
        return _scrape(source, accept, deadline, include_stats, compress)

    with anyio.move_on_after(deadline) as scope:
        try:
            # Abandoned on timeout: the thread's own reads are bounded by the same deadline.
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except (MetricsRecorderTimeoutError, MetricsRuntimeTimeoutError) as exc:
            return _unavailable(f"metrics not available in time: {exc}")
    assert scope.cancelled_caught
    return _unavailable(f"metrics not available within {deadline}s")


def _scrape(
    source: Source, accept: str | None, timeout: float, include_stats: bool, compress: bool
) -> Scrape:
    """The whole scrape, in a worker thread."""
    fmt, content_type = choose_format(accept)
    problems = problems_of(source)  # counted across the source's scrapes
    with collections_deferred():  # see _collections.py: no full collection mid-scrape
        read = read_snapshots(source, timeout, include_stats=include_stats)
        process = process_families_of(source)
        if fmt == "protobuf":
            body = render_protobuf_read(read, problems=problems, process=process)
        else:
            text = render_read(
                read, openmetrics=fmt == "openmetrics", problems=problems, process=process
            )
            body = text.encode("utf-8")
        del read
    headers = {"Content-Type": content_type}
    if compress:
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return Scrape(200, body, headers)


def _unavailable(reason: str) -> Scrape:
    return Scrape(
        503, (reason + "\n").encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"}
    )


def _wants_gzip(accept_encoding: str | None) -> bool:
    """True when ``Accept-Encoding`` lists gzip with a non-zero weight."""
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() != "gzip":
            continue
        weight = params.strip().lower()
        return not (weight.startswith("q=") and _float(weight[2:]) == 0.0)
    return False


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0
