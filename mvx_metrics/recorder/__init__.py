"""Recorders: the hand-off, processing, lifecycle and their public values.

Internal: not part of the public API; import public names from :mod:`mvx_metrics`,
which re-exports the ones listed in ``__all__`` here. The parts, one job each:

- :mod:`.recorder` (``MetricsRecorder``) and :mod:`.asyncio_recorder`: lifecycle, the
  hot path and reads, delegating to the modules below;
- :mod:`.handoff`: the one object producers (any thread) and the owning loop share;
- :mod:`.driving` and :mod:`.processing`: when, and how, buffered events are applied on
  the owning loop; :mod:`.plans` and :mod:`.routing`: which metrics see an event, and
  the generated functions that apply a run of them;
- :mod:`.reads`: how a snapshot or a flush reaches the owning loop and comes back;
- :mod:`.state`, :mod:`.policies`, :mod:`.results`, :mod:`.stats`, :mod:`.protocol`:
  the public values (states, policies, ``WaitHandle``, ``RecorderStats``, the protocol);
- :mod:`.captures` and :mod:`.delay`: what a read copies, and how long events wait;
  :mod:`.tables`: the shared empty table a recorder holds until its first entry.

Crossing threads is not done here but in :mod:`mvx_metrics.hops`.
"""

from .asyncio_recorder import AsyncioMetricsRecorder as AsyncioMetricsRecorder
from .policies import MetricErrorPolicy as MetricErrorPolicy
from .policies import OverflowPolicy as OverflowPolicy
from .protocol import MetricsRecorderProto as MetricsRecorderProto
from .recorder import MetricsRecorder as MetricsRecorder
from .results import Operation as Operation
from .results import OpResult as OpResult
from .results import WaitHandle as WaitHandle
from .state import RecorderState as RecorderState
from .stats import ProcessingDelay as ProcessingDelay
from .stats import RecorderStats as RecorderStats

__all__ = [
    "AsyncioMetricsRecorder",
    "MetricErrorPolicy",
    "MetricsRecorder",
    "MetricsRecorderProto",
    "OpResult",
    "Operation",
    "OverflowPolicy",
    "ProcessingDelay",
    "RecorderState",
    "RecorderStats",
    "WaitHandle",
]
