"""The parts of Stripe's JSON the usage service reads, as models: a payload of any shape parses or is refused.

Only the fields we read are declared, every one optional where Stripe may leave it out or send `null`;
anything else in the payload is ignored, so new Stripe API versions parse as before.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from chartwise_runtime.errors import InvalidInput

M = TypeVar("M", bound="StripeModel")

# Seconds since the epoch, bounded to what a datetime can hold (year 9999).
Timestamp = Annotated[int, Field(ge=0, le=253_402_300_799)]


def _reference(value: Any) -> Any:
    """A Stripe reference is left as an id or expanded into the object; either way we keep the id."""
    if isinstance(value, dict):
        return value.get("id")
    return value


Reference = Annotated[str | None, BeforeValidator(_reference)]


def as_datetime(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class StripeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Price(StripeModel):
    id: str | None = None
    unit_amount: int | None = None


class SubscriptionItem(StripeModel):
    price: Price | None = None
    current_period_start: Timestamp | None = None
    current_period_end: Timestamp | None = None


class SubscriptionItems(StripeModel):
    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(StripeModel):
    """A subscription; newer API versions keep the billing period on its item rather than on itself."""

    id: str = Field(min_length=1)
    customer: Reference = None
    status: str | None = None
    items: SubscriptionItems | None = None
    current_period_start: Timestamp | None = None
    current_period_end: Timestamp | None = None


class CheckoutSession(StripeModel):
    client_reference_id: str | None = None
    metadata: dict[str, str] | None = None
    customer: Reference = None


class Period(StripeModel):
    start: Timestamp | None = None
    end: Timestamp | None = None


class SubscriptionItemDetails(StripeModel):
    subscription: Reference = None


class LineParent(StripeModel):
    subscription_item_details: SubscriptionItemDetails | None = None


class InvoiceLine(StripeModel):
    period: Period | None = None
    subscription: Reference = None
    parent: LineParent | None = None


class InvoiceLines(StripeModel):
    data: list[InvoiceLine] = Field(default_factory=list)


class SubscriptionDetails(StripeModel):
    subscription: Reference = None


class InvoiceParent(StripeModel):
    subscription_details: SubscriptionDetails | None = None


class Invoice(StripeModel):
    """An invoice; its subscription is a top-level field in older API versions, under `parent` in newer ones."""

    subscription: Reference = None
    parent: InvoiceParent | None = None
    lines: InvoiceLines | None = None


class EventData(StripeModel):
    object: dict[str, Any]


class StripeEvent(StripeModel):
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: Timestamp
    data: EventData

    def object_as(self, model: builtins.type[M]) -> M:
        """The event's object read as `model`; InvalidInput when it does not have that shape."""
        return parse(model, self.data.object, what=f"the object of Stripe event {self.id} ({self.type})")


def parse(model: type[M], value: Any, *, what: str) -> M:
    """`value` as `model`, or InvalidInput naming what is wrong with it."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise _invalid(what, error) from error


def parse_event_json(payload: str) -> StripeEvent:
    try:
        return StripeEvent.model_validate_json(payload)
    except ValidationError as error:
        raise _invalid("the Stripe webhook payload", error) from error


def _invalid(what: str, error: ValidationError) -> InvalidInput:
    problems = [
        {"field": ".".join(str(part) for part in e["loc"]) or "(payload)", "problem": e["msg"]}
        for e in error.errors(include_url=False)
    ]
    return InvalidInput(f"{what} is not a Stripe object we can read", details={"errors": problems[:20]})
