"""Run the documentation's complete programs, the examples and the CLI demo.

A fenced ```python block in docs/*.md or README.md whose first line is
``# docs-example: run`` is a complete program: each runs in its own interpreter.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# docs-example: run"
TIMEOUT = 60
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _doc_examples() -> list[Any]:
    files = sorted((ROOT / "docs").glob("*.md"))
    if (ROOT / "README.md").is_file():
        files.append(ROOT / "README.md")
    params = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            code = match.group(1)
            if code.splitlines()[:1] != [MARKER]:
                continue
            line = text.count("\n", 0, match.start()) + 1
            rel = path.relative_to(ROOT).as_posix()
            params.append(pytest.param(code, id=f"{rel}:{line}"))
    return params


DOC_EXAMPLES = _doc_examples()


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _check(proc: subprocess.CompletedProcess[str]) -> str:
    report = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    # Exceptions in threads and atexit hooks do not change the exit code: catch them here.
    # (Tracebacks that the library logs on purpose, e.g. for an isolated metric error, pass.)
    for marker in ("Exception in thread", "Exception ignored"):
        assert marker not in proc.stderr, report
    return proc.stdout


def test_docs_have_examples() -> None:
    assert len(DOC_EXAMPLES) >= 5


@pytest.mark.parametrize("code", DOC_EXAMPLES)
def test_doc_example_runs(code: str) -> None:
    _check(_run(["-c", code]))


def test_example_document_storage() -> None:
    out = _check(_run(["examples/document_storage.py"]))
    assert '"outcome": "SUCCESS"' in out and '"outcome": "FAILURE"' in out
    assert '"value": 15' in out and '"value": 5' in out  # the counter, by outcome
    assert '"+Inf": 15' in out and '"+Inf": 5' in out  # the histogram, by outcome
    assert "accepted=20, processed=20, pending=0" in out


def test_example_asyncio_app() -> None:
    out = _check(_run(["examples/asyncio_app.py"]))
    assert '"/": 3' in out
    assert '"/report": 5' in out
    assert "STOPPED 8 events processed" in out


def test_example_trio_app() -> None:
    out = _check(_run(["examples/trio_app.py"]))
    assert '"count": 3' in out and '"seconds": 1.5' in out  # emails: 0.25 + 0.5 + 0.75
    assert '"reports": {' in out
    assert "STOPPED 6 events processed" in out


def test_cli_demo() -> None:
    out = _check(_run(["-m", "mvx_metrics", "demo", "--seconds", "1", "--threads", "2"]))
    assert re.search(r"^metric\s+series\s+values$", out, re.MULTILINE), out
    assert "document_save_attempts" in out and "SUCCESS" in out and "FAILURE" in out
    assert "document_save_duration_seconds" in out
    assert re.search(r"^\s+dropped\s+\d+", out, re.MULTILINE), out
    assert "accepted == processed + pending: yes" in out
    assert "== accepted + dropped: yes" in out
    assert "accepted=" in out and "pending=" in out  # progress lines
    # Durations in human units, the histogram's buckets, the processing delay.
    assert re.search(r"mean=[\d.]+ (ns|µs|ms|s)\b", out), out
    assert not re.search(r"\d\.\d+e-\d\d", out), out  # no 6.45e-05s
    assert "document_save_duration_seconds buckets:" in out
    assert re.search(r"^\s+0 - 10 µs\s+[\d,]+\s+[\d.]+%", out, re.MULTILINE), out
    assert re.search(r"^\s+waited\s+at most ", out, re.MULTILINE), out


def test_cli_demo_ends_with_its_final_table_on_ctrl_c() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "mvx_metrics", "demo", "--seconds", "120", "--threads", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        seen = [demo.stdout.readline() for _ in range(2)]  # the banner, a progress line
        assert "accepted=" in seen[1], seen
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=TIMEOUT)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(TIMEOUT)
    assert demo.returncode == 0, err
    assert "interrupted: stopping the producers" in out
    assert "final snapshots:" in out and "accepted == processed + pending: yes" in out
    assert "Traceback" not in err, err


def test_demo_formats_durations_buckets_and_a_heavy_tail() -> None:
    from mvx_metrics._demo import bucket_lines, heavy_tail_note, human_seconds

    assert [human_seconds(s) for s in (2.5, 0.00134, 9.07e-06, 4.2e-08, 0.0)] == [
        "2.5 s",
        "1.34 ms",
        "9.07 µs",
        "42 ns",
        "0 ns",
    ]
    lines = bucket_lines({"1e-05": 1, "0.0001": 4, "+Inf": 4})
    assert [line.split()[:4] for line in lines] == [
        ["0", "-", "10", "µs"],
        ["10", "µs", "-", "100"],
        ["over", "100", "µs", "0"],
    ]
    assert lines[1].endswith("#" * 30) and "75.0%" in lines[1]
    skewed = {
        "kind": "distribution",
        "series": [{"count": 10, "sum": 5.0, "quantiles": {"0.9": 0.1}}],
    }
    even = {
        "kind": "distribution",
        "series": [{"count": 10, "sum": 0.5, "quantiles": {"0.9": 0.1}}],
    }
    note = heavy_tail_note({"d": skewed})
    assert note is not None and "500 ms" in note and "100 ms" in note and "heavy tail" in note
    assert heavy_tail_note({"d": even}) is None


@pytest.mark.parametrize("args", [[], ["--help"]], ids=["no-args", "help"])
def test_cli_usage(args: list[str]) -> None:
    out = _check(_run(["-m", "mvx_metrics", *args]))
    assert "usage:" in out and "demo" in out


def test_cli_unknown_command() -> None:
    proc = _run(["-m", "mvx_metrics", "bogus"])
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_the_site_hides_the_test_marker_and_keeps_the_code() -> None:
    from ._support import load_docs_hook

    hook = load_docs_hook("hide_markers")
    page = "Text\n\n```python\n# docs-example: run\nprint(1)\n```\n\n```python\nprint(2)\n```\n"
    shown = hook.on_page_markdown(page)
    assert "docs-example" not in shown
    assert shown == "Text\n\n```python\nprint(1)\n```\n\n```python\nprint(2)\n```\n"
    every_page = "".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    assert "# docs-example: run" in every_page
    assert "# docs-example: run" not in hook.on_page_markdown(every_page)
