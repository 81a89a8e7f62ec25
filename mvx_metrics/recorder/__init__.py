"""Recorders: the hand-off, processing, lifecycle and their public values."""

from .asyncio_recorder import AsyncioMetricsRecorder as AsyncioMetricsRecorder
from .policies import MetricErrorPolicy as MetricErrorPolicy
from .policies import OverflowPolicy as OverflowPolicy
from .protocol import MetricsRecorderProto as MetricsRecorderProto
from .recorder import MetricsRecorder as MetricsRecorder
from .results import Operation as Operation
from .results import OpResult as OpResult
from .results import WaitHandle as WaitHandle
from .state import RecorderState as RecorderState
from .stats import RecorderStats as RecorderStats

__all__ = [
    "AsyncioMetricsRecorder",
    "MetricErrorPolicy",
    "MetricsRecorder",
    "MetricsRecorderProto",
    "OpResult",
    "Operation",
    "OverflowPolicy",
    "RecorderState",
    "RecorderStats",
    "WaitHandle",
]
