"""`Idempotency-Key`: the first successful answer to (user, key) is kept for a day and replayed to retries.

A retry with the same key and the same request gets the stored answer; the same key with a different
request is a conflict, as is a retry while the first request is still being served. A request that
failed leaves nothing behind, so it can be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from chartwise_runtime.errors import Conflict

KEY_PREFIX = "chartwise:gateway:idempotency:"
PENDING = "pending"
PENDING_TTL_S = 120
"""How long a request in progress holds its key: a gateway that died mid-request frees it this soon."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    @staticmethod
    def _key(user_id: str, key: str) -> str:
        return f"{KEY_PREFIX}{user_id}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def begin(self, user_id: str, key: str, request_fingerprint: str) -> StoredResponse | None:
        """None when this request should run now; the stored answer when it already ran."""
        redis_key = self._key(user_id, key)
        marker = json.dumps({"state": PENDING, "fingerprint": request_fingerprint})
        if await self._redis.set(redis_key, marker, nx=True, ex=min(PENDING_TTL_S, self._ttl_s)):
            return None
        raw = await self._redis.get(redis_key)
        if raw is None:  # expired between the two commands: this request is the first again
            return await self.begin(user_id, key, request_fingerprint)
        stored = json.loads(raw)
        if stored["fingerprint"] != request_fingerprint:
            raise Conflict("this Idempotency-Key was used for a different request", details={"idempotency_key": key})
        if stored["state"] == PENDING:
            raise Conflict("a request with this Idempotency-Key is still in progress", details={"idempotency_key": key})
        return StoredResponse(status=int(stored["status"]), body=stored["body"])

    async def complete(
        self, user_id: str, key: str, request_fingerprint: str, *, status: int, body: dict[str, Any]
    ) -> None:
        record = {"state": "done", "fingerprint": request_fingerprint, "status": status, "body": body}
        await self._redis.set(self._key(user_id, key), json.dumps(record), ex=self._ttl_s)

    async def abandon(self, user_id: str, key: str) -> None:
        await self._redis.delete(self._key(user_id, key))
