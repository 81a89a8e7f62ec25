"""Every async test runs on asyncio, asyncio with uvloop, and trio; shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mvx_metrics import MetricsRuntime

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is absent on some platforms
    uvloop = None  # type: ignore[assignment]

_BACKENDS: list[Any] = [pytest.param(("asyncio", {}), id="asyncio")]
if uvloop is not None:
    _BACKENDS.append(
        pytest.param(("asyncio", {"loop_factory": uvloop.new_event_loop}), id="uvloop")
    )
_BACKENDS.append(pytest.param(("trio", {}), id="trio"))


@pytest.fixture(params=_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def runtime() -> Iterator[MetricsRuntime]:
    """A started runtime, shut down after the test. Without the process's metrics, so
    that expositions hold what the test made (tests/export/test_process_metrics.py
    covers them)."""
    rt = MetricsRuntime(
        namespace="tests", operation_timeout=10.0, shutdown_timeout=10.0, process_metrics=False
    )
    rt.start()
    try:
        yield rt
    finally:
        rt.shutdown()
