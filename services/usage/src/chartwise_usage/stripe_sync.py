"""Keeps each user's Stripe subscription state locally: from verified webhooks, and by reconciliation.

Webhook events are applied once per event id and in the order of the state they describe: each stored
subscription state carries a version (the `created` time of the event that described it, or the time the
API was read), and an older state never replaces a newer one. A Stripe outage only means no news: the plan
last known stays in force.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from chartwise_runtime.logging import get_logger
from chartwise_usage.billing import StripeBilling, StripeUnavailable
from chartwise_usage.clock import Clock
from chartwise_usage.directory import PlanDirectory
from chartwise_usage.plans import SubscriptionState
from chartwise_usage.storage import Accounts, StripeEvents, Subscriptions

log = get_logger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "ignored"]

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
# Within one second (the resolution of Stripe timestamps) a final state outranks any other.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
ENTITLED_BEFORE_PAYMENT_FAILURE = frozenset({"active", "trialing"})
CUSTOMER_BATCH = 100


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int | float) else None


def _id_of(value: Any) -> str | None:
    """A Stripe reference, whether left as an id or expanded into the object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def subscription_state(obj: dict[str, Any], *, version: float) -> SubscriptionState:
    """A Stripe subscription object as local state (periods read from the item in newer API versions)."""
    items = (obj.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price") or {}
    status = str(obj.get("status") or "incomplete")
    return SubscriptionState(
        subscription_id=str(obj["id"]),
        customer_id=_id_of(obj.get("customer")) or "",
        status=status,
        price_id=price.get("id"),
        price_amount=price.get("unit_amount"),
        period_start=_timestamp(obj.get("current_period_start") or item.get("current_period_start")),
        period_end=_timestamp(obj.get("current_period_end") or item.get("current_period_end")),
        version=version + (0.5 if status in FINAL_STATUSES else 0.0),
    )


@dataclass(frozen=True, slots=True)
class WebhookResult:
    event_id: str
    event_type: str
    outcome: Outcome


class StripeSync:
    def __init__(
        self,
        *,
        accounts: Accounts,
        subscriptions: Subscriptions,
        events: StripeEvents,
        directory: PlanDirectory,
        clock: Clock,
    ) -> None:
        self._accounts = accounts
        self._subscriptions = subscriptions
        self._events = events
        self._directory = directory
        self._clock = clock

    async def apply_event(self, event: dict[str, Any]) -> WebhookResult:
        """Applies one verified webhook event, once; a receipt is written only after its effect is stored."""
        event_id, event_type = str(event["id"]), str(event["type"])
        if await self._events.seen(event_id):
            return WebhookResult(event_id, event_type, "duplicate")
        obj: dict[str, Any] = event["data"]["object"]
        version = float(event["created"])
        outcome: Outcome
        if event_type in SUBSCRIPTION_EVENTS:
            outcome = await self._store(subscription_state(obj, version=version))
        elif event_type == "checkout.session.completed":
            outcome = await self._link_checkout(obj)
        elif event_type in {"invoice.paid", "invoice.payment_failed"}:
            outcome = await self._apply_invoice(obj, paid=event_type == "invoice.paid", version=version)
        else:
            outcome = "ignored"
        await self._events.record(event_id, event_type=event_type, outcome=outcome, now=self._clock.now())
        log.info("stripe event handled", event_id=event_id, event_type=event_type, outcome=outcome)
        return WebhookResult(event_id, event_type, outcome)

    async def _store(self, state: SubscriptionState) -> Outcome:
        if not state.customer_id:
            return "ignored"
        if not await self._subscriptions.apply(state):
            return "stale"
        await self._forget_customer(state.customer_id)
        return "applied"

    async def _link_checkout(self, session: dict[str, Any]) -> Outcome:
        user_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("user_id")
        customer_id = _id_of(session.get("customer"))
        if not user_id or not customer_id:
            return "ignored"
        await self._accounts.link_customer(str(user_id), customer_id, now=self._clock.now())
        await self._directory.forget(str(user_id))
        return "applied"

    async def _apply_invoice(self, invoice: dict[str, Any], *, paid: bool, version: float) -> Outcome:
        subscription_id = _invoice_subscription(invoice)
        known = await self._subscriptions.get(subscription_id) if subscription_id else None
        if known is None:
            # The subscription events (or the next reconciliation) bring its full state.
            return "ignored"
        if paid:
            start, end = _invoice_period(invoice, subscription_id)
            state = replace(
                known,
                status="active",
                period_start=start or known.period_start,
                period_end=end or known.period_end,
                version=version,
            )
        elif known.status in ENTITLED_BEFORE_PAYMENT_FAILURE:
            state = replace(known, status="past_due", version=version)
        else:
            return "ignored"
        return await self._store(state)

    async def _forget_customer(self, customer_id: str) -> None:
        await self._directory.forget(*(a.user_id for a in await self._accounts.by_customer(customer_id)))

    async def reconcile(self, billing: StripeBilling) -> ReconcileReport:
        """Re-reads every customer's subscriptions from Stripe; customers Stripe cannot answer for keep their plan."""
        report = ReconcileReport()
        for account in await self._accounts.without_customer(limit=CUSTOMER_BATCH):
            try:
                customer_id = await billing.create_customer(user_id=account.user_id, email=account.email)
            except StripeUnavailable as error:
                log.warning("stripe unavailable: customer creation deferred", error=str(error))
                report.failures += 1
                break
            await self._accounts.link_customer(account.user_id, customer_id, now=self._clock.now())
            report.customers_created += 1
        for account in await self._accounts.with_customer():
            assert account.customer_id is not None
            try:
                objects = await billing.subscriptions_of(account.customer_id)
            except StripeUnavailable as error:
                log.warning("stripe unavailable: keeping the known plan", user_id=account.user_id, error=str(error))
                report.failures += 1
                continue
            read_at = self._clock.now().timestamp()
            for obj in objects:
                outcome = await self._store(subscription_state(obj, version=read_at))
                report.updated += outcome == "applied"
            report.checked += 1
        return report


@dataclass
class ReconcileReport:
    checked: int = 0
    updated: int = 0
    customers_created: int = 0
    failures: int = 0


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The invoice's subscription: a top-level field in older API versions, under `parent` in newer ones."""
    direct = _id_of(invoice.get("subscription"))
    if direct:
        return direct
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id_of(details.get("subscription"))


def _invoice_period(invoice: dict[str, Any], subscription_id: str | None) -> tuple[datetime | None, datetime | None]:
    """The service period the invoice paid for, from its subscription line."""
    for line in (invoice.get("lines") or {}).get("data") or []:
        period = line.get("period") or {}
        line_subscription = _id_of(line.get("subscription")) or _id_of(
            ((line.get("parent") or {}).get("subscription_item_details") or {}).get("subscription")
        )
        if line_subscription in {None, subscription_id} and period:
            return _timestamp(period.get("start")), _timestamp(period.get("end"))
    return None, None
