"""Stripe webhooks: the raw body and signature go to the usage service, whose verdict is the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import MAX_WEBHOOK_PAYLOAD, USAGE_SERVICE, HandleStripeWebhook, StripeWebhookHandled
from chartwise_gateway.deps import ClientsDep, CorrelationId
from chartwise_gateway.errors import ERROR_RESPONSES, BadRequest, PayloadTooLarge

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)


class WebhookVerdict(BaseModel):
    event_id: str
    event_type: str
    outcome: str


@router.post("/stripe", operation_id="stripeWebhook")
async def stripe_webhook(
    request: Request,
    clients: ClientsDep,
    correlation_id: CorrelationId,
    stripe_signature: Annotated[str, Header(alias="Stripe-Signature", max_length=2000)],
) -> WebhookVerdict:
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_PAYLOAD:
        raise PayloadTooLarge("the webhook body is too large", details={"max_bytes": MAX_WEBHOOK_PAYLOAD})
    try:
        # The signature covers the exact bytes Stripe sent, so the text is passed on unchanged.
        payload = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest("the webhook body is not UTF-8") from error
    if not payload:
        raise BadRequest("the webhook body is empty")
    command = HandleStripeWebhook.new(correlation_id=correlation_id, payload=payload, signature=stripe_signature)
    verdict = await clients.call(
        command, subject=rpc_subject(USAGE_SERVICE, "HandleStripeWebhook"), reply_type=StripeWebhookHandled
    )
    return WebhookVerdict(event_id=verdict.event_id, event_type=verdict.event_type, outcome=verdict.outcome)
