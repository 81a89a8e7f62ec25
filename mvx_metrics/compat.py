"""The public names of ``mvx.common.metrics`` 0.3, bound to this package's classes.

A program written for mvx-common 0.3 runs on mvx_metrics after changing only its import::

    from mvx.common.metrics import MetricsRuntime, Metric, MetricEvent   # before
    from mvx_metrics.compat import MetricsRuntime, Metric, MetricEvent   # after

``__all__`` holds exactly the names in mvx-common 0.3's ``__all__`` (sorted). Most names
are plain aliases of mvx_metrics classes (``AsyncioMetricsRecorderState is RecorderState``),
so objects and errors from either spelling are interchangeable. Where mvx-common has something
mvx_metrics lacks, the closest faithful equivalent is defined here, and its docstring says
what differs:

- ``AsyncioMetricsRecorder`` and ``MetricsRuntime`` are thin subclasses that accept (and
  keep, but do not log to) mvx-common's ``log_context`` argument.
- ``MetricsRuntimeLoopUnavailableError`` is defined but never raised (mvx_metrics reports a
  missing loop as an invalid state or a startup error).
- The ``...LogPolicyMode`` enums and ``..._event_policy[_config]`` functions choose the
  level of the standard-library loggers ``mvx_metrics.recorder`` and ``mvx_metrics.runtime``.

Behavioural differences between the two libraries are listed in ``docs/migration.md``.
New code should import from :mod:`mvx_metrics` directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import MetricsRecorderCancelledError as _MetricsRecorderCancelledError
from .errors import MetricsRecorderError as _MetricsRecorderError
from .errors import MetricsRecorderInvalidStateError as _MetricsRecorderInvalidStateError
from .errors import MetricsRecorderLoopUnavailableError as _MetricsRecorderLoopUnavailableError
from .errors import (
    MetricsRecorderOnStartingHookFailedError as _MetricsRecorderOnStartingHookFailedError,
)
from .errors import (
    MetricsRecorderOnStoppedHookFailedError as _MetricsRecorderOnStoppedHookFailedError,
)
from .errors import MetricsRecorderOverflowError as _MetricsRecorderOverflowError
from .errors import MetricsRecorderUnexpectedError as _MetricsRecorderUnexpectedError
from .errors import MetricsRuntimeError as _MetricsRuntimeError
from .errors import MetricsRuntimeInvalidStateError as _MetricsRuntimeInvalidStateError
from .errors import (
    MetricsRuntimeRecorderAlreadyExistsError as _MetricsRuntimeRecorderAlreadyExistsError,
)
from .errors import MetricsRuntimeRecorderError as _MetricsRuntimeRecorderError
from .errors import MetricsRuntimeRecorderNotFoundError as _MetricsRuntimeRecorderNotFoundError
from .errors import MetricsRuntimeRecorderStartupError as _MetricsRuntimeRecorderStartupError
from .errors import MetricsRuntimeRecorderStopError as _MetricsRuntimeRecorderStopError
from .errors import MetricsRuntimeShutdownError as _MetricsRuntimeShutdownError
from .errors import MetricsRuntimeStartupError as _MetricsRuntimeStartupError
from .errors import MetricsRuntimeUnexpectedError as _MetricsRuntimeUnexpectedError
from .events import MetricEvent as _MetricEvent
from .metrics.base import Metric as _Metric
from .recorder.asyncio_recorder import AsyncioMetricsRecorder as _AsyncioMetricsRecorder
from .recorder.policies import OverflowPolicy
from .recorder.protocol import MetricsRecorderProto as _MetricsRecorderProto
from .recorder.results import Operation as _Operation
from .recorder.results import OpResult as _OpResult
from .recorder.results import WaitHandle as _WaitHandle
from .recorder.state import RecorderState as _RecorderState
from .runtime.runtime import MetricsRuntime as _MetricsRuntime
from .runtime.state import RuntimeState as _RuntimeState

__all__ = [
    "AsyncioMetricsRecorder",
    "AsyncioMetricsRecorderDispatcherCancelledError",
    "AsyncioMetricsRecorderError",
    "AsyncioMetricsRecorderInvalidStateError",
    "AsyncioMetricsRecorderLogPolicyMode",
    "AsyncioMetricsRecorderLoopUnavailableError",
    "AsyncioMetricsRecorderOnStartingHookFailedError",
    "AsyncioMetricsRecorderOnStoppedHookFailedError",
    "AsyncioMetricsRecorderOp",
    "AsyncioMetricsRecorderOpResult",
    "AsyncioMetricsRecorderQueueOverflowError",
    "AsyncioMetricsRecorderQueueOverflowPolicy",
    "AsyncioMetricsRecorderState",
    "AsyncioMetricsRecorderUnexpectedError",
    "AsyncioMetricsRecorderWaitHandle",
    "Metric",
    "MetricEvent",
    "MetricsRecorderProto",
    "MetricsRuntime",
    "MetricsRuntimeError",
    "MetricsRuntimeInvalidStateError",
    "MetricsRuntimeLogPolicyMode",
    "MetricsRuntimeLoopUnavailableError",
    "MetricsRuntimeRecorderAlreadyExistsError",
    "MetricsRuntimeRecorderError",
    "MetricsRuntimeRecorderNotFoundError",
    "MetricsRuntimeRecorderStartupError",
    "MetricsRuntimeRecorderStopError",
    "MetricsRuntimeShutdownError",
    "MetricsRuntimeStartupError",
    "MetricsRuntimeState",
    "MetricsRuntimeUnexpectedError",
    "asyncio_metrics_recorder_event_policy",
    "asyncio_metrics_recorder_event_policy_config",
    "metrics_runtime_event_policy",
    "metrics_runtime_event_policy_config",
]

# --- events, metrics, the protocol: the same concepts ---------------------------------------

# mvx-common's MetricEvent.event_type is abstract; ours defaults to the class's qualified
# name. Subclasses that override it (as mvx-common required) behave the same.
Metric = _Metric
MetricEvent = _MetricEvent
MetricsRecorderProto = _MetricsRecorderProto

# --- recorder values ------------------------------------------------------------------------

AsyncioMetricsRecorderState = _RecorderState
#: Same members (DROP, RAISE_ERROR) and values, plus BLOCK.
AsyncioMetricsRecorderQueueOverflowPolicy = OverflowPolicy
AsyncioMetricsRecorderOp = _Operation
#: The field is ``op``; ``op_name`` (mvx-common's field name) is a read-only alias.
AsyncioMetricsRecorderOpResult = _OpResult
#: ``wait()`` takes an optional timeout (mvx-common's waits forever).
AsyncioMetricsRecorderWaitHandle = _WaitHandle

# --- recorder errors --------------------------------------------------------------------------
# Aliases: what the recorder raises is caught by either spelling. The attributes are
# mvx_metrics's (``reason``, ``details``, ``cause``); see docs/migration.md.

AsyncioMetricsRecorderError = _MetricsRecorderError
AsyncioMetricsRecorderLoopUnavailableError = _MetricsRecorderLoopUnavailableError
AsyncioMetricsRecorderInvalidStateError = _MetricsRecorderInvalidStateError
AsyncioMetricsRecorderOnStartingHookFailedError = _MetricsRecorderOnStartingHookFailedError
AsyncioMetricsRecorderOnStoppedHookFailedError = _MetricsRecorderOnStoppedHookFailedError
AsyncioMetricsRecorderQueueOverflowError = _MetricsRecorderOverflowError
AsyncioMetricsRecorderDispatcherCancelledError = _MetricsRecorderCancelledError
AsyncioMetricsRecorderUnexpectedError = _MetricsRecorderUnexpectedError

# --- runtime values and errors ----------------------------------------------------------------

MetricsRuntimeState = _RuntimeState
MetricsRuntimeError = _MetricsRuntimeError
MetricsRuntimeInvalidStateError = _MetricsRuntimeInvalidStateError
MetricsRuntimeStartupError = _MetricsRuntimeStartupError
MetricsRuntimeShutdownError = _MetricsRuntimeShutdownError
MetricsRuntimeRecorderStartupError = _MetricsRuntimeRecorderStartupError
MetricsRuntimeRecorderAlreadyExistsError = _MetricsRuntimeRecorderAlreadyExistsError
MetricsRuntimeRecorderNotFoundError = _MetricsRuntimeRecorderNotFoundError
MetricsRuntimeRecorderStopError = _MetricsRuntimeRecorderStopError
MetricsRuntimeRecorderError = _MetricsRuntimeRecorderError
MetricsRuntimeUnexpectedError = _MetricsRuntimeUnexpectedError


class MetricsRuntimeLoopUnavailableError(_MetricsRuntimeError):
    """mvx-common's "the runtime event loop is not available". Never raised by mvx_metrics.

    In mvx-common 0.3 it signals a runtime that is RUNNING without a loop, a state its own
    code cannot reach in practice. mvx_metrics reports a runtime without a usable loop as
    ``MetricsRuntimeInvalidStateError`` (the runtime is not RUNNING) or
    ``MetricsRuntimeStartupError`` (the loop thread failed to start): catch those. The class
    exists so that ``except MetricsRuntimeLoopUnavailableError:`` clauses keep importing.
    """

    default_reason = "loop_unavailable"
    default_message = "the metrics runtime's event loop is not available"


# --- logging policies -------------------------------------------------------------------------


class AsyncioMetricsRecorderLogPolicyMode(StrEnum):
    """How much the recorders log. Same members and values as mvx-common 0.3.

    mvx-common selects structured log events by name for its own ``LogContext``;
    mvx_metrics logs through the standard ``logging`` module, so each mode maps to a level
    of the ``mvx_metrics.recorder`` logger (see
    :func:`asyncio_metrics_recorder_event_policy_config`).
    """

    #: Nothing (level above CRITICAL).
    SILENT = "silent"
    #: Lifecycle records and errors (level INFO).
    NORMAL = "normal"
    #: Everything, including per-call detail (level DEBUG).
    INSPECTION = "inspection"


class MetricsRuntimeLogPolicyMode(StrEnum):
    """How much the runtime logs. Same members and values as mvx-common 0.3.

    Maps to a level of the ``mvx_metrics.runtime`` logger (see
    :func:`metrics_runtime_event_policy_config`).
    """

    #: Nothing (level above CRITICAL).
    SILENT = "silent"
    #: Lifecycle records and errors (level INFO).
    NORMAL = "normal"
    #: Everything, including per-call detail (level DEBUG).
    INSPECTION = "inspection"


_LEVELS: dict[str, int] = {
    "silent": logging.CRITICAL + 1,
    "normal": logging.INFO,
    "inspection": logging.DEBUG,
}

# mvx-common 0.3's structured event names, per mode (what its policies allow).
_RECORDER_EVENTS: dict[str, tuple[str, ...]] = {
    "silent": (),
    "normal": (
        "asyncio_metrics_recorder.start",
        "asyncio_metrics_recorder.stop",
        "asyncio_metrics_recorder.register_metric",
        "metrics_recorder.dispatch_error",
        "metrics_recorder.cleanup.task_creation_error",
        "metrics_recorder.cleanup.failed",
    ),
}
_RECORDER_EVENTS["inspection"] = (
    *_RECORDER_EVENTS["normal"],
    "asyncio_metrics_recorder.get_metric_snapshots",
    "asyncio_metrics_recorder.iter_metrics",
)
_RUNTIME_EVENTS: dict[str, tuple[str, ...]] = {
    "silent": (),
    "normal": (
        "metrics_runtime.start",
        "metrics_runtime.shutdown",
        "metrics_runtime.create_recorder",
        "metrics_runtime.stop_recorder",
        "metrics_runtime.stop_and_remove_recorder",
    ),
}
_RUNTIME_EVENTS["inspection"] = (
    *_RUNTIME_EVENTS["normal"],
    "metrics_runtime.get_recorder",
    "metrics_runtime.try_get_recorder",
    "metrics_runtime.list_recorder_ids",
)


@dataclass(frozen=True, slots=True)
class LoggingPolicyConfig:
    """What an mvx-common log-policy mode means for mvx_metrics (not in ``__all__``).

    Replaces mvx-common's ``PatternLogEventPolicyConfig``: ``logger_name`` and ``level`` are
    the standard-library logger and level the mode maps to; ``events`` are the mvx-common
    event names the mode allowed, kept for :meth:`LoggingPolicy.is_event_enabled`.
    """

    mode: str
    logger_name: str
    level: int
    events: tuple[str, ...]


class LoggingPolicy(logging.Filter):
    """An mvx-common log policy, expressed with the ``logging`` module (not in ``__all__``).

    Replaces mvx-common's ``PatternLogEventPolicy``. Use it in one of two ways:

    - ``policy.apply()`` sets the level of its logger (``mvx_metrics.recorder`` or
      ``mvx_metrics.runtime``);
    - ``handler.addFilter(policy)`` drops that logger's records below the level on one
      handler only, and lets every other logger's records through.

    It also has mvx-common's ``is_event_enabled(event)``, so it is still accepted where a
    ``LogEventPolicyProto`` is expected; mvx_metrics itself never emits such events.
    """

    def __init__(self, config: LoggingPolicyConfig) -> None:
        if not isinstance(config, LoggingPolicyConfig):
            raise TypeError(
                f"argument 'config' must be a LoggingPolicyConfig, got {type(config).__name__}"
            )
        super().__init__()
        self.config = config

    @property
    def level(self) -> int:
        """The ``logging`` level the mode maps to."""
        return self.config.level

    @property
    def logger_name(self) -> str:
        """The mvx_metrics logger the policy is about."""
        return self.config.logger_name

    def apply(self) -> None:
        """Set the level of :attr:`logger_name` to :attr:`level`."""
        logging.getLogger(self.config.logger_name).setLevel(self.config.level)

    def filter(self, record: logging.LogRecord) -> bool:
        """As a handler filter: False for this logger's records below the level."""
        name = self.config.logger_name
        if record.name != name and not record.name.startswith(name + "."):
            return True
        return record.levelno >= self.config.level

    def is_event_enabled(self, event: Any) -> bool:
        """mvx-common's policy check: is this ``LogEventMeta`` one the mode allowed?"""
        name = getattr(event, "event_name", None)
        if not isinstance(name, str):
            return False
        namespace = getattr(event, "event_namespace", None)
        key = f"{namespace}.{name}" if namespace else name
        return key in self.config.events

    def __repr__(self) -> str:
        return (
            f"<LoggingPolicy {self.config.logger_name} mode={self.config.mode} "
            f"level={logging.getLevelName(self.config.level)}>"
        )


