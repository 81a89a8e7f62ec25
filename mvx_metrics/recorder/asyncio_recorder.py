"""``AsyncioMetricsRecorder``: the recorder bound to an asyncio (or uvloop) loop.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from typing import ClassVar

from .recorder import MetricsRecorder

__all__ = ["AsyncioMetricsRecorder"]


class AsyncioMetricsRecorder(MetricsRecorder):
    """A :class:`MetricsRecorder` that must be created inside a running asyncio loop.

    This is the class ``MetricsRuntime`` creates. Created from trio code it raises
    ``MetricsRecorderLoopUnavailableError``.
    """

    __slots__ = ()  # see MetricsRecorder's

    _required_library: ClassVar[str | None] = "asyncio"
