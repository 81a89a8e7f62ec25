"""One scrape: snapshots of a recorder or runtime, rendered in the negotiated format,
within a deadline, without holding the serving loop.

Internal: not part of the public API; ``MetricsRuntime.serve_http()`` and
:mod:`mvx_metrics.export.asgi` serve scrapes through it.

A large exposition takes tens of milliseconds to read and render. Done in one go on the
loop that serves the scrape, it would stall every other request of that server (and,
for ``serve_http``, the runtime loop that processes events). Done in a worker thread,
it stalls that loop anyway: the worker holds the GIL for a whole switch interval (5 ms)
each time the loop needs it back, which came to 10-14 ms per wake-up. So the scrape runs
on the serving loop itself, in slices: the read is awaited (an idle recorder is copied
in place, a busy one by its own loop: keys and numbers only, see
``recorder/captures.py``), and building the snapshots, rendering, encoding and freeing
them pause every few dozen series (:mod:`mvx_metrics._steps`), giving the loop's other
tasks a turn once :data:`SLICE_S` has passed. Compression runs in a worker thread,
where zlib lets go of the GIL.

A scrape that cannot finish within its deadline answers 503 with a short reason, never
a hang and never a half-written body. ``Accept-Encoding: gzip``, which Prometheus
sends, gets a gzip body, as prometheus_client does.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from .._steps import SERIES_PER_STEP, Steps
from ..errors import MetricsRecorderTimeoutError, MetricsRuntimeTimeoutError
from ..exposition.negotiation import choose_format
from ..exposition.problems import problems_of
from ..exposition.prometheus_protobuf import render_protobuf_read_steps
from ..exposition.prometheus_text import render_read_parts
from ..metrics._builtin import Captured
from ..recorder.captures import snapshot_steps_of
from ._collections import collections_deferred
from ._source import Source, aread_exposition

__all__ = ["DEFAULT_SCRAPE_TIMEOUT", "SLICE_S", "Scrape", "run_paced", "scrape_response"]

T = TypeVar("T")

#: Seconds a scrape may take when the caller gives no timeout.
DEFAULT_SCRAPE_TIMEOUT = 10.0

#: Seconds of rendering between two turns given to the serving loop's other tasks.
SLICE_S = 0.001

#: Bodies smaller than this are compressed in place: a worker thread costs more.
_COMPRESS_IN_PLACE_BYTES = 64 * 1024


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

    Works from any asyncio (uvloop included) or trio loop, in slices that leave the loop
    to its other tasks (see the module docstring).
    """
    deadline = DEFAULT_SCRAPE_TIMEOUT if timeout is None else timeout
    with anyio.move_on_after(deadline) as scope:
        try:
            return await _scrape(source, accept, deadline, include_stats, accept_encoding)
        except (MetricsRecorderTimeoutError, MetricsRuntimeTimeoutError) as exc:
            return _unavailable(f"metrics not available in time: {exc}")
    assert scope.cancelled_caught
    return _unavailable(f"metrics not available within {deadline}s")


async def _scrape(
    source: Source,
    accept: str | None,
    timeout: float,
    include_stats: bool,
    accept_encoding: str | None,
) -> Scrape:
    fmt, content_type = choose_format(accept)
    problems = problems_of(source)  # counted across the source's scrapes
    with collections_deferred():  # see _collections.py: no full collection mid-scrape
        captured, process = await aread_exposition(source, timeout, include_stats=include_stats)
        read = [
            (rid, await run_paced(snapshot_steps_of(captures)), stats)
            for rid, captures, stats in captured
        ]
        if fmt == "protobuf":
            parts = [
                await run_paced(
                    render_protobuf_read_steps(read, problems=problems, process=process)
                )
            ]
        else:
            steps = render_read_parts(
                read, openmetrics=fmt == "openmetrics", problems=problems, process=process
            )
            parts = await run_paced(_encoded(await run_paced(steps)))
        # Tens of thousands of dicts: freed in slices too, or freeing them is the stall.
        await run_paced(_released(read, captured))
    headers = {"Content-Type": content_type}
    if _wants_gzip(accept_encoding):
        body = await _gzip(parts)
        headers["Content-Encoding"] = "gzip"
    else:
        body = b"".join(parts)
    return Scrape(200, body, headers)


async def run_paced(steps: Steps[T], slice_s: float | None = None) -> T:
    """The result of ``steps``, giving the current loop's other tasks a turn at the first
    pause after every ``slice_s`` seconds of work (:data:`SLICE_S` by default; 0 gives a
    turn at every pause). Cancelled, it stops at a pause."""
    slice_s = SLICE_S if slice_s is None else slice_s
    clock = time.perf_counter
    started = clock()
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if clock() - started >= slice_s:
            await anyio.lowlevel.checkpoint()
            started = clock()


def _encoded(parts: list[str]) -> Steps[list[bytes]]:
    """Each part as UTF-8, a pause between two."""
    encoded = []
    for part in parts:
        encoded.append(part.encode("utf-8"))
        yield
    parts.clear()
    return encoded


def _released(read: list[tuple[Any, dict[str, Any], Any]], captured: Sequence[Any]) -> Steps[None]:
    """Free the snapshots this scrape built (those of built-in metrics: another metric's
    snapshot is its own), a slice of series at a time."""
    for (_, snapshots, _), (_, captures, _) in zip(read, captured, strict=True):
        for name, capture in captures.items():
            series = (
                snapshots.get(name, {}).get("series") if isinstance(capture, Captured) else None
            )
            while series:
                del series[-SERIES_PER_STEP:]
                yield
    read.clear()


async def _gzip(parts: list[bytes]) -> bytes:
    """One gzip member of the parts together, as gzip.compress(mtime=0) writes it; in a
    worker thread, where zlib lets go of the GIL, unless they are small."""
    if sum(map(len, parts)) < _COMPRESS_IN_PLACE_BYTES:
        return _compressed(parts)
    return await anyio.to_thread.run_sync(_compressed, parts, abandon_on_cancel=True)


def _compressed(parts: list[bytes]) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    return b"".join([*map(compressor.compress, parts), compressor.flush()])


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
