"""Users and API keys: created by the admin, shown once, stored hashed, listed by prefix, revoked, rotated."""

from __future__ import annotations

import asyncio
import json
from typing import cast

from redis.asyncio import Redis

from chartwise_contracts import Streams
from chartwise_contracts.identity import UserRegistered
from chartwise_gateway.stream_codec import entry_body
from chartwise_runtime.mongo import Database
from tests.integration.gateway.conftest import ADMIN_TOKEN, Api, bearer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_created_user_gets_a_working_key_and_a_registration_event(gateway: Api, redis: Redis) -> None:
    user_id, key = await gateway.create_user("first@example.com")

    response = await gateway.http.get("/v1/keys", headers=bearer(key))

    assert response.status_code == 200
    [listed] = response.json()["items"]
    assert key.startswith(f"cw_{listed['prefix']}_")
    assert "key" not in listed
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", await redis.xrange(Streams.IDENTITY_EVENTS.name))
    [(_, fields)] = entries
    body = entry_body(fields)
    assert body is not None
    event = UserRegistered.model_validate_json(body)
    assert event.user_id == user_id
    assert event.email == "first@example.com"


async def test_key_is_stored_only_as_a_hash(gateway: Api) -> None:
    _, key = await gateway.create_user()
    settings = gateway.app.state.settings
    db: Database = gateway.app.state.clients.mongo[settings.mongo_database]

    [stored] = await db.api_keys.find({}).to_list()

    assert key not in json.dumps(stored, default=str)
    assert stored["prefix"] == key.split("_")[1]


async def test_requests_without_a_valid_key_answer_401_in_the_error_envelope(gateway: Api) -> None:
    _, key = await gateway.create_user()

    for headers in ({}, bearer("cw_abcdefgh_" + "x" * 43), bearer(key[:-1] + "Z"), {"X-API-Key": "nonsense"}):
        response = await gateway.http.get("/v1/keys", headers=headers)
        assert response.status_code == 401, headers
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_key_works_through_the_x_api_key_header(gateway: Api) -> None:
    _, key = await gateway.create_user()

    assert (await gateway.http.get("/v1/keys", headers={"X-API-Key": key})).status_code == 200


async def test_revoked_key_stops_working(gateway: Api) -> None:
    _, key = await gateway.create_user()
    second = (await gateway.http.post("/v1/keys", json={"name": "ci"}, headers=bearer(key))).json()

    revoked = await gateway.http.delete(f"/v1/keys/{second['id']}", headers=bearer(key))

    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert (await gateway.http.get("/v1/keys", headers=bearer(second["key"]))).status_code == 401
    assert (await gateway.http.get("/v1/keys", headers=bearer(key))).status_code == 200


async def test_rotation_replaces_the_key(gateway: Api) -> None:
    _, key = await gateway.create_user()
    [first] = (await gateway.http.get("/v1/keys", headers=bearer(key))).json()["items"]

    rotated = await gateway.http.post(f"/v1/keys/{first['id']}/rotate", headers=bearer(key))

    assert rotated.status_code == 201
    new_key = rotated.json()["key"]
    assert rotated.json()["name"] == first["name"]
    assert (await gateway.http.get("/v1/keys", headers=bearer(key))).status_code == 401
    listed = (await gateway.http.get("/v1/keys", headers=bearer(new_key))).json()["items"]
    assert {k["revoked"] for k in listed} == {True, False}


async def test_concurrent_rotations_of_one_key_leave_one_live_key(gateway: Api) -> None:
    _, key = await gateway.create_user()
    [first] = (await gateway.http.get("/v1/keys", headers=bearer(key))).json()["items"]

    answers = await asyncio.gather(
        *(gateway.http.post(f"/v1/keys/{first['id']}/rotate", headers=bearer(key)) for _ in range(5))
    )

    issued = [a.json()["key"] for a in answers if a.status_code == 201]
    assert len(issued) == 1
    assert sorted(a.status_code for a in answers) == [201, 404, 404, 404, 404]
    listed = (await gateway.http.get("/v1/keys", headers=bearer(issued[0]))).json()["items"]
    assert sum(not k["revoked"] for k in listed) == 1


async def test_one_user_cannot_revoke_or_rotate_another_users_key(gateway: Api) -> None:
    _, alice = await gateway.create_user("alice@example.com")
    _, bob = await gateway.create_user("bob@example.com")
    [alice_key] = (await gateway.http.get("/v1/keys", headers=bearer(alice))).json()["items"]

    assert (await gateway.http.delete(f"/v1/keys/{alice_key['id']}", headers=bearer(bob))).status_code == 404
    assert (await gateway.http.post(f"/v1/keys/{alice_key['id']}/rotate", headers=bearer(bob))).status_code == 404
    assert (await gateway.http.get("/v1/keys", headers=bearer(alice))).status_code == 200


async def test_admin_routes_refuse_api_keys_and_wrong_tokens(gateway: Api) -> None:
    _, key = await gateway.create_user()

    no_token = await gateway.http.post("/v1/admin/users", json={"email": "x@example.com"})
    user_key = await gateway.http.post("/v1/admin/users", json={"email": "x@example.com"}, headers=bearer(key))

    assert no_token.status_code == 401
    assert user_key.status_code == 403
    assert user_key.json()["error"]["code"] == "forbidden"


async def test_second_user_with_the_same_email_is_a_conflict(gateway: Api) -> None:
    await gateway.create_user("same@example.com")

    response = await gateway.http.post("/v1/admin/users", json={"email": "Same@example.com"}, headers=ADMIN)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_admin_issues_and_revokes_keys_of_a_user(gateway: Api) -> None:
    user_id, _ = await gateway.create_user()

    issued = await gateway.http.post(f"/v1/admin/users/{user_id}/keys", json={"name": "ops"}, headers=ADMIN)
    assert issued.status_code == 201
    assert (await gateway.http.get("/v1/keys", headers=bearer(issued.json()["key"]))).status_code == 200
    revoked = await gateway.http.delete(f"/v1/admin/users/{user_id}/keys/{issued.json()['id']}", headers=ADMIN)

    assert revoked.status_code == 200
    assert (await gateway.http.get("/v1/keys", headers=bearer(issued.json()["key"]))).status_code == 401
    assert (await gateway.http.get("/v1/admin/users/usr_nobody/keys", headers=ADMIN)).status_code == 404
