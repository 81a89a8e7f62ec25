"""Multiprocess mode under real servers, scraped by a real Prometheus (issue 12, item 4).

gunicorn runs 4 workers (sync workers with ``--preload``; uvicorn workers with the
runtime made at import under ``--preload``, or per worker in the ASGI lifespan) that
restart every few requests (``--max-requests``); one more is SIGKILLed halfway. Each
request to ``/event?i`` counts one event carrying ``seconds_of(i)``. Prometheus scrapes
``/metrics`` (whichever worker answers) through it all, and a single-process reference
fed the same values beside it. Afterwards the group's counter is exactly the number of
events sent, never went down, and Prometheus's own histogram_quantile over the merged
buckets (and the merged Distribution's quantiles) equal the reference's.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mvx_metrics import MetricsRuntime

from .._prometheus_server import prometheus_server
from .._support import TIMEOUT, run_threads
from ._served import QUANTILES, Served, seconds_of, served_runtime
from ._servers import Gunicorn, get_answered, gunicorn_server, require_module

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn needs POSIX"),
    pytest.mark.timeout(180),
]

#: Events sent in all, half before the SIGKILL and half after.
EVENTS = 200
WORKERS = 4
#: Each worker restarts after this many requests (scrapes count too): several restarts
#: during the run, whose workers' totals must all be kept.
MAX_REQUESTS = 12
CLIENTS = 4

WSGI_APP = """
import os
import time
from mvx_metrics.export import render_prometheus
from tests.multiprocess._served import Served, seconds_of, served_runtime

# Started in gunicorn's master (--preload): every forked worker brings it back to life.
runtime, recorder = served_runtime(os.environ["MVX_DIR"])

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/metrics":
        body = render_prometheus(runtime).encode()
    elif path in ("/event", "/hold"):
        recorder.register_event(event=Served(seconds_of(int(environ["QUERY_STRING"]))))
        body = b"ok"
    else:
        body = b"ready"
    if path == "/hold":  # published before it answers, then stuck in it until killed
        runtime.publish()
    start_response("200 OK", [("X-Pid", str(os.getpid())), ("Content-Type", "text/plain")])
    if path == "/hold":
        return hang()
    return [body]

def hang():
    yield b"published"
    time.sleep(60)
"""

ASGI_APP = """
import asyncio
import os
from mvx_metrics.export.asgi import metrics_asgi_app
from tests.multiprocess._served import Served, seconds_of, served_runtime

PER_WORKER = os.environ["MVX_RUNTIME"] == "lifespan"
served = {}

def make_runtime():
    served["runtime"], served["recorder"] = served_runtime(os.environ["MVX_DIR"])
    served["metrics"] = metrics_asgi_app(served["runtime"])

