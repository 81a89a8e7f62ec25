"""Metrics: the ``Metric`` base class (built-in instruments arrive with issue 4)."""

from .base import Metric as Metric

__all__ = ["Metric"]
