"""A real gunicorn started by a test, and the HTTP client the tests drive it with.

Everything is bounded: start-up, each request, the stop (SIGTERM, then SIGKILL). The
server logs to a file, printed when the server stops (pytest shows it with a failure).
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .._support import TIMEOUT

#: The checkout under test: the servers import mvx_metrics from here, whatever an
#: editable install elsewhere points at.
REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve_command(directory: Path) -> Iterator[tuple[str, int]]:
    """``python -m mvx_metrics serve --multiprocess-dir directory`` on a free port: its
    ``(host, port)``; stopped after, and it must exit cleanly."""
    command = ["-m", "mvx_metrics", "serve", "--multiprocess-dir", str(directory), "--port", "0"]
    server = subprocess.Popen(
        [sys.executable, *command],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "serving DIR on http://HOST:PORT/metrics"
        host, port = line.rsplit("http://", 1)[1].split("/")[0].rsplit(":", 1)
        yield host, int(port)
    finally:
        server.terminate()
        server.wait(TIMEOUT)
    assert server.returncode == 0


def scrape_text(host: str, port: int) -> str:
    """One GET /metrics, within TIMEOUT."""
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    pid: str  #: the X-Pid header: which worker answered
    body: str


def get(port: int, path: str) -> Response:
    """One request on a new connection (any worker may take it), within TIMEOUT."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        return Response(response.status, response.getheader("X-Pid") or "", body)
    finally:
        conn.close()


def get_answered(port: int, path: str) -> Response:
    """:func:`get`, sent again while the connection closes before any response: a worker
    stopping (after ``--max-requests``, or told to) closes the connections it accepted
    but read no request from, so its app never saw them; within TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return get(port, path)
        except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
            print(f"GET {path}: {exc!r}, sent again")  # shown with a failure
            assert time.monotonic() < deadline, f"GET {path} was never answered"


def require_module(name: str) -> None:
    """A server the tests run, from the ``test`` extra: missing, the test fails under CI
    (which installs it) and is skipped, saying what to install, elsewhere."""
    if importlib.util.find_spec(name) is None:
        message = f"{name} not installed: pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> set[int]:
        """The pids of the master's live (not yet reaped, not zombie) children."""
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue  # gone meanwhile
            state, ppid = stat[0], int(stat[1])
            if ppid == self.process.pid and state != "Z":
                pids.add(int(entry.name))
        return pids


#: A gunicorn config: each worker writes every thread's stack to its stderr (the log)
#: on SIGUSR2, from C, even while its Python code is blocked: what a hung worker was
#: doing shows with the failure. (Registered after gunicorn set its own handlers.)
_STACKS_ON_SIGUSR2 = """
import faulthandler, signal

def post_worker_init(worker):
    faulthandler.register(signal.SIGUSR2, all_threads=True)
"""


def _dump_worker_stacks(server: Gunicorn, log: Path) -> None:
    """Ask every live worker for its threads' stacks, and wait (briefly, bounded) until
    they are in the log; read only when a test fails."""
    for pid in server.workers():  # one at a time: dumps written together interleave
        dumped = log.read_text(errors="replace").count("Current thread")
        try:
            os.kill(pid, signal.SIGUSR2)
        except ProcessLookupError:
            continue  # exited meanwhile
        deadline = time.monotonic() + 1.0
        while log.read_text(errors="replace").count("Current thread") == dumped:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)  # another process writes the log: nothing to wait on


def _no_control_socket() -> list[str]:
    """gunicorn 25.1 and later listen on a control socket in ``~/.gunicorn`` by default:
    one path that every server started by the tests would share, so none is made."""
    from gunicorn.config import KNOWN_SETTINGS

    known = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)
    return ["--no-control-socket"] if known else []


@contextmanager
def gunicorn_server(
    tmp_path: Path, app: str, arguments: list[str], env: Mapping[str, str] | None = None
) -> Iterator[Gunicorn]:
    """Run ``python -m gunicorn ARGUMENTS app:app`` in ``tmp_path``, with ``app`` (source)
    as ``app.py``, listening on a free loopback port; ready once ``GET /ready`` answers."""
    require_module("gunicorn")
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "gunicorn_conf.py").write_text(_STACKS_ON_SIGUSR2)
    port = free_port()
    environment = dict(os.environ, **(env or {}))
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO_ROOT)])
    # To a file, not a pipe: nobody reads a pipe while the server runs, and a worker
    # writing a full one (64 KB of logs) would block in the middle of a request.
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "-c",
                "gunicorn_conf.py",
                *_no_control_socket(),
                *arguments,
                "app:app",
            ],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    server = Gunicorn(port, process, log)
    try:
        deadline = time.monotonic() + TIMEOUT * 3  # workers that import everything: slow
        while True:
            try:
                if get(port, "/ready").status == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)  # waiting for another process to listen: nothing to wait on
        yield server
    finally:
        _dump_worker_stacks(server, log)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:  # and its workers, which it did not stop
            for pid in [*server.workers(), process.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # exited meanwhile
            process.wait(TIMEOUT)
        print(log.read_text(errors="replace")[-6000:])  # shown with a failure
