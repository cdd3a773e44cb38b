"""What every request gets: ids, one error envelope, rate limits, a size cap, CORS, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis

from tests.integration.gateway.conftest import Api, Backing, bearer, gateway_client


def assert_envelope(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code


async def test_every_response_carries_a_request_id_and_the_callers_correlation_id(gateway: Api) -> None:
    mine = await gateway.http.get("/healthz", headers={"X-Correlation-ID": "trace-42"})
    fresh = await gateway.http.get("/healthz")

    assert mine.headers["X-Correlation-ID"] == "trace-42"
    assert mine.headers["X-Request-ID"]
    assert fresh.headers["X-Correlation-ID"] == fresh.headers["X-Request-ID"]
    assert fresh.headers["X-Request-ID"] != mine.headers["X-Request-ID"]


async def test_an_unacceptable_correlation_id_is_replaced(gateway: Api) -> None:
    response = await gateway.http.get("/healthz", headers={"X-Correlation-ID": "bad id with spaces"})

    assert response.headers["X-Correlation-ID"] == response.headers["X-Request-ID"]


async def test_unknown_route_and_wrong_method_answer_in_the_envelope(gateway: Api) -> None:
    missing = await gateway.http.get("/v1/nothing-here")
    wrong_method = await gateway.http.put("/v1/keys")

    assert missing.status_code == 404
    assert_envelope(missing.json(), "not_found")
    assert wrong_method.status_code == 405
    assert_envelope(wrong_method.json(), "method_not_allowed")


async def test_malformed_json_is_400_and_a_schema_mismatch_422(gateway: Api) -> None:
    _, key = await gateway.create_user()

    malformed = await gateway.http.post(
        "/v1/keys", content=b"{", headers={**bearer(key), "Content-Type": "application/json"}
    )
    mismatch = await gateway.http.post("/v1/keys", json={"name": ""}, headers=bearer(key))

    assert malformed.status_code == 400
    assert_envelope(malformed.json(), "bad_request")
    assert mismatch.status_code == 422
    assert_envelope(mismatch.json(), "invalid_input")


async def test_requests_over_the_keys_rate_limit_answer_429_with_retry_after(backing: Backing) -> None:
    async with gateway_client(backing, rate_limit_requests=3, rate_limit_window_s=60) as api:
        _, key = await api.create_user()
        _, other = await api.create_user()
        answers = [await api.http.get("/v1/keys", headers=bearer(key)) for _ in range(4)]
        others = await api.http.get("/v1/keys", headers=bearer(other))

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    assert_envelope(answers[3].json(), "rate_limited")
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert others.status_code == 200


async def test_body_over_the_cap_is_refused_with_413(backing: Backing) -> None:
    async with gateway_client(backing, max_request_bytes=1_000) as api:
        _, key = await api.create_user()
        declared = await api.http.post(
            "/v1/keys", content=b"x" * 2_000, headers={**bearer(key), "Content-Type": "application/json"}
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 500

        streamed = await api.http.post(
            "/v1/keys", content=chunks(), headers={**bearer(key), "Content-Type": "application/json"}
        )

    assert declared.status_code == 413
    assert_envelope(declared.json(), "payload_too_large")
    assert streamed.status_code == 413
    assert_envelope(streamed.json(), "payload_too_large")


async def test_cors_allows_only_listed_origins(backing: Backing) -> None:
    async with gateway_client(backing, cors_origins=["https://app.example.com"]) as api:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await api.http.options("/v1/keys", headers={"Origin": "https://app.example.com", **preflight})
        refused = await api.http.options("/v1/keys", headers={"Origin": "https://evil.example.com", **preflight})

    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers


async def test_backing_service_that_does_not_answer_gives_503_for_that_route_only(backing: Backing) -> None:
    async with gateway_client(backing, rpc_timeout_s=0.2) as api:
        _, key = await api.create_user()
        silent = await api.http.get("/v1/usage", headers=bearer(key))
        own = await api.http.get("/v1/keys", headers=bearer(key))

    assert silent.status_code == 503
    assert_envelope(silent.json(), "service_unavailable")
    assert silent.headers["Retry-After"]
    assert own.status_code == 200


async def test_health_readiness_and_metrics(gateway: Api) -> None:
    await gateway.http.get("/healthz")

    ready = await gateway.http.get("/readyz")
    metrics = await gateway.http.get("/metrics")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"redis": "ok", "mongo": "ok"}}
    assert 'gateway_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text


async def test_openapi_document_describes_the_v1_api(gateway: Api) -> None:
    document = (await gateway.http.get("/openapi.json")).json()

    assert document["openapi"].startswith("3.")
    assert "/v1/analyses" in document["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(document["components"]["securitySchemes"])
    assert (await gateway.http.get("/docs")).status_code == 200


async def test_rate_limit_counters_live_under_the_gateway_prefix(gateway: Api, redis: Redis) -> None:
    _, key = await gateway.create_user()
    await gateway.http.get("/v1/keys", headers=bearer(key))

    assert await redis.keys("chartwise:gateway:ratelimit:*")
