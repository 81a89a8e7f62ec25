"""The pytest plugin: fixtures for tests of code that emits metrics.

Internal: not part of the public API as a module (import nothing from it): pytest loads
it through the ``pytest11`` entry point, or with ``-p mvx_metrics.testing.pytest_plugin``
where plugin autoloading is off. The fixtures below are the public part.

Installed with the package (entry point ``pytest11``), so that ``pip install
mvx-metrics`` is enough; ``pytest -p no:mvx_metrics`` turns it off.

- ``mvx_runtime``: a fresh :class:`~mvx_metrics.MetricsRuntime` per test, shut down
  after it within :data:`SHUTDOWN_TIMEOUT_S`; the test fails if the shutdown reports a
  problem or leaves the runtime's thread running.
- ``mvx_recorder``: a recorder on that runtime.
- ``mvx_capturing_recorder``: a :class:`~mvx_metrics.testing.CapturingRecorder`, no loop
  and no thread: cheap enough for every example of a hypothesis test (build one inside
  the test body, as fixtures are not reset between examples).
- ``mvx_direct_recorder``: a recorder in direct mode on the test's own event loop, for
  async tests run by the anyio pytest plugin (asyncio, uvloop, trio: whatever its
  ``anyio_backend`` says), started before the test and stopped after.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from ..recorder.recorder import MetricsRecorder
from ..runtime.runtime import MetricsRuntime
from .capturing import CapturingRecorder

__all__ = ["SHUTDOWN_TIMEOUT_S"]

#: Seconds a fixture's runtime or recorder may take to shut down after the test.
SHUTDOWN_TIMEOUT_S = 10.0


@pytest.fixture
def mvx_runtime(request: pytest.FixtureRequest) -> Iterator[MetricsRuntime]:
    """A fresh runtime for this test, shut down after it; a leak fails the test."""
    runtime = MetricsRuntime(namespace=f"test.{request.node.name}"[:200])
    runtime.start()
    before = set(threading.enumerate())
    try:
        yield runtime
    finally:
        runtime.shutdown(timeout=SHUTDOWN_TIMEOUT_S)
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before and t.name.startswith("mvx-metrics") and t.is_alive()
    ]
    loop_thread = runtime._loop_thread
    if loop_thread is not None and loop_thread._thread.is_alive():
        leaked.append(loop_thread._thread)
    if leaked:
        pytest.fail(f"mvx_runtime: threads still running after shutdown: {leaked}")


@pytest.fixture
def mvx_recorder(mvx_runtime: MetricsRuntime, request: pytest.FixtureRequest) -> MetricsRecorder:
    """A recorder on this test's runtime (``mvx_runtime``)."""
    return mvx_runtime.create_recorder("test")


@pytest.fixture
def mvx_capturing_recorder() -> CapturingRecorder:
    """A :class:`~mvx_metrics.testing.CapturingRecorder`: no loop, no thread."""
    return CapturingRecorder()


@pytest.fixture
async def mvx_direct_recorder() -> AsyncIterator[MetricsRecorder]:
    """A direct-mode recorder on the test's own loop (the anyio plugin's backend),
    running during the test and stopped after it."""
    recorder = MetricsRecorder("test")
    async with recorder:
        yield recorder
