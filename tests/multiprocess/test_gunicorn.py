"""Multiprocess mode under a real gunicorn with several preforked workers: every scrape,
whichever worker answers it, shows the whole group's counts, also after a worker restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .._support import TIMEOUT, run_threads
from . import _servers
from ._servers import gunicorn_server

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn needs POSIX")

APP = """
import os
import time
from dataclasses import dataclass
from mvx_metrics import Counter, MetricEvent, MetricsRuntime
from mvx_metrics.export import render_prometheus

@dataclass(slots=True)
class Hit(MetricEvent):
    path: str

# Started in gunicorn's master (--preload): every forked worker brings it back to life.
runtime = MetricsRuntime(
    namespace="gunicorn", multiprocess_dir=os.environ["MVX_DIR"], publish_interval=0.1
)
runtime.start()
hits = runtime.create_recorder("hits")
hits.register_metric(Counter("hits", event=Hit, labels=("path",)))

def app(environ, start_response):
    headers = [("X-Pid", str(os.getpid()))]
    if environ["PATH_INFO"] == "/metrics":
        body = render_prometheus(runtime).encode()
        start_response("200 OK", headers + [("Content-Type", "text/plain")])
        return [body]
    hits.register_event(event=Hit(environ["PATH_INFO"]))
    time.sleep(0.02)  # a request's work: concurrent requests need several workers
    start_response("200 OK", headers)
    return [b"ok"]
"""


def get(port: int, path: str) -> tuple[str, str]:
    """(worker pid, body) of one request on a new connection (any worker may take it); a
    scrape is sent again if a stopping worker closes it unread."""
    fetch = _servers.get_answered if path == "/metrics" else _servers.get
    response = fetch(port, path)
    return response.pid, response.body


def work(port: int, requests: int, threads: int = 6) -> set[str]:
    """``requests`` hits from ``threads`` clients at once; the pids of the workers."""
    pids: set[str] = set()

    def client(n: int) -> None:
        for _ in range(n):
            pids.add(get(port, "/work")[0])

    share = [requests // threads + (i < requests % threads) for i in range(threads)]
    run_threads(threads, lambda i: client(share[i]))
    return pids


def hits_in(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('hits_total{path="/work",recorder="hits"}'):
            return float(line.split()[-1])
    return 0.0


def scrapes_agree(port: int, expected: float, count: int = 12) -> set[str]:
    """Scrape until ``count`` scrapes in a row show ``expected`` (others' files are at
    most a publish interval old), within TIMEOUT; the pids that answered them."""
    deadline = time.monotonic() + TIMEOUT
    pids: set[str] = set()
    in_a_row = 0
    while in_a_row < count:
        assert time.monotonic() < deadline, f"scrapes did not settle on {expected}"
        pid, text = get(port, "/metrics")
        if hits_in(text) == expected:
            in_a_row += 1
            pids.add(pid)
        else:
            in_a_row, pids = 0, set()
            time.sleep(0.05)  # the next publication of the other workers
    return pids


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with gunicorn_server(
        tmp_path, APP, ["--preload", "-w", "3"], env={"MVX_DIR": str(tmp_path / "metrics")}
    ) as server:
        yield server.port, server.process


def test_every_worker_s_scrape_shows_the_group_s_total(
    gunicorn: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, _ = gunicorn
    workers = work(port, 60)
    assert len(workers) >= 2, workers  # several workers counted
    answered = scrapes_agree(port, 60.0)
    assert answered  # (which workers answered depends on gunicorn's accept order)


def test_a_restarted_worker_s_counts_are_kept(
    gunicorn: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, _ = gunicorn
    workers = work(port, 30)
    scrapes_agree(port, 30.0)
    victim = int(sorted(workers)[0])
    os.kill(victim, signal.SIGTERM)  # gunicorn starts another in its place
    deadline = time.monotonic() + TIMEOUT
    while True:  # until the victim is gone
        try:
            os.kill(victim, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    work(port, 10)
    scrapes_agree(port, 40.0)  # the exited worker's 30-odd are in the archive
