"""MongoDB through PyMongo's async API (`AsyncMongoClient`).

Motor, named in the original package list, is deprecated by its maintainers in favour of this API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from chartwise_runtime.settings import ServiceSettings

Document = dict[str, Any]
MongoClient = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]


def make_mongo_client(settings: ServiceSettings) -> MongoClient:
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        uuidRepresentation="standard",
        appname=f"chartwise-{settings.service_name}",
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
    )


async def ensure_indexes(db: Database, indexes: Mapping[str, Sequence[IndexModel]]) -> None:
    """Creates each collection's indexes; safe to run at every start of every replica."""
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))


async def ping(client: MongoClient) -> None:
    await client.admin.command("ping")
