"""The runtime: a thread with its own event loop hosting recorders.

Internal: not part of the public API; import ``MetricsRuntime`` and ``RuntimeState``
from :mod:`mvx_metrics`. The parts: :mod:`.runtime` (``MetricsRuntime``: the public
methods), :mod:`.recorders` (the recorders it hosts, by recorder id),
:mod:`.loop_thread` (its thread and event loop, and blocking calls into them) and
:mod:`.state` (its lifecycle).
"""

from .runtime import MetricsRuntime as MetricsRuntime
from .state import RuntimeState as RuntimeState

__all__ = ["MetricsRuntime", "RuntimeState"]
