"""Plans follow Stripe: signed webhooks applied once and in order, reconciliation, and outages change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chartwise_contracts.identity import UserRegistered
from chartwise_contracts.usage import HandleStripeWebhook, PlanSource
from chartwise_runtime.errors import InvalidInput
from chartwise_runtime.mongo import Database
from chartwise_usage import handlers
from chartwise_usage.billing import StripeSdkBilling, make_stripe_client
from chartwise_usage.bootstrap import Usage
from tests.integration.usage.conftest import WEBHOOK_SECRET, MovableClock
from tests.integration.usage.fake_stripe import StripeState, event, free_port, serving, sign, subscription

NOW = int(time.time())


async def deliver(usage: Usage, payload: str, *, signature: str | None = None) -> str:
    command = HandleStripeWebhook.new(payload=payload, signature=signature or sign(payload, WEBHOOK_SECRET))
    return (await handlers.handle_stripe_webhook(command, usage)).outcome


async def checkout(usage: Usage, user_id: str, customer: str, *, event_id: str = "evt_checkout") -> None:
    session = {"id": "cs_1", "object": "checkout.session", "client_reference_id": user_id, "customer": customer}
    await deliver(usage, event(event_id, "checkout.session.completed", session, created=NOW))


async def plan_of(usage: Usage, user_id: str) -> tuple[str, PlanSource]:
    plan = await usage.directory.for_quota(user_id)
    return plan.tier.name, plan.source


@pytest.fixture
def stripe_state() -> StripeState:
    return StripeState()


@pytest.fixture
async def stripe_base(stripe_state: StripeState) -> AsyncIterator[str]:
    async with serving(stripe_state) as base:
        yield base


def billing_at(base: str) -> StripeSdkBilling:
    return StripeSdkBilling(make_stripe_client(api_key="sk_test_local", api_base=base, timeout_s=2, max_retries=0))


async def test_a_paid_subscription_gives_its_plan_and_anchors_the_month_to_the_billing_period(usage: Usage) -> None:
    await checkout(usage, "u1", "cus_1")

    outcome = await deliver(
        usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW)
    )

    assert outcome == "applied"
    assert await plan_of(usage, "u1") == ("pro", PlanSource.STRIPE)
    plan = await usage.directory.for_quota("u1")
    assert plan.billing_anchor == datetime.fromtimestamp(1_763_200_000, tz=UTC)


async def test_a_subscription_arriving_before_its_checkout_applies_once_the_customer_is_linked(usage: Usage) -> None:
    await deliver(usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))
    assert await plan_of(usage, "u1") == ("free", PlanSource.FREE)

    await checkout(usage, "u1", "cus_1")

    assert await plan_of(usage, "u1") == ("pro", PlanSource.STRIPE)


async def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(usage: Usage, mongo_db: Database) -> None:
    payload = event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW)

    with pytest.raises(InvalidInput):
        await deliver(usage, payload, signature=sign(payload, "whsec_someone_else"))
    with pytest.raises(InvalidInput):
        await deliver(usage, payload, signature=sign(payload, WEBHOOK_SECRET, at=NOW - 3600))

    assert await mongo_db.subscriptions.count_documents({}) == 0
    assert await mongo_db.stripe_events.count_documents({}) == 0


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `payload` with the field at `path` removed."""
    copied: dict[str, Any] = json.loads(json.dumps(payload))
    node: Any = copied
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copied


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    """A deep copy of `payload` with the field at `path` (keys and list indexes) set to `value`."""
    copied: dict[str, Any] = json.loads(json.dumps(payload))
    node: Any = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


