"""The journal over HTTP, through the gateway to the real journal service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.gateway.conftest import Api, bearer

TRADE: dict[str, Any] = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": "10",
    "entry_price": "100",
    "entered_at": "2026-03-02T14:30:00Z",
    "stop_loss": "95",
}

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_trade_round_trip_create_get_update_close_delete(api: Api) -> None:
    _, key = await api.create_user()
    auth = bearer(key)

    created = await api.http.post("/v1/journal", json=TRADE, headers=auth)
    assert created.status_code == 201, created.text
    trade_id = created.json()["id"]
    assert created.json()["status"] == "open"

    fetched = await api.http.get(f"/v1/journal/{trade_id}", headers=auth)
    assert fetched.json()["symbol"] == "AAPL"

    updated = await api.http.patch(
        f"/v1/journal/{trade_id}", json={"notes": "breakout", "clear": ["stop_loss"]}, headers=auth
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["notes"] == "breakout"
    assert updated.json()["stop_loss"] is None

    closed = await api.http.post(
        f"/v1/journal/{trade_id}/close", json={"exit_price": "110", "exited_at": "2026-03-03T14:30:00Z"}, headers=auth
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["net_pnl"] == "100"

    deleted = await api.http.delete(f"/v1/journal/{trade_id}", headers=auth)
    assert deleted.status_code == 204
    assert (await api.http.get(f"/v1/journal/{trade_id}", headers=auth)).status_code == 404


async def test_retry_with_the_same_idempotency_key_adds_the_trade_once(api: Api) -> None:
    _, key = await api.create_user()
    headers = {**bearer(key), "Idempotency-Key": "trade-1"}

    first = await api.http.post("/v1/journal", json=TRADE, headers=headers)
    second = await api.http.post("/v1/journal", json=TRADE, headers=headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len((await api.http.get("/v1/journal", headers=bearer(key))).json()["items"]) == 1


async def test_listing_filters_and_pages_with_a_cursor(api: Api) -> None:
    _, key = await api.create_user()
    auth = bearer(key)
    for day, symbol in enumerate(["AAPL", "MSFT", "AAPL"], start=1):
        body = {**TRADE, "symbol": symbol, "entered_at": f"2026-03-0{day}T10:00:00Z"}
        assert (await api.http.post("/v1/journal", json=body, headers=auth)).status_code == 201

    first = (await api.http.get("/v1/journal", params={"symbol": "AAPL", "limit": 1}, headers=auth)).json()
    second = (
        await api.http.get(
            "/v1/journal", params={"symbol": "AAPL", "limit": 1, "cursor": first["next_cursor"]}, headers=auth
        )
    ).json()

    assert [t["entered_at"][:10] for t in first["items"] + second["items"]] == ["2026-03-03", "2026-03-01"]
    assert second["next_cursor"] is None


async def test_stats_and_csv_export_then_import_into_another_account(api: Api) -> None:
    _, alice = await api.create_user()
    _, bob = await api.create_user()
    await api.http.post(
        "/v1/journal", json={**TRADE, "exit_price": "105", "exited_at": "2026-03-03T10:00:00Z"}, headers=bearer(alice)
    )

    stats = await api.http.get("/v1/journal/stats", headers=bearer(alice))
    exported = await api.http.get("/v1/journal/export", headers=bearer(alice))
    imported = await api.http.post(
        "/v1/journal/import", content=exported.content, headers={**bearer(bob), "Content-Type": "text/csv"}
    )

    assert stats.status_code == 200
    assert stats.json()["closed_trades"] == 1
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 1
    assert len((await api.http.get("/v1/journal", headers=bearer(bob))).json()["items"]) == 1


async def test_import_refuses_a_body_that_is_not_csv(api: Api) -> None:
    _, key = await api.create_user()

    response = await api.http.post("/v1/journal/import", json={"csv": "x"}, headers=bearer(key))

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_invalid_trade_answers_422_without_reaching_the_service(api: Api) -> None:
    _, key = await api.create_user()

    response = await api.http.post("/v1/journal", json={**TRADE, "quantity": "-1"}, headers=bearer(key))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert response.json()["error"]["details"]["errors"][0]["loc"][-1] == "quantity"


async def test_one_user_never_reaches_another_users_trades(api: Api) -> None:
    _, alice = await api.create_user()
    _, bob = await api.create_user()
    trade_id = (await api.http.post("/v1/journal", json=TRADE, headers=bearer(alice))).json()["id"]
    exit_body = {"exit_price": "110", "exited_at": "2026-03-03T14:30:00Z"}

    answers = [
        await api.http.get(f"/v1/journal/{trade_id}", headers=bearer(bob)),
        await api.http.patch(f"/v1/journal/{trade_id}", json={"notes": "mine"}, headers=bearer(bob)),
        await api.http.post(f"/v1/journal/{trade_id}/close", json=exit_body, headers=bearer(bob)),
        await api.http.delete(f"/v1/journal/{trade_id}", headers=bearer(bob)),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert (await api.http.get("/v1/journal", headers=bearer(bob))).json()["items"] == []
    assert (await api.http.get(f"/v1/journal/{trade_id}", headers=bearer(alice))).json()["notes"] == ""
