"""The settings every service shares, read from the environment once, in the composition root."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_PREFIX = "insecure-development-only-"  # noqa: S105 - the marker of a placeholder, not a secret


def dev_secret(name: str) -> SecretStr:
    """A placeholder secret that works in development and is refused everywhere else."""
    return SecretStr(f"{DEV_SECRET_PREFIX}{name}")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """Base of each service's `Settings`.

    The environment defaults to production, so a deployment that forgets to configure itself fails at
    start-up on its placeholder secrets instead of running with them.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    service_name: ClassVar[str] = "chartwise"
    default_http_port: ClassVar[int] = 8000

    environment: Environment = Field(
        default=Environment.PRODUCTION, validation_alias=AliasChoices("CHARTWISE_ENV", "environment")
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str = ""
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    consumer_name: str = Field(default_factory=_default_consumer_name, min_length=1)
    shutdown_timeout_s: float = Field(default=20.0, gt=0)
    rpc_timeout_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _fill_service_defaults(self) -> Self:
        if not self.mongo_database:
            object.__setattr__(self, "mongo_database", f"chartwise_{self.service_name}")
        if not self.http_port:
            object.__setattr__(self, "http_port", self.default_http_port)
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.environment is Environment.DEVELOPMENT:
            return self
        placeholders = [
            name for name, value in self._secret_fields() if value.get_secret_value().startswith(DEV_SECRET_PREFIX)
        ]
        if placeholders:
            names = ", ".join(sorted(n.upper() for n in placeholders))
            raise ValueError(f"set real secrets for {names}: placeholders are accepted only in development")
        return self

    def _secret_fields(self) -> list[tuple[str, SecretStr]]:
        found: list[tuple[str, SecretStr]] = []
        for name in type(self).model_fields:
            value: Any = getattr(self, name)
            if isinstance(value, SecretStr):
                found.append((name, value))
        return found

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT
