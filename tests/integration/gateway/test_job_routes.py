"""Cancelling one's own job, and the admin's job routes, through the gateway to the real scheduler service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio

from chartwise_devtools.waiting import eventually
from tests.integration.gateway.conftest import (
    ADMIN_TOKEN,
    Api,
    bearer,
    gateway_client,
    module_backing,
    running_service,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HOUR_MS = 3_600_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def jobs_api(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The gateway with the scheduler behind it; the queues of these tests have no workers, so jobs stay put."""
    from chartwise_scheduler.app import build_app as build_scheduler
    from chartwise_scheduler.settings import Settings as SchedulerSettings

    async with module_backing(redis_url, mongo_url, tmp_path_factory) as backing:
        scheduler = build_scheduler(
            SchedulerSettings(
                **backing.common(), mongo_database=f"{backing.databases}_scheduler", consumer_name="sched-t"
            )
        )
        async with running_service(scheduler), gateway_client(backing) as client:
            yield client


def fresh_queue() -> str:
    return f"reports-{uuid4().hex[:8]}"


async def enqueue(api: Api, queue: str, body: dict[str, Any] | list[dict[str, Any]]) -> Any:
    response = await api.http.post(f"/v1/admin/queues/{queue}/jobs", json=body, headers=ADMIN)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_admin_enqueues_a_job_once_per_id_and_finds_it_by_name(jobs_api: Api) -> None:
    queue = fresh_queue()
    job = {"name": "digest", "payload": {"n": 1}, "job_id": "digest-1", "delay_ms": HOUR_MS, "attempts": 3}

    first = await jobs_api.http.post(f"/v1/admin/queues/{queue}/jobs", json=job, headers=ADMIN)
    again = await jobs_api.http.post(f"/v1/admin/queues/{queue}/jobs", json=job, headers=ADMIN)

    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert first.json()["job"]["state"] == "delayed"
    assert first.json()["job"]["max_attempts"] == 3
    assert again.status_code == 200
    assert again.json()["created"] is False
    found = await jobs_api.http.get(f"/v1/admin/queues/{queue}/jobs", params={"name": "digest"}, headers=ADMIN)
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1
    assert [j["job_id"] for j in found.json()["items"]] == ["digest-1"]
    waiting = await jobs_api.http.get(
        f"/v1/admin/queues/{queue}/jobs", params={"name": "digest", "state": "waiting"}, headers=ADMIN
    )
    assert waiting.json()["total"] == 0


async def test_admin_enqueues_a_list_of_jobs_and_pages_through_them(jobs_api: Api) -> None:
    queue = fresh_queue()
    jobs = [{"name": "sync", "job_id": f"sync-{i}", "delay_ms": HOUR_MS} for i in range(3)]

    added = await jobs_api.http.post(f"/v1/admin/queues/{queue}/jobs", json=jobs, headers=ADMIN)

    assert added.status_code == 201, added.text
    assert [j["job"]["job_id"] for j in added.json()["jobs"]] == ["sync-0", "sync-1", "sync-2"]
    page = await jobs_api.http.get(
        f"/v1/admin/queues/{queue}/jobs", params={"name": "sync", "offset": 1, "limit": 1}, headers=ADMIN
    )
    assert page.json()["total"] == 3
    assert len(page.json()["items"]) == 1
    assert page.json()["offset"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "attempts": 0},
        {"name": ""},
        {"name": "x", "job_id": "has space"},
        {"name": "x", "backoff": {"kind": "linear"}},
        {"name": "x", "unknown": 1},
        [],
        [{"name": "dup", "job_id": "same"}, {"name": "dup", "job_id": "same"}],
    ],
    ids=["attempts", "empty-name", "job-id", "backoff", "unknown-field", "empty-list", "duplicate-ids"],
)
async def test_an_invalid_job_is_refused_and_nothing_is_added(jobs_api: Api, body: Any) -> None:
    queue = fresh_queue()

    response = await jobs_api.http.post(f"/v1/admin/queues/{queue}/jobs", json=body, headers=ADMIN)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    counts = (await jobs_api.http.get(f"/v1/admin/queues/{queue}", headers=ADMIN)).json()["counts"]
    assert sum(counts.values()) == 0


