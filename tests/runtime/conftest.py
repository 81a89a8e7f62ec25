from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvx_metrics import MetricsRuntime


@pytest.fixture
def runtime() -> Iterator[MetricsRuntime]:
    rt = MetricsRuntime(namespace="tests", operation_timeout=10.0, shutdown_timeout=10.0)
    rt.start()
    try:
        yield rt
    finally:
        rt.shutdown()
