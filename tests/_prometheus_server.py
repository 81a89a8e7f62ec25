"""A real Prometheus server (the Debian ``prometheus`` package), started by a test.

It scrapes the given loopback targets every ``SCRAPE_INTERVAL`` and answers PromQL over
its HTTP API, on a free loopback port, with its data in a temporary folder. Everything is
bounded: start-up, each query, each wait.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._support import require_tool

SCRAPE_INTERVAL = "1s"
START_TIMEOUT_S = 30.0
WAIT_TIMEOUT_S = 30.0


class PrometheusServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The ``result`` of an instant query (a vector: ``[{"metric", "value"}]``), at
        ``at`` (Unix seconds, as a sample's ``value[0]``) or now."""
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(
        self, expr: str, done: Callable[[list[dict[str, Any]]], bool] = bool
    ) -> list[dict[str, Any]]:
        """Query ``expr`` until ``done(result)``; fail with the server's log otherwise."""
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(0.2)  # polling a server's API: no event to wait on
        raise AssertionError(
            f"{expr!r} gave {result!r} for {WAIT_TIMEOUT_S}s; targets: {self.targets()}\n"
            f"{self.log.read_text()[-3000:]}"
        )

    def targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as response:
            active: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
        return active


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def prometheus_server(
    targets: list[str], tmp_path: Path, *, native_histograms: bool = False
) -> Iterator[PrometheusServer]:
    """Start Prometheus scraping ``targets`` ("127.0.0.1:port"); stop it after."""
    binary = require_tool("prometheus", "prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
                "scrape_configs": [{"job_name": "mvx", "static_configs": [{"targets": targets}]}],
            }
        )
    )
    port = _free_port()
    log = tmp_path / "prometheus.log"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    if native_histograms:
        command.append("--enable-feature=native-histograms")
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)  # waiting for another process to listen: nothing to wait on
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
