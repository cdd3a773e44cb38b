"""Chart analyses through the gateway, with every service running on real Redis and MongoDB."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from chartwise_devtools.waiting import eventually
from tests.integration.gateway.conftest import ADMIN_TOKEN, Api, bearer
from tests.integration.gateway.images import bomb_png, chart_png, gif_bytes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
METADATA = '{"strategyAndCriteria": "Breakout", "risk": 40}'


def upload(*charts: tuple[str, bytes, str], **fields: str) -> dict[str, Any]:
    return {"files": [("charts", chart) for chart in charts], "data": {"metadata": METADATA, **fields}}


def png_file(name: str = "chart.png") -> tuple[str, bytes, str]:
    return (name, chart_png(), "image/png")


def parse_sse(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], lines.get("data", "")))
    return events


async def submit(api: Api, key: str, **kwargs: Any) -> httpx.Response:
    return await api.http.post("/v1/analyses", headers=bearer(key), **(kwargs or upload(png_file())))


async def wait_completed(api: Api, key: str, analysis_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.http.get(f"/v1/analyses/{analysis_id}", headers=bearer(key))).json()
        return body if body.get("status") in ("completed", "failed") else None

    result: dict[str, Any] = await eventually(done, timeout=20, message="the analysis did not finish")
    return result


async def test_upload_is_analysed_and_the_client_sees_it_complete_over_sse(system: Api) -> None:
    _, key = await system.create_user()

    accepted = await submit(system, key)

    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "queued"
    assert body["links"]["events"].endswith(f"/v1/analyses/{body['id']}/events")
    stream = await system.http.get(body["links"]["events"], headers=bearer(key), timeout=30)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in parse_sse(stream.text)]
    assert names[0] == "status"
    assert names[-1] == "completed", stream.text
    analysis = (await system.http.get(f"/v1/analyses/{body['id']}", headers=bearer(key))).json()
    assert analysis["status"] == "completed"
    assert analysis["result"]["markdown"]

    async def counted() -> bool:
        usage = (await system.http.get("/v1/usage", headers=bearer(key))).json()
        monthly: int = {w["window"]: w["used"] for w in usage["windows"]}["monthly"]
        return monthly == 1

    await eventually(counted, message="the finished analysis was not counted")


async def test_json_with_a_data_url_is_accepted(system: Api) -> None:
    _, key = await system.create_user()
    data_url = "data:image/png;base64," + base64.b64encode(chart_png()).decode()

    accepted = await system.http.post(
        "/v1/analyses",
        json={"chartUrls": [data_url], "metadata": {"strategyAndCriteria": "Swing", "risk": 70}, "name": "EURUSD 4h"},
        headers=bearer(key),
    )

    assert accepted.status_code == 202, accepted.text
    finished = await wait_completed(system, key, accepted.json()["id"])
    assert finished["name"] == "EURUSD 4h"
    assert finished["metadata"]["risk"] == 70


async def test_quota_denial_answers_429_with_limit_used_and_reset(system: Api) -> None:
    _, key = await system.create_user()
    for _ in range(6):  # the free plan: 6 a month, 6 in total
        assert (await submit(system, key)).status_code == 202

    denied = await submit(system, key)

    assert denied.status_code == 429, denied.text
    error = denied.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["limit"] == 6
    assert error["details"]["used"] == 6
    assert "resets_at" in error["details"]
    if error["details"]["resets_at"] is not None:
        assert int(denied.headers["Retry-After"]) >= 1

    async def six_listed() -> bool:
        listed = (await system.http.get("/v1/analyses", params={"limit": 100}, headers=bearer(key))).json()
        return len(listed["items"]) == 6

    await eventually(six_listed, message="the refused request changed the number of analyses")


async def test_retry_with_the_same_idempotency_key_creates_one_analysis(system: Api) -> None:
    _, key = await system.create_user()
    chart = png_file()
    headers = {**bearer(key), "Idempotency-Key": "retry-me"}

    first = await system.http.post("/v1/analyses", headers=headers, **upload(chart))
    again = await system.http.post("/v1/analyses", headers=headers, **upload(chart))
    other = await system.http.post("/v1/analyses", headers=headers, **upload(chart, name="something else"))

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    await wait_completed(system, key, first.json()["id"])
    listed = (await system.http.get("/v1/analyses", headers=bearer(key))).json()
    assert [a["analysis_id"] for a in listed["items"]] == [first.json()["id"]]


async def test_a_refused_request_does_not_hold_its_idempotency_key(system: Api) -> None:
    _, key = await system.create_user()
    headers = {**bearer(key), "Idempotency-Key": "fix-and-retry"}

    refused = await system.http.post("/v1/analyses", headers=headers, **upload(("c.png", gif_bytes(), "image/png")))
    fixed = await system.http.post("/v1/analyses", headers=headers, **upload(png_file()))

    assert (refused.status_code, fixed.status_code) == (415, 202)


async def test_another_user_gets_404_on_every_analysis_route(system: Api) -> None:
    _, alice = await system.create_user()
    _, bob = await system.create_user()
    analysis_id = (await submit(system, alice)).json()["id"]
    await wait_completed(system, alice, analysis_id)
    path = f"/v1/analyses/{analysis_id}"

    answers = [
        await system.http.get(path, headers=bearer(bob)),
        await system.http.patch(path, json={"name": "mine"}, headers=bearer(bob)),
        await system.http.get(f"{path}/events", headers=bearer(bob)),
        await system.http.post(f"{path}/share", headers=bearer(bob)),
        await system.http.delete(f"{path}/share", headers=bearer(bob)),
        await system.http.delete(path, headers=bearer(bob)),
    ]

    assert [a.status_code for a in answers] == [404] * 6
    assert all(a.json()["error"]["code"] == "not_found" for a in answers)
    assert (await system.http.get("/v1/analyses", headers=bearer(bob))).json()["items"] == []
    assert (await system.http.get(path, headers=bearer(alice))).json()["name"] != "mine"


async def test_rename_share_unshare_and_delete(system: Api) -> None:
    _, key = await system.create_user()
    analysis_id = (await submit(system, key)).json()["id"]
    await wait_completed(system, key, analysis_id)
    path = f"/v1/analyses/{analysis_id}"

    renamed = await system.http.patch(path, json={"name": "BTC daily"}, headers=bearer(key))
    shared = await system.http.post(f"{path}/share", headers=bearer(key))
    token = shared.json()["token"]
    public = await system.http.get(f"/v1/shared/{token}")

    assert renamed.json()["name"] == "BTC daily"
    assert shared.status_code == 200, shared.text
    assert public.status_code == 200
    assert public.json()["name"] == "BTC daily"
    assert "user_id" not in public.text
    assert "email" not in public.text
    assert (await system.http.delete(f"{path}/share", headers=bearer(key))).status_code == 204
    assert (await system.http.get(f"/v1/shared/{token}")).status_code == 404
    assert (await system.http.delete(path, headers=bearer(key))).status_code == 204
    assert (await system.http.get(path, headers=bearer(key))).status_code == 404


async def test_gif_disguised_as_png_is_refused_with_415(system: Api) -> None:
    _, key = await system.create_user()

    response = await submit(system, key, **upload(("chart.png", gif_bytes(), "image/png")))

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_oversize_image_is_refused_with_413(system: Api) -> None:
    _, key = await system.create_user()
    limit = system.app.state.settings.max_image_bytes
    oversize = chart_png() + b"\0" * limit

    response = await submit(system, key, **upload(("big.png", oversize, "image/png")))

    assert response.status_code == 413
    assert response.json()["error"]["details"]["max_bytes"] == limit


async def test_more_charts_than_the_plan_allows_is_refused_with_422(system: Api) -> None:
    _, key = await system.create_user()

    response = await submit(system, key, **upload(png_file("a.png"), png_file("b.png")))

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"max_charts": 1, "given": 2, "plan": "free"}


async def test_pro_plan_may_send_three_charts(system: Api) -> None:
    user_id, key = await system.create_user()
    await system.http.put(f"/v1/admin/users/{user_id}/plan", json={"plan": "pro"}, headers=ADMIN)

    response = await submit(system, key, **upload(png_file("a.png"), png_file("b.png"), png_file("c.png")))

    assert response.status_code == 202, response.text


async def test_decompression_bomb_is_refused_with_422(system: Api) -> None:
    _, key = await system.create_user()

    response = await submit(system, key, **upload(("bomb.png", bomb_png(), "image/png")))

    assert response.status_code == 422
    assert "pixels" in response.json()["error"]["message"]


async def test_undecodable_image_is_refused_with_422(system: Api) -> None:
    _, key = await system.create_user()
    whole = chart_png()

    response = await submit(system, key, **upload(("cut.png", whole[: len(whole) // 2], "image/png")))

    assert response.status_code == 422


async def test_json_validation_failures(system: Api) -> None:
    _, key = await system.create_user()
    cases = {
        "no charts": ({"chartUrls": []}, 422),
        "local file path": ({"chartUrls": ["/etc/passwd"]}, 422),
        "plain http": ({"chartUrls": ["http://example.com/c.png"]}, 422),
        "https without a host": ({"chartUrls": ["https://"]}, 422),
        "https with white space": ({"chartUrls": ["https://a b\r\nx"]}, 422),
        "svg data url": ({"chartUrls": ["data:image/svg+xml;base64,PHN2Zz4="]}, 415),
        "risk out of range": ({"chartUrls": ["https://example.com/c.png"], "metadata": {"risk": 101}}, 422),
    }

    answers = {
        name: await system.http.post("/v1/analyses", json=body, headers=bearer(key))
        for name, (body, _) in cases.items()
    }

    assert {name: a.status_code for name, a in answers.items()} == {name: code for name, (_, code) in cases.items()}
    assert all(set(a.json()["error"]) == {"code", "message", "details"} for a in answers.values())


async def test_malformed_json_is_400_and_other_content_types_415(system: Api) -> None:
    _, key = await system.create_user()

    malformed = await system.http.post(
        "/v1/analyses", content=b"{nope", headers={**bearer(key), "Content-Type": "application/json"}
    )
    xml = await system.http.post("/v1/analyses", content=b"<a/>", headers={**bearer(key), "Content-Type": "text/xml"})

    assert malformed.status_code == 400
    assert xml.status_code == 415


async def test_sse_of_a_finished_analysis_ends_at_once(system: Api) -> None:
    _, key = await system.create_user()
    analysis_id = (await submit(system, key)).json()["id"]
    await wait_completed(system, key, analysis_id)

    stream = await asyncio.wait_for(system.http.get(f"/v1/analyses/{analysis_id}/events", headers=bearer(key)), 10)

    assert [name for name, _ in parse_sse(stream.text)] == ["status", "completed"]


async def test_the_analysis_job_is_readable_by_its_owner_only(system: Api) -> None:
    _, alice = await system.create_user()
    _, bob = await system.create_user()
    analysis_id = (await submit(system, alice)).json()["id"]
    await wait_completed(system, alice, analysis_id)

    async def owners_view() -> dict[str, Any] | None:
        response = await system.http.get(f"/v1/jobs/{analysis_id}", headers=bearer(alice))
        return response.json() if response.status_code == 200 else None

    job = await eventually(owners_view, message="the job record was not readable")
    assert job["queue"] == "chart-analysis"
    others = await system.http.get(f"/v1/jobs/{analysis_id}", headers=bearer(bob))
    missing = await system.http.get("/v1/jobs/no-such-job", headers=bearer(bob))
    assert others.status_code == missing.status_code == 404
    # Another user's job and a missing one answer alike, so the answer never tells whether an id exists.
    assert others.json()["error"]["message"] == missing.json()["error"]["message"]
    assert set(others.json()["error"]["details"]) == set(missing.json()["error"]["details"])


async def test_admin_reads_queue_counts(system: Api) -> None:
    response = await system.http.get("/v1/admin/queues/chart-analysis", headers=ADMIN)

    assert response.status_code == 200, response.text
    assert response.json()["queue"] == "chart-analysis"
    assert set(response.json()["counts"]) <= {
        "waiting",
        "delayed",
        "active",
        "completed",
        "failed",
        "cancelled",
        "paused",
    }
