"""Pytest fixtures for real Redis and MongoDB-compatible servers, started once per session on demand.

Each test gets isolated state: the `redis` fixture flushes the database before the test, and `mongo_db`
is a database of its own, dropped afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from chartwise_devtools.servers import Endpoints, backing_servers
from chartwise_runtime.mongo import Database, Document


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    with backing_servers(tmp_path_factory.mktemp("servers")) as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def redis_url(servers: Endpoints) -> str:
    return servers.redis_url


@pytest.fixture(scope="session")
def mongo_url(servers: Endpoints) -> str:
    return servers.mongo_url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url, decode_responses=False)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def mongo_client(mongo_url: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url, tz_aware=True, uuidRepresentation="standard")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def mongo_database_name() -> str:
    return f"test_{uuid4().hex[:12]}"


@pytest.fixture
async def mongo_db(mongo_client: AsyncMongoClient[Document], mongo_database_name: str) -> AsyncIterator[Database]:
    try:
        yield mongo_client[mongo_database_name]
    finally:
        with contextlib.suppress(Exception):
            await mongo_client.drop_database(mongo_database_name)
