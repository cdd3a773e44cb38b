"""Events about accounts, published by the gateway on `Streams.IDENTITY_EVENTS`.

Every event here carries a `type` tag, so a consumer can recognise the ones it handles and ignore the rest
(validate against `IdentityEvent` as the fallback of a left-to-right union).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from chartwise_contracts.messages import Event


class IdentityEvent(Event):
    """Any identity event; consumers fall back to this for event types they do not handle."""

    type: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=128)


class UserRegistered(IdentityEvent):
    """A new account exists; services that keep per-user state create theirs."""

    type: Literal["identity.user_registered"] = "identity.user_registered"
    email: str | None = Field(default=None, max_length=320)
    time_zone: str | None = Field(default=None, max_length=64, description="IANA zone, e.g. Europe/London.")
    registered_at: AwareDatetime
