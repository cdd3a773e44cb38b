"""A local HTTP server speaking the part of the Stripe API the usage service uses, and webhook signing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class StripeState:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    failing: bool = False


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "api_error", "message": message}}, status_code=status)


def stripe_app(state: StripeState) -> Starlette:
    async def create_customer(request: Request) -> JSONResponse:
        if state.failing:
            return _error(500, "stripe is having a bad day")
        form = await request.form()
        key = request.headers.get("idempotency-key", "")
        if key in state.idempotency:
            return JSONResponse(state.customers[state.idempotency[key]])
        customer_id = f"cus_{len(state.customers) + 1}"
        customer = {
            "id": customer_id,
            "object": "customer",
            "email": form.get("email"),
            "metadata": {"user_id": form.get("metadata[user_id]")},
        }
        state.customers[customer_id] = customer
        if key:
            state.idempotency[key] = customer_id
        return JSONResponse(customer)

    async def list_subscriptions(request: Request) -> JSONResponse:
        if state.failing:
            return _error(500, "stripe is having a bad day")
        customer = request.query_params.get("customer")
        data = [s for s in state.subscriptions.values() if s["customer"] == customer]
        return JSONResponse({"object": "list", "data": data, "has_more": False, "url": "/v1/subscriptions"})

    return Starlette(
        routes=[
            Route("/v1/customers", create_customer, methods=["POST"]),
            Route("/v1/subscriptions", list_subscriptions, methods=["GET"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(state: StripeState) -> AsyncIterator[str]:
    """Runs the fake Stripe API on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stripe_app(state), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("the fake Stripe server did not start")
        await asyncio.sleep(0.01)  # polling the server's own started flag
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def subscription(
    sub_id: str,
    customer: str,
    *,
    status: str = "active",
    amount: int = 2599,
    period_start: int = 1_763_200_000,
    period_end: int = 1_765_792_000,
) -> dict[str, Any]:
    """A subscription as Stripe's newer API versions shape it (the period on the item)."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "price": {"id": f"price_{amount}", "object": "price", "unit_amount": amount},
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                }
            ],
        },
    }


def event(event_id: str, event_type: str, obj: dict[str, Any], *, created: int) -> str:
    return json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": obj}}
    )


def sign(payload: str, secret: str, *, at: int | None = None) -> str:
    """The `Stripe-Signature` header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
