"""The envelope every message carries: who caused it, when, and which conversation it belongs to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


def new_id() -> str:
    return uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Message metadata; `correlation_id` defaults to the message's own id when it starts a conversation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    correlation_id: str = Field(default="", max_length=64)
    causation_id: str | None = Field(default=None, max_length=64)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    schema_version: int = Field(default=1, ge=1)
    actor: str | None = Field(default=None, max_length=128, description="The acting user's id, if any.")

    @model_validator(mode="after")
    def _correlate_to_self_by_default(self) -> Self:
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", self.message_id)
        return self

    def caused(self, *, schema_version: int = 1, actor: str | None = None) -> Envelope:
        """The envelope of a message caused by the one carrying this envelope."""
        return Envelope(
            correlation_id=self.correlation_id,
            causation_id=self.message_id,
            schema_version=schema_version,
            actor=actor if actor is not None else self.actor,
        )
