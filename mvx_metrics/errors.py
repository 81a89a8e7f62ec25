"""Every error mvx_metrics raises on purpose.

Internal: not part of the public API; import these errors from :mod:`mvx_metrics`.

Hierarchy::

    MetricsError                          reason, details, cause on every instance
    +-- MetricsRecorderError
    |   +-- MetricsRecorderLoopUnavailableError    no running loop where one is required
    |   +-- MetricsRecorderInvalidStateError       call not allowed in the current state
    |   +-- MetricsRecorderOverflowError           pending-event limit reached
    |   +-- MetricsRecorderTimeoutError            a bounded wait ran out (also a TimeoutError)
    |   +-- MetricsRecorderDeadlockError           a blocking wait on the owning loop's thread
    |   +-- MetricsRecorderOnStartingHookFailedError
    |   +-- MetricsRecorderOnStoppedHookFailedError
    |   +-- MetricsRecorderMetricFailedError       a metric raised under metric_error_policy=FAIL
    |   +-- MetricsRecorderCancelledError          the host ended the owning loop without stop()
    |   +-- MetricsRecorderUnexpectedError         a foreign error, wrapped
    +-- MetricsRuntimeError
    |   +-- MetricsRuntimeInvalidStateError
    |   +-- MetricsRuntimeStartupError
    |   +-- MetricsRuntimeShutdownError
    |   +-- MetricsRuntimeTimeoutError             (also a TimeoutError)
    |   +-- MetricsRuntimeDeadlockError            a blocking call made on the runtime's own thread
    |   +-- MetricsRuntimeRecorderError            about one recorder (details["recorder_id"])
    |   |   +-- MetricsRuntimeRecorderAlreadyExistsError
    |   |   +-- MetricsRuntimeRecorderNotFoundError    (also a LookupError)
    |   |   +-- MetricsRuntimeRecorderStartupError
    |   |   +-- MetricsRuntimeRecorderStopError
    |   +-- MetricsRuntimeUnexpectedError          a foreign error, wrapped
    +-- MetricsMetricError
        +-- MetricValueError                       a built-in metric rejected one event
                                                   (also a ValueError; the recorder counts it)

Errors caused by the caller (bad arguments) are plain ``ValueError``/``TypeError``, as
in the standard library. ``reason`` is a stable code meant for logs and alerts; the message
is for humans and may change.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MetricValueError",
    "MetricsError",
    "MetricsMetricError",
    "MetricsRecorderCancelledError",
    "MetricsRecorderDeadlockError",
    "MetricsRecorderError",
    "MetricsRecorderInvalidStateError",
    "MetricsRecorderLoopUnavailableError",
    "MetricsRecorderMetricFailedError",
    "MetricsRecorderOnStartingHookFailedError",
    "MetricsRecorderOnStoppedHookFailedError",
    "MetricsRecorderOverflowError",
    "MetricsRecorderTimeoutError",
    "MetricsRecorderUnexpectedError",
    "MetricsRuntimeDeadlockError",
    "MetricsRuntimeError",
    "MetricsRuntimeInvalidStateError",
    "MetricsRuntimeRecorderAlreadyExistsError",
    "MetricsRuntimeRecorderError",
    "MetricsRuntimeRecorderNotFoundError",
    "MetricsRuntimeRecorderStartupError",
    "MetricsRuntimeRecorderStopError",
    "MetricsRuntimeShutdownError",
    "MetricsRuntimeStartupError",
    "MetricsRuntimeTimeoutError",
    "MetricsRuntimeUnexpectedError",
]


class MetricsError(Exception):
    """Base of every error the package raises on purpose.

    ``reason`` is a stable machine-readable code, ``details`` a dict of context values and
    ``cause`` the foreign exception this one wraps (also set as ``__cause__`` when raised
    with ``raise ... from``).
    """

    default_reason = "metrics_error"
    default_message = "metrics error"

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        self.reason: str = reason or self.default_reason
        self.details: dict[str, Any] = dict(details or {})
        self.cause: BaseException | None = cause
        text = message or self.default_message
        if cause is not None and message is None:
            text = f"{text}: {type(cause).__name__}: {cause}"
        super().__init__(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, reason={self.reason!r})"


# --- recorder -------------------------------------------------------------------------


class MetricsRecorderError(MetricsError):
    """Base of errors raised by recorders; ``details["entity_id"]``, where present, is the
    recorder's :attr:`~mvx_metrics.MetricsRecorder.entity_id`."""

    default_reason = "recorder_error"
    default_message = "metrics recorder error"


class MetricsRecorderLoopUnavailableError(MetricsRecorderError):
    """A recorder was created where no suitable event loop is running."""

    default_reason = "loop_unavailable"
    default_message = "a recorder must be created inside a running event loop"


class MetricsRecorderInvalidStateError(MetricsRecorderError):
    """The call is not allowed in the recorder's current state."""

    default_reason = "invalid_state"
    default_message = "operation not allowed in the recorder's current state"


class MetricsRecorderOverflowError(MetricsRecorderError):
    """The pending-event limit was reached; the event was not accepted (and was counted)."""

    default_reason = "queue_overflow"
    default_message = "recorder pending-event limit reached; event rejected"


class MetricsRecorderTimeoutError(MetricsRecorderError, TimeoutError):
    """A bounded wait on a recorder ran out of time."""

    default_reason = "timeout"
    default_message = "timed out waiting for the recorder"


