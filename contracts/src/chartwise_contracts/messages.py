"""Base classes for everything that crosses a service boundary.

Commands are imperative (`RequestAnalysis`), events past tense (`AnalysisCompleted`), queries ask
(`GetAnalysis`) and replies answer them. Consumers ignore fields they do not know, so a producer may add
optional fields without breaking anyone; the snapshot test guards the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from chartwise_contracts.envelope import Envelope

M = TypeVar("M", bound="Message")


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    SCHEMA_VERSION: ClassVar[int] = 1

    meta: Envelope = Field(default_factory=Envelope)

    @classmethod
    def new(cls, *, actor: str | None = None, correlation_id: str = "", **fields: Any) -> Self:
        """A message that starts (or joins, given `correlation_id`) a conversation."""
        meta = Envelope(schema_version=cls.SCHEMA_VERSION, actor=actor, correlation_id=correlation_id)
        return cls(meta=meta, **fields)

    def cause(self, message_type: type[M], *, actor: str | None = None, **fields: Any) -> M:
        """A message of `message_type` caused by this one: same correlation, this one as its cause."""
        meta = self.meta.caused(schema_version=message_type.SCHEMA_VERSION, actor=actor)
        return message_type(meta=meta, **fields)

    @property
    def message_id(self) -> str:
        return self.meta.message_id


class Command(Message):
    """Asks one service to change something; it may refuse."""


class Event(Message):
    """States that something happened; any number of services may react."""


class Query(Message):
    """Asks a service for data without changing anything."""


class Reply(Message):
    """Answers a command or query sent as request/reply."""


class ErrorReply(Reply):
    """A request that could not be served; `code` is stable and maps to one HTTP status at the gateway."""

    kind: Literal["error"] = "error"
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict)
