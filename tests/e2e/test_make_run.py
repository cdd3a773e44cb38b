"""`make run`'s supervisor starts the servers and every service, and Ctrl-C stops them all cleanly."""

from __future__ import annotations

import contextlib
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
import pytest

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


def _start_supervisor(tmp_path: Path, base: int, log_path: Path, *, own_group: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URL"}}
    env["CHARTWISE_NO_DOCKER"] = "1"
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*SUPERVISOR, "--data-dir", str(tmp_path / "data"), "--port-base", str(base)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # In a session of its own the supervisor leads a process group of its own, and this test is not in it.
            start_new_session=own_group,
        )


def _wait_until_running(process: subprocess.Popen[bytes], ports: dict[str, int], log_path: Path) -> tuple[int, int]:
    """Waits until every service answers; the ports of the local Redis and MongoDB servers."""
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
    return redis_port, mongo_port


def _assert_stopped_cleanly(output: str, ports: list[int]) -> None:
    assert "[make run] stopping services" in output, output
    assert "[make run] stopping redis and mongodb" in output, output
    assert "[make run] stopped" in output, output
    assert not any(_port_open(p) for p in ports), output


def test_supervisor_runs_every_service_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    base = _free_port_base(len(SERVICES))
    ports = {name: base + SERVICES[name] for name in existing_services()}
    log_path = tmp_path / "run.log"
    process = _start_supervisor(tmp_path, base, log_path, own_group=False)
    try:
        redis_port, mongo_port = _wait_until_running(process, ports, log_path)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()

    output = log_path.read_text()
    for name in ports:
        assert f"{name:<9} |" in output, f"no log lines prefixed by {name}"
    _assert_stopped_cleanly(output, [*ports.values(), redis_port, mongo_port])


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_to_the_whole_process_group_stops_everything_and_exits_zero(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    base = _free_port_base(len(SERVICES))
    ports = {name: base + SERVICES[name] for name in existing_services()}
    log_path = tmp_path / "run.log"
    process = _start_supervisor(tmp_path, base, log_path, own_group=True)
    try:
        redis_port, mongo_port = _wait_until_running(process, ports, log_path)

        os.killpg(process.pid, stop_signal)
        # `make`, `uv run` and an impatient user send the supervisor more of the same while it stops.
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            process.send_signal(stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.02)
        assert process.wait(timeout=1) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    _assert_stopped_cleanly(log_path.read_text(), [*ports.values(), redis_port, mongo_port])


STOP_LOOP = """
import sys
from chartwise_devtools.supervisor import _stop_signals

with _stop_signals() as stop:
    print("ready", flush=True)
    while not stop.wait(timeout=0.5):
        pass
print("stopping services", flush=True)
"""


def test_the_supervisor_notices_a_burst_of_stop_signals_without_deadlocking() -> None:
    """Signals arriving while the supervisor wakes from its wait must never leave it stuck."""
    for round_ in range(15):
        process = subprocess.Popen(
            [sys.executable, "-c", STOP_LOOP], cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == b"ready\n"
            # Vary where in its wait the first signal finds the loop; then keep signalling for a few ms.
            time.sleep(0.01 * (round_ % 7))  # spreading the first signal over the loop's wait cycle
            burst_until = time.perf_counter() + 0.005
            while time.perf_counter() < burst_until:
                os.killpg(process.pid, signal.SIGTERM)
            out, _ = process.communicate(timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert out == b"stopping services\n", f"round {round_}"
        assert process.returncode == 0
