"""One scrape: snapshots of a recorder or runtime, rendered in the negotiated format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .negotiation import choose_format
from .problems import problems_of
from .prometheus_text import render_runtime_snapshots, render_snapshots
from .recorder_stats import recorder_stats

__all__ = ["ScrapeSource", "scrape_response"]


class ScrapeSource(Protocol):
    """A recorder or a ``MetricsRuntime``: both have the async snapshot twin."""

    async def aget_metric_snapshots(self, *, timeout: float | None = None) -> Mapping[str, Any]:
        """Snapshots, read-your-writes."""
        ...


async def scrape_response(
    source: ScrapeSource,
    accept: str | None,
    *,
    timeout: float | None = None,
    include_stats: bool = True,
) -> tuple[bytes, str]:
    """``(body, content type)`` answering a scrape with this Accept header: the metrics,
    then the recorders' stats unless ``include_stats`` is False.

    Awaits the async snapshot twin, so the caller's loop keeps running whichever loop
    owns the source (on the owning loop itself it is served inline).
    """
    from ..runtime import MetricsRuntime  # here: the runtime imports this module

    fmt, content_type = choose_format(accept)
    openmetrics = fmt == "openmetrics"
    snapshots = await source.aget_metric_snapshots(timeout=timeout)
    # Stats read after the snapshots, so that they account for every event in them.
    problems = problems_of(source)  # counted across the source's scrapes
    if isinstance(source, MetricsRuntime):
        text = render_runtime_snapshots(
            snapshots,
            openmetrics=openmetrics,
            stats=source.get_stats() if include_stats else None,
            problems=problems,
        )
    else:
        text = render_snapshots(
            snapshots,
            openmetrics=openmetrics,
            stats=recorder_stats(source) if include_stats else None,
            problems=problems,
        )
    return text.encode("utf-8"), content_type
