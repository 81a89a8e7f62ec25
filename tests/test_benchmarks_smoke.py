"""The benchmark suite still runs: its quick mode, end to end, in a child interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_all_quick_mode_exits_cleanly() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "register_event" in proc.stdout, output
    # Instructions are counted wherever valgrind is installed (.ci/run installs it).
    if shutil.which("valgrind") is not None:
        assert "bench_instructions (quick)" in proc.stdout, output
        assert "counted NOTHING" not in output, output
