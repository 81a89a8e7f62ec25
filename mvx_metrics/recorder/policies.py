"""Policies a recorder is configured with.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PROPAGATED_EXCEPTIONS", "MetricErrorPolicy", "OverflowPolicy"]

#: What metric code may raise that no policy isolates: the recorder ends in FAILURE and
#: the exception goes on to the host, as Python means it to (Ctrl-C, ``sys.exit()``).
#: Any other exception, ``BaseException`` subclasses included, is a metric error.
PROPAGATED_EXCEPTIONS: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)


class OverflowPolicy(StrEnum):
    """What ``register_event`` does when the pending-event limit is reached.

    Whatever the policy, the event that did not fit is counted in ``get_stats().dropped``.
    """

    #: Drop the new event (counted under the reason ``"overflow_dropped"``).
    DROP = "DROP"
    #: Raise ``MetricsRecorderOverflowError`` (counted under ``"overflow_rejected"``).
    RAISE_ERROR = "RAISE_ERROR"
    #: A caller in a foreign thread waits for room up to the block timeout, then gets
    #: ``MetricsRecorderOverflowError``; a caller on the owning loop's thread gets it at
    #: once, since waiting there would stop the very loop that makes room.
    BLOCK = "BLOCK"


class MetricErrorPolicy(StrEnum):
    """What the recorder does when a metric's ``handle_event`` or ``_on_metric_changed`` raises."""

    #: Count the error in the stats, log it, and go on with the other metrics and events.
    ISOLATE = "ISOLATE"
    #: Move the recorder to FAILURE (the behaviour of mvx-common 0.3).
    FAIL = "FAIL"
