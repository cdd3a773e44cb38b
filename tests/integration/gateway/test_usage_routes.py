"""Usage, plans and Stripe webhooks over HTTP, through the gateway to the real usage service."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from chartwise_devtools.waiting import eventually
from tests.integration.gateway.conftest import ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET, Api, bearer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_new_user_sees_the_free_plan_and_empty_usage(api: Api) -> None:
    _, key = await api.create_user()

    plan = await api.http.get("/v1/plan", headers=bearer(key))
    usage = await api.http.get("/v1/usage", headers=bearer(key))

    assert plan.status_code == 200, plan.text
    assert plan.json()["plan"] == "free"
    assert plan.json()["max_charts_per_analysis"] == 1
    assert usage.status_code == 200, usage.text
    windows = {w["window"]: w for w in usage.json()["windows"]}
    assert set(windows) >= {"monthly", "total"}
    assert windows["monthly"]["used"] == 0


async def test_admin_sets_a_users_plan(api: Api) -> None:
    user_id, key = await api.create_user()

    changed = await api.http.put(f"/v1/admin/users/{user_id}/plan", json={"plan": "pro"}, headers=ADMIN)

    assert changed.status_code == 200, changed.text
    assert changed.json()["plan"] == "pro"
    plan = await api.http.get("/v1/plan", headers=bearer(key))
    assert plan.json()["max_charts_per_analysis"] == 3


async def test_admin_usage_overview_lists_registered_users(api: Api) -> None:
    user_id, _ = await api.create_user()

    async def listed() -> bool:
        response = await api.http.get("/v1/admin/usage", headers=ADMIN)
        return response.status_code == 200 and user_id in {u["user_id"] for u in response.json()["users"]}

    await eventually(listed, message="the registered user is not in the usage overview")


async def test_stripe_webhook_with_a_bad_signature_is_refused_with_the_services_verdict(api: Api) -> None:
    response = await api.http.post(
        "/v1/webhooks/stripe", content=b'{"id": "evt_1"}', headers={"Stripe-Signature": "t=1,v1=bad"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


async def test_signed_stripe_webhook_is_answered_with_the_services_verdict(api: Api) -> None:
    event = {
        "id": "evt_gw_1",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {}},
    }
    payload = json.dumps(event)
    timestamp = int(time.time())
    digest = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()

    response = await api.http.post(
        "/v1/webhooks/stripe", content=payload.encode(), headers={"Stripe-Signature": f"t={timestamp},v1={digest}"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"event_id": "evt_gw_1", "event_type": "customer.created", "outcome": "ignored"}


async def test_stripe_webhook_without_a_signature_is_invalid_input(api: Api) -> None:
    response = await api.http.post("/v1/webhooks/stripe", content=b"{}")

    assert response.status_code == 422


async def test_user_sets_the_time_zone_of_their_daily_window(api: Api) -> None:
    _, key = await api.create_user()

    changed = await api.http.put("/v1/account/time-zone", json={"time_zone": "Europe/London"}, headers=bearer(key))

    assert changed.status_code == 200, changed.text
    assert changed.json()["time_zone"] == "Europe/London"
    assert changed.json()["plan"] == "free"
    plan = await api.http.get("/v1/plan", headers=bearer(key))
    assert plan.json()["time_zone"] == "Europe/London"


async def test_an_unknown_time_zone_is_refused_by_the_usage_service_and_nothing_changes(api: Api) -> None:
    _, key = await api.create_user()

    refused = await api.http.put("/v1/account/time-zone", json={"time_zone": "Mars/Olympus"}, headers=bearer(key))
    malformed = await api.http.put("/v1/account/time-zone", json={"zone": "UTC"}, headers=bearer(key))

    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "invalid_input",
        "message": "unknown time zone 'Mars/Olympus'",
        "details": {"time_zone": "Mars/Olympus"},
    }
    assert malformed.status_code == 422
    assert (await api.http.get("/v1/plan", headers=bearer(key))).json()["time_zone"] == "UTC"


async def test_setting_the_time_zone_needs_an_api_key(api: Api) -> None:
    response = await api.http.put("/v1/account/time-zone", json={"time_zone": "UTC"})

    assert response.status_code == 401
