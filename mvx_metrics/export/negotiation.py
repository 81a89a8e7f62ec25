"""Accept header -> exposition format, as prometheus_client's ``choose_encoder`` decides.

OpenMetrics is served when the header lists ``application/openmetrics-text`` without a
version or with a 1.x version (we write 1.0.0); anything else gets the text format 0.0.4,
which every Prometheus scraper accepts, so no request is refused. Like prometheus_client,
the first acceptable OpenMetrics entry wins wherever it stands in the header, and a
``version=0.0.1`` entry (the pre-1.0 draft) is passed over. Unlike it, an entry with
``q=0`` (which means "not acceptable") is passed over too, and media types and parameter
names are compared case-insensitively, as HTTP defines them.
"""

from __future__ import annotations

__all__ = ["OPENMETRICS_CONTENT_TYPE", "TEXT_CONTENT_TYPE", "choose_format"]

#: Content type of the Prometheus text format 0.0.4.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Content type of OpenMetrics 1.0.
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"


def choose_format(accept_header: str | None) -> tuple[str, str]:
    """``("openmetrics", content_type)`` or ``("text", content_type)`` for an Accept header."""
    for entry in (accept_header or "").split(","):
        media_type, _, rest = entry.partition(";")
        if media_type.strip().lower() != _OPENMETRICS_MEDIA_TYPE:
            continue
        params = _parameters(rest)
        if _refused(params.get("q")):
            continue
        version = params.get("version", "")
        if not version or version.split(".")[0] == "1":
            return "openmetrics", OPENMETRICS_CONTENT_TYPE
    return "text", TEXT_CONTENT_TYPE


def _parameters(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def _refused(quality: str | None) -> bool:
    if quality is None:
        return False
    try:
        return float(quality) <= 0.0
    except ValueError:  # a malformed weight is ignored rather than refusing the type
        return False
