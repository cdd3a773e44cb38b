"""HTTP models of users and API keys; a key's secret appears only in the answer that created it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chartwise_gateway.identity.service import IssuedKey
from chartwise_gateway.identity.store import ApiKey, User


class KeyPublic(BaseModel):
    id: str
    prefix: str = Field(description="Identifies the key in lists and logs; the secret is never shown again.")
    name: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        return cls(
            id=key.id,
            prefix=key.prefix,
            name=key.name,
            created_at=key.created_at,
            revoked=key.revoked,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyPublic):
    key: str = Field(description="The whole key. Shown once: store it now.")

    @classmethod
    def issued(cls, issued: IssuedKey) -> KeyCreated:
        return cls(**KeyPublic.of(issued.key).model_dump(), key=issued.plaintext)


class KeyCreate(BaseModel):
    name: str = Field(default="default", min_length=1, max_length=100)


class KeyList(BaseModel):
    items: list[KeyPublic]


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    key_name: str = Field(default="default", min_length=1, max_length=100)
    time_zone: str | None = Field(default=None, min_length=1, max_length=64, description="IANA zone name.")


class UserPublic(BaseModel):
    id: str
    email: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, email=user.email, created_at=user.created_at)


class UserCreated(BaseModel):
    user: UserPublic
    api_key: KeyCreated
