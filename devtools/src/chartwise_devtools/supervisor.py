"""`make run`: the local Redis and MongoDB-compatible servers, then every service as its own process.

Logs are prefixed by service. Ctrl-C (or SIGTERM) stops the services first, each given its shutdown
timeout, then the servers. If a service dies, the rest are stopped too, so a broken start is never
mistaken for a running system. A signal sent to the whole process group (a terminal's Ctrl-C,
`kill -TERM -<pgid>`) reaches the services as well: services that stop cleanly count as a requested stop.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import select
import signal
import socket
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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CLEAN_STOPS = frozenset({0, -signal.SIGINT, -signal.SIGTERM})
"""Exit statuses of a service that was told to stop (uvicorn exits 0 after a graceful shutdown)."""
POLL_S = 0.5


class StopSignals:
    """SIGINT and SIGTERM as bytes on a socket, written by the interpreter's C-level handler.

    A Python handler that sets a `threading.Event` can deadlock: it runs in the main thread, possibly
    while that thread holds the event's own lock inside `Event.wait`, and a burst of signals (a process
    group's plus the ones `make` and `uv` forward) makes that likely. Here no Python code runs in the
    handler and nothing waits on a lock.
    """

    def __init__(self, reader: socket.socket) -> None:
        self._reader = reader
        self.received: list[int] = []

    def wait(self, timeout: float) -> bool:
        """True once a stop signal has arrived; waits up to `timeout` seconds for one."""
        if not self.received:
            readable, _, _ = select.select([self._reader], [], [], timeout)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    self.received.extend(self._reader.recv(64))
        return bool(self.received)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The signal is noted through the wakeup socket; a handler must exist for it to be written."""


@contextlib.contextmanager
def _stop_signals() -> Iterator[StopSignals]:
    """Stop signals noted while inside; ignored once left, since the stop they ask for has then happened.

    `make` and `uv run` forward a signal again while the supervisor stops, so one can arrive after the
    services and servers are down; it must not kill the supervisor before it reports how they stopped.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _ignore)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield StopSignals(reader)
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(previous_fd)
        reader.close()
        writer.close()


def _status(returncode: int) -> int:
    """A child's exit status as a shell reports it (128 + N for a child killed by signal N)."""
    return returncode if returncode >= 0 else 128 - returncode


def _describe(child: Child) -> str:
    code = child.process.returncode
    if code < 0:
        return f"{child.name} was stopped by {signal.Signals(-code).name}"
    return f"{child.name} exited with {code}"


def _supervise(children: list[Child], stop: StopSignals) -> int:
    """Waits for a stop signal or a service's exit; the exit code the supervisor should end with."""
    while not stop.wait(timeout=POLL_S):
        exited = [c for c in children if c.process.poll() is not None]
        if not exited:
            continue
        failed = [c for c in exited if c.process.returncode not in CLEAN_STOPS]
        if stop.wait(timeout=0) or not failed:
            # A signal to the process group reached the services too; they stopping first is no failure.
            _say(", ".join(_describe(c) for c in exited) + "; stop requested, stopping the rest")
            return _status(failed[0].process.returncode) if failed else 0
        _say(", ".join(_describe(c) for c in exited) + "; stopping the rest")
        return _status(failed[0].process.returncode)
    _say(f"{signal.Signals(stop.received[0]).name} received")
    return 0


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
    if "OPENAI_API_KEY" not in env:
        # No model to call: the local provider answers at once, and plainly, instead of retrying a host
        # this machine may not reach.
        env.setdefault("VISION_PROVIDER", "local")

    with _stop_signals() as stop, backing_servers(args.data_dir.resolve(), persistent=True) as endpoints:
        env["REDIS_URL"], env["MONGO_URL"] = endpoints.redis_url, endpoints.mongo_url
        _say(f"redis ({endpoints.redis_source}): {endpoints.redis_url}")
        _say(f"mongodb ({endpoints.mongo_source}): {endpoints.mongo_url}")
        ports = {name: args.port_base + SERVICES[name] for name in services}
        children = [_start(name, env, ports[name]) for name in services]
        _say("started " + ", ".join(f"{c.name} on :{ports[c.name]}" for c in children) + "; Ctrl-C stops all")
        exit_code = _supervise(children, stop)
        _say("stopping services")
        _stop(children)
        _say("stopping redis and mongodb")
    _say("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
