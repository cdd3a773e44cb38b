"""A user's own API keys: create, list (prefixes only), revoke, rotate."""

from __future__ import annotations

from fastapi import APIRouter, status

from chartwise_gateway.deps import ClientsDep, CurrentUser
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.identity.models import KeyCreate, KeyCreated, KeyList, KeyPublic

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)


@router.get("", operation_id="listKeys")
async def list_keys(user: CurrentUser, clients: ClientsDep) -> KeyList:
    keys = await clients.identity.store.keys_of(user.user_id)
    return KeyList(items=[KeyPublic.of(k) for k in keys])


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="createKey")
async def create_key(body: KeyCreate, user: CurrentUser, clients: ClientsDep) -> KeyCreated:
    return KeyCreated.issued(await clients.identity.issue_key(user.user_id, name=body.name))


@router.delete("/{key_id}", operation_id="revokeKey")
async def revoke_key(key_id: str, user: CurrentUser, clients: ClientsDep) -> KeyPublic:
    return KeyPublic.of(await clients.identity.revoke_key(user.user_id, key_id))


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED, operation_id="rotateKey")
async def rotate_key(key_id: str, user: CurrentUser, clients: ClientsDep) -> KeyCreated:
    return KeyCreated.issued(await clients.identity.rotate_key(user.user_id, key_id))
