"""Without the launcher's fallback switch, nx-27017 stores datetimes as strings and booleans as integers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from chartwise_devtools import servers


@pytest.fixture
def plain_nx_url(tmp_path: Path) -> Iterator[str]:
    port = servers.free_port()
    args = [sys.executable, "-m", "nx_27017.nx_27017", "--data-dir", "memory", "--host", "127.0.0.1", "-p", str(port)]
    args += ["--log-file", str(tmp_path / "nx.log"), "--pid-file", str(tmp_path / "nx.pid")]
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    with servers._process(args, tmp_path / "out.log", tmp_path) as process:
        servers._wait_for("nx-27017", lambda: servers._mongo_answers(url), process, tmp_path / "out.log")
        yield url


def _set_and_read(url: str) -> dict[str, Any]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, tz_aware=True) as client:
        collection: Collection[dict[str, Any]] = client["t"]["items"]
        collection.insert_one({"_id": "a"})
        collection.update_one({"_id": "a"}, {"$set": {"at": datetime(2026, 1, 2, tzinfo=UTC), "flag": True}})
        stored = collection.find_one({"_id": "a"})
        assert stored is not None
        return stored


def test_plain_server_mangles_set_values_so_the_launcher_is_needed(plain_nx_url: str) -> None:
    stored = _set_and_read(plain_nx_url)
    assert not isinstance(stored["at"], datetime) or stored["flag"] is not True


def test_launcher_server_keeps_set_values(tmp_path: Path) -> None:
    with servers.local_mongo(tmp_path, in_memory=True) as url:
        stored = _set_and_read(url)
    assert stored["at"] == datetime(2026, 1, 2, tzinfo=UTC)
    assert stored["flag"] is True
