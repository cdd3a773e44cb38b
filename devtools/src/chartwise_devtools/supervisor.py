"""`make run`: the local Redis and MongoDB-compatible servers, then every service as its own process.

Logs are prefixed by service. Ctrl-C (or SIGTERM) stops the services first, each given its shutdown
timeout, then the servers. If a service dies, the rest are stopped too, so a broken start is never
mistaken for a running system.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from chartwise_devtools.servers import backing_servers

SERVICES: dict[str, int] = {"gateway": 0, "analysis": 1, "journal": 2, "usage": 3, "scheduler": 4}
"""Each service and its port's offset from the port base (8000 unless told otherwise)."""
STOP_TIMEOUT_S = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    pump: threading.Thread


def existing_services() -> list[str]:
    return [name for name in SERVICES if importlib.util.find_spec(f"chartwise_{name}.__main__") is not None]


def _say(line: str) -> None:
    sys.stdout.write(f"[make run] {line}\n")
    sys.stdout.flush()


def _pump(name: str, stream: object) -> None:
    width = max(len(n) for n in SERVICES)
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


def _start(name: str, env: dict[str, str], port: int) -> Child:
    child_env = {**env, "HTTP_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", f"chartwise_{name}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=child_env,
    )
    pump = threading.Thread(target=_pump, args=(name, process.stdout), daemon=True)
    pump.start()
    return Child(name, process, pump)


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _say(f"{child.name} did not stop in {STOP_TIMEOUT_S:g}s; killing it")
            child.process.kill()
            child.process.wait()
        child.pump.join(timeout=2)


@contextlib.contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    requested = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        requested.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".local"), help="where local servers keep data")
    parser.add_argument("--only", nargs="*", default=None, help="run only these services")
    parser.add_argument("--port-base", type=int, default=8000, help="the gateway's port; the others follow it")
    args = parser.parse_args(argv)

    services = [s for s in existing_services() if args.only is None or s in args.only]
    env = dict(os.environ)
    env.setdefault("CHARTWISE_ENV", "development")
    env.setdefault("LOG_FORMAT", "console")
    env.setdefault("BLOB_DIR", str((args.data_dir / "blobs").resolve()))

    with _stop_requested() as stop, backing_servers(args.data_dir.resolve(), persistent=True) as endpoints:
        env["REDIS_URL"], env["MONGO_URL"] = endpoints.redis_url, endpoints.mongo_url
        _say(f"redis ({endpoints.redis_source}): {endpoints.redis_url}")
        _say(f"mongodb ({endpoints.mongo_source}): {endpoints.mongo_url}")
        ports = {name: args.port_base + SERVICES[name] for name in services}
        children = [_start(name, env, ports[name]) for name in services]
        _say("started " + ", ".join(f"{c.name} on :{ports[c.name]}" for c in children) + "; Ctrl-C stops all")
        exit_code = 0
        while not stop.wait(timeout=0.5):
            dead = [c for c in children if c.process.poll() is not None]
            if dead:
                _say(", ".join(f"{c.name} exited with {c.process.returncode}" for c in dead) + "; stopping the rest")
                exit_code = 1
                break
        _say("stopping services")
        _stop(children)
        _say("stopping redis and mongodb")
    _say("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
