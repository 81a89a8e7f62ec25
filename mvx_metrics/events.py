"""The base class of metric events.

Internal: not part of the public API; import ``MetricEvent`` from :mod:`mvx_metrics`.
"""

from __future__ import annotations

__all__ = ["MetricEvent"]


class MetricEvent:
    """Something that happened in production code and may change metrics.

    Write events as small dataclasses::

        @dataclass(slots=True, frozen=True)
        class DocumentSaved(MetricEvent):
            outcome: str
            duration_s: float

    The base class has no fields and empty ``__slots__`` so that slotted subclasses stay
    slotted (no per-instance ``__dict__``) and cheap to allocate on the hot path.
    """

    __slots__ = ()

    @property
    def event_type(self) -> str:
        """A stable name for the kind of event; the class's qualified name by default."""
        return type(self).__qualname__
