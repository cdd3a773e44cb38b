"""`python -m chartwise_gateway.admin` creates a user and prints a key that works at once."""

from __future__ import annotations

import json

import pytest

from chartwise_gateway import admin
from tests.integration.gateway.conftest import Api, Backing, bearer, gateway_settings


async def test_create_user_prints_a_working_key_once(
    gateway: Api, backing: Backing, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = gateway_settings(backing)
    args = admin.parser().parse_args(["create-user", "--email", "cli@example.com"])

    result = await admin.run(args, settings)
    key = result["api_key"]["key"]

    assert (await gateway.http.get("/v1/keys", headers=bearer(key))).status_code == 200
    listed = await admin.run(admin.parser().parse_args(["list-keys", "--user-id", result["user"]["id"]]), settings)
    assert key not in json.dumps(listed)
    assert listed["items"][0]["prefix"] == result["api_key"]["prefix"]