WELL_FORMED = json.loads(event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))
INVOICE = json.loads(
    event("evt_2", "invoice.paid", {"id": "in_1", "subscription": "sub_1", "lines": {"data": []}}, created=NOW)
)
CHECKOUT = json.loads(event("evt_3", "checkout.session.completed", {"client_reference_id": "u1"}, created=NOW))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(json.dumps(_without(WELL_FORMED, "created")), id="no-created"),
        pytest.param(json.dumps(_without(WELL_FORMED, "id")), id="no-id"),
        pytest.param(json.dumps(_without(WELL_FORMED, "type")), id="no-type"),
        pytest.param(json.dumps(_without(WELL_FORMED, "data")), id="no-data"),
        pytest.param(json.dumps(_without(WELL_FORMED, "data", "object")), id="no-object"),
        pytest.param(json.dumps(_with(WELL_FORMED, "yesterday", "created")), id="created-not-a-number"),
        pytest.param(json.dumps(_with(WELL_FORMED, 1e300, "created")), id="created-out-of-range"),
        pytest.param(json.dumps(_with(WELL_FORMED, ["sub_1"], "data", "object")), id="object-not-a-dict"),
        pytest.param(json.dumps(_without(WELL_FORMED, "data", "object", "id")), id="subscription-without-id"),
        pytest.param(json.dumps(_with(WELL_FORMED, "all", "data", "object", "items")), id="items-not-a-list"),
        pytest.param(json.dumps(_with(WELL_FORMED, ["x"], "data", "object", "items", "data")), id="item-not-a-dict"),
        pytest.param(
            json.dumps(_with(WELL_FORMED, "soon", "data", "object", "items", "data", 0, "current_period_end")),
            id="period-not-a-number",
        ),
        pytest.param(json.dumps(_with(INVOICE, {"data": "none"}, "data", "object", "lines")), id="invoice-lines"),
        pytest.param(json.dumps(_with(INVOICE, 42, "data", "object", "parent")), id="invoice-parent"),
        pytest.param(json.dumps(_with(CHECKOUT, "u1", "data", "object", "metadata")), id="checkout-metadata"),
        pytest.param("[1, 2, 3]", id="json-array"),
        pytest.param('"an event"', id="json-string"),
        pytest.param("not json at all", id="not-json"),
    ],
)
async def test_a_signed_but_malformed_webhook_is_refused_as_invalid_input_and_stores_nothing(
    usage: Usage, mongo_db: Database, payload: str
) -> None:
    await checkout(usage, "u1", "cus_1", event_id="evt_checkout")

    with pytest.raises(InvalidInput) as refused:
        await deliver(usage, payload)

    assert "Stripe" in refused.value.message
    assert await mongo_db.subscriptions.count_documents({}) == 0
    assert await mongo_db.stripe_events.count_documents({}) == 1  # the checkout's receipt only


async def test_an_event_of_a_type_we_ignore_needs_no_readable_object(usage: Usage, mongo_db: Database) -> None:
    payload = json.dumps(_with(WELL_FORMED, "customer.created", "type") | {"data": {"object": {"weird": [1]}}})

    assert await deliver(usage, payload) == "ignored"
    assert await mongo_db.stripe_events.count_documents({"_id": "evt_1"}) == 1


async def test_a_redelivered_event_is_applied_once(usage: Usage, mongo_db: Database) -> None:
    payload = event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW)

    outcomes = [await deliver(usage, payload), await deliver(usage, payload)]

    assert outcomes == ["applied", "duplicate"]
    assert await mongo_db.stripe_events.count_documents({"_id": "evt_1"}) == 1


async def test_out_of_order_events_resolve_to_the_latest_state(usage: Usage) -> None:
    await checkout(usage, "u1", "cus_1")
    cancelled = subscription("sub_1", "cus_1", status="canceled")
    upgraded = subscription("sub_1", "cus_1", amount=3999)

    later = await deliver(usage, event("evt_3", "customer.subscription.deleted", cancelled, created=NOW - 10))
    earlier = await deliver(usage, event("evt_2", "customer.subscription.updated", upgraded, created=NOW - 20))
    first = await deliver(
        usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW - 30)
    )

    assert (later, earlier, first) == ("applied", "stale", "stale")
    assert await plan_of(usage, "u1") == ("free", PlanSource.FREE)


@pytest.mark.parametrize(
    ("status", "plan"),
    [("active", "pro"), ("trialing", "pro"), ("past_due", "pro"), ("unpaid", "free"), ("incomplete", "free")],
)
async def test_only_entitled_statuses_keep_the_plan(usage: Usage, status: str, plan: str) -> None:
    await checkout(usage, "u1", "cus_1")

    sub = subscription("sub_1", "cus_1", status=status)
    await deliver(usage, event("evt_1", "customer.subscription.updated", sub, created=NOW))

    assert (await plan_of(usage, "u1"))[0] == plan


