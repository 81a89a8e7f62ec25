"""The runtime: a thread with its own event loop hosting recorders."""

from .runtime import MetricsRuntime as MetricsRuntime
from .state import RuntimeState as RuntimeState

__all__ = ["MetricsRuntime", "RuntimeState"]
