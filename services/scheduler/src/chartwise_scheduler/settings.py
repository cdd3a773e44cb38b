"""Configuration of the scheduler service, read from the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from chartwise_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "scheduler"
    default_http_port: ClassVar[int] = 8004

    release_batch: int = Field(default=1_000, ge=1, le=10_000, description="Most due jobs moved per script call.")
    sweep_every_ms: int = Field(default=60_000, ge=1_000, description="How often expired job records are swept.")
    cancel_signal_ttl_s: int = Field(default=86_400, ge=1, description="How long a cancel request stays visible.")
    event_batch: int = Field(default=200, ge=1, le=1_000, description="Job events read and applied per batch.")
