"""Schemathesis drives every operation of the OpenAPI document against the running system: no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import redis

from tests.integration.gateway.conftest import ADMIN_TOKEN, Backing
from tests.integration.gateway.live import LiveSystem, live_system

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402 - only once schemathesis is known to be there

MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def live(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    redis.Redis.from_url(redis_url).flushdb()
    backing = Backing(redis_url, mongo_url, f"gw_{uuid4().hex[:10]}", tmp_path_factory.mktemp("fuzz") / "blobs")
    with live_system(backing, rate_limit_requests=100_000) as system:
        yield system


@pytest.fixture(scope="module")
def user_key(live: LiveSystem) -> str:
    return live.create_user()[1]


@pytest.mark.timeout(300)
def test_no_operation_answers_a_server_error(live: LiveSystem, user_key: str) -> None:
    # Operations are driven one by one through their Hypothesis strategies: schemathesis' pytest
    # integration does not run under this project's pytest version.
    api = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        token = ADMIN_TOKEN if operation.path.startswith("/v1/admin") else user_key
        fuzz(operation, base_url=live.base_url, token=token)


def fuzz(operation: Any, *, base_url: str, token: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            checks=[schemathesis.checks.not_a_server_error],
            timeout=15,
        )

    call()
