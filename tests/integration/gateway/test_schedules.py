"""Recurring analyses (`/v1/schedules`) and the admin's dead letters, through the gateway with every service running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from chartwise_analysis.app import Overrides
from chartwise_devtools.waiting import eventually
from tests.integration.gateway.conftest import (
    ADMIN_TOKEN,
    Api,
    analysis_and_scheduler,
    bearer,
    fake_vision_model,
    gateway_client,
    journal_and_usage,
    module_backing,
)
from tests.integration.gateway.images import chart_png

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHART_HOST = "charts.example.com"
CHART_URL = f"https://{CHART_HOST}/chart.png"
MISSING_URL = f"https://{CHART_HOST}/missing.png"
PUBLIC_ADDRESS = "93.184.215.14"
NEVER = "0 0 1 1 *"
"""Midnight on the first of January: a valid cron that does not fire during a test."""


def chart_host(request: httpx.Request) -> httpx.Response:
    """The only https host the tests' analysis service reaches: one chart, everything else 404."""
    if request.headers.get("host") == CHART_HOST and request.url.path == "/chart.png":
        return httpx.Response(200, content=chart_png(), headers={"content-type": "image/png"})
    return httpx.Response(404)


async def resolve_public(host: str, port: int) -> list[str]:
    return [PUBLIC_ADDRESS]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """Every service, with chart URLs answered by `chart_host` instead of the internet."""
    overrides = Overrides(resolver=resolve_public, fetch_transport=httpx.MockTransport(chart_host))
    with fake_vision_model() as vision_model:
        async with (
            module_backing(redis_url, mongo_url, tmp_path_factory) as backing,
            analysis_and_scheduler(backing, vision_model, overrides),
            journal_and_usage(backing),
            gateway_client(backing) as client,
        ):
            yield client


def schedule(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chartUrls": [CHART_URL],
        "metadata": {"strategyAndCriteria": "Breakout", "risk": 40},
        "cron": NEVER,
        "timeZone": "Europe/London",
    }
    body.update(fields)
    return body


async def test_put_creates_then_replaces_a_schedule_by_name(system: Api) -> None:
    _, key = await system.create_user()

    created = await system.http.put("/v1/schedules/mornings", json=schedule(cron="0 8 * * 1-5"), headers=bearer(key))
    replaced = await system.http.put("/v1/schedules/mornings", json=schedule(cron="30 9 * * *"), headers=bearer(key))

    assert created.status_code == 201, created.text
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["name"] == "mornings"
    assert body["cron"] == "30 9 * * *"
    assert body["time_zone"] == "Europe/London"
    assert body["chart_urls"] == [CHART_URL]
    assert body["metadata"] == {"strategy_and_criteria": "Breakout", "risk": 40}
    assert body["next_run_at"] is not None
    listed = (await system.http.get("/v1/schedules", headers=bearer(key))).json()
    assert [s["name"] for s in listed["items"]] == ["mornings"]
    assert listed["total"] == 1


async def test_list_shows_only_the_callers_schedules_with_their_next_runs(system: Api) -> None:
    _, alice = await system.create_user()
    _, bob = await system.create_user()
    for name in ("a-daily", "b-weekly"):
        assert (
            await system.http.put(f"/v1/schedules/{name}", json=schedule(), headers=bearer(alice))
        ).status_code == 201
    assert (await system.http.put("/v1/schedules/a-daily", json=schedule(), headers=bearer(bob))).status_code == 201

    alices = (await system.http.get("/v1/schedules", headers=bearer(alice))).json()
    bobs = (await system.http.get("/v1/schedules", headers=bearer(bob))).json()

    assert [s["name"] for s in alices["items"]] == ["a-daily", "b-weekly"]
    assert all(s["next_run_at"].startswith("20") for s in alices["items"])
    assert [s["name"] for s in bobs["items"]] == ["a-daily"]
    assert (alices["total"], bobs["total"]) == (2, 1)


async def test_post_without_a_name_chooses_one_and_the_schedule_can_be_read_back(system: Api) -> None:
    _, key = await system.create_user()

    created = await system.http.post("/v1/schedules", json=schedule(), headers=bearer(key))

    assert created.status_code == 201, created.text
    name = created.json()["name"]
    assert name.startswith("s_")
    read = await system.http.get(f"/v1/schedules/{name}", headers=bearer(key))
    assert read.status_code == 200
    assert read.json()["cron"] == NEVER


async def test_another_users_schedule_answers_404_and_stays_untouched(system: Api) -> None:
    _, owner = await system.create_user()
    _, other = await system.create_user()
    assert (await system.http.put("/v1/schedules/mine", json=schedule(), headers=bearer(owner))).status_code == 201

    read = await system.http.get("/v1/schedules/mine", headers=bearer(other))
    deleted = await system.http.delete("/v1/schedules/mine", headers=bearer(other))

    assert read.status_code == 404
    assert read.json()["error"]["code"] == "not_found"
    assert deleted.status_code == 404
    assert (await system.http.get("/v1/schedules/mine", headers=bearer(owner))).status_code == 200


