"""Registering users and issuing, rotating and revoking their API keys."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.redis import RedisBroker
from pydantic import SecretStr

from chartwise_contracts import Streams, new_id, utcnow
from chartwise_contracts.identity import UserRegistered
from chartwise_gateway.identity.keys import generate_key, hash_key
from chartwise_gateway.identity.store import ApiKey, IdentityStore, User
from chartwise_runtime.errors import NotFound
from chartwise_runtime.rpc import publish

MAX_KEY_INSERT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    plaintext: str


class Identity:
    def __init__(self, store: IdentityStore, *, pepper: SecretStr) -> None:
        self.store = store
        self._pepper = pepper.get_secret_value().encode()

    @property
    def pepper(self) -> bytes:
        return self._pepper

    async def register_user(
        self, *, email: str, key_name: str, broker: RedisBroker, correlation_id: str = "", time_zone: str | None = None
    ) -> tuple[User, IssuedKey]:
        """Creates the user and a first key, then announces `UserRegistered` (repeated on a retry, never lost)."""
        user = User(id=f"usr_{new_id()}", email=email.strip().lower(), created_at=utcnow())
        await self.store.add_user(user)
        issued = await self.issue_key(user.id, name=key_name)
        event = UserRegistered.new(
            actor=user.id,
            correlation_id=correlation_id,
            user_id=user.id,
            email=user.email,
            time_zone=time_zone,
            registered_at=user.created_at,
        )
        await publish(broker, event, stream=Streams.IDENTITY_EVENTS.name, maxlen=Streams.IDENTITY_EVENTS.maxlen)
        return user, issued

    async def issue_key(self, user_id: str, *, name: str) -> IssuedKey:
        if await self.store.user(user_id) is None:
            raise NotFound("no such user", details={"user_id": user_id})
        for attempt in range(MAX_KEY_INSERT_ATTEMPTS):
            new = generate_key()
            if await self.store.key_by_prefix(new.prefix) is not None and attempt < MAX_KEY_INSERT_ATTEMPTS - 1:
                continue  # 36**8 prefixes make this rare; the unique index stays the last word
            key = ApiKey(
                id=f"key_{new_id()}",
                user_id=user_id,
                prefix=new.prefix,
                hash=hash_key(new.plaintext, pepper=self._pepper),
                name=name,
                created_at=utcnow(),
                revoked=False,
                revoked_at=None,
            )
            await self.store.add_key(key)
            return IssuedKey(key=key, plaintext=new.plaintext)
        raise RuntimeError("could not find a free key prefix")

    async def revoke_key(self, user_id: str, key_id: str) -> ApiKey:
        key = await self.store.key(user_id, key_id)
        if key is None:
            raise NotFound("no such API key", details={"key_id": key_id})
        await self.store.revoke_key(user_id, key_id, at=utcnow())
        revoked = await self.store.key(user_id, key_id)
        assert revoked is not None
        return revoked

    async def rotate_key(self, user_id: str, key_id: str) -> IssuedKey:
        """A new key with the old one's name; the old one stops working at once."""
        old = await self.store.key(user_id, key_id)
        # Revoking first is the claim: of concurrent rotations of one key, only the one that revoked it issues.
        if old is None or old.revoked or not await self.store.revoke_key(user_id, key_id, at=utcnow()):
            raise NotFound("no such active API key", details={"key_id": key_id})
        return await self.issue_key(user_id, name=old.name)
