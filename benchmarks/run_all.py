"""Run every ``bench_*.py`` script in sequence; ``--quick`` uses small N (a smoke test).

Run: ``python benchmarks/run_all.py [--quick]``. Exits non-zero if any script fails.
Each script runs in its own interpreter so that one's threads, loops and heap cannot
skew the next one's figures.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

from _harness import parse_quick

HERE = Path(__file__).resolve().parent
# Every bench_*.py beside this file, so that a new benchmark joins the suite by its name.
SCRIPTS = tuple(sorted(p.name for p in HERE.glob("bench_*.py")))


def describe_checkout() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    return out.stdout.strip()


def main() -> int:
    quick = parse_quick(__doc__ or "")
    print(
        f"mvx_metrics benchmarks ({'quick' if quick else 'full'}) at {describe_checkout()}; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {platform.system()}"
    )
    failed: list[str] = []
    start = time.perf_counter()
    for script in SCRIPTS:
        print(f"\n{'=' * 30} {script} {'=' * 30}", flush=True)
        args = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
        t0 = time.perf_counter()
        code = subprocess.run(args, check=False).returncode
        print(f"-- {script}: exit {code} in {time.perf_counter() - t0:.1f} s", flush=True)
        if code != 0:
            failed.append(script)
    print(f"\nall benchmarks: {time.perf_counter() - start:.1f} s")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
