"""The pytest plugin's fixtures, used as a user's tests use them (and turned off)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvx_metrics import Counter, MetricEvent, MetricsRecorder, MetricsRuntime, RuntimeState
from mvx_metrics.testing import CapturingRecorder, value


@dataclass(slots=True)
class Saved(MetricEvent):
    outcome: str


def _count(recorder: MetricsRecorder | CapturingRecorder) -> None:
    recorder.register_metric(Counter("saves", event=Saved, labels=("outcome",)))
    recorder.register_event(event=Saved("ok"))
    recorder.register_event(event=Saved("ok"))


def test_a_recorder_on_a_fresh_runtime(
    mvx_runtime: MetricsRuntime, mvx_recorder: MetricsRecorder
) -> None:
    assert mvx_runtime.state is RuntimeState.RUNNING
    _count(mvx_recorder)
    assert value(mvx_recorder.get_metric_snapshots(), "saves", outcome="ok") == 2
    assert list(mvx_runtime.get_stats()) == ["test"]


def test_a_capturing_recorder(mvx_capturing_recorder: CapturingRecorder) -> None:
    _count(mvx_capturing_recorder)
    assert value(mvx_capturing_recorder.get_metric_snapshots(), "saves", outcome="ok") == 2


@pytest.mark.anyio
async def test_a_direct_mode_recorder_on_the_tests_loop(
    mvx_direct_recorder: MetricsRecorder, anyio_backend: object
) -> None:
    _count(mvx_direct_recorder)
    snapshots = await mvx_direct_recorder.aget_metric_snapshots()
    assert value(snapshots, "saves", outcome="ok") == 2


USER_TEST = """
from mvx_metrics.testing import value


def test_uses_the_runtime(mvx_runtime):
    assert mvx_runtime.get_stats() == {}
"""


def _run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(USER_TEST)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installing_the_package_is_enough_and_it_can_be_turned_off(tmp_path: Path) -> None:
    on = _run_pytest(tmp_path)
    assert on.returncode == 0, on.stdout + on.stderr
    assert "1 passed" in on.stdout
    off = _run_pytest(tmp_path, "-p", "no:mvx_metrics")
    assert off.returncode != 0
    assert "fixture 'mvx_runtime' not found" in off.stdout
