"""Users and API keys in the gateway's own MongoDB database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from chartwise_runtime.errors import Conflict
from chartwise_runtime.mongo import Database, Document

USERS = "users"
API_KEYS = "api_keys"

INDEXES: dict[str, list[IndexModel]] = {
    USERS: [IndexModel([("email", ASCENDING)], unique=True)],
    API_KEYS: [IndexModel([("prefix", ASCENDING)], unique=True), IndexModel([("user_id", ASCENDING)])],
}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    prefix: str
    hash: str
    name: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None


def _user(doc: Document) -> User:
    return User(id=doc["_id"], email=doc["email"], created_at=doc["created_at"])


def _key(doc: Document) -> ApiKey:
    return ApiKey(
        id=doc["_id"],
        user_id=doc["user_id"],
        prefix=doc["prefix"],
        hash=doc["hash"],
        name=doc.get("name", ""),
        created_at=doc["created_at"],
        revoked=bool(doc.get("revoked", False)),
        revoked_at=doc.get("revoked_at"),
    )


class IdentityStore:
    def __init__(self, db: Database) -> None:
        self._users = db[USERS]
        self._keys = db[API_KEYS]

    async def add_user(self, user: User) -> None:
        try:
            await self._users.insert_one({"_id": user.id, "email": user.email, "created_at": user.created_at})
        except DuplicateKeyError as error:
            raise Conflict("a user with this email exists", details={"email": user.email}) from error

    async def user(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id})
        return _user(doc) if doc else None

    async def user_by_email(self, email: str) -> User | None:
        doc = await self._users.find_one({"email": email})
        return _user(doc) if doc else None

    async def add_key(self, key: ApiKey) -> None:
        doc: dict[str, Any] = {
            "_id": key.id,
            "user_id": key.user_id,
            "prefix": key.prefix,
            "hash": key.hash,
            "name": key.name,
            "created_at": key.created_at,
            "revoked": key.revoked,
            "revoked_at": key.revoked_at,
        }
        await self._keys.insert_one(doc)

    async def key_by_prefix(self, prefix: str) -> ApiKey | None:
        doc = await self._keys.find_one({"prefix": prefix})
        return _key(doc) if doc else None

    async def key(self, user_id: str, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id, "user_id": user_id})
        return _key(doc) if doc else None

    async def keys_of(self, user_id: str) -> list[ApiKey]:
        docs = await self._keys.find({"user_id": user_id}).sort("created_at", DESCENDING).to_list()
        return [_key(d) for d in docs]

    async def revoke_key(self, user_id: str, key_id: str, *, at: datetime) -> bool:
        """Marks the key revoked; True when it was active until now."""
        result = await self._keys.update_one(
            {"_id": key_id, "user_id": user_id, "revoked": False}, {"$set": {"revoked": True, "revoked_at": at}}
        )
        return result.modified_count == 1