def _policy_config(
    mode: object, modes: type[StrEnum], logger_name: str, events: dict[str, tuple[str, ...]]
) -> LoggingPolicyConfig:
    if not isinstance(mode, modes):
        raise TypeError(f"argument 'mode' must be a {modes.__name__} member, got {mode!r}")
    return LoggingPolicyConfig(
        mode=mode.value,
        logger_name=logger_name,
        level=_LEVELS[mode.value],
        events=events[mode.value],
    )


def asyncio_metrics_recorder_event_policy_config(
    *,
    mode: AsyncioMetricsRecorderLogPolicyMode = AsyncioMetricsRecorderLogPolicyMode.NORMAL,
) -> LoggingPolicyConfig:
    """The recorder log policy for ``mode``, as data.

    mvx-common returns a ``PatternLogEventPolicyConfig`` for its ``LogContext``; this returns
    a :class:`LoggingPolicyConfig` for the ``mvx_metrics.recorder`` logger: SILENT -> above
    CRITICAL, NORMAL -> INFO, INSPECTION -> DEBUG. A ``mode`` that is not an
    ``AsyncioMetricsRecorderLogPolicyMode`` raises ``TypeError``, as in mvx-common.
    """
    return _policy_config(
        mode, AsyncioMetricsRecorderLogPolicyMode, "mvx_metrics.recorder", _RECORDER_EVENTS
    )


