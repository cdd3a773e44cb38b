"""The body-size cap reads Content-Length defensively: a value that is not a plain number is left to the server."""

from __future__ import annotations

from typing import Any

from chartwise_gateway.middleware import BodySizeLimitMiddleware


async def test_a_non_ascii_digit_content_length_does_not_crash_the_cap() -> None:
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", "²".encode("latin-1"))]}

    await BodySizeLimitMiddleware(app, max_bytes=10)(scope, receive, send)

    assert reached == [True]
