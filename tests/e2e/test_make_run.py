"""`make run`'s supervisor starts the servers and every service, and Ctrl-C stops them all cleanly."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chartwise_devtools.supervisor import SERVICES, existing_services

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
SUPERVISOR = [sys.executable, "-m", "chartwise_devtools.supervisor"]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _all_healthy(ports: dict[str, int]) -> bool:
    try:
        return all(httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=1).status_code == 200 for p in ports.values())
    except httpx.HTTPError:
        return False


def _announced_port(output: str, server: str) -> int:
    found = re.search(rf"{server} \(local\): \w+://127\.0\.0\.1:(\d+)", output)
    assert found is not None, output
    return int(found.group(1))


def _free_port_base(width: int) -> int:
    """A block of free ports below the ephemeral range, so no outgoing connection can take one meanwhile."""
    for _ in range(50):
        base = random.randrange(20_000, 30_000)
        if not any(_port_open(base + i) for i in range(width)):
            return base
    raise AssertionError("no block of free ports found")


def test_supervisor_runs_every_service_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    base = _free_port_base(len(SERVICES))
    ports = {name: base + SERVICES[name] for name in existing_services()}
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URL"}}
    env["CHARTWISE_NO_DOCKER"] = "1"
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*SUPERVISOR, "--data-dir", str(tmp_path / "data"), "--port-base", str(base)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _all_healthy(ports):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)  # polling the children's health endpoints while they start
        output = log_path.read_text()
        redis_port = _announced_port(output, "redis")
        mongo_port = _announced_port(output, "mongodb")
        assert _port_open(redis_port)
        assert _port_open(mongo_port)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()

    output = log_path.read_text()
    assert "stopped" in output
    for name in ports:
        assert f"{name:<9} |" in output, f"no log lines prefixed by {name}"
    assert not any(_port_open(p) for p in [*ports.values(), redis_port, mongo_port])