def asyncio_metrics_recorder_event_policy(
    *,
    mode: AsyncioMetricsRecorderLogPolicyMode = AsyncioMetricsRecorderLogPolicyMode.NORMAL,
) -> LoggingPolicy:
    """The recorder log policy for ``mode``: a :class:`LoggingPolicy`.

    Building it changes nothing (as in mvx-common); call ``.apply()`` to set the
    ``mvx_metrics.recorder`` logger's level, or add it to a handler as a filter.
    """
    return LoggingPolicy(asyncio_metrics_recorder_event_policy_config(mode=mode))


def metrics_runtime_event_policy_config(
    *,
    mode: MetricsRuntimeLogPolicyMode = MetricsRuntimeLogPolicyMode.NORMAL,
) -> LoggingPolicyConfig:
    """The runtime log policy for ``mode``, as data.

    Like :func:`asyncio_metrics_recorder_event_policy_config`, for the
    ``mvx_metrics.runtime`` logger.
    """
    return _policy_config(mode, MetricsRuntimeLogPolicyMode, "mvx_metrics.runtime", _RUNTIME_EVENTS)


def metrics_runtime_event_policy(
    *,
    mode: MetricsRuntimeLogPolicyMode = MetricsRuntimeLogPolicyMode.NORMAL,
) -> LoggingPolicy:
    """The runtime log policy for ``mode``: a :class:`LoggingPolicy`.

    Building it changes nothing; call ``.apply()`` to set the ``mvx_metrics.runtime``
    logger's level, or add it to a handler as a filter.
    """
    return LoggingPolicy(metrics_runtime_event_policy_config(mode=mode))