async def test_delete_removes_the_schedule(system: Api) -> None:
    _, key = await system.create_user()
    assert (await system.http.put("/v1/schedules/gone", json=schedule(), headers=bearer(key))).status_code == 201

    deleted = await system.http.delete("/v1/schedules/gone", headers=bearer(key))

    assert deleted.status_code == 204
    assert (await system.http.get("/v1/schedules/gone", headers=bearer(key))).status_code == 404
    assert (await system.http.delete("/v1/schedules/gone", headers=bearer(key))).status_code == 404
    assert (await system.http.get("/v1/schedules", headers=bearer(key))).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (schedule(cron="* * * *"), "a cron pattern has 5 or 6 fields"),
        (schedule(cron="61 * * * *"), "cron"),
        (schedule(timeZone="Mars/Olympus_Mons"), "time zone"),
        (schedule(chartUrls=["http://charts.example.com/chart.png"]), "chartUrls"),
        (schedule(chartUrls=["data:image/png;base64,AAAA"]), "chartUrls"),
        (schedule(chartUrls=[CHART_URL, CHART_URL]), "plan allows 1 chart"),
        (schedule(metadata={"risk": 101}), "risk"),
    ],
    ids=["cron-fields", "cron-range", "time-zone", "http-url", "data-url", "charts-over-plan", "risk"],
)
async def test_invalid_schedules_are_refused_with_422(system: Api, body: dict[str, Any], problem: str) -> None:
    _, key = await system.create_user()

    response = await system.http.put("/v1/schedules/bad", json=body, headers=bearer(key))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert problem.lower() in response.text.lower()
    assert (await system.http.get("/v1/schedules", headers=bearer(key))).json()["total"] == 0


async def test_a_name_that_is_not_a_plain_word_is_refused(system: Api) -> None:
    _, key = await system.create_user()

    response = await system.http.put("/v1/schedules/has%20space", json=schedule(), headers=bearer(key))

    assert response.status_code == 422


async def test_a_scheduled_analysis_runs_and_completes(system: Api) -> None:
    _, key = await system.create_user()
    every_second = schedule(cron="* * * * * *", maxRuns=1, analysisName="Every second")

    created = await system.http.put("/v1/schedules/now", json=every_second, headers=bearer(key))
    assert created.status_code == 201, created.text

    async def completed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await system.http.get("/v1/analyses", headers=bearer(key))).json()["items"]
        return [a for a in items if a["status"] == "completed"]

    done = await eventually(completed, timeout=15, message="the scheduled analysis did not complete")
    assert [a["name"] for a in done] == ["Every second"]
    assert done[0]["analysis_id"].startswith("an_s")
    assert done[0]["metadata"]["strategy_and_criteria"] == "Breakout"
    assert done[0]["charts"][0]["content_type"] == "image/png"
    ended = await eventually(
        lambda: _schedule_ended(system, key, "now"), timeout=5, message="the one-run schedule did not end"
    )
    assert ended["runs"] == 1
    assert ended["next_run_at"] is None


async def _schedule_ended(system: Api, key: str, name: str) -> dict[str, Any] | None:
    body: dict[str, Any] = (await system.http.get(f"/v1/schedules/{name}", headers=bearer(key))).json()
    return body if body["ended"] else None


async def test_admin_lists_a_dead_letter_and_replays_it(system: Api) -> None:
    _, key = await system.create_user()
    accepted = await system.http.post("/v1/analyses", json={"chartUrls": [MISSING_URL]}, headers=bearer(key))
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]

    async def parked() -> dict[str, Any] | None:
        page = (await system.http.get("/v1/admin/queues/chart-analysis/dead-letters", headers=ADMIN)).json()
        return next((letter for letter in page["items"] if letter["job_id"] == job_id), None)

    letter = await eventually(parked, timeout=15, message="the failing job was not dead-lettered")
    assert "404" in letter["error"]
    assert letter["attempts"] == 1
    assert letter["payload"]["analysis_id"] == job_id

    replayed = await system.http.post(f"/v1/admin/queues/chart-analysis/dead-letters/{job_id}/replay", headers=ADMIN)

    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["job_id"] == job_id
    assert await parked() is None

    async def job_state() -> str | None:
        state: str = (await system.http.get(f"/v1/jobs/{job_id}", headers=bearer(key))).json()["state"]
        return state if state == "completed" else None

    # The analysis stays failed; the replayed run finds it finished and completes by announcing it again.
    await eventually(job_state, timeout=10, message="the replayed job did not complete")
    again = await system.http.post(f"/v1/admin/queues/chart-analysis/dead-letters/{job_id}/replay", headers=ADMIN)
    assert again.status_code == 404


async def test_dead_letter_routes_require_the_admin_token(system: Api) -> None:
    _, key = await system.create_user()

    anonymous = await system.http.get("/v1/admin/queues/chart-analysis/dead-letters")
    as_user = await system.http.post("/v1/admin/queues/chart-analysis/dead-letters/x/replay", headers=bearer(key))

    assert anonymous.status_code == 401
    assert as_user.status_code == 403