class MetricsRecorderDeadlockError(MetricsRecorderError):
    """A blocking wait was issued on the owning loop's own thread for work that loop must do."""

    default_reason = "deadlock"
    default_message = (
        "blocking wait on the recorder's own event-loop thread would deadlock; "
        "use the async twin (await ...) instead"
    )


class MetricsRecorderOnStartingHookFailedError(MetricsRecorderError):
    """``_on_starting()`` raised; the recorder is in FAILURE."""

    default_reason = "on_starting_hook_failed"
    default_message = "recorder _on_starting() hook failed"


class MetricsRecorderOnStoppedHookFailedError(MetricsRecorderError):
    """``_on_stopped()`` raised; the recorder is in FAILURE (events were processed first)."""

    default_reason = "on_stopped_hook_failed"
    default_message = "recorder _on_stopped() hook failed"


class MetricsRecorderMetricFailedError(MetricsRecorderError):
    """A metric or ``_on_metric_changed`` raised while ``metric_error_policy`` is FAIL."""

    default_reason = "metric_failed"
    default_message = "a metric failed under metric_error_policy=FAIL"


class MetricsRecorderCancelledError(MetricsRecorderError):
    """The host ended the owning loop without ``stop()`` (an asyncio loop shut down, a trio
    run ended), or cancelled a task of the recorder."""

    default_reason = "cancelled"
    default_message = "recorder was cancelled by its host"


class MetricsRecorderUnexpectedError(MetricsRecorderError):
    """A foreign exception escaped recorder machinery; see ``cause``."""

    default_reason = "unexpected"
    default_message = "unexpected recorder error"


# --- runtime --------------------------------------------------------------------------


class MetricsRuntimeError(MetricsError):
    """Base of errors raised by ``MetricsRuntime``."""

    default_reason = "runtime_error"
    default_message = "metrics runtime error"


class MetricsRuntimeInvalidStateError(MetricsRuntimeError):
    """The call is not allowed in the runtime's current state."""

    default_reason = "invalid_state"
    default_message = "operation not allowed in the runtime's current state"


class MetricsRuntimeStartupError(MetricsRuntimeError):
    """The runtime thread or its event loop could not be started."""

    default_reason = "startup_failed"
    default_message = "metrics runtime failed to start"


class MetricsRuntimeShutdownError(MetricsRuntimeError):
    """Shutdown finished, but not cleanly (see ``details``)."""

    default_reason = "shutdown_failed"
    default_message = "metrics runtime did not shut down cleanly"


class MetricsRuntimeTimeoutError(MetricsRuntimeError, TimeoutError):
    """A bounded wait on the runtime ran out of time."""

    default_reason = "timeout"
    default_message = "timed out waiting for the metrics runtime"


class MetricsRuntimeDeadlockError(MetricsRuntimeError):
    """A blocking runtime call was made from the runtime's own loop thread."""

    default_reason = "deadlock"
    default_message = (
        "blocking MetricsRuntime call made on the runtime's own event-loop thread would deadlock"
    )


class MetricsRuntimeRecorderError(MetricsRuntimeError):
    """Base of the runtime's errors about one recorder; ``details["recorder_id"]`` names it
    by its recorder id (the runtime's key for it, as given to ``create_recorder``)."""

    default_reason = "recorder_error"
    default_message = "metrics runtime recorder error"

    @property
    def recorder_id(self) -> str | None:
        """The recorder id of the recorder concerned, when known."""
        value = self.details.get("recorder_id")
        return value if isinstance(value, str) else None


class MetricsRuntimeRecorderAlreadyExistsError(MetricsRuntimeRecorderError):
    """A recorder with this recorder id already exists in the runtime."""

    default_reason = "recorder_already_exists"
    default_message = "a recorder with this recorder id already exists"


class MetricsRuntimeRecorderNotFoundError(MetricsRuntimeRecorderError, LookupError):
    """No recorder with this recorder id exists in the runtime."""

    default_reason = "recorder_not_found"
    default_message = "no recorder with this recorder id"


class MetricsRuntimeRecorderStartupError(MetricsRuntimeRecorderError):
    """A runtime-created recorder failed to start."""

    default_reason = "recorder_startup_failed"
    default_message = "recorder failed to start"


class MetricsRuntimeRecorderStopError(MetricsRuntimeRecorderError):
    """A runtime-managed recorder failed to stop cleanly."""

    default_reason = "recorder_stop_failed"
    default_message = "recorder failed to stop"


class MetricsRuntimeUnexpectedError(MetricsRuntimeError):
    """A foreign exception escaped runtime machinery; see ``cause``."""

    default_reason = "unexpected"
    default_message = "unexpected metrics runtime error"


# --- metrics --------------------------------------------------------------------------


class MetricsMetricError(MetricsError):
    """Base of errors raised by the built-in metrics while handling an event."""

    default_reason = "metric_error"
    default_message = "metric error"


class MetricValueError(MetricsMetricError, ValueError):
    """A built-in metric could not use an event; its state is unchanged.

    Raised from ``handle_event``, so the recorder isolates it and counts it in
    ``get_stats().metric_errors[metric_name]``. ``details`` holds ``metric``, ``event_type``
    and ``attribute`` (the attribute name, or the callable's name). ``reason`` is one of
    ``unknown_attribute`` (the event has no such attribute), ``not_a_number`` (the value is
    not a real number; bools are refused too), ``nan_value``, ``infinite_value`` (for metrics
    that need finite values), ``negative_increment`` (a ``Counter`` only goes up) and
    ``bad_labels`` (a label callable returned something unusable).
    """

    default_reason = "bad_value"
    default_message = "metric rejected an event value"