async def test_invoice_events_renew_the_period_and_a_failed_payment_keeps_the_plan(usage: Usage) -> None:
    await checkout(usage, "u1", "cus_1")
    await deliver(usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "parent": {"subscription_details": {"subscription": "sub_1"}},
        "lines": {"data": [{"period": {"start": 1_765_792_000, "end": 1_768_470_400}}]},
    }

    failed = await deliver(usage, event("evt_2", "invoice.payment_failed", invoice, created=NOW + 1))
    assert failed == "applied"
    assert (await usage.directory.current("u1")).subscription.status == "past_due"
    assert (await plan_of(usage, "u1"))[0] == "pro"

    paid = await deliver(usage, event("evt_3", "invoice.paid", invoice, created=NOW + 2))

    current = await usage.directory.current("u1")
    assert paid == "applied"
    assert current.subscription is not None
    assert (current.subscription.status, current.billing_anchor) == (
        "active",
        datetime.fromtimestamp(1_765_792_000, tz=UTC),
    )


async def test_reconciliation_reads_the_subscription_state_from_stripe(
    usage: Usage, stripe_state: StripeState, stripe_base: str, clock: MovableClock
) -> None:
    await checkout(usage, "u1", "cus_1")
    await deliver(usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))
    clock.at = datetime.fromtimestamp(NOW + 60, tz=UTC)
    stripe_state.subscriptions["sub_1"] = subscription("sub_1", "cus_1", amount=3999)
    stripe_state.subscriptions["sub_9"] = subscription("sub_9", "cus_other", amount=999)

    report = await usage.stripe_sync.reconcile(billing_at(stripe_base))

    assert (report.checked, report.updated, report.failures) == (1, 1, 0)
    assert await plan_of(usage, "u1") == ("elite", PlanSource.STRIPE)


async def test_an_unreachable_stripe_keeps_the_known_plan(usage: Usage) -> None:
    await checkout(usage, "u1", "cus_1")
    await deliver(usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))

    report = await usage.stripe_sync.reconcile(billing_at(f"http://127.0.0.1:{free_port()}"))

    assert (report.checked, report.failures) == (0, 1)
    assert await plan_of(usage, "u1") == ("pro", PlanSource.STRIPE)


async def test_a_failing_stripe_keeps_the_known_plan(usage: Usage, stripe_state: StripeState, stripe_base: str) -> None:
    await checkout(usage, "u1", "cus_1")
    await deliver(usage, event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=NOW))
    stripe_state.failing = True

    report = await usage.stripe_sync.reconcile(billing_at(stripe_base))

    assert report.failures == 1
    assert await plan_of(usage, "u1") == ("pro", PlanSource.STRIPE)


async def test_registration_creates_the_billing_account_and_one_stripe_customer(
    usage: Usage, stripe_state: StripeState, stripe_base: str
) -> None:
    with_stripe = Usage(**{**{f: getattr(usage, f) for f in usage.__slots__}, "billing": billing_at(stripe_base)})
    registered = UserRegistered.new(
        user_id="u1", email="u1@example.com", time_zone="Europe/London", registered_at=datetime.now(UTC)
    )

    await handlers.on_identity_event(registered, with_stripe)
    await handlers.on_identity_event(registered, with_stripe)

    account = await usage.accounts.get("u1")
    assert account is not None
    assert (account.time_zone, account.customer_id) == ("Europe/London", "cus_1")
    assert list(stripe_state.customers) == ["cus_1"]
    assert stripe_state.customers["cus_1"]["metadata"] == {"user_id": "u1"}


async def test_a_customer_stripe_could_not_create_at_registration_is_created_by_reconciliation(
    usage: Usage, stripe_state: StripeState, stripe_base: str
) -> None:
    stripe_state.failing = True
    with_stripe = Usage(**{**{f: getattr(usage, f) for f in usage.__slots__}, "billing": billing_at(stripe_base)})
    registered = UserRegistered.new(user_id="u1", registered_at=datetime.now(UTC))
    await handlers.on_identity_event(registered, with_stripe)
    assert (await usage.accounts.get("u1")).customer_id is None

    stripe_state.failing = False
    report = await usage.stripe_sync.reconcile(billing_at(stripe_base))

    assert report.customers_created == 1
    assert (await usage.accounts.get("u1")).customer_id == "cus_1"
