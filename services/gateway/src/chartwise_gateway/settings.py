"""Configuration of the gateway service, read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from chartwise_runtime.settings import ServiceSettings, dev_secret


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"GATEWAY_{name.upper()}", name)


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    default_http_port: ClassVar[int] = 8000

    admin_token: SecretStr = Field(
        default_factory=lambda: dev_secret("admin-token"),
        validation_alias=AliasChoices("ADMIN_TOKEN", "admin_token"),
        description="Bearer credential of the /v1/admin routes; never an API key.",
    )
    key_pepper: SecretStr = Field(
        default_factory=lambda: dev_secret("key-pepper"),
        validation_alias=AliasChoices("API_KEY_PEPPER", "key_pepper"),
        description="HMAC key under which API keys are hashed; changing it invalidates every key.",
    )
    blob_dir: Path = Field(default=Path(".local/blobs"), validation_alias=AliasChoices("BLOB_DIR", "blob_dir"))
    public_base_url: str = Field(default="", validation_alias=_env("public_base_url"))
    cors_origins: list[str] = Field(default_factory=list, validation_alias=_env("cors_origins"))

    max_request_bytes: int = Field(default=25 * 1024 * 1024, gt=0, validation_alias=_env("max_request_bytes"))
    max_image_bytes: int = Field(default=8 * 1024 * 1024, gt=0, validation_alias=_env("max_image_bytes"))
    max_image_pixels: int = Field(default=40_000_000, gt=0, validation_alias=_env("max_image_pixels"))
    max_images: int = Field(default=10, ge=1, le=50, validation_alias=_env("max_images"))

    rate_limit_requests: int = Field(default=120, ge=1, validation_alias=_env("rate_limit_requests"))
    rate_limit_window_s: int = Field(default=60, ge=1, validation_alias=_env("rate_limit_window_s"))
    idempotency_ttl_s: int = Field(default=86_400, ge=60, validation_alias=_env("idempotency_ttl_s"))
    sse_heartbeat_s: float = Field(default=15.0, gt=0, validation_alias=_env("sse_heartbeat_s"))
    sse_max_duration_s: float = Field(default=3600.0, gt=0, validation_alias=_env("sse_max_duration_s"))