async def test_finding_jobs_needs_a_name_and_a_known_state(jobs_api: Api) -> None:
    queue = fresh_queue()

    nameless = await jobs_api.http.get(f"/v1/admin/queues/{queue}/jobs", headers=ADMIN)
    bad_state = await jobs_api.http.get(
        f"/v1/admin/queues/{queue}/jobs", params={"name": "x", "state": "sleeping"}, headers=ADMIN
    )

    assert nameless.status_code == 422
    assert bad_state.status_code == 422


async def test_a_paused_queue_holds_due_jobs_until_it_resumes(jobs_api: Api) -> None:
    queue = fresh_queue()

    paused = await jobs_api.http.post(f"/v1/admin/queues/{queue}/pause", headers=ADMIN)
    assert paused.status_code == 200, paused.text
    assert paused.json() == {"queue": queue, "paused": True, "released": 0}
    await enqueue(jobs_api, queue, {"name": "held", "job_id": "held-1"})

    async def held() -> bool:
        found = await jobs_api.http.get(
            f"/v1/admin/queues/{queue}/jobs", params={"name": "held", "state": "paused"}, headers=ADMIN
        )
        return bool(found.json()["total"] == 1)

    await eventually(held, message="the due job was not held by the paused queue")
    resumed = await jobs_api.http.post(f"/v1/admin/queues/{queue}/resume", headers=ADMIN)

    assert resumed.status_code == 200, resumed.text
    assert resumed.json() == {"queue": queue, "paused": False, "released": 1}
    status = (await jobs_api.http.get(f"/v1/admin/queues/{queue}", headers=ADMIN)).json()
    assert status["paused"] is False
    assert status["counts"]["waiting"] == 1


async def test_admin_cancels_a_pending_job_then_cleans_its_record(jobs_api: Api) -> None:
    queue = fresh_queue()
    await enqueue(jobs_api, queue, {"name": "once", "job_id": "once-1", "delay_ms": HOUR_MS})

    cancelled = await jobs_api.http.post("/v1/admin/jobs/once-1/cancel", json={"reason": "not needed"}, headers=ADMIN)
    again = await jobs_api.http.post("/v1/admin/jobs/once-1/cancel", headers=ADMIN)
    unknown = await jobs_api.http.post("/v1/admin/jobs/no-such-job/cancel", headers=ADMIN)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"job_id": "once-1", "outcome": "cancelled"}
    assert again.status_code == 409
    assert unknown.status_code == 404
    cleaned = await jobs_api.http.post(f"/v1/admin/queues/{queue}/clean", json={"state": "cancelled"}, headers=ADMIN)
    assert cleaned.status_code == 200, cleaned.text
    assert cleaned.json() == {"queue": queue, "removed_ids": ["once-1"]}
    found = await jobs_api.http.get(f"/v1/admin/queues/{queue}/jobs", params={"name": "once"}, headers=ADMIN)
    assert found.json()["total"] == 0


@pytest.mark.parametrize(
    "body", [{"state": "waiting"}, {"state": "completed", "older_than_ms": -1}, {}], ids=["unfinished", "age", "none"]
)
async def test_cleaning_takes_only_a_finished_state_and_a_non_negative_age(jobs_api: Api, body: Any) -> None:
    response = await jobs_api.http.post(f"/v1/admin/queues/{fresh_queue()}/clean", json=body, headers=ADMIN)

    assert response.status_code == 422, response.text


