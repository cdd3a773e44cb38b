"""A client on real HTTP: a key from the admin API, an upload, and the result arriving over SSE."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
import redis

from tests.integration.gateway.conftest import Backing
from tests.integration.gateway.images import chart_png
from tests.integration.gateway.live import LiveSystem, live_system


@pytest.fixture
def live(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    redis.Redis.from_url(redis_url).flushdb()
    backing = Backing(redis_url, mongo_url, f"e2e_{uuid4().hex[:10]}", tmp_path_factory.mktemp("e2e") / "blobs")
    with live_system(backing) as system:
        yield system


def test_client_uploads_a_chart_and_reads_the_analysis_from_the_event_stream(live: LiveSystem) -> None:
    _, key = live.create_user()
    auth = {"Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=live.base_url, headers=auth, timeout=30) as client:
        accepted = client.post(
            "/v1/analyses",
            files={"charts": ("chart.png", chart_png(), "image/png")},
            data={"metadata": '{"strategyAndCriteria": "Trend Following", "risk": 20}'},
        )
        assert accepted.status_code == 202, accepted.text
        events: list[str] = []
        with client.stream("GET", accepted.json()["links"]["events"]) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                if events and events[-1] in ("completed", "failed"):
                    break
        analysis = client.get(f"/v1/analyses/{accepted.json()['id']}").json()

    assert events[0] == "status"
    assert events[-1] == "completed"
    assert analysis["status"] == "completed"
    assert analysis["risk_band"] == "low"
