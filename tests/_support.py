"""Events, metrics and helpers shared by the tests."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mvx_metrics import Metric, MetricEvent, MetricsRecorder, MetricsRuntime
from mvx_metrics.hops.waiting import run_on_owner

#: Upper bound for anything in a test that could hang.
TIMEOUT = 10.0


@dataclass(slots=True, frozen=True)
class Saved(MetricEvent):
    outcome: str = "SUCCESS"
    duration_s: float = 0.01


@dataclass(slots=True, frozen=True)
class Loaded(MetricEvent):
    size: int = 1


@dataclass(slots=True, frozen=True)
class BigSaved(Saved):
    """A subclass: routes to metrics that declared Saved."""


class CountingMetric(Metric):
    """Counts the events it sees; records the threads it ran in."""

    def __init__(
        self, name: str = "count", event_types: tuple[type[MetricEvent], ...] | None = None
    ):
        self._name = name
        self.event_types = event_types
        self.count = 0
        self.threads: set[int] = set()

    @property
    def metric_name(self) -> str:
        return self._name

    def handle_event(self, event: MetricEvent) -> bool:
        self.threads.add(threading.get_ident())
        self.count += 1
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count}


class SumMetric(Metric):
    """Sums Saved.duration_s."""

    event_types = (Saved,)

    def __init__(self, name: str = "sum") -> None:
        self._name = name
        self.total = 0.0

    @property
    def metric_name(self) -> str:
        return self._name

    def handle_event(self, event: MetricEvent) -> bool:
        assert isinstance(event, Saved)
        self.total += event.duration_s
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total}


class FailingEveryNth(Metric):
    """Raises on every n-th event it sees (and counts the rest)."""

    def __init__(self, n: int = 3, name: str = "flaky") -> None:
        self._name = name
        self.n = n
        self.seen = 0
        self.count = 0

    @property
    def metric_name(self) -> str:
        return self._name

    def handle_event(self, event: MetricEvent) -> bool:
        self.seen += 1
        if self.seen % self.n == 0:
            raise RuntimeError(f"boom on event {self.seen}")
        self.count += 1
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "seen": self.seen}


class _CountingWaker:
    """Stands in as a hand-off's waker: counts each wake-up, then sends it on."""

    def __init__(self, recorder: MetricsRecorder) -> None:
        self.recorder = recorder
        self.count = 0

    def _wake_owner(self) -> None:
        self.count += 1
        self.recorder._wake_owner()

    def __getattr__(self, name: str) -> Any:
        # The rest of what the core needs of its recorder (its Lifecycle), unchanged.
        return getattr(self.recorder, name)


def count_wakes(recorder: MetricsRecorder) -> _CountingWaker:
    """Count the wake-ups of ``recorder``'s owner (each one a hop to its loop) in
    ``.count``."""
    waker = _CountingWaker(recorder)
    recorder._handoff.waker = waker
    return waker


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll an observable condition (for states no API signals), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


@contextmanager
def loop_held(runtime: MetricsRuntime) -> Iterator[None]:
    """Keep the runtime's loop thread busy, so nothing is processed until the block ends."""
    assert runtime._loop_thread is not None
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(TIMEOUT)

    run_on_owner(runtime._loop_thread.hop, hold)
    assert entered.wait(TIMEOUT)
    try:
        yield
    finally:
        release.set()


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(i)`` in ``count`` threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait(TIMEOUT)
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
        assert not t.is_alive(), "producer thread hung"
    if errors:
        raise errors[0]


def require_tool(name: str, package: str) -> str:
    """The path of the executable ``name``: a real component a test runs (Debian's
    ``package``, which ``.ci/run`` installs). Missing, the test fails under CI and is
    skipped, saying what to install, elsewhere."""
    import os
    import shutil

    import pytest

    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install -y {package} (as .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_host(host: str, main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main()`` as a whole program would, on a fresh loop of ``host``: "asyncio",
    "uvloop" or "trio". The loop ends when ``main`` returns, whatever it left running."""
    if host == "trio":
        import trio

        trio.run(main)
        return
    import asyncio

    factory = None
    if host == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def load_docs_hook(name: str) -> ModuleType:
    """One of the site's MkDocs hooks (``docs/hooks/<name>.py``), loaded as a module: they
    are scripts of the docs build, not part of the package."""
    path = Path(__file__).resolve().parent.parent / "docs" / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def run_fresh(program: str, *args: str) -> dict[str, Any]:
    """What ``program`` printed (one JSON object), run with ``args`` in a fresh
    interpreter: for what a process that has imported nothing yet does."""
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed
