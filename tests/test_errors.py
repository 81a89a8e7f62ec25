"""The error hierarchy: families, reasons, details and causes."""

from __future__ import annotations

import pytest

import mvx_metrics as m

RECORDER_ERRORS = [
    m.MetricsRecorderLoopUnavailableError,
    m.MetricsRecorderInvalidStateError,
    m.MetricsRecorderOverflowError,
    m.MetricsRecorderTimeoutError,
    m.MetricsRecorderDeadlockError,
    m.MetricsRecorderOnStartingHookFailedError,
    m.MetricsRecorderOnStoppedHookFailedError,
    m.MetricsRecorderMetricFailedError,
    m.MetricsRecorderCancelledError,
    m.MetricsRecorderUnexpectedError,
]
RUNTIME_ERRORS = [
    m.MetricsRuntimeInvalidStateError,
    m.MetricsRuntimeStartupError,
    m.MetricsRuntimeShutdownError,
    m.MetricsRuntimeTimeoutError,
    m.MetricsRuntimeDeadlockError,
    m.MetricsRuntimeRecorderError,
    m.MetricsRuntimeRecorderAlreadyExistsError,
    m.MetricsRuntimeRecorderNotFoundError,
    m.MetricsRuntimeRecorderStartupError,
    m.MetricsRuntimeRecorderStopError,
    m.MetricsRuntimeUnexpectedError,
]


@pytest.mark.parametrize("cls", RECORDER_ERRORS)
def test_recorder_errors_belong_to_the_recorder_family(cls: type[m.MetricsError]) -> None:
    assert issubclass(cls, m.MetricsRecorderError) and issubclass(cls, m.MetricsError)
    assert cls.__name__.startswith("MetricsRecorder")


@pytest.mark.parametrize("cls", RUNTIME_ERRORS)
def test_runtime_errors_belong_to_the_runtime_family(cls: type[m.MetricsError]) -> None:
    assert issubclass(cls, m.MetricsRuntimeError) and issubclass(cls, m.MetricsError)
    assert cls.__name__.startswith("MetricsRuntime")


@pytest.mark.parametrize("cls", RECORDER_ERRORS + RUNTIME_ERRORS)
def test_every_error_carries_reason_details_and_cause(cls: type[m.MetricsError]) -> None:
    plain = cls()
    assert plain.reason == cls.default_reason and plain.details == {} and plain.cause is None
    cause = OSError("disk")
    wrapped = cls(details={"k": 1}, cause=cause, reason="custom")
    assert (wrapped.reason, wrapped.details, wrapped.cause) == ("custom", {"k": 1}, cause)
    assert "OSError: disk" in str(wrapped)
    assert cls.__name__ in repr(wrapped)


def test_timeouts_are_timeout_errors() -> None:
    assert issubclass(m.MetricsRecorderTimeoutError, TimeoutError)
    assert issubclass(m.MetricsRuntimeTimeoutError, TimeoutError)


def test_reason_codes_are_distinct_within_a_family() -> None:
    for family in (RECORDER_ERRORS, RUNTIME_ERRORS):
        reasons = [cls.default_reason for cls in family]
        assert len(set(reasons)) == len(reasons)