# --- the recorder and the runtime ------------------------------------------------------------


class AsyncioMetricsRecorder(_AsyncioMetricsRecorder):
    """mvx_metrics's ``AsyncioMetricsRecorder`` with mvx-common 0.3's constructor.

    The extra ``log_context`` argument (an mvx-common ``LogContext``) is accepted and kept:
    :meth:`get_log_context` returns it. It is not logged to: mvx_metrics logs through the
    standard ``logging`` module (logger ``mvx_metrics.recorder``); pick the verbosity with
    ``asyncio_metrics_recorder_event_policy(mode=...).apply()``. Unlike mvx-common, the
    argument's type is not checked, so mvx-common need not be installed.

    Everything else is mvx_metrics's recorder, with its extra keyword arguments
    (``metric_error_policy``, ``queue_block_timeout``, ``timeout``) and its behaviour
    (see docs/migration.md).
    """

    def __init__(
        self, entity_id: str, *, log_context: object | None = None, **options: Any
    ) -> None:
        # Everything but log_context goes to the base class unchanged, so that both keep
        # the same arguments and checks without restating them here.
        super().__init__(entity_id, **options)
        self._compat_log_context: object | None = log_context

    def get_log_context(self) -> object | None:
        """The ``log_context`` given at construction (or inherited from the runtime), or None."""
        return self._compat_log_context