async def test_a_user_cancels_their_own_pending_job_and_not_anothers(jobs_api: Api) -> None:
    alice_id, alice = await jobs_api.create_user()
    _, bob = await jobs_api.create_user()
    job_id = f"own-{uuid4().hex[:8]}"
    await enqueue(
        jobs_api,
        fresh_queue(),
        {"name": "own", "job_id": job_id, "payload": {"user_id": alice_id}, "delay_ms": HOUR_MS},
    )

    by_bob = await jobs_api.http.delete(f"/v1/jobs/{job_id}", headers=bearer(bob))
    by_alice = await jobs_api.http.delete(f"/v1/jobs/{job_id}", headers=bearer(alice))
    twice = await jobs_api.http.delete(f"/v1/jobs/{job_id}", headers=bearer(alice))

    assert by_bob.status_code == 404
    assert by_bob.json()["error"]["code"] == "not_found"
    assert by_alice.status_code == 200, by_alice.text
    assert by_alice.json() == {"job_id": job_id, "outcome": "cancelled"}
    assert twice.status_code == 409
    state = (await jobs_api.http.get(f"/v1/jobs/{job_id}", headers=bearer(alice))).json()["state"]
    assert state == "cancelled"


async def test_a_user_cannot_cancel_a_job_of_no_one_or_one_that_does_not_exist(jobs_api: Api) -> None:
    _, key = await jobs_api.create_user()
    queue = fresh_queue()
    job_id = f"system-{uuid4().hex[:8]}"
    await enqueue(jobs_api, queue, {"name": "system", "job_id": job_id, "delay_ms": HOUR_MS})

    ownerless = await jobs_api.http.delete(f"/v1/jobs/{job_id}", headers=bearer(key))
    missing = await jobs_api.http.delete("/v1/jobs/no-such-job", headers=bearer(key))
    too_long = await jobs_api.http.delete(f"/v1/jobs/{'x' * 201}", headers=bearer(key))
    anonymous = await jobs_api.http.delete(f"/v1/jobs/{job_id}")

    assert ownerless.status_code == 404
    assert missing.status_code == 404
    assert too_long.status_code == 422
    assert anonymous.status_code == 401
    found = await jobs_api.http.get(
        f"/v1/admin/queues/{queue}/jobs", params={"name": "system", "state": "delayed"}, headers=ADMIN
    )
    assert found.json()["total"] == 1


async def test_an_analysis_job_is_cancelled_through_its_analysis_not_directly(jobs_api: Api) -> None:
    user_id, key = await jobs_api.create_user()
    job_id = f"analysis-{uuid4().hex[:8]}"
    payload = {"user_id": user_id, "analysis_id": job_id}
    await enqueue(
        jobs_api, "chart-analysis", {"name": "analyse", "job_id": job_id, "payload": payload, "delay_ms": HOUR_MS}
    )

    refused = await jobs_api.http.delete(f"/v1/jobs/{job_id}", headers=bearer(key))

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["analysis_id"] == job_id
    assert (await jobs_api.http.get(f"/v1/jobs/{job_id}", headers=bearer(key))).json()["state"] == "delayed"
    await jobs_api.http.post(f"/v1/admin/jobs/{job_id}/cancel", headers=ADMIN)


ADMIN_ROUTES = [
    ("POST", "/v1/admin/queues/q/jobs", {"name": "x"}),
    ("GET", "/v1/admin/queues/q/jobs?name=x", None),
    ("POST", "/v1/admin/queues/q/pause", None),
    ("POST", "/v1/admin/queues/q/resume", None),
    ("POST", "/v1/admin/queues/q/clean", {"state": "completed"}),
    ("POST", "/v1/admin/jobs/x/cancel", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_ROUTES, ids=[f"{m} {u}" for m, u, _ in ADMIN_ROUTES])
async def test_admin_job_routes_require_the_admin_token(jobs_api: Api, method: str, url: str, body: Any) -> None:
    _, key = await jobs_api.create_user()

    anonymous = await jobs_api.http.request(method, url, json=body)
    as_user = await jobs_api.http.request(method, url, json=body, headers=bearer(key))
    wrong = await jobs_api.http.request(method, url, json=body, headers={"Authorization": "Bearer not-the-token"})

    assert anonymous.status_code == 401
    assert as_user.status_code == 403
    assert wrong.status_code == 403
    counts = (await jobs_api.http.get("/v1/admin/queues/q", headers=ADMIN)).json()
    assert counts["paused"] is False
    assert sum(counts["counts"].values()) == 0
