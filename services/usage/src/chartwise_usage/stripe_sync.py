"""Keeps each user's Stripe subscription state locally: from verified webhooks, and by reconciliation.

Webhook events are applied once per event id and in the order of the state they describe: each stored
subscription state carries a version (the `created` time of the event that described it, or the time the
API was read), and an older state never replaces a newer one. A Stripe outage only means no news: the plan
last known stays in force.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from chartwise_runtime.errors import InvalidInput
from chartwise_runtime.logging import get_logger
from chartwise_usage.billing import StripeBilling, StripeUnavailable
from chartwise_usage.clock import Clock
from chartwise_usage.directory import PlanDirectory
from chartwise_usage.plans import SubscriptionState
from chartwise_usage.storage import Accounts, StripeEvents, Subscriptions
from chartwise_usage.stripe_payloads import (
    CheckoutSession,
    Invoice,
    Price,
    StripeEvent,
    Subscription,
    SubscriptionItem,
    as_datetime,
    parse,
)

log = get_logger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "ignored"]

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
# Within one second (the resolution of Stripe timestamps) a final state outranks any other.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
ENTITLED_BEFORE_PAYMENT_FAILURE = frozenset({"active", "trialing"})
CUSTOMER_BATCH = 100


def subscription_state(subscription: Subscription, *, version: float) -> SubscriptionState:
    """A Stripe subscription as local state (periods read from the item in newer API versions)."""
    item = subscription.items.data[0] if subscription.items and subscription.items.data else SubscriptionItem()
    price = item.price or Price()
    status = subscription.status or "incomplete"
    return SubscriptionState(
        subscription_id=subscription.id,
        customer_id=subscription.customer or "",
        status=status,
        price_id=price.id,
        price_amount=price.unit_amount,
        period_start=as_datetime(subscription.current_period_start or item.current_period_start),
        period_end=as_datetime(subscription.current_period_end or item.current_period_end),
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

    async def apply_event(self, event: StripeEvent) -> WebhookResult:
        """Applies one verified webhook event, once; a receipt is written only after its effect is stored.

        The object is read before anything is written, so a malformed one is refused (InvalidInput) with
        nothing stored, and Stripe's redelivery of it is refused the same way.
        """
        change = self._read(event)
        if await self._events.seen(event.id):
            return WebhookResult(event.id, event.type, "duplicate")
        outcome = await change() if change is not None else "ignored"
        await self._events.record(event.id, event_type=event.type, outcome=outcome, now=self._clock.now())
        log.info("stripe event handled", event_id=event.id, event_type=event.type, outcome=outcome)
        return WebhookResult(event.id, event.type, outcome)

    def _read(self, event: StripeEvent) -> Callable[[], Awaitable[Outcome]] | None:
        """The change an event of a type we act on asks for; None for the types we ignore."""
        version = float(event.created)
        if event.type in SUBSCRIPTION_EVENTS:
            state = subscription_state(event.object_as(Subscription), version=version)
            return lambda: self._store(state)
        if event.type == "checkout.session.completed":
            session = event.object_as(CheckoutSession)
            return lambda: self._link_checkout(session)
        if event.type in {"invoice.paid", "invoice.payment_failed"}:
            invoice = event.object_as(Invoice)
            paid = event.type == "invoice.paid"
            return lambda: self._apply_invoice(invoice, paid=paid, version=version)
        return None

    async def _store(self, state: SubscriptionState) -> Outcome:
        if not state.customer_id:
            return "ignored"
        if not await self._subscriptions.apply(state):
            return "stale"
        await self._forget_customer(state.customer_id)
        return "applied"

    async def _link_checkout(self, session: CheckoutSession) -> Outcome:
        user_id = session.client_reference_id or (session.metadata or {}).get("user_id")
        customer_id = session.customer
        if not user_id or not customer_id:
            return "ignored"
        await self._accounts.link_customer(str(user_id), customer_id, now=self._clock.now())
        await self._directory.forget(str(user_id))
        return "applied"

    async def _apply_invoice(self, invoice: Invoice, *, paid: bool, version: float) -> Outcome:
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
                try:
                    subscription = parse(Subscription, obj, what="a subscription listed by Stripe")
                except InvalidInput as error:
                    log.warning(
                        "unreadable subscription from stripe skipped", user_id=account.user_id, error=str(error)
                    )
                    report.failures += 1
                    continue
                outcome = await self._store(subscription_state(subscription, version=read_at))
                report.updated += outcome == "applied"
            report.checked += 1
        return report


@dataclass
class ReconcileReport:
    checked: int = 0
    updated: int = 0
    customers_created: int = 0
    failures: int = 0


def _invoice_subscription(invoice: Invoice) -> str | None:
    """The invoice's subscription: a top-level field in older API versions, under `parent` in newer ones."""
    if invoice.subscription:
        return invoice.subscription
    details = invoice.parent.subscription_details if invoice.parent else None
    return details.subscription if details else None


def _invoice_period(invoice: Invoice, subscription_id: str | None) -> tuple[datetime | None, datetime | None]:
    """The service period the invoice paid for, from its subscription line."""
    for line in invoice.lines.data if invoice.lines else []:
        details = line.parent.subscription_item_details if line.parent else None
        line_subscription = line.subscription or (details.subscription if details else None)
        period = line.period
        if line_subscription in {None, subscription_id} and period and (period.start or period.end):
            return as_datetime(period.start), as_datetime(period.end)
    return None, None