if not PER_WORKER:  # at import: with --preload, in the master; back to life in each fork
    make_runtime()

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if PER_WORKER:
                    make_runtime()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if PER_WORKER:  # its last publication: the archive keeps its totals
                    served["runtime"].shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/metrics":
        await served["metrics"](scope, receive, send)
        return
    if scope["path"] in ("/event", "/hold"):
        served["recorder"].register_event(event=Served(seconds_of(int(scope["query_string"]))))
    if scope["path"] == "/hold":  # published before it answers (uvicorn sends the
        served["runtime"].publish()  # headers at once), then stuck in it until killed
    headers = [(b"x-pid", str(os.getpid()).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/hold":
        await send({"type": "http.response.body", "body": b"published", "more_body": True})
        await asyncio.sleep(60)
    await send({"type": "http.response.body", "body": b"ok"})
"""


def uvicorn_worker_class() -> str:
    """The gunicorn worker class running uvicorn: from the uvicorn-worker package if it
    is installed, else the one uvicorn still ships (deprecated there)."""
    require_module("uvicorn")
    import importlib.util

    if importlib.util.find_spec("uvicorn_worker") is not None:
        return "uvicorn_worker.UvicornWorker"
    return "uvicorn.workers.UvicornWorker"


RESTARTING = ["-w", str(WORKERS), "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0"]


@dataclass(frozen=True)
class Kind:
    app: str
    arguments: Callable[[], list[str]]
    env: dict[str, str] = field(default_factory=dict)


KINDS = {
    "sync-preload": Kind(WSGI_APP, lambda: ["--preload", *RESTARTING]),
    "uvicorn-preload": Kind(
        ASGI_APP,
        lambda: ["--preload", "-k", uvicorn_worker_class(), *RESTARTING],
        {"MVX_RUNTIME": "import"},
    ),
    "uvicorn-lifespan": Kind(
        ASGI_APP, lambda: ["-k", uvicorn_worker_class(), *RESTARTING], {"MVX_RUNTIME": "lifespan"}
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_group_totals_are_exact_and_quantiles_agree_through_restarts(
    kind: str, tmp_path: Path
) -> None:
    spec = KINDS[kind]
    directory = tmp_path / "metrics"
    reference, reference_port = single_process_reference(range(EVENTS))
    try:
        with (
            gunicorn_server(
                tmp_path, spec.app, spec.arguments(), env={**spec.env, "MVX_DIR": str(directory)}
            ) as server,
            prometheus_server(
                [f"127.0.0.1:{server.port}", f"127.0.0.1:{reference_port}"], tmp_path
            ) as prometheus,
        ):
            app = f'instance="127.0.0.1:{server.port}"'
            ref = f'instance="127.0.0.1:{reference_port}"'
            # Scraped from before the first event to after the last, through every restart.
            prometheus.wait_for(f"served_total{{{app}}}")

            ids = iter(range(EVENTS))
            served_by = send_events(server.port, take(ids, EVENTS // 2))
            # A worker killed mid-run, once it has published: a request that counts one
            # event, publishes, and hangs. Its counts stay, folded once its pid is gone.
            with hung_request(server.port, next(ids)) as victim:
                os.kill(victim, signal.SIGKILL)
                wait_for_log(server, f"Worker (pid:{victim}) was sent SIGKILL!")
            settle(server.port, EVENTS // 2 + 1)
            assert victim not in publishers(directory)  # folded into the archive
            served_by |= send_events(server.port, list(ids))
            settle(server.port, EVENTS)

            # Workers restart: 4 at first, 1 for the victim, then at least 2 by
            # --max-requests (gunicorn logs each birth). When depends on speed: a uvicorn
            # worker looks at its count every 0.1 s and serves on until then, so a fast
            # run may end before a worker past its limit has gone. Each one goes at its
            # next look, traffic or not, and the checks below then run through it.
            wait_for_log(server, "Booting worker with pid", times=WORKERS + 1 + 2)
            assert len(served_by) > WORKERS, served_by  # events came from many lives
            assert (directory / "archive.json").exists()

            # Prometheus's view: exactly EVENTS, never less at a later scrape. Queried at
            # the instant of one scrape that shows it: a failed scrape (a worker stopping
            # closes the connection) marks the target's series stale until the next one.
            total = f"sum(served_total{{{app}}})"
            [found] = prometheus.wait_for(total, lambda r: bool(r) and value(r) == EVENTS)
            at = float(found["value"][0])

            def query(expr: str) -> list[dict[str, Any]]:
                return prometheus.query(expr, at)

            assert value(query(f"max_over_time(served_total{{{app}}}[5m])")) == EVENTS
            assert value(query(f"resets(served_total{{{app}}}[5m])")) == 0
            assert value(query(f"sum(served_total{{{ref}}})")) == EVENTS
            # The merged buckets are the reference's, so every quantile is.
            buckets = "sum by (le) (served_seconds_bucket{%s})"
            assert by_le(query(buckets % app)) == by_le(query(buckets % ref))
            for name in ("count", "sum"):
                series = f"served_seconds_{name}"
                assert value(query(f"{series}{{{app}}}")) == value(query(f"{series}{{{ref}}}"))
            for q in QUANTILES:
                quantile = f"histogram_quantile({q}, {buckets})"
                merged = value(query(quantile % app))
                assert merged == value(query(quantile % ref)), q
                assert 0 < merged < 2.5, merged
                # The merged sketches answer as the one sketch that saw every value.
                spread = f'served_spread_seconds{{quantile="{q}",%s}}'
                assert value(query(spread % app)) == value(query(spread % ref)), q
            assert value(query(f"sum(mvx_recorder_events_dropped_total{{{app}}})")) == 0

        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log
        assert not re.search(r"exited with code [1-9]", log), log[-3000:]
    finally:
        reference.shutdown()


def take(ids: Iterable[int], count: int) -> list[int]:
    return [i for _, i in zip(range(count), ids, strict=False)]


def single_process_reference(ids: Iterable[int]) -> tuple[MetricsRuntime, int]:
    """One process counting the same events into the same metrics, serving them."""
    runtime, recorder = served_runtime(None)
    for i in ids:
        recorder.register_event(event=Served(seconds_of(i)))
    _, port = runtime.serve_http()
    return runtime, port


def send_events(port: int, ids: list[int]) -> set[str]:
    """``GET /event?i`` for each id, from CLIENTS threads at once; the answering pids."""
    pending = list(reversed(ids))
    lock = threading.Lock()
    pids: set[str] = set()

    def client(_: int) -> None:
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop()
            pid = send_one(port, i)
            with lock:
                pids.add(pid)

    run_threads(CLIENTS, client)
    return pids


def send_one(port: int, i: int) -> str:
    """Request ``/event?i`` until answered (:func:`get_answered`: a connection a stopping
    worker closed unread never reached the app); the pid that answered. Any response,
    even an error, is final."""
    response = get_answered(port, f"/event?{i}")
    assert response.status == 200, response
    return response.pid


@contextmanager
def hung_request(port: int, i: int) -> Iterator[int]:
    """``GET /hold?i`` from a thread: gives the pid of the worker that counted event
    ``i``, published, and hangs in it; the request ends when the worker dies.

    Sent again, as by :func:`send_one`, if the connection closes before the headers: a
    worker stopping after --max-requests closes what it accepted but did not read."""
    answered: queue.Queue[str] = queue.Queue()

    def client() -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            try:
                conn.request("GET", f"/hold?{i}")
                response = conn.getresponse()  # the headers, after the publication
            except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
                print(f"hold request {i}: {exc!r}, sent again")  # shown with a failure
                conn.close()
                continue
            except (http.client.HTTPException, OSError):
                conn.close()
                return
            try:
                answered.put(response.getheader("X-Pid") or "")
                response.read()  # until the worker dies
            except (http.client.HTTPException, OSError):
                pass  # the connection dies with it
            finally:
                conn.close()
            return

    thread = threading.Thread(target=client)
    thread.start()
    try:
        yield int(answered.get(timeout=TIMEOUT))
    finally:
        thread.join(TIMEOUT * 2)
        assert not thread.is_alive(), "the held request did not end"


def scraped_total(port: int) -> float:
    """The group's counter in one scrape of ``/metrics``, whichever worker answers."""
    text = get_answered(port, "/metrics").body
    match = re.search(r'^served_total\{recorder="app"\} (\S+)$', text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def settle(port: int, expected: int) -> None:
    """Scrape until the total is ``expected`` (others' files are at most a publish
    interval old), within TIMEOUT. From then on, every scrape shows it: each file holds
    at most its process's count, so a sum equal to all events means none is behind."""
    deadline = time.monotonic() + TIMEOUT
    while (total := scraped_total(port)) != expected:
        assert total < expected, f"{total} scraped, only {expected} sent"
        assert time.monotonic() < deadline, f"scrapes did not settle on {expected}: {total}"
        time.sleep(0.05)  # the other workers' next publication
    assert [scraped_total(port) for _ in range(3)] == [float(expected)] * 3


def publishers(directory: Path) -> set[int]:
    """The pids of the processes whose files are in ``directory`` (not yet folded)."""
    pids = set()
    for path in directory.glob("mvx-*.json"):
        try:
            pids.add(json.loads(path.read_text())["pid"])
        except FileNotFoundError:
            pass  # folded meanwhile
    return pids


def wait_for_log(server: Gunicorn, line: str, times: int = 1) -> None:
    """Wait, within TIMEOUT, until the server's log holds ``line`` ``times`` times."""
    deadline = time.monotonic() + TIMEOUT
    while (seen := server.log.read_text(errors="replace").count(line)) < times:
        assert time.monotonic() < deadline, f"{line!r} logged {seen} times, not {times}"
        time.sleep(0.05)  # the master reaps it, or boots the next, at its next wake-up


def value(result: list[dict[str, Any]]) -> float:
    """The value of a one-sample instant vector."""
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def by_le(result: list[dict[str, Any]]) -> dict[str, float]:
    return {s["metric"]["le"]: float(s["value"][1]) for s in result}
