"""Everything the routes use, built once in the app's lifespan and reached through `request.app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import Message, Reply
from chartwise_gateway.identity.service import Identity
from chartwise_gateway.ratelimit import RateLimiter
from chartwise_gateway.settings import Settings
from chartwise_runtime.blobs import BlobStore
from chartwise_runtime.mongo import MongoClient
from chartwise_runtime.rpc import publish, request

R = TypeVar("R", bound=Reply)


@dataclass
class Clients:
    settings: Settings
    broker: RedisBroker
    mongo: MongoClient
    redis: Redis
    blobs: BlobStore
    identity: Identity
    rate_limiter: RateLimiter

    async def call(self, message: Message, *, subject: str, reply_type: type[R]) -> R:
        """Request/reply with the gateway's timeout; a silent service becomes a 503 for this route only."""
        return await request(
            self.broker, message, subject=subject, reply_type=reply_type, timeout=self.settings.rpc_timeout_s
        )

    async def send(self, message: Message, *, stream: str, maxlen: int) -> None:
        await publish(self.broker, message, stream=stream, maxlen=maxlen)
