"""The Stripe port (what the usage service asks of Stripe) and its adapter over the official SDK."""

from __future__ import annotations

from typing import Any, Protocol

import stripe
from stripe.params import CustomerCreateParams

from chartwise_runtime.errors import InvalidInput
from chartwise_usage.stripe_payloads import StripeEvent, parse_event_json


class StripeUnavailable(Exception):
    """Stripe could not answer (unreachable, erroring, refusing our key); the local plan state stays as it is."""


class StripeBilling(Protocol):
    async def create_customer(self, *, user_id: str, email: str | None) -> str:
        """Creates (once per user) the Stripe customer of a user; returns its id."""
        ...

    async def subscriptions_of(self, customer_id: str) -> list[dict[str, Any]]:
        """Every subscription of a customer, in any status, as plain Stripe JSON objects."""
        ...


class StripeSdkBilling:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create_customer(self, *, user_id: str, email: str | None) -> str:
        params: CustomerCreateParams = {"metadata": {"user_id": user_id}}
        if email:
            params["email"] = email
        try:
            customer = await self._client.v1.customers.create_async(
                params=params, options={"idempotency_key": f"chartwise-customer-{user_id}"}
            )
        except stripe.StripeError as error:
            raise StripeUnavailable(str(error)) from error
        return str(customer.id)

    async def subscriptions_of(self, customer_id: str) -> list[dict[str, Any]]:
        try:
            page = await self._client.v1.subscriptions.list_async(
                params={"customer": customer_id, "status": "all", "limit": 100}
            )
        except stripe.StripeError as error:
            raise StripeUnavailable(str(error)) from error
        return [subscription.to_dict() for subscription in page.data]


def make_stripe_client(
    *, api_key: str, api_base: str | None, timeout_s: float, max_retries: int
) -> stripe.StripeClient:
    """A StripeClient with an async HTTP client; `api_base` points it elsewhere (a local server in tests)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=stripe.HTTPXClient(timeout=timeout_s),
        max_network_retries=max_retries,
    )


def verified_event(payload: str, signature: str, secret: str) -> StripeEvent:
    """The webhook event, after checking its `Stripe-Signature` with the SDK; InvalidInput if forged or malformed.

    The body is parsed by our own model rather than the SDK's event object, so a signed payload of any shape
    is refused with InvalidInput instead of failing later on a missing field.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as error:
        raise InvalidInput("the Stripe signature does not match the payload") from error
    return parse_event_json(payload)