class MetricsRuntime(_MetricsRuntime):
    """mvx_metrics's ``MetricsRuntime`` with mvx-common 0.3's constructor and recorders.

    - ``log_context`` is accepted and kept (:meth:`get_log_context`; recorders created
      without one inherit it, as in mvx-common) but not logged to: the runtime logs to
      the standard ``logging`` logger ``mvx_metrics.runtime``.
    - :meth:`create_recorder` creates the compat :class:`AsyncioMetricsRecorder`, so
      ``isinstance(recorder, AsyncioMetricsRecorder)`` holds with the compat name.
    - ``entity_id`` is the runtime's namespace, as in mvx-common (a recorder's
      ``entity_id`` is the recorder's own identity: see docs/reference.md, Terms).

    ``namespace`` may be omitted (mvx-common requires it). Everything else is mvx_metrics's
    runtime, with its extra keyword arguments and behaviour (see docs/migration.md).
    """

    def __init__(self, *, log_context: object | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._compat_log_context: object | None = log_context

    @property
    def entity_id(self) -> str:
        """The runtime's namespace, under mvx-common 0.3's name for it."""
        return self.namespace

    def get_log_context(self) -> object | None:
        """The ``log_context`` given at construction, or None."""
        return self._compat_log_context

    def create_recorder(
        self,
        recorder_id: str,
        *,
        log_context: object | None = None,
        recorder_class: type[_AsyncioMetricsRecorder] | None = None,
        **options: Any,
    ) -> _AsyncioMetricsRecorder:
        """Create and start a recorder (the compat class unless ``recorder_class`` is given).

        ``log_context`` defaults to the runtime's and is kept on the recorder when it is a
        compat :class:`AsyncioMetricsRecorder`; the other arguments are the base class's.
        """
        recorder = super().create_recorder(
            recorder_id, recorder_class=recorder_class or AsyncioMetricsRecorder, **options
        )
        if isinstance(recorder, AsyncioMetricsRecorder):
            recorder._compat_log_context = (
                log_context if log_context is not None else self._compat_log_context
            )
        return recorder
